import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import { DEFAULTS, exportCommand, LANGUAGES, modelName, readConfig, RESTART_KEYS, serverCommand, serverSettings } from "../src/config";

const manifest = JSON.parse(readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
const properties: Record<string, { default: unknown; description?: string; markdownDescription?: string }> =
  manifest.contributes.configuration.properties;

const getterFor = (values: Record<string, unknown>) => (key: string) => values[key];

test("every contributed setting has a description and the default readConfig uses", () => {
  const { config, problems } = readConfig(getterFor({}));
  assert.deepEqual(problems, []);
  assert.deepEqual(config, DEFAULTS);
  const byKey: Record<string, unknown> = {
    "qcn.server.pythonPath": DEFAULTS.pythonPath, "qcn.server.command": DEFAULTS.command, "qcn.enable": DEFAULTS.enable,
    "qcn.modelDir": DEFAULTS.modelDir, "qcn.executionProvider": DEFAULTS.executionProvider,
    "qcn.contextBudget": DEFAULTS.contextBudget, "qcn.maxNewTokens": DEFAULTS.maxNewTokens,
    "qcn.multiline": DEFAULTS.multiline, "qcn.securityDiagnostics": DEFAULTS.securityDiagnostics,
    "qcn.securityParameterConfidence": DEFAULTS.securityParameterConfidence,
    "qcn.logLevel": DEFAULTS.logLevel, "qcn.checkpoints": DEFAULTS.checkpoints,
    "qcn.checkpointMemoryMb": DEFAULTS.checkpointMemoryMb, "qcn.backend": DEFAULTS.backend,
    "qcn.modelService": DEFAULTS.modelService, "qcn.remoteUrl": DEFAULTS.remoteUrl,
    "qcn.remoteModel": DEFAULTS.remoteModel, "qcn.remoteTokenizer": DEFAULTS.remoteTokenizer,
    "qcn.remoteCaBundle": DEFAULTS.remoteCaBundle, "qcn.remoteApiKeyEnv": DEFAULTS.remoteApiKeyEnv,
  };
  assert.deepEqual(Object.keys(properties).sort(), Object.keys(byKey).sort());
  for (const [key, value] of Object.entries(byKey)) {
    assert.deepEqual(properties[key].default, value, key);
    assert.ok((properties[key].description ?? properties[key].markdownDescription ?? "").length > 20, key);
  }
});

test("the server's defaults (docs/server.md) are the extension's defaults", () => {
  const doc = readFileSync(path.join(__dirname, "..", "..", "..", "docs", "server.md"), "utf8");
  const settings = serverSettings(DEFAULTS);
  for (const [name, value] of Object.entries(settings)) {
    const row = new RegExp("^\\| `" + name + "` \\| `([^`]*)` \\|", "m").exec(doc);
    assert.ok(row, `${name} is not in docs/server.md's settings table`);
    assert.equal(row[1], JSON.stringify(value), name);
  }
});

test("activation and the document selector cover the languages qcn indexes", () => {
  assert.deepEqual(manifest.activationEvents, LANGUAGES.map((l) => `onLanguage:${l}`));
  assert.ok(manifest.engines.vscode.startsWith("^1."));
});

test("settings become the server's camelCase options", () => {
  const { config } = readConfig(getterFor({
    modelDir: " /models/qcn-int4 ", executionProvider: "cuda", contextBudget: 8192, maxNewTokens: 64,
    multiline: false, securityDiagnostics: false, enable: false, logLevel: "debug",
    securityParameterConfidence: "off",
  }));
  assert.deepEqual(serverSettings(config), {
    ...serverSettings(DEFAULTS),
    enable: false, modelDir: "/models/qcn-int4", executionProvider: "cuda", contextBudget: 8192,
    maxNewTokens: 64, multiline: false, securityDiagnostics: false, securityParameterConfidence: "off",
  });
});

test("the remote backend's settings reach the server; the key itself is never one of them", () => {
  const { config, problems } = readConfig(getterFor({
    backend: "remote", remoteUrl: " https://gpu-node:8000/v1 ", remoteModel: "Qwen/Qwen3-Coder-Next",
    remoteTokenizer: "/models/qcn-int4", remoteCaBundle: "/etc/ssl/team.pem", remoteApiKeyEnv: "TEAM_KEY",
    modelService: "off", checkpoints: false, checkpointMemoryMb: 256,
  }));
  assert.deepEqual(problems, []);
  const settings = serverSettings(config);
  assert.deepEqual({ ...settings, enable: undefined }, {
    ...serverSettings(DEFAULTS), enable: undefined, backend: "remote", remoteUrl: "https://gpu-node:8000/v1",
    remoteModel: "Qwen/Qwen3-Coder-Next", remoteTokenizer: "/models/qcn-int4", remoteCaBundle: "/etc/ssl/team.pem",
    remoteApiKeyEnv: "TEAM_KEY", modelService: "off", checkpoints: false, checkpointMemoryMb: 256,
  });
  assert.ok(!Object.keys(settings).some((k) => /apikey$/i.test(k)), Object.keys(settings).join(", "));
  // the variable that carries the key is a process setting: changing it restarts the server
  assert.ok(RESTART_KEYS.includes("qcn.remoteApiKeyEnv"));
});

test("invalid remote settings keep their default and are reported", () => {
  const { config, problems } = readConfig(getterFor({
    backend: "cloud", remoteUrl: "gpu-node:8000", remoteApiKeyEnv: "KEY; rm -rf /", modelService: "relative/sock",
    checkpointMemoryMb: -1,
  }));
  assert.equal(config.backend, "local");
  assert.equal(config.remoteUrl, "");
  assert.equal(config.remoteApiKeyEnv, "QCN_API_KEY");
  assert.equal(config.modelService, "auto");
  assert.equal(config.checkpointMemoryMb, 1024);
  assert.equal(problems.length, 5, problems.join("\n"));
  assert.equal(readConfig(getterFor({ modelService: "C:\\Users\\me\\qcn.sock" })).config.modelService,
    "C:\\Users\\me\\qcn.sock");
});

test("a setting that can redirect the API key cannot be set by a workspace", () => {
  // machine scope: user or remote settings only; a cloned repository's .vscode/settings.json
  // must not send the stored key to another host, another CA, or another variable.
  for (const key of ["qcn.remoteUrl", "qcn.remoteCaBundle", "qcn.remoteApiKeyEnv"]) {
    assert.equal((properties[key] as { scope?: string }).scope, "machine", key);
  }
  assert.ok(!Object.keys(properties).some((k) => /apikey$/i.test(k)), "no setting holds the key");
});

test("invalid values keep their default and are reported", () => {
  const { config, problems } = readConfig(getterFor({
    executionProvider: "tpu", contextBudget: 12.5, maxNewTokens: 0, multiline: "yes", "server.command": "qcn serve",
  }));
  assert.equal(config.executionProvider, "cpu");
  assert.equal(config.contextBudget, 16384);
  assert.equal(config.maxNewTokens, 128);
  assert.equal(config.multiline, true);
  assert.deepEqual(config.command, []);
  assert.equal(problems.length, 5);
  assert.ok(problems.includes(`qcn.executionProvider="tpu" is invalid; using "cpu"`), problems.join("\n"));
});

test("server command: explicit command, else python -m qcn, else qcn on PATH; log level as -v flags", () => {
  const base = readConfig(getterFor({})).config;
  assert.deepEqual(serverCommand(base), { command: "qcn", args: ["-v", "serve"] });
  assert.deepEqual(serverCommand({ ...base, logLevel: "warning" }), { command: "qcn", args: ["serve"] });
  assert.deepEqual(serverCommand({ ...base, pythonPath: "/venv/bin/python", logLevel: "debug" }),
    { command: "/venv/bin/python", args: ["-m", "qcn", "-vv", "serve"] });
  assert.deepEqual(serverCommand({ ...base, pythonPath: "/venv/bin/python", command: ["/opt/qcn", "serve", "--log-file", "x"] }),
    { command: "/opt/qcn", args: ["serve", "--log-file", "x"] });
  assert.deepEqual(serverCommand({ ...base, command: ["", " "] }), { command: "qcn", args: ["-v", "serve"] });
});

test("export runs qcn export the way the server runs", () => {
  const base = { ...readConfig(getterFor({})).config, executionProvider: "cuda" };
  assert.deepEqual(exportCommand({ ...base, pythonPath: "/venv/bin/python" }, "/ckpt", "/out/m", "fp16"),
    { command: "/venv/bin/python", args: ["-m", "qcn", "export", "/ckpt", "/out/m", "--precision", "fp16", "--ep", "cuda"] });
  assert.deepEqual(exportCommand({ ...base, command: ["/opt/bin/qcn", "serve"] }, "/c", "/o", "int4"),
    { command: "/opt/bin/qcn", args: ["export", "/c", "/o", "--precision", "int4", "--ep", "cuda"] });
  assert.deepEqual(exportCommand(base, "/c", "/o", "int4").command, "qcn");
});

test("model name is the folder's last part", () => {
  assert.equal(modelName("/home/me/models/qcn-int4/"), "qcn-int4");
  assert.equal(modelName("C:\\models\\qcn-fp16"), "qcn-fp16");
});

test("the parameter-finding confidence takes one of the server's values, else keeps its default", () => {
  const enumValues = properties["qcn.securityParameterConfidence"] as unknown as { enum: string[] };
  assert.deepEqual(enumValues.enum, ["off", "low", "medium", "high"]);
  for (const value of ["off", "medium", "high"]) {
    const { config, problems } = readConfig(getterFor({ securityParameterConfidence: value }));
    assert.deepEqual(problems, []);
    assert.equal(serverSettings(config).securityParameterConfidence, value);
  }
  const { config, problems } = readConfig(getterFor({ securityParameterConfidence: "loud" }));
  assert.equal(config.securityParameterConfidence, "low");
  assert.deepEqual(problems, ['qcn.securityParameterConfidence="loud" is invalid; using "low"']);
});
