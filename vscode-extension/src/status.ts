// What the status bar says, as a pure function of what the server and the client reported:
// the server's `qcn/status` notification (state, model, provider, reason, index progress;
// docs/server.md "Status notification") and the process lifecycle. Log text is for people
// and is never parsed here. No `vscode` import.

import { modelName } from "./config";

/** The server's status notification (server/status.py). */
export const STATUS_NOTIFICATION = "qcn/status";

export type Phase = "stopped" | "starting" | "loading" | "indexing" | "ready" | "disabled" | "paused" | "error";

/** One workspace folder's index, as `qcn/status` reports it. */
export interface FolderStatus {
  folder: string;
  state: "indexing" | "ready" | "failed";
  done: number;
  total: number;
  files: number | null;
  reason: string | null;
}

/** The body of the server's `qcn/status` notification (the whole status, every time). */
export interface ServerStatus {
  state: "loading" | "ready" | "disabled" | "paused";
  model: string | null;
  provider: string | null;
  mode: string | null;
  reason: string | null;
  completions: boolean;
  index: FolderStatus[];
}

export type StatusEvent =
  | { kind: "starting" }
  | { kind: "running" }
  | { kind: "status"; status: ServerStatus }
  | { kind: "crashed"; reason: string; retryInMs?: number }
  | { kind: "stopped" }
  | { kind: "completions"; enabled: boolean };

export interface StatusState {
  phase: Phase;
  server?: ServerStatus; // the latest qcn/status of the running server
  error?: string; // the server process stopped (with why)
  enabled: boolean;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** "error" items get the error background and open the output channel when clicked. */
  severity: "normal" | "warning" | "error";
}

export function initialState(enabled = true): StatusState {
  return { phase: "stopped", enabled };
}

const STATES = new Set(["loading", "ready", "disabled", "paused"]);
const FOLDER_STATES = new Set(["indexing", "ready", "failed"]);

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** A `qcn/status` body checked field by field; undefined when it is not one (a newer or broken server). */
export function parseStatus(params: unknown): ServerStatus | undefined {
  if (typeof params !== "object" || params === null) return undefined;
  const p = params as Record<string, unknown>;
  if (typeof p.state !== "string" || !STATES.has(p.state)) return undefined;
  const index: FolderStatus[] = [];
  for (const e of Array.isArray(p.index) ? p.index : []) {
    if (typeof e !== "object" || e === null) continue;
    const f = e as Record<string, unknown>;
    if (typeof f.folder !== "string" || typeof f.state !== "string" || !FOLDER_STATES.has(f.state)) continue;
    index.push({ folder: f.folder, state: f.state as FolderStatus["state"], done: num(f.done), total: num(f.total),
                 files: typeof f.files === "number" ? f.files : null, reason: str(f.reason) });
  }
  return { state: p.state as ServerStatus["state"], model: str(p.model), provider: str(p.provider),
           mode: str(p.mode), reason: str(p.reason), completions: p.completions !== false, index };
}

export function reduce(previous: StatusState, event: StatusEvent): StatusState {
  const s: StatusState = { ...previous };
  switch (event.kind) {
    case "starting":
      return { ...initialState(s.enabled), phase: "starting" };
    case "running":
      s.error = undefined;
      break;
    case "status":
      s.server = event.status;
      s.error = undefined;
      break;
    case "crashed":
      s.error = event.retryInMs === undefined
        ? `the server stopped: ${event.reason}`
        : `the server stopped: ${event.reason}; restarting in ${Math.round(event.retryInMs / 1000)} s`;
      s.server = undefined;
      return { ...s, phase: "error" };
    case "stopped":
      return { ...initialState(s.enabled) };
    case "completions":
      s.enabled = event.enabled;
      break;
  }
  return { ...s, phase: phaseOf(s) };
}

function phaseOf(s: StatusState): Phase {
  if (s.phase === "stopped") return "stopped";
  if (s.error) return "error";
  const server = s.server;
  if (server === undefined) return "starting";
  if (server.state === "disabled") return "error";
  if (server.state === "loading") return "loading";
  if (server.index.some((f) => f.state === "indexing")) return "indexing";
  if (server.state === "paused") return "paused";
  return s.enabled ? "ready" : "disabled";
}

function shownModel(server?: ServerStatus): string {
  return server?.model ? modelName(server.model) : "?";
}

export function view(s: StatusState): StatusView {
  const clickHint = "Click to show qcn's output.";
  const server = s.server;
  switch (s.phase) {
    case "stopped":
      return { text: "$(circle-slash) qcn: stopped", tooltip: `qcn's server is not running. ${clickHint}`,
               severity: "normal" };
    case "starting":
      return { text: "$(sync~spin) qcn: starting", tooltip: "Starting qcn's language server…", severity: "normal" };
    case "loading":
      return { text: "$(sync~spin) qcn: loading model", tooltip: "Loading the model…", severity: "normal" };
    case "indexing": {
      const counts = (server?.index ?? []).filter((f) => f.state === "indexing" && f.total > 0)
        .map((f) => `${f.done}/${f.total}`);
      const shown = counts.length > 0 ? ` ${counts.join(", ")}` : "";
      return { text: `$(sync~spin) qcn: indexing${shown}`, tooltip: "Indexing the workspace…", severity: "normal" };
    }
    case "ready":
      return { text: `$(check) qcn: ready (${shownModel(server)}, ${server?.provider ?? "?"})`,
               tooltip: `Completions from ${shownModel(server)} on ${server?.provider ?? "?"}. ${clickHint}`,
               severity: "normal" };
    case "disabled":
      return { text: `$(circle-slash) qcn: off (${shownModel(server)}, ${server?.provider ?? "?"})`,
               tooltip: `Completions are turned off (qcn.enable). ${clickHint}`, severity: "warning" };
    case "paused":
      return { text: "$(warning) qcn: paused", tooltip: `Completions are paused: ${server?.reason ?? "?"}. ${clickHint}`,
               severity: "warning" };
    case "error":
      return { text: "$(error) qcn: error", tooltip: `${s.error ?? server?.reason ?? "?"}. ${clickHint}`,
               severity: "error" };
  }
}
