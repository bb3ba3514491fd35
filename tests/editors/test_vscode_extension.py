"""The VS Code extension builds from its lock file, passes its unit tests and packages as a VSIX.

Runs vscode-extension's own scripts: `npm ci`, `npm test` (node --test on the parts that do not
need the editor: settings → server command and options, status bar transitions, restart backoff)
and `npm run package` (typecheck, esbuild bundle, vsce). The VSIX is then opened and checked.
"""

from __future__ import annotations

import json
import zipfile


def test_unit_tests_pass(extension_installed, npm):
    out = npm("test").stdout
    assert "# fail 0" in out and "# pass " in out, out[-2000:]
    passed = int(out.split("# pass ")[1].split()[0])
    assert passed >= 16, out[-2000:]


def test_vsix_packages_the_bundle_and_manifest(vsix):
    with zipfile.ZipFile(vsix) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("extension/package.json"))
        bundle = z.read("extension/dist/extension.js").decode("utf-8")
    # The bundle carries vscode-languageclient: no node_modules, nothing fetched at install time.
    assert not any("node_modules" in n for n in names), sorted(names)
    assert not any(n.endswith((".ts", ".map")) for n in names), sorted(names)
    assert "extension/dist/extension.js" in names and manifest["main"] == "./dist/extension.js"
    assert "textDocument/inlineCompletion" in bundle  # the language client's LSP 3.18 inline completion
    assert manifest["engines"]["vscode"].startswith("^1.")
    commands = {c["command"] for c in manifest["contributes"]["commands"]}
    assert commands == {"qcn.restartServer", "qcn.showOutput", "qcn.exportModel", "qcn.toggleCompletions",
                        "qcn.setRemoteApiKey", "qcn.clearRemoteApiKey"}
