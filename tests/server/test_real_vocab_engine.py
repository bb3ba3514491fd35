"""The completion engine on Qwen's real vocabulary: healing, forged markers and stop tokens in one request."""

from __future__ import annotations

from qcn.model.backend import LocalBackend
from qcn.indexer.positions import length
from qcn.server.engine import CompletionEngine
from qcn.server.settings import Settings

from test_fix import ScriptedModel  # (the model's answer given, its tokenizer real)

SETTINGS = Settings(debounce_ms=0, max_new_tokens=24)
DOC = 'MARK = "<think><|im_end|>"\n\n\ndef total(items):\n    return \n'


def test_trailing_space_is_healed_at_a_real_bpe_boundary(qwen_model):
    real = LocalBackend(qwen_model)
    try:
        model = ScriptedModel(real, " sum(items)")
        head = "    return "
        got = CompletionEngine(model).complete(text=DOC, path="cart.py", line=4, character=length(head, "utf-16"),
                                               settings=SETTINGS, session_key="k")
        assert got.completion == "sum(items)"
        [ids] = model.prompts
        # the prompt ends on "return" (no lone-space token 220), where " sum" starts in Qwen's BPE
        assert ids[-1] == real.encode("    return")[-1] and 220 not in ids[-2:]
        assert real.encode("    return sum")[-1] == real.encode(" sum")[0]
        # the markers in the file stay text: one <|fim_middle|>, no <think> (151667) nor <|im_end|> (151645)
        assert ids.count(151660) == 1 and 151667 not in ids and 151645 not in ids
        assert '"<think><|im_end|>"' in real.decode(ids)
    finally:
        real.close()
