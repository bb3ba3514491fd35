"""The wire and the lifecycle: every request answered once with the right JSON-RPC code, odd byte
streams survived, no pop-up floods, LSP exit codes. Frames are checked in-process on real bytes;
everything else against the real `qcn serve` over stdio (tests/server/rawlsp.py)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from qcn.server.protocol import MAX_BODY_BYTES, read_frames, stdin_reader
from rawlsp import RawServer, frame

PING = {"jsonrpc": "2.0", "id": 99, "method": "qcn/ping"}


def frames_of(data: bytes) -> list[bytes]:
    stream = io.BytesIO(data)
    bodies: list[bytes] = []

    async def readline(limit):
        return stream.readline(limit)

    async def read(n):
        return stream.read(n)

    asyncio.run(read_frames(readline, read, bodies.append))
    # qcn serve's own reader over the same bytes, arriving all at once and in 7-byte pieces
    # (a pipe hands over whatever is there): the same messages come out
    for piece in (None, 7):
        assert frames_via_stdin_reader(data, piece) == bodies, piece
    return bodies


class Trickle(io.BytesIO):
    """A pipe that has at most ``piece`` bytes ready per read."""

    def __init__(self, data: bytes, piece: int | None):
        super().__init__(data)
        self.piece, self.reads = piece, 0

    def read1(self, n=-1):
        self.reads += 1
        return super().read1(n if self.piece is None else min(n, self.piece))


def frames_via_stdin_reader(data: bytes, piece: int | None) -> list[bytes]:
    from concurrent.futures import ThreadPoolExecutor

    bodies: list[bytes] = []
    stream = Trickle(data, piece)

    async def run():
        readline, read = stdin_reader(stream, pool)
        await read_frames(readline, read, bodies.append)

    with ThreadPoolExecutor(1) as pool:
        asyncio.run(run())
    return bodies


def test_the_stdin_reader_takes_messages_that_arrived_together_in_one_read():
    data = b"".join(frame(dict(PING, id=i)) for i in range(5))
    stream = Trickle(data, None)
    bodies: list[bytes] = []
    from concurrent.futures import ThreadPoolExecutor

    async def run():
        readline, read = stdin_reader(stream, pool)
        await read_frames(readline, read, bodies.append)

    with ThreadPoolExecutor(1) as pool:
        asyncio.run(run())
    assert [json.loads(b)["id"] for b in bodies] == list(range(5))
    assert stream.reads == 2  # everything, then the end of input: not three reads per message


def test_frames_case_insensitive_headers_and_other_headers():
    body = b'{"a": 1}'
    data = (b"content-length: 8\r\n\r\n" + body + b"CONTENT-LENGTH:8\r\nContent-Type: application/json\r\n\r\n" + body)
    assert frames_of(data) == [body, body]


@pytest.mark.parametrize("claimed", [10 ** 12, 10 ** 20, MAX_BODY_BYTES + 1])
def test_an_impossible_length_is_refused_and_the_next_message_still_read(claimed):
    good = b'{"jsonrpc": "2.0"}'
    data = b"Content-Length: %d\r\n\r\n{\"x\": 1}" % claimed + frame(good)
    assert frames_of(data) == [good]


@pytest.mark.parametrize("bad", [
    b"Content-Length: abc\r\n\r\n",  # not a number
    b"Content-Length: -5\r\n\r\n",
    b"Content-Type: text/plain\r\n\r\n",  # no length at all
    b"garbage without a colon\r\n\r\n",
    b"\r\n\r\n\r\n",  # stray blank lines
])
def test_a_malformed_header_block_does_not_lose_the_next_message(bad):
    good = b'{"n": 2}'
    assert frames_of(bad + frame(good) + frame(good)) == [good, good]


def test_a_body_shorter_than_its_length_swallows_no_more_than_it_claims():
    # 20 bytes claimed, 8 sent, then a full message: the first 20 bytes are one (bad) body, and
    # the reader resynchronises on the Content-Length header that follows what it swallowed.
    good = b'{"n": 3}'
    data = b"Content-Length: 20\r\n\r\n" + b'{"n": 1}' + frame(good) + frame(good)
    bodies = frames_of(data)
    assert bodies[-1] == good and len(bodies) == 2


@pytest.fixture
def server():
    s = RawServer()
    yield s
    s.close()


def code(answer: dict):
    return answer["error"]["code"] if "error" in answer else "result"


def test_lifecycle_codes_and_exit_status(server, workspace):
    assert code(server.request("textDocument/completion", {})) == -32002  # before initialize
    server.notify("textDocument/didOpen", {})  # dropped before initialize, no answer, no harm
    answer = server.initialize(workspace, debounceMs=0)
    assert "capabilities" in answer["result"]
    assert code(server.request("initialize", {"capabilities": {}})) == -32600  # a second initialize
    assert code(server.request("qcn/no-such-method")) == -32601
    assert code(server.request("shutdown")) == "result"
    assert code(server.request("textDocument/completion", {})) == -32600  # after shutdown
    server.notify("exit")
    assert server.proc.wait(60) == 0
    assert server.qcn_tracebacks() == []


def test_exit_without_shutdown_is_status_1(server, workspace):
    server.initialize(workspace)
    assert server.exit(shutdown=False) == 1


def test_envelopes_and_params_get_proper_errors_and_no_popups(server, workspace):
    server.initialize(workspace, debounceMs=0)
    uri = (workspace / "shop" / "cart.py").as_uri()
    pos = {"line": 0, "character": 0}
    doc = {"uri": uri}
    sent = {
        "not json": (b"{not json", -32700),
        "batch": (b"[]", -32600),
        "a number": (b"5", -32600),
        "id is an object": ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "shutdown"}, -32600),
        "id is a list": ({"jsonrpc": "2.0", "id": [1], "method": "shutdown"}, -32600),
        "wrong jsonrpc": ({"jsonrpc": "1.0", "id": "v1", "method": "shutdown"}, -32600),
        "method is a number": ({"jsonrpc": "2.0", "id": "m", "method": 5}, -32600),
        "params a string": ({"jsonrpc": "2.0", "id": "p", "method": "textDocument/completion", "params": "x"},
                            -32600),
    }
    def answers():
        return [m for m in list(server.messages) if "method" not in m]

    for name, (message, expected) in sent.items():
        before = len(answers())
        server.send(message)
        server.wait_for(lambda: len(answers()) > before)
        assert [code(a) for a in answers()[before:]] == [expected], name
    invalid = {
        "uri a number": ("textDocument/completion", {"textDocument": {"uri": 5}, "position": pos}),
        "no position": ("textDocument/inlineCompletion", {"textDocument": doc, "context": {"triggerKind": 1}}),
        "negative line": ("textDocument/completion", {"textDocument": doc, "position": {"line": -1, "character": 0}}),
        "line 2**40": ("textDocument/completion", {"textDocument": doc, "position": {"line": 2 ** 40, "character": 0}}),
        "character a string": ("textDocument/completion", {"textDocument": doc,
                                                           "position": {"line": 0, "character": "0"}}),
        "malformed CodeAction": ("codeAction/resolve", {"title": 5, "data": [1, 2]}),
        "range a list": ("textDocument/codeAction", {"textDocument": doc, "range": [0, 0],
                                                     "context": {"diagnostics": []}}),
    }
    for name, (method, params) in invalid.items():
        assert code(server.request(method, params)) == -32602, name
    # data is data: a diagnostic carrying an object with a "jsonrpc" key is answered normally
    rng = {"start": pos, "end": pos}
    diag = {"range": rng, "message": "x", "data": {"jsonrpc": "2.0", "id": 1, "method": "exit"}}
    assert code(server.request("textDocument/codeAction", {"textDocument": doc, "range": rng,
                                                           "context": {"diagnostics": [diag]}})) == "result"
    # documents that are not open: answered, not a KeyError
    assert code(server.request("textDocument/completion", {"textDocument": doc, "position": pos})) == "result"
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": "x"}]})
    server.notify("textDocument/didChange", {"textDocument": {"uri": 7}})  # invalid notification params
    server.notify("textDocument/didChange", {"textDocument": {"uri": 8}})
    assert code(server.request("qcn/ping")) == -32601  # still serving, in order
    shown = server.shown()
    assert not any("Error in server" in m for m in shown)
    assert len(shown) == len(set(shown)), shown  # each notice at most once
    assert server.exit() == 0
    assert server.qcn_tracebacks() == []


def test_huge_content_length_does_not_end_the_server(server, workspace):
    server.initialize(workspace)
    for claimed in (10 ** 12, 10 ** 20):
        server.send_bytes(b"Content-Length: %d\r\n\r\n{}" % claimed)
    server.send_bytes(b"content-length: 40\r\n\r\n" + b'{"jsonrpc":"2.0","id":41,"method":"x/y"}')
    assert code(server.response(41)) == -32601
    assert sum("larger than qcn reads" in m for m in server.shown()) == 1  # told once for two
    assert server.exit() == 0


def test_surrogates_and_nul_in_text_are_taken_without_a_traceback(server, workspace, tiny_model):
    server.initialize(workspace, modelDir=str(tiny_model), debounceMs=0)
    server.wait_ready()
    uri = (workspace / "shop" / "odd.py").as_uri()
    # "\ud800" is valid JSON but not text: built by hand, json.dumps would escape it the same way
    opened = b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"' + uri.encode() + \
        b'","languageId":"python","version":1,"text":"x = \\"\\ud800\\"\\u0000\\ndef f():\\n    return "}}}'
    server.send(opened)
    changed = b'{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"' + \
        uri.encode() + b'","version":2},"contentChanges":[{"range":{"start":{"line":0,"character":5},' \
        b'"end":{"line":0,"character":5}},"text":"\\udc00\\ud83d"}]}}'
    server.send(changed)
    answer = server.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                        "position": {"line": 2, "character": 11}})
    assert code(answer) == "result"
    assert server.exit() == 0
    assert server.qcn_tracebacks() == []
    assert "surrogates not allowed" not in server.stderr()


def test_exit_while_a_completion_is_in_flight_ends_quietly(server, workspace, tiny_model):
    server.initialize(workspace, modelDir=str(tiny_model), debounceMs=0, maxNewTokens=4096)
    server.wait_ready()
    path = workspace / "shop" / "cart.py"
    uri = path.as_uri()
    server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                            "text": path.read_text(encoding="utf-8")}})
    for _ in range(5):
        server.request_async("textDocument/completion", {"textDocument": {"uri": uri},
                                                         "position": {"line": 12, "character": 15}})
    server.request_async("shutdown")  # not waited for: exit follows at once, answers still in flight
    server.notify("exit")
    assert server.proc.wait(60) == 0
    assert "Error sending data" not in server.stderr()
    assert server.qcn_tracebacks() == []
