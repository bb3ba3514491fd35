// What the status bar says, as a pure function of what the server and the client reported:
// $/progress (model loading, indexing n/N), log messages ("model ready: DIR on PROVIDER …",
// "completions are disabled: …") and the process lifecycle. No `vscode` import.

import { modelName } from "./config";

export type Phase = "stopped" | "starting" | "loading" | "indexing" | "ready" | "disabled" | "error";

export type StatusEvent =
  | { kind: "starting" }
  | { kind: "running" }
  | { kind: "progressBegin"; token: string; title: string }
  | { kind: "progressReport"; token: string; message?: string }
  | { kind: "progressEnd"; token: string }
  | { kind: "log"; type: "error" | "warning" | "info"; message: string }
  | { kind: "crashed"; reason: string; retryInMs?: number }
  | { kind: "stopped" }
  | { kind: "completions"; enabled: boolean };

export interface StatusState {
  phase: Phase;
  model?: string;
  provider?: string;
  modelReady: boolean;
  loading: Set<string>; // progress tokens of model loads in flight
  indexing: Map<string, string>; // progress token -> "n/N files"
  error?: string;
  enabled: boolean;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** "error" items get the error background and open the output channel when clicked. */
  severity: "normal" | "warning" | "error";
}

export function initialState(enabled = true): StatusState {
  return { phase: "stopped", modelReady: false, loading: new Set(), indexing: new Map(), enabled };
}

const MODEL_READY = /^model ready: (.+) on (\S+)(?: \(|$)/;
const DISABLED = /^completions are disabled: (.+)$/;

export function reduce(previous: StatusState, event: StatusEvent): StatusState {
  const s: StatusState = { ...previous, loading: new Set(previous.loading), indexing: new Map(previous.indexing) };
  switch (event.kind) {
    case "starting":
      return { ...initialState(s.enabled), phase: "starting" };
    case "running":
      s.error = undefined;
      break;
    case "progressBegin":
      if (/loading model/i.test(event.title)) {
        s.loading.add(event.token);
        s.modelReady = false;
        s.error = undefined;
      } else if (/indexing/i.test(event.title)) {
        s.indexing.set(event.token, "");
      }
      break;
    case "progressReport":
      if (s.indexing.has(event.token)) s.indexing.set(event.token, event.message ?? "");
      break;
    case "progressEnd":
      s.loading.delete(event.token);
      s.indexing.delete(event.token);
      break;
    case "log": {
      const ready = MODEL_READY.exec(event.message);
      const disabled = DISABLED.exec(event.message);
      if (ready) {
        s.modelReady = true;
        s.model = modelName(ready[1]);
        s.provider = ready[2];
        s.error = undefined;
      } else if (disabled) {
        s.modelReady = false;
        s.error = disabled[1];
      }
      break;
    }
    case "crashed":
      s.error = event.retryInMs === undefined
        ? `the server stopped: ${event.reason}`
        : `the server stopped: ${event.reason}; restarting in ${Math.round(event.retryInMs / 1000)} s`;
      s.modelReady = false;
      s.loading.clear();
      s.indexing.clear();
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
  if (s.loading.size > 0) return "loading";
  if (s.indexing.size > 0) return "indexing";
  if (s.modelReady) return s.enabled ? "ready" : "disabled";
  return "starting";
}

export function view(s: StatusState): StatusView {
  const clickHint = "Click to show qcn's output.";
  switch (s.phase) {
    case "stopped":
      return { text: "$(circle-slash) qcn: stopped", tooltip: `qcn's server is not running. ${clickHint}`,
               severity: "normal" };
    case "starting":
      return { text: "$(sync~spin) qcn: starting", tooltip: "Starting qcn's language server…", severity: "normal" };
    case "loading":
      return { text: "$(sync~spin) qcn: loading model", tooltip: "Loading the model…", severity: "normal" };
    case "indexing": {
      const counts = [...s.indexing.values()].filter((m) => m).map((m) => m.replace(/ files?$/, ""));
      const shown = counts.length > 0 ? ` ${counts.join(", ")}` : "";
      return { text: `$(sync~spin) qcn: indexing${shown}`, tooltip: "Indexing the workspace…", severity: "normal" };
    }
    case "ready":
      return { text: `$(check) qcn: ready (${s.model}, ${s.provider})`,
               tooltip: `Completions from ${s.model} on ${s.provider}. ${clickHint}`, severity: "normal" };
    case "disabled":
      return { text: `$(circle-slash) qcn: off (${s.model}, ${s.provider})`,
               tooltip: `Completions are turned off (qcn.enable). ${clickHint}`, severity: "warning" };
    case "error":
      return { text: "$(error) qcn: error", tooltip: `${s.error}. ${clickHint}`, severity: "error" };
  }
}
