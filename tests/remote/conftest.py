"""llama.cpp's real server for the remote-backend tests, serving the tiny test model as GGUF.

``llama_cpp`` builds (once, cached under ~/.cache/qcn-llama) llama.cpp's ``llama-server``
from the llama-cpp-python source distribution on PyPI (install_llama_server.sh; .ci/run
runs it first). ``tiny_gguf`` converts the very checkpoint behind the session's
``tiny_model`` export with llama.cpp's converter, so the engine runs the same weights
and the same tokenizer as the local path. ``LlamaServer`` starts, stops and restarts one
engine on a fixed port, its log in a file the tests read.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CACHE = Path(os.environ.get("QCN_LLAMA_CACHE", Path.home() / ".cache" / "qcn-llama"))
VERSION = "0.3.36"  # install_llama_server.sh builds this llama-cpp-python's vendored llama.cpp


@dataclass(frozen=True)
class LlamaCpp:
    server: Path  # the llama-server binary
    source: Path  # llama.cpp's source tree (convert_hf_to_gguf.py, gguf-py)


@pytest.fixture(scope="session")
def llama_cpp() -> LlamaCpp:
    proc = subprocess.run(["bash", str(HERE / "install_llama_server.sh"), str(CACHE)], capture_output=True,
                          text=True, env={**os.environ, "PYTHON": sys.executable}, timeout=3600)
    assert proc.returncode == 0, f"building llama-server failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return LlamaCpp(CACHE / f"build-{VERSION}" / "bin" / "llama-server",
                    CACHE / "src" / f"llama_cpp_python-{VERSION}" / "vendor" / "llama.cpp")


@pytest.fixture(scope="session")
def tiny_gguf(llama_cpp, tiny_model) -> Path:
    """tests/model/tiny.py's tied_norm_gqa2 checkpoint (the one tiny_model exported) as an f32 GGUF."""
    checkpoint = tiny_model.parents[1] / "ckpt" / "tied_norm_gqa2"
    assert (checkpoint / "config.json").is_file(), f"tiny_model's checkpoint is not where tiny.Models puts it: {checkpoint}"
    out = tiny_model.parent / "tiny.gguf"
    proc = subprocess.run([sys.executable, str(HERE / "make_gguf.py"), str(llama_cpp.source), str(checkpoint), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and out.is_file(), f"GGUF conversion failed:\n{proc.stderr[-3000:]}"
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One llama-server on 127.0.0.1:port; ``start`` waits until /health answers 200."""

    def __init__(self, binary: Path, model: Path, log: Path, *extra: str, ctx: int = 4096, threads: int = 2):
        self.binary, self.model, self.log, self.extra, self.ctx, self.threads = binary, model, log, extra, ctx, threads
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> LlamaServer:
        import httpx

        log = self.log.open("a")
        self.proc = subprocess.Popen(
            [str(self.binary), "-m", str(self.model), "--host", "127.0.0.1", "--port", str(self.port),
             "-c", str(self.ctx), "-np", "1", "-t", str(self.threads), "--no-warmup", "--no-webui", "--metrics", *self.extra],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"llama-server exited ({self.proc.returncode}):\n{self.text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"llama-server did not become healthy:\n{self.text()[-3000:]}"
            time.sleep(0.05)  # polling a health endpoint, bounded by the deadline

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def metric(self, name: str) -> float:
        import httpx

        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"llama-server reports no metric {name}")


@pytest.fixture
def llama_server(llama_cpp, tiny_gguf, tmp_path):
    servers: list[LlamaServer] = []

    def make(*extra: str, ctx: int = 4096) -> LlamaServer:
        server = LlamaServer(llama_cpp.server, tiny_gguf, tmp_path / f"llama-{len(servers)}.log", *extra, ctx=ctx)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def workspace(tmp_path) -> Path:
    """The server tests' small multi-file workspace (tests/server/conftest.py's WORKSPACE)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("qcn_server_test_conftest", HERE.parent / "server" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path / "ws"
    for rel, text in module.WORKSPACE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
