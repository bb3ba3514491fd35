"""Fuzzing the real `qcn serve` over stdio with hypothesis: LSP messages for every method qcn
implements, valid, with wrong types, missing fields, huge values and hostile text (lone
surrogates, NUL, 1 MB lines, binary), sent against one server session.

Asserted for every request: exactly one response, with a result or a proper JSON-RPC code (never
an internal error); for the run: no traceback from qcn's code on stderr, the server still gives
the same completion as before the storm, and its RSS stays bounded. Seeded (derandomize) and
bounded so it runs in CI in well under two minutes; the counts are printed (pytest -s) and, with
QCN_FUZZ_REPORT=path, written as JSON.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawlsp import RawServer


def _server_workspace() -> dict[str, str]:
    """tests/server/conftest.py's WORKSPACE (a module scope cannot use its function-scoped fixture).

    Loaded by path: as ``import conftest`` it would be tests/conftest.py when several test
    folders run together.
    """
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("qcn_server_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WORKSPACE


WORKSPACE = _server_workspace()

EXAMPLES = int(os.environ.get("QCN_FUZZ_EXAMPLES", "1000"))
ALLOWED_ERRORS = {-32700, -32600, -32601, -32602, -32002, -32800}  # never -32603: that is a bug of ours
RSS_GROWTH_MB = 300

REQUESTS = ["textDocument/completion", "textDocument/inlineCompletion", "textDocument/codeAction",
            "codeAction/resolve", "workspace/executeCommand", "initialize"]
NOTIFICATIONS = ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose",
                 "workspace/didChangeConfiguration", "workspace/didChangeWorkspaceFolders", "$/cancelRequest",
                 "$/setTrace", "window/workDoneProgress/cancel", "initialized"]

counts: dict[str, Counter] = defaultdict(Counter)


@pytest.fixture(scope="module")
def session(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("fuzz") / "ws"
    for rel, text in WORKSPACE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    server = RawServer()
    server.initialize(root, modelDir=str(tiny_model), debounceMs=0, maxNewTokens=8)
    server.wait_ready()
    server.wait_indexed()
    cart = root / "shop" / "cart.py"
    uri = cart.as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": cart.read_text(encoding="utf-8")}})
    reference = completion(server, uri)
    rss = server.rss_mb()
    server.fuzz = {"root": root, "uri": uri, "reference": reference, "rss": rss}
    yield server
    server.close()


def completion(server, uri):
    answer = server.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                        "position": {"line": 12, "character": 15}})
    return answer["result"]


# --- strategies -------------------------------------------------------------------------------
hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["\ud800", "x\udc00y", "\x00\x00", "\ufeff", "\u202e", "é☕😀\r\n"]),
    st.builds(lambda n: "x" * n, st.sampled_from([10_000, 1_000_000])),  # one long line
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
)
huge_int = st.sampled_from([-1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 10 ** 20])
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), huge_int, st.floats(allow_nan=False),
                      hostile_text, st.just([]), st.just({}))


def uris(session):
    root = session.fuzz["root"]
    return st.sampled_from([session.fuzz["uri"], (root / "shop" / "pricing.py").as_uri(),
                            (root / "new.py").as_uri(), "file:///nonexistent/x.py", "untitled:Untitled-1",
                            "not a uri", ""])


def position():
    return st.fixed_dictionaries({"line": st.one_of(st.integers(0, 20), huge_int),
                                  "character": st.one_of(st.integers(0, 40), huge_int)})


def rng():
    return st.fixed_dictionaries({"start": position(), "end": position()})


def valid_params(method: str, uri):
    doc = st.fixed_dictionaries({"uri": uri})
    versioned = st.fixed_dictionaries({"uri": uri, "version": st.integers(0, 1000)})
    diagnostic = st.fixed_dictionaries({"range": rng(), "message": hostile_text},
                                       optional={"source": st.sampled_from(["qcn", "pyright"]),
                                                 "code": st.sampled_from(["CWE-89", "E1", 5]),
                                                 "data": st.sampled_from([{"jsonrpc": "2.0", "id": 1,
                                                                           "method": "exit"}, [1], "x"])})
    data = st.one_of(st.none(), st.fixed_dictionaries({
        "qcn": st.just("model-fix"), "uri": uri, "version": st.integers(0, 3),
        "range": st.lists(st.integers(0, 20), min_size=4, max_size=4)},
        optional={"ruleId": st.sampled_from(["py.sqli.execute", "nope"]), "message": hostile_text}))
    change = st.one_of(st.fixed_dictionaries({"text": hostile_text}),
                       st.fixed_dictionaries({"range": rng(), "text": hostile_text}))
    folder = st.fixed_dictionaries({"uri": uri, "name": st.text(max_size=10)})
    return {
        "textDocument/completion": st.fixed_dictionaries({"textDocument": doc, "position": position()}),
        "textDocument/inlineCompletion": st.fixed_dictionaries({
            "textDocument": doc, "position": position(),
            "context": st.fixed_dictionaries({"triggerKind": st.sampled_from([1, 2])})}),
        "textDocument/codeAction": st.fixed_dictionaries({
            "textDocument": doc, "range": rng(),
            "context": st.fixed_dictionaries({"diagnostics": st.lists(diagnostic, max_size=2)})}),
        "codeAction/resolve": st.fixed_dictionaries({"title": hostile_text}, optional={"data": data}),
        "workspace/executeCommand": st.fixed_dictionaries({"command": st.text(max_size=20)},
                                                          optional={"arguments": st.lists(json_leaf, max_size=3)}),
        "initialize": st.fixed_dictionaries({"capabilities": st.just({})}),
        "textDocument/didOpen": st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({
            "uri": uri, "languageId": st.sampled_from(["python", "javascript", "plaintext"]),
            "version": st.integers(0, 5), "text": hostile_text})}),
        "textDocument/didChange": st.fixed_dictionaries({"textDocument": versioned,
                                                         "contentChanges": st.lists(change, max_size=3)}),
        "textDocument/didClose": st.fixed_dictionaries({"textDocument": doc}),
        "workspace/didChangeConfiguration": st.fixed_dictionaries({"settings": st.one_of(json_leaf, st.just({
            "qcn": {"debounceMs": 0, "maxNewTokens": 8, "contextBudget": "lots"}}))}),
        "workspace/didChangeWorkspaceFolders": st.fixed_dictionaries({"event": st.fixed_dictionaries({
            "added": st.lists(folder, max_size=1), "removed": st.lists(folder, max_size=1)})}),
        "$/cancelRequest": st.fixed_dictionaries({"id": st.one_of(st.integers(0, 10 ** 6), st.text(max_size=5))}),
        "$/setTrace": st.fixed_dictionaries({"value": st.sampled_from(["off", "messages", "verbose", "x"])}),
        "window/workDoneProgress/cancel": st.fixed_dictionaries({"token": st.one_of(st.integers(), st.text())}),
        "initialized": st.just({}),
    }[method]


def mutate(params, draw):
    """One of: as is, a field removed, a field's value replaced by something of another type."""
    how = draw(st.sampled_from(["valid", "valid", "missing", "wrong type"]))
    if how == "valid" or not isinstance(params, dict) or not params:
        return "valid", params
    path = []
    node = params
    while isinstance(node, dict) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node)))
        path.append(key)
        node = node[key]
    target = params
    for key in path[:-1]:
        target = target[key]
    key = path[-1] if path else draw(st.sampled_from(sorted(params)))
    if how == "missing":
        target.pop(key, None)
    else:
        target[key] = draw(json_leaf)
    return how, params


