// The VS Code side of src/secrets.ts: the two API-key commands and the restart when the stored
// key changes (from these commands or from another window: SecretStorage tells every window).

import * as vscode from "vscode";

import { API_KEY_SECRET, clearApiKey, setApiKey, type KeyCommandUi } from "./secrets";

const ui: KeyCommandUi = {
  askKey: (validate) => vscode.window.showInputBox({
    title: "qcn: API key of the remote engine", password: true, ignoreFocusOut: true,
    prompt: "Stored in the system keychain (VS Code's secret storage), never in settings; "
      + "given to the server in the variable named by qcn.remoteApiKeyEnv.",
    validateInput: validate,
  }),
  info: (message) => { void vscode.window.showInformationMessage(message); },
};

/** Registers the commands; `restart` runs when the stored key changes. */
export function apiKeyCommands(context: vscode.ExtensionContext, restart: () => unknown): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand("qcn.setRemoteApiKey", () => setApiKey(context.secrets, ui)),
    vscode.commands.registerCommand("qcn.clearRemoteApiKey", () => clearApiKey(context.secrets, ui)),
    context.secrets.onDidChange((e) => { if (e.key === API_KEY_SECRET) void restart(); }),
  ];
}

/** The stored key, or undefined (also when the keychain cannot be read: the server then runs without it). */
export async function storedApiKey(context: vscode.ExtensionContext,
                                   output: vscode.LogOutputChannel): Promise<string | undefined> {
  try {
    return await context.secrets.get(API_KEY_SECRET);
  } catch (err) {
    output.warn(`cannot read the remote API key from secret storage: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}
