import assert from "node:assert/strict";
import { test } from "node:test";

import { initialState, reduce, view, type StatusEvent, type StatusState } from "../src/status";

const run = (events: StatusEvent[], from: StatusState = initialState()) => events.reduce(reduce, from);

const startup: StatusEvent[] = [
  { kind: "starting" },
  { kind: "running" },
  { kind: "progressBegin", token: "m", title: "qcn: loading model" },
  { kind: "progressReport", token: "m", message: "loading /models/qcn-int4" },
  { kind: "progressBegin", token: "i", title: "qcn: indexing shop" },
  { kind: "progressReport", token: "i", message: "3/10 files" },
];

test("a normal start: starting → loading model → indexing n/N → ready (model, provider)", () => {
  assert.equal(view(initialState()).text, "$(circle-slash) qcn: stopped");
  assert.equal(view(run(startup.slice(0, 2))).text, "$(sync~spin) qcn: starting");
  const loading = run(startup);
  assert.equal(loading.phase, "loading"); // loading the model wins over indexing
  const indexing = run([{ kind: "log", type: "info", message: "model ready: /models/qcn-int4 on cpu (context 4096 tokens)" },
                        { kind: "progressEnd", token: "m" }], loading);
  assert.equal(view(indexing).text, "$(sync~spin) qcn: indexing 3/10");
  const ready = run([{ kind: "progressReport", token: "i", message: "10/10 files" }, { kind: "progressEnd", token: "i" }], indexing);
  assert.equal(ready.phase, "ready");
  assert.equal(view(ready).text, "$(check) qcn: ready (qcn-int4, cpu)");
  assert.equal(view(ready).severity, "normal");
});

test("a model that cannot load is an error, and a reload clears it", () => {
  const failed = run([...startup, { kind: "log", type: "error", message: "completions are disabled: /nope does not exist" },
                      { kind: "progressEnd", token: "m" }]);
  assert.equal(failed.phase, "error");
  assert.equal(view(failed).severity, "error");
  assert.match(view(failed).tooltip, /\/nope does not exist.*output/);
  const reloaded = run([{ kind: "progressBegin", token: "m2", title: "qcn: loading model" },
                        { kind: "log", type: "info", message: "model ready: /models/other on cuda (context 4096 tokens)" },
                        { kind: "progressEnd", token: "m2" }, { kind: "progressEnd", token: "i" }], failed);
  assert.equal(view(reloaded).text, "$(check) qcn: ready (other, cuda)");
});

test("a crash says why and when the next try is; giving up says so too", () => {
  const ready = run([...startup, { kind: "log", type: "info", message: "model ready: /m on cpu (context 1 tokens)" },
                     { kind: "progressEnd", token: "m" }, { kind: "progressEnd", token: "i" }]);
  const crashed = reduce(ready, { kind: "crashed", reason: "exited with status 1: MemoryError", retryInMs: 2000 });
  assert.equal(crashed.phase, "error");
  assert.equal(view(crashed).text, "$(error) qcn: error");
  assert.match(view(crashed).tooltip, /exited with status 1: MemoryError; restarting in 2 s/);
  const gaveUp = reduce(ready, { kind: "crashed", reason: "killed by SIGKILL" });
  assert.doesNotMatch(view(gaveUp).tooltip, /restarting/);
  // the restart starts over from "starting"
  assert.equal(reduce(crashed, { kind: "starting" }).phase, "starting");
});

test("completions toggled off show as off; stopping shows stopped", () => {
  const ready = run([...startup, { kind: "log", type: "info", message: "model ready: /m on cpu (context 1 tokens)" },
                     { kind: "progressEnd", token: "m" }, { kind: "progressEnd", token: "i" }]);
  const off = reduce(ready, { kind: "completions", enabled: false });
  assert.equal(view(off).text, "$(circle-slash) qcn: off (m, cpu)");
  assert.equal(reduce(off, { kind: "completions", enabled: true }).phase, "ready");
  assert.equal(reduce(ready, { kind: "stopped" }).phase, "stopped");
});

test("unrelated progress and messages change nothing", () => {
  const ready = run([...startup, { kind: "log", type: "info", message: "model ready: /m on cpu (context 1 tokens)" },
                     { kind: "progressEnd", token: "m" }, { kind: "progressEnd", token: "i" }]);
  const after = run([{ kind: "progressBegin", token: "x", title: "something else" },
                     { kind: "log", type: "warning", message: "setting contextBudget='lots' is invalid" },
                     { kind: "progressEnd", token: "x" }], ready);
  assert.deepEqual(view(after), view(ready));
});
