// The remote engine's API key: kept in VS Code's SecretStorage (the OS keychain), never in
// settings, and handed to `qcn serve` in its environment, in the variable named by
// `qcn.remoteApiKeyEnv` (the server reads it from there, docs/remote.md).
// No `vscode` import: the editor's pieces come in as small interfaces, so tests run this under
// plain Node with an in-memory store.

import { isEnvName } from "./config";

/** The SecretStorage key; one API key per user (it follows the user, not the workspace). */
export const API_KEY_SECRET = "qcn.remoteApiKey";

/** What the commands need of `vscode.SecretStorage`. */
export interface SecretStore {
  get(key: string): PromiseLike<string | undefined>;
  store(key: string, value: string): PromiseLike<void>;
  delete(key: string): PromiseLike<void>;
}

/** Why a typed key cannot be a bearer token, or undefined when it can. */
export function keyProblem(input: string): string | undefined {
  const key = input.trim();
  if (key === "") return "the key is empty";
  if (/[\s\u0000-\u001f\u007f]/.test(key)) return "the key has a space or a control character in it";
  return undefined;
}

/**
 * The server process's environment: the extension's own, plus the stored key in `keyEnv`.
 * Without a stored key the environment is passed on as it is (a key exported in the shell that
 * started VS Code still works); a stored key wins over it.
 */
export function serverEnv(base: NodeJS.ProcessEnv, keyEnv: string,
                          key: string | undefined): { env: NodeJS.ProcessEnv; problem?: string } {
  const env = { ...base };
  if (key === undefined || key === "") return { env };
  if (!isEnvName(keyEnv)) {
    return { env, problem: `qcn.remoteApiKeyEnv=${JSON.stringify(keyEnv)} is not an environment variable name; `
      + "the stored API key is not passed to the server" };
  }
  env[keyEnv] = key;
  return { env };
}

export interface KeyCommandUi {
  /** Asks for the key (a password box); undefined when the user cancels. */
  askKey(validate: (value: string) => string | undefined): PromiseLike<string | undefined>;
  info(message: string): void;
}

/** "qcn: Set Remote API Key": store the typed key; true when it changed. */
export async function setApiKey(secrets: SecretStore, ui: KeyCommandUi): Promise<boolean> {
  const typed = await ui.askKey(keyProblem);
  if (typed === undefined || keyProblem(typed) !== undefined) return false;
  const key = typed.trim();
  if ((await secrets.get(API_KEY_SECRET)) === key) {
    ui.info("qcn: the remote API key is unchanged");
    return false;
  }
  await secrets.store(API_KEY_SECRET, key);
  ui.info("qcn: remote API key stored in the system keychain; restarting the server");
  return true;
}

/** "qcn: Clear Remote API Key": true when there was one. */
export async function clearApiKey(secrets: SecretStore, ui: KeyCommandUi): Promise<boolean> {
  if ((await secrets.get(API_KEY_SECRET)) === undefined) {
    ui.info("qcn: no remote API key is stored");
    return false;
  }
  await secrets.delete(API_KEY_SECRET);
  ui.info("qcn: remote API key removed; restarting the server");
  return true;
}