@st.composite
def message(draw, session):
    method = draw(st.sampled_from(REQUESTS + NOTIFICATIONS))
    params = draw(valid_params(method, uris(session)))
    how, params = mutate(params, draw)
    return method, how, params, method in REQUESTS


@pytest.mark.slow
def test_fuzz_every_request_answered_once_and_the_server_unharmed(session):
    server = session

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(message(server), min_size=1, max_size=4))
    def storm(batch):
        ids = []
        for method, how, params, is_request in batch:
            if is_request:
                ids.append((server.request_async(method, params), method, how))
            else:
                server.notify(method, params)
                counts[method][f"{how}: notification"] += 1
        for msg_id, method, how in ids:
            answer = server.response(msg_id, timeout=60)
            outcome = "result" if "result" in answer else answer["error"]["code"]
            counts[method][f"{how}: {outcome}"] += 1
            assert outcome == "result" or outcome in ALLOWED_ERRORS, (method, params, answer)
        assert server.proc.poll() is None
        if os.environ.get("QCN_FUZZ_DEBUG"):
            rss = server.rss_mb()
            if rss - last[0] > 50:
                print(f"RSS {last[0]:.0f} -> {rss:.0f}:", [(m, h, json.dumps(p)[:300]) for m, h, p, _ in batch])
            last[0] = rss

    last = [server.rss_mb()]
    storm()
    # exactly one response per request id
    duplicated = {k: len(v) for k, v in server.responses.items() if len(v) != 1}
    assert duplicated == {}
    # still serving, with the same answer as before the storm (the document is opened afresh:
    # the storm may have edited or closed it)
    cart = session.fuzz["root"] / "shop" / "cart.py"
    server.notify("textDocument/didClose", {"textDocument": {"uri": session.fuzz["uri"]}})
    server.notify("textDocument/didOpen", {"textDocument": {"uri": session.fuzz["uri"], "languageId": "python",
                                                            "version": 10 ** 6,
                                                            "text": cart.read_text(encoding="utf-8")}})
    server.notify("workspace/didChangeConfiguration", {"settings": {"qcn": {"debounceMs": 0, "maxNewTokens": 8,
                                                                            "enable": True}}})
    assert completion(server, session.fuzz["uri"]) == session.fuzz["reference"]
    grown = server.rss_mb() - session.fuzz["rss"]
    report = {"messages": sum(sum(c.values()) for c in counts.values()), "rss_growth_mb": round(grown, 1),
              "per_method": {m: dict(sorted(c.items(), key=str)) for m, c in sorted(counts.items())}}
    print(json.dumps(report, indent=1))
    if os.environ.get("QCN_FUZZ_REPORT"):
        with open(os.environ["QCN_FUZZ_REPORT"], "w") as handle:
            json.dump(report, handle, indent=1)
    assert grown <= RSS_GROWTH_MB
    assert server.exit() == 0
    if os.environ.get("QCN_FUZZ_DEBUG"):
        with open(os.environ["QCN_FUZZ_DEBUG"], "w") as handle:
            handle.write(server.stderr())
    assert server.qcn_tracebacks() == []
    shown = server.shown()
    assert len(shown) == len(set(shown)), "a message was shown to the user more than once"
