// qcn's settings as VS Code stores them (`qcn.*`), and what they become for the server:
// the command line that starts `qcn serve` and the settings object it reads
// (initializationOptions and the `qcn` section of workspace/configuration, docs/server.md).
// No `vscode` import: tests run this under plain Node.

export const LANGUAGES = [
  "python", "javascript", "typescript", "typescriptreact", "javascriptreact",
  "go", "rust", "java", "c", "cpp",
] as const;

export const PROVIDERS = ["cpu", "cuda", "dml", "webgpu", "openvino"] as const;
export const LOG_LEVELS = ["warning", "info", "debug"] as const;
export const BACKENDS = ["local", "service", "remote"] as const;
/** `qcn.securityParameterConfidence`: how findings from a public function's parameters show (docs/security.md). */
export const PARAMETER_CONFIDENCES = ["off", "low", "medium", "high"] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];

export interface QcnConfig {
  /** `qcn.server.pythonPath`: interpreter that has qcn installed; runs `python -m qcn serve`. */
  pythonPath: string;
  /** `qcn.server.command`: the whole command instead (e.g. ["qcn", "serve"] or a wrapper script). */
  command: string[];
  enable: boolean;
  modelDir: string;
  executionProvider: string;
  contextBudget: number;
  maxNewTokens: number;
  multiline: boolean;
  securityDiagnostics: boolean;
  securityParameterConfidence: string;
  logLevel: LogLevel;
  checkpoints: boolean;
  checkpointMemoryMb: number;
  /** `local` (the model here, or the shared model service per `modelService`), `service`, `remote`. */
  backend: string;
  modelService: string;
  /** backend=remote: the engine's base URL and served model name (docs/remote.md). */
  remoteUrl: string;
  remoteModel: string;
  remoteTokenizer: string;
  remoteCaBundle: string;
  /** The environment variable the server reads the API key from; the extension fills it from secret storage. */
  remoteApiKeyEnv: string;
}

export const DEFAULTS: QcnConfig = {
  pythonPath: "",
  command: [],
  enable: true,
  modelDir: "",
  executionProvider: "cpu",
  contextBudget: 16384,
  maxNewTokens: 128,
  multiline: true,
  securityDiagnostics: true,
  securityParameterConfidence: "low",
  logLevel: "info",
  checkpoints: true,
  checkpointMemoryMb: 1024,
  backend: "local",
  modelService: "auto",
  remoteUrl: "",
  remoteModel: "",
  remoteTokenizer: "",
  remoteCaBundle: "",
  remoteApiKeyEnv: "QCN_API_KEY",
};

/** An absolute path on POSIX or Windows (the server may run on either). */
function isAbsolute(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith("\\\\");
}

/** A name the server can read from its environment (and nothing that could smuggle in more). */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/** Reads one setting by its key under `qcn.` (what `workspace.getConfiguration("qcn").get` does). */
export type Getter = (key: string) => unknown;

