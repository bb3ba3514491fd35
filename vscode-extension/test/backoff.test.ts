import assert from "node:assert/strict";
import { test } from "node:test";

import { Backoff, exitReason } from "../src/backoff";

test("restart delays double up to the cap, and stop after too many crashes in the window", () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 3000, maxCrashes: 5, windowMs: 60000 });
  assert.deepEqual([0, 1, 2, 3].map((i) => b.crashed(i * 1000)), [1000, 2000, 3000, 3000]);
  assert.equal(b.crashed(5000), undefined);
});

test("crashes older than the window are forgotten; reset starts over", () => {
  const b = new Backoff({ initialMs: 1000, maxMs: 30000, maxCrashes: 3, windowMs: 10000 });
  assert.equal(b.crashed(0), 1000);
  assert.equal(b.crashed(1000), 2000);
  assert.equal(b.crashed(20000), 1000); // the first two are out of the window
  b.reset();
  assert.equal(b.crashed(21000), 1000);
});

test("the reason names the exit status or signal and the last stderr line", () => {
  assert.equal(exitReason(1, null, "Traceback …\nModuleNotFoundError: No module named 'qcn'\n"),
    "exited with status 1: ModuleNotFoundError: No module named 'qcn'");
  assert.equal(exitReason(null, "SIGKILL", ""), "killed by SIGKILL");
});
