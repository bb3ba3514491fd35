"""Convert a tiny test checkpoint to GGUF with llama.cpp's own converter.

Usage: python make_gguf.py LLAMA_CPP_DIR HF_DIR OUT.gguf [OUTTYPE]   (default f32; also f16, bf16, q8_0)

The converter recognises a BPE tokenizer by hashing how it splits a probe text and
refuses unknown ones. The tiny tokenizers of tests/model/tiny.py are byte-level BPEs
with GPT-2's pre-tokenizer (``pre_tokenizers.ByteLevel``, its regex on), which
llama.cpp knows as ``gpt-2``: that name is given here instead of the hash lookup.
Everything else is the converter as shipped (``--no-mtp``: the tiny checkpoint has
no multi-token-prediction head).
"""

from __future__ import annotations

import sys
from pathlib import Path


def main() -> None:
    llama_dir, hf_dir, out = (Path(a) for a in sys.argv[1:4])
    outtype = sys.argv[4] if len(sys.argv) > 4 else "f32"
    sys.path.insert(0, str(llama_dir))
    sys.path.insert(1, str(llama_dir / "gguf-py"))
    import conversion.base as base

    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    sys.argv = ["convert_hf_to_gguf.py", str(hf_dir), "--outfile", str(out), "--outtype", outtype, "--no-mtp"]
    import runpy

    runpy.run_path(str(llama_dir / "convert_hf_to_gguf.py"), run_name="__main__")


if __name__ == "__main__":
    main()