/** The typed settings; a value of the wrong type keeps its default and is reported. */
export function readConfig(get: Getter): { config: QcnConfig; problems: string[] } {
  const problems: string[] = [];
  const pick = <T>(key: string, fallback: T, ok: (v: unknown) => boolean): T => {
    const value = get(key);
    if (value === undefined || value === null) return fallback;
    if (ok(value)) return value as T;
    problems.push(`qcn.${key}=${JSON.stringify(value)} is invalid; using ${JSON.stringify(fallback)}`);
    return fallback;
  };
  const isString = (v: unknown) => typeof v === "string";
  const isBool = (v: unknown) => typeof v === "boolean";
  const intIn = (lo: number, hi: number) => (v: unknown) =>
    typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;
  const oneOf = (values: readonly string[]) => (v: unknown) => typeof v === "string" && values.includes(v);
  const config: QcnConfig = {
    pythonPath: pick("server.pythonPath", DEFAULTS.pythonPath, isString).trim(),
    command: pick("server.command", DEFAULTS.command,
      (v) => Array.isArray(v) && v.every((s) => typeof s === "string")),
    enable: pick("enable", DEFAULTS.enable, isBool),
    modelDir: pick("modelDir", DEFAULTS.modelDir, isString).trim(),
    executionProvider: pick("executionProvider", DEFAULTS.executionProvider, oneOf(PROVIDERS)),
    contextBudget: pick("contextBudget", DEFAULTS.contextBudget, intIn(256, 262144)),
    maxNewTokens: pick("maxNewTokens", DEFAULTS.maxNewTokens, intIn(1, 4096)),
    multiline: pick("multiline", DEFAULTS.multiline, isBool),
    securityDiagnostics: pick("securityDiagnostics", DEFAULTS.securityDiagnostics, isBool),
    securityParameterConfidence: pick("securityParameterConfidence", DEFAULTS.securityParameterConfidence,
      oneOf(PARAMETER_CONFIDENCES)),
    logLevel: pick("logLevel", DEFAULTS.logLevel, oneOf(LOG_LEVELS)),
    checkpoints: pick("checkpoints", DEFAULTS.checkpoints, isBool),
    checkpointMemoryMb: pick("checkpointMemoryMb", DEFAULTS.checkpointMemoryMb, intIn(0, 1 << 20)),
    backend: pick("backend", DEFAULTS.backend, oneOf(BACKENDS)),
    modelService: pick("modelService", DEFAULTS.modelService,
      (v) => typeof v === "string" && (v === "auto" || v === "off" || isAbsolute(v))),
    remoteUrl: pick("remoteUrl", DEFAULTS.remoteUrl,
      (v) => typeof v === "string" && (v.trim() === "" || /^https?:\/\//.test(v.trim()))).trim(),
    remoteModel: pick("remoteModel", DEFAULTS.remoteModel, isString).trim(),
    remoteTokenizer: pick("remoteTokenizer", DEFAULTS.remoteTokenizer, isString).trim(),
    remoteCaBundle: pick("remoteCaBundle", DEFAULTS.remoteCaBundle, isString).trim(),
    remoteApiKeyEnv: pick("remoteApiKeyEnv", DEFAULTS.remoteApiKeyEnv,
      (v) => typeof v === "string" && isEnvName(v)),
  };
  return { config, problems };
}

/** `qcn -v` flags: the server logs to stderr, which the client shows in the output channel. */
function verbosity(level: LogLevel): string[] {
  return level === "debug" ? ["-vv"] : level === "info" ? ["-v"] : [];
}

/**
 * How to start the server: `qcn.server.command` as given; else `python -m qcn serve` with
 * `qcn.server.pythonPath`; else `qcn serve` from PATH.
 */
export function serverCommand(config: QcnConfig): { command: string; args: string[] } {
  const command = config.command.filter((s) => s.trim() !== "");
  if (command.length > 0) return { command: command[0], args: command.slice(1) };
  const flags = verbosity(config.logLevel);
  if (config.pythonPath) return { command: config.pythonPath, args: ["-m", "qcn", ...flags, "serve"] };
  return { command: "qcn", args: [...flags, "serve"] };
}

/** `qcn export SRC OUT`, run the same way as the server. */
export function exportCommand(config: QcnConfig, checkpoint: string, outDir: string,
                              precision: string): { command: string; args: string[] } {
  const args = ["export", checkpoint, outDir, "--precision", precision, "--ep", config.executionProvider];
  const custom = config.command.filter((s) => s.trim() !== "");
  if (custom.length > 0) {
    // A custom server command ends with "serve": replace that with the export arguments.
    const head = custom[custom.length - 1] === "serve" ? custom.slice(0, -1) : custom;
    return { command: head[0], args: [...head.slice(1), ...args] };
  }
  if (config.pythonPath) return { command: config.pythonPath, args: ["-m", "qcn", ...args] };
  return { command: "qcn", args };
}

/** The server's settings, by the camelCase names of docs/server.md. */
export function serverSettings(config: QcnConfig): Record<string, unknown> {
  return {
    enable: config.enable,
    modelDir: config.modelDir,
    executionProvider: config.executionProvider,
    contextBudget: config.contextBudget,
    maxNewTokens: config.maxNewTokens,
    multiline: config.multiline,
    securityDiagnostics: config.securityDiagnostics,
    securityParameterConfidence: config.securityParameterConfidence,
    checkpoints: config.checkpoints,
    checkpointMemoryMb: config.checkpointMemoryMb,
    backend: config.backend,
    modelService: config.modelService,
    remoteUrl: config.remoteUrl,
    remoteModel: config.remoteModel,
    remoteTokenizer: config.remoteTokenizer,
    remoteCaBundle: config.remoteCaBundle,
    remoteApiKeyEnv: config.remoteApiKeyEnv,
  };
}

/**
 * Settings that only take effect in a new server process; the rest are sent live.
 * `qcn.remoteApiKeyEnv` names the variable the key is put in when the process is spawned.
 */
export const RESTART_KEYS = ["qcn.server", "qcn.logLevel", "qcn.remoteApiKeyEnv"] as const;

/** The last part of a model folder's path, for the status bar. */
export function modelName(modelDir: string): string {
  const parts = modelDir.replace(/[\\/]+$/, "").split(/[\\/]/);
  return parts[parts.length - 1] || modelDir;
}
