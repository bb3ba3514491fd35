import assert from "node:assert/strict";
import { test } from "node:test";

import { initialState, parseStatus, reduce, view, type FolderStatus, type ServerStatus, type StatusEvent,
         type StatusState } from "../src/status";

const run = (events: StatusEvent[], from: StatusState = initialState()) => events.reduce(reduce, from);

const base: ServerStatus = { state: "loading", model: null, provider: null, mode: null, reason: null,
                             completions: true, index: [] };
const folder = (state: FolderStatus["state"], done = 0, total = 0): FolderStatus =>
  ({ folder: "/ws/shop", state, done, total, files: state === "ready" ? total : null, reason: null });
const status = (over: Partial<ServerStatus>): StatusEvent => ({ kind: "status", status: { ...base, ...over } });
const ready = status({ state: "ready", model: "/models/qcn-int4", provider: "cpu", mode: "checkpoints",
                       index: [folder("ready", 10, 10)] });

const startup: StatusEvent[] = [
  { kind: "starting" },
  { kind: "running" },
  status({ model: "/models/qcn-int4", index: [folder("indexing", 3, 10)] }),
];

test("a normal start: starting → loading model → indexing n/N → ready (model, provider)", () => {
  assert.equal(view(initialState()).text, "$(circle-slash) qcn: stopped");
  assert.equal(view(run(startup.slice(0, 2))).text, "$(sync~spin) qcn: starting");
  const loading = run(startup);
  assert.equal(loading.phase, "loading"); // loading the model wins over indexing
  const indexing = run([status({ state: "ready", model: "/models/qcn-int4", provider: "cpu",
                                 index: [folder("indexing", 3, 10)] })], loading);
  assert.equal(view(indexing).text, "$(sync~spin) qcn: indexing 3/10");
  const done = reduce(indexing, ready);
  assert.equal(done.phase, "ready");
  assert.equal(view(done).text, "$(check) qcn: ready (qcn-int4, cpu)");
  assert.equal(view(done).severity, "normal");
});

test("a model that cannot load is an error with the server's reason, and a reload clears it", () => {
  const failed = run([...startup, status({ state: "disabled", reason: "/nope does not exist" })]);
  assert.equal(failed.phase, "error");
  assert.equal(view(failed).severity, "error");
  assert.match(view(failed).tooltip, /\/nope does not exist.*output/);
  const reloaded = run([status({ model: "/models/other" }),
                        status({ state: "ready", model: "/models/other", provider: "cuda" })], failed);
  assert.equal(view(reloaded).text, "$(check) qcn: ready (other, cuda)");
});

test("a remote engine that stops answering shows as paused, with why, until it is back", () => {
  const paused = run([...startup, ready, status({ state: "paused", model: "/m", provider: "remote",
                                                  reason: "cannot connect to http://gpu:8000" })]);
  assert.equal(paused.phase, "paused");
  assert.equal(view(paused).severity, "warning");
  assert.match(view(paused).tooltip, /cannot connect to http:\/\/gpu:8000/);
  assert.equal(reduce(paused, ready).phase, "ready");
});

test("a crash says why and when the next try is; giving up says so too", () => {
  const up = run([...startup, ready]);
  const crashed = reduce(up, { kind: "crashed", reason: "exited with status 1: MemoryError", retryInMs: 2000 });
  assert.equal(crashed.phase, "error");
  assert.equal(view(crashed).text, "$(error) qcn: error");
  assert.match(view(crashed).tooltip, /exited with status 1: MemoryError; restarting in 2 s/);
  const gaveUp = reduce(up, { kind: "crashed", reason: "killed by SIGKILL" });
  assert.doesNotMatch(view(gaveUp).tooltip, /restarting/);
  // the restart starts over from "starting"
  assert.equal(reduce(crashed, { kind: "starting" }).phase, "starting");
});

test("completions toggled off show as off; stopping shows stopped", () => {
  const up = run([...startup, status({ state: "ready", model: "/m", provider: "cpu" })]);
  const off = reduce(up, { kind: "completions", enabled: false });
  assert.equal(view(off).text, "$(circle-slash) qcn: off (m, cpu)");
  assert.equal(reduce(off, { kind: "completions", enabled: true }).phase, "ready");
  assert.equal(reduce(up, { kind: "stopped" }).phase, "stopped");
});

test("qcn/status bodies are checked: what is not one is refused, unknown fields are ignored", () => {
  assert.equal(parseStatus(null), undefined);
  assert.equal(parseStatus("ready"), undefined);
  assert.equal(parseStatus({ state: "exploded" }), undefined);
  const parsed = parseStatus({ state: "ready", model: "/m", provider: "cpu", mode: "snapshot", reason: null,
                               completions: true, future: 1,
                               index: [{ folder: "/ws", state: "ready", done: 3, total: 3, files: 3, reason: null },
                                       { folder: 5, state: "ready" }, "junk"] });
  assert.deepEqual(parsed, { state: "ready", model: "/m", provider: "cpu", mode: "snapshot", reason: null,
                             completions: true,
                             index: [{ folder: "/ws", state: "ready", done: 3, total: 3, files: 3, reason: null }] });
});

test("a status that says nothing new changes nothing", () => {
  const up = run([...startup, ready]);
  assert.deepEqual(view(reduce(up, ready)), view(up));
});
