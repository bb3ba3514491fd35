"""The packaged extension in a real VS Code: code-server 4.139 (VS Code 1.139) driven by Playwright.

code-server runs on loopback with the VSIX installed into a throw-away extensions folder and user
settings that point qcn at this interpreter and the tiny test model. tests/editors/vscode_e2e.js
opens shop/cart.py in headless Chromium, waits for qcn's status bar item to say "ready", types, and
waits for the inline suggestion; screenshots go to tests/editors/artifacts/.

Needs code-server, Node 24 and Chromium: `bash tests/editors/install_code_server.sh` (what
.ci/run does) installs them into ~/.cache/qcn-editors, or set QCN_CODE_SERVER_DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TOOLS = Path(os.environ.get("QCN_CODE_SERVER_DIR", Path.home() / ".cache" / "qcn-editors"))
NODE24 = TOOLS / "node_modules" / "node" / "bin" / "node"
CODE_SERVER = TOOLS / "node_modules" / "code-server" / "out" / "node" / "entry.js"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = HERE / "artifacts"

pytestmark = pytest.mark.skipif(
    not (NODE24.exists() and CODE_SERVER.exists() and Path(CHROMIUM).exists()),
    reason=f"no code-server/Node 24 in {TOOLS} or no chromium: run tests/editors/install_code_server.sh")


def write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"code-server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)  # polling the health endpoint until it answers, bounded by the deadline
    raise AssertionError(f"code-server did not answer {url} in {timeout} s")


def test_inline_suggestion_in_code_server(tmp_path, workspace, tiny_model, vsix):
    user_data, extensions = tmp_path / "user-data", tmp_path / "extensions"
    # qcn.server.* and qcn.modelDir are machine-overridable: in code-server (a remote window)
    # they belong to the remote machine's settings, which VS Code keeps in Machine/settings.json.
    write_json(user_data / "Machine" / "settings.json", {
        "qcn.server.pythonPath": sys.executable,
        "qcn.modelDir": str(tiny_model),
    })
    write_json(user_data / "User" / "settings.json", {
        "editor.inlineSuggest.enabled": True,
        "workbench.startupEditor": "none",
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "update.mode": "none",
        "workbench.tips.enabled": False,
        "chat.disableAIFeatures": True,
    })
    env = {**os.environ, "QCN_CACHE_DIR": str(tmp_path / "qcn-cache")}
    base = [str(NODE24), str(CODE_SERVER), "--config", str(tmp_path / "code-server.yaml"),
            "--user-data-dir", str(user_data), "--extensions-dir", str(extensions)]
    installed = subprocess.run([*base, "--install-extension", str(vsix)], capture_output=True, text=True,
                               timeout=300, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (next(extensions.glob("qcn-lsp.qcn-*"), None)) is not None, installed.stdout

    port = free_port()
    log = open(tmp_path / "code-server.log", "w")
    server = subprocess.Popen([*base, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
                               "--disable-update-check", "--disable-workspace-trust", "--disable-getting-started-override",
                               str(workspace)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workspace)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server, 120)
        result = tmp_path / "result.json"
        job = {
            "url": f"http://127.0.0.1:{port}/?folder={workspace}",
            "file": "shop/cart.py",
            # 1-based line:column for VS Code's Go to Line, and what to type there.
            "places": [
                {"line": 22, "column": 22, "type": "a"},
                {"line": 23, "column": 16, "type": "s"},
                {"line": 19, "column": 16, "type": "x"},
            ],
            "readyTimeoutMs": 240000,
            "ghostTimeoutMs": 30000,
            "extensionDir": str(HERE.parents[1] / "vscode-extension"),
            "chromium": CHROMIUM,
            "artifacts": str(ARTIFACTS),
            "machineSettings": str(user_data / "Machine" / "settings.json"),
            "brokenCommand": str(tmp_path / "no-such-qcn"),
            "result": str(result),
        }
        (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
        node = shutil.which("node") or str(NODE24)
        proc = subprocess.run([node, str(HERE / "vscode_e2e.js")], env={**env, "QCN_VSCODE_JOB": str(tmp_path / "job.json")},
                              capture_output=True, text=True, timeout=600)
        assert result.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        out = json.loads(result.read_text(encoding="utf-8"))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    shutil.copy(tmp_path / "code-server.log", ARTIFACTS / "code-server.log")
    (ARTIFACTS / "vscode-e2e.json").write_text(json.dumps(out, indent=2), encoding="utf-8")

    assert "error" not in out, f"{out['error']}\nsteps: {out['steps']}\nstatus: {out['statusTexts']}"
    # The status bar went through the server's phases and reached ready with the model's name.
    assert any(f"qcn: ready ({tiny_model.name}, cpu)" in t for t in out["statusTexts"]), out["statusTexts"]
    # Typing brought qcn's inline suggestion on screen.
    assert out.get("ghostText", "").strip(), f"no inline suggestion at any place: {out['steps']}"
    assert (ARTIFACTS / "inline-suggestion.png").stat().st_size > 10000
    # qcn: Toggle Completions from the command palette: the status bar shows completions off.
    assert f"qcn: off ({tiny_model.name}, cpu)" in out["finalStatus"].split(" | "), out["finalStatus"]
    # qcn.server.command changed to something that cannot run: restarted, and the error says why.
    assert f"cannot run {tmp_path / 'no-such-qcn'}" in out["errorTooltip"], out["errorTooltip"]
    assert "ENOENT" in out["errorTooltip"] and "restarting in" in out["errorTooltip"], out["errorTooltip"]
