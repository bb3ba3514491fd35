import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { API_KEY_SECRET, clearApiKey, keyProblem, serverEnv, setApiKey, type KeyCommandUi,
         type SecretStore } from "../src/secrets";

/** VS Code's SecretStorage as a Map (the editor's API, not a part of qcn). */
class MemorySecrets implements SecretStore {
  readonly values = new Map<string, string>();
  async get(key: string) { return this.values.get(key); }
  async store(key: string, value: string) { this.values.set(key, value); }
  async delete(key: string) { this.values.delete(key); }
}

function ui(answer: string | undefined): KeyCommandUi & { said: string[]; validator?: (v: string) => string | undefined } {
  const said: string[] = [];
  const self = {
    said, validator: undefined as ((v: string) => string | undefined) | undefined,
    askKey: async (validate: (v: string) => string | undefined) => { self.validator = validate; return answer; },
    info: (m: string) => { said.push(m); },
  };
  return self;
}

test("the stored key goes into the variable named by remoteApiKeyEnv, and nowhere else", () => {
  const base = { PATH: "/usr/bin", QCN_API_KEY: "from-shell" };
  assert.deepEqual(serverEnv(base, "QCN_API_KEY", "sk-stored").env, { PATH: "/usr/bin", QCN_API_KEY: "sk-stored" });
  assert.deepEqual(serverEnv(base, "TEAM_KEY", "sk-stored").env,
    { PATH: "/usr/bin", QCN_API_KEY: "from-shell", TEAM_KEY: "sk-stored" });
  // no stored key: the environment VS Code was started with (a key exported in the shell works)
  assert.deepEqual(serverEnv(base, "QCN_API_KEY", undefined).env, base);
  assert.deepEqual(serverEnv(base, "QCN_API_KEY", "").env, base);
  assert.notEqual(serverEnv(base, "QCN_API_KEY", "k").env, base); // a copy: process.env is not changed
  assert.equal(base.QCN_API_KEY, "from-shell");
});

test("a variable name that is not one is refused without echoing the key", () => {
  const { env, problem } = serverEnv({ PATH: "/bin" }, "A=B", "sk-secret-123");
  assert.deepEqual(env, { PATH: "/bin" });
  assert.ok(problem && problem.includes("A=B") && !problem.includes("sk-secret-123"), problem);
});

test("set stores a trimmed key once; clear removes it; neither message contains the key", async () => {
  const secrets = new MemorySecrets();
  const typed = ui("  sk-team-0042  ");
  assert.equal(await setApiKey(secrets, typed), true);
  assert.equal(secrets.values.get(API_KEY_SECRET), "sk-team-0042");
  assert.equal(await setApiKey(secrets, ui("sk-team-0042")), false); // unchanged: no restart
  assert.equal(await setApiKey(secrets, ui(undefined)), false); // cancelled
  assert.equal(secrets.values.get(API_KEY_SECRET), "sk-team-0042");
  const cleared = ui(undefined);
  assert.equal(await clearApiKey(secrets, cleared), true);
  assert.equal(secrets.values.has(API_KEY_SECRET), false);
  assert.equal(await clearApiKey(secrets, cleared), false);
  for (const m of [...typed.said, ...cleared.said]) assert.ok(!m.includes("sk-team"), m);
});

test("the input box refuses keys that cannot be a bearer token", async () => {
  const secrets = new MemorySecrets();
  const typed = ui("sk bad");
  assert.equal(await setApiKey(secrets, typed), false);
  assert.equal(secrets.values.size, 0);
  assert.ok(typed.validator, "the box validates as the user types");
  assert.ok(typed.validator("   "));
  assert.ok(keyProblem("line\nbreak"));
  assert.equal(keyProblem("sk-ok_1.2"), undefined);
});

test("package.json contributes both key commands and no setting for the key", () => {
  const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const commands = manifest.contributes.commands.map((c: { command: string }) => c.command);
  assert.ok(commands.includes("qcn.setRemoteApiKey") && commands.includes("qcn.clearRemoteApiKey"), commands.join());
});
