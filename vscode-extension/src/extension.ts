// The VS Code side of qcn: starts `qcn serve` over stdio, keeps it running, shows its state.
// Completions, diagnostics and code actions come from the server through the language client;
// nothing here knows how to complete code.

import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  CloseAction, ErrorAction, LanguageClient, LogMessageNotification, MessageType,
  type ErrorHandler, type LanguageClientOptions, type ServerOptions,
} from "vscode-languageclient/node";

import { apiKeyCommands, storedApiKey } from "./apiKey";
import { Backoff, exitReason } from "./backoff";
import { exportCommand, LANGUAGES, RESTART_KEYS, readConfig, serverCommand, serverSettings,
         type QcnConfig } from "./config";
import { serverEnv } from "./secrets";
import { initialState, parseStatus, reduce, STATUS_NOTIFICATION, view, type StatusEvent,
         type StatusState } from "./status";

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new Controller(context);
  await controller.start("activation");
}

export async function deactivate(): Promise<void> {
  await controller?.dispose();
  controller = undefined;
}

function currentConfig(output?: vscode.LogOutputChannel): QcnConfig {
  const section = vscode.workspace.getConfiguration("qcn");
  const { config, problems } = readConfig((key) => section.get(key));
  for (const p of problems) output?.warn(p);
  return config;
}

class Controller {
  private readonly output = vscode.window.createOutputChannel("qcn", { log: true });
  private readonly item = vscode.window.createStatusBarItem("qcn.status", vscode.StatusBarAlignment.Right, 100);
  private state: StatusState = initialState(currentConfig().enable);
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly backoff = new Backoff();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastExit = "";
  private stderrTail = "";

  constructor(private readonly context: vscode.ExtensionContext) {
    this.item.name = "qcn";
    this.item.command = "qcn.showOutput";
    context.subscriptions.push(
      this.output, this.item,
      vscode.commands.registerCommand("qcn.restartServer", () => this.restart("restart command")),
      vscode.commands.registerCommand("qcn.showOutput", () => this.output.show(true)),
      vscode.commands.registerCommand("qcn.toggleCompletions", () => this.toggleCompletions()),
      vscode.commands.registerCommand("qcn.exportModel", () => exportModel(this.output)),
      vscode.workspace.onDidChangeConfiguration((e) => this.configurationChanged(e)),
      ...apiKeyCommands(context, () => this.restart("the remote API key changed")),
    );
    this.render();
    this.item.show();
  }

  private feed(event: StatusEvent): void {
    this.state = reduce(this.state, event);
    this.render();
  }

  private render(): void {
    const v = view(this.state);
    this.item.text = v.text;
    this.item.tooltip = v.tooltip;
    this.item.backgroundColor = v.severity === "normal" ? undefined
      : new vscode.ThemeColor(v.severity === "error" ? "statusBarItem.errorBackground" : "statusBarItem.warningBackground");
  }

  async start(why: string): Promise<void> {
    if (this.starting) return this.starting; // one start at a time
    this.starting = this.doStart(why).finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async doStart(why: string): Promise<void> {
    const config = currentConfig(this.output);
    const { command, args } = serverCommand(config);
    this.output.info(`starting the server (${why}): ${[command, ...args].join(" ")}`);
    this.feed({ kind: "starting" });
    this.stopping = false;
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const { env, problem } = serverEnv(process.env, config.remoteApiKeyEnv,
                                       await storedApiKey(this.context, this.output));
    if (problem) this.output.warn(problem);

    const serverOptions: ServerOptions = () => new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(command, args, { cwd, env, stdio: "pipe" });
      this.stderrTail = "";
      child.stderr?.on("data", (chunk: Buffer) => { this.stderrTail = (this.stderrTail + chunk.toString()).slice(-4000); });
      child.once("error", (err) => {
        this.lastExit = `cannot run ${command}: ${err.message}`
          + " (set qcn.server.pythonPath to a Python with qcn installed, or qcn.server.command)";
        reject(new Error(this.lastExit));
      });
      child.once("spawn", () => resolve(child));
      child.once("exit", (code, signal) => { this.lastExit = exitReason(code, signal, this.stderrTail); });
    });

    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.flatMap((language) => [
        { scheme: "file", language }, { scheme: "untitled", language }]),
      outputChannel: this.output,
      initializationOptions: serverSettings(config),
      // Settings changes are sent as workspace/didChangeConfiguration; the server then asks for
      // the `qcn` section, answered below with the same converter as initializationOptions.
      synchronize: { configurationSection: "qcn" },
      middleware: {
        workspace: {
          configuration: (params) => params.items.map((item) =>
            item.section === "qcn" ? serverSettings(currentConfig()) : null),
        },
        // No completion-list workaround: the server offers inline completion to clients that
        // announce it (this one does) and textDocument/completion only to those that don't.
      },
      errorHandler: this.errorHandler(() => client),
    };

    const client = new LanguageClient("qcn", "qcn", serverOptions, clientOptions);
    this.client = client;
    this.listen(client); // before start: the first qcn/status follows `initialized` at once
    try {
      await client.start();
    } catch (err) {
      const reason = this.lastExit || (err instanceof Error ? err.message : String(err));
      this.output.error(`the server did not start: ${reason}`);
      this.crashed(client, reason);
      return;
    }
    this.feed({ kind: "running" });
  }

  /** qcn/status feeds the status bar; log messages go to the output channel, for people. */
  private listen(client: LanguageClient): void {
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      const status = parseStatus(params);
      if (status) this.feed({ kind: "status", status });
      else this.output.warn(`ignored a ${STATUS_NOTIFICATION} notification this extension does not understand`);
    });
    client.onNotification(LogMessageNotification.type, ({ type, message }) => {
      if (type === MessageType.Error) this.output.error(message);
      else if (type === MessageType.Warning) this.output.warn(message);
      else this.output.info(message);
    });
  }

  private errorHandler(client: () => LanguageClient): ErrorHandler {
    return {
      error: () => ({ action: ErrorAction.Continue, handled: true }),
      closed: () => {
        if (!this.stopping) this.crashed(client(), this.lastExit || "the connection closed");
        // Restarts are ours (with backoff), not the client's.
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    };
  }

  /** The server of `client` stopped on its own: say why, and start a new one after a delay. */
  private crashed(client: LanguageClient, reason: string): void {
    if (client !== this.client) return; // already handled (a failed start also closes)
    this.client = undefined;
    void client.dispose().catch(() => undefined);
    const delay = this.backoff.crashed(Date.now());
    this.feed({ kind: "crashed", reason, retryInMs: delay });
    if (delay === undefined) {
      const message = `qcn's server keeps stopping (${reason}); not restarting it. Fix the cause, then run "qcn: Restart Server".`;
      this.output.error(message);
      void vscode.window.showErrorMessage(message, "Show Output").then((pick) => { if (pick) this.output.show(); });
      return;
    }
    this.output.warn(`the server stopped: ${reason}; restarting in ${delay} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => { void this.start("restart after a crash"); }, delay);
  }

  async restart(why: string): Promise<void> {
    clearTimeout(this.retryTimer);
    this.backoff.reset();
    await this.stop();
    await this.start(why);
  }

  private async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    this.stopping = true;
    try {
      await client.stop(5000); // shutdown + exit; the process is killed if it does not go
    } catch (err) {
      this.output.warn(`stopping the server: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.feed({ kind: "stopped" });
  }

  private async configurationChanged(e: vscode.ConfigurationChangeEvent): Promise<void> {
    if (!e.affectsConfiguration("qcn")) return;
    const config = currentConfig(this.output);
    this.feed({ kind: "completions", enabled: config.enable });
    if (RESTART_KEYS.some((key) => e.affectsConfiguration(key))) {
      await this.restart("settings changed");
    }
    // Everything else reaches the running server through workspace/didChangeConfiguration.
  }

  private async toggleCompletions(): Promise<void> {
    const section = vscode.workspace.getConfiguration("qcn");
    const enabled = !currentConfig().enable;
    await section.update("enable", enabled, vscode.ConfigurationTarget.Global);
    void vscode.window.setStatusBarMessage(`qcn: completions ${enabled ? "on" : "off"}`, 3000);
  }

  async dispose(): Promise<void> {
    clearTimeout(this.retryTimer);
    await this.stop();
  }
}

/** `qcn export` from two folder pickers, with progress and cancel; offers to use the result. */
async function exportModel(output: vscode.LogOutputChannel): Promise<void> {
  const checkpoint = await vscode.window.showOpenDialog({
    canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
    openLabel: "Export this checkpoint", title: "qcn: Hugging Face checkpoint folder (config.json, safetensors)",
  });
  if (!checkpoint?.[0]) return;
  const target = await vscode.window.showOpenDialog({
    canSelectFolders: true, canSelectFiles: false, canSelectMany: false,
    openLabel: "Export into this folder", title: "qcn: where the exported model goes (a new folder is made inside)",
  });
  if (!target?.[0]) return;
  const precision = await vscode.window.showQuickPick(["int4", "fp16", "fp32"], {
    title: "qcn: weight precision", placeHolder: "int4: smallest, CPU; fp16: GPU providers; fp32: reference",
  });
  if (!precision) return;
  const config = currentConfig(output);
  const outDir = path.join(target[0].fsPath, `qcn-${path.basename(checkpoint[0].fsPath)}-${precision}`);
  const { command, args } = exportCommand(config, checkpoint[0].fsPath, outDir, precision);
  output.info(`exporting: ${[command, ...args].join(" ")}`);

  const ok = await vscode.window.withProgress({
    location: vscode.ProgressLocation.Notification, title: "qcn: exporting the model", cancellable: true,
  }, (progress, token) => new Promise<boolean>((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let last = 0;
    const onText = (chunk: Buffer) => {
      for (const line of chunk.toString().split(/[\r\n]+/).filter((l) => l.trim())) {
        output.info(line.trim());
        const percent = /\((\d+)%\)/.exec(line);
        if (percent) {
          const now = Number(percent[1]);
          progress.report({ message: line.trim(), increment: Math.max(0, now - last) });
          last = now;
        }
      }
    };
    child.stdout?.on("data", onText);
    child.stderr?.on("data", onText);
    token.onCancellationRequested(() => { output.warn("export cancelled"); child.kill("SIGTERM"); });
    child.once("error", (err) => { output.error(`cannot run ${command}: ${err.message}`); resolve(false); });
    child.once("exit", (code, signal) => {
      if (code !== 0 && !token.isCancellationRequested) output.error(`export failed: ${exitReason(code, signal, "")}`);
      resolve(code === 0);
    });
  }));
  if (!ok) {
    void vscode.window.showErrorMessage("qcn: the export did not finish.", "Show Output")
      .then((pick) => { if (pick) output.show(); });
    return;
  }
  const use = await vscode.window.showInformationMessage(`qcn: exported to ${outDir}`, "Use this model");
  if (use) await vscode.workspace.getConfiguration("qcn").update("modelDir", outDir, vscode.ConfigurationTarget.Global);
}
