// Drives code-server (VS Code in the browser) with Playwright on Debian's Chromium for
// tests/editors/test_vscode_e2e.py: open a Python file of the workspace, wait for qcn's status
// bar item to say "ready", type, and wait for the inline suggestion (ghost text) to appear.
// The job (JSON, path in $QCN_VSCODE_JOB) says where code-server listens, which file to open,
// where to type and where to write the result and the screenshots. Every wait is on a
// condition with a timeout; the result file is always written, with the error if one stopped us.

"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const job = JSON.parse(fs.readFileSync(process.env.QCN_VSCODE_JOB, "utf8"));
const { chromium } = createRequire(path.join(job.extensionDir, "package.json"))("playwright-core");

const out = { steps: [], statusTexts: [] };
const step = (name) => { out.steps.push(`${new Date().toISOString()} ${name}`); };

async function statusText(page) {
  return page.evaluate(() => [...document.querySelectorAll(".statusbar-item")]
    .map((e) => e.textContent.trim()).filter((t) => t.startsWith("qcn")).join(" | "));
}

async function ghostText(page) {
  return page.evaluate(() => [...document.querySelectorAll(".ghost-text-decoration, .ghost-text, .ghost-text-decoration-preview")]
    .map((e) => e.textContent).join(""));
}

async function main(page) {
  await page.goto(job.url, { waitUntil: "domcontentloaded", timeout: 120000 });
  await page.waitForSelector(".monaco-workbench .part.statusbar", { timeout: 180000 });
  step("workbench");

  // Open the file through Quick Open, as a user would.
  await page.locator(".monaco-workbench").click({ position: { x: 600, y: 300 } });
  await page.keyboard.press("Control+P");
  await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 60000 });
  await page.keyboard.type(job.file);
  await page.waitForSelector(".quick-input-list .monaco-list-row", { timeout: 60000 });
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.tab[aria-label^="${path.basename(job.file)}"]`, { timeout: 60000 });
  await page.waitForSelector(".monaco-editor .view-lines", { timeout: 60000 });
  step("opened " + job.file);

  // qcn's status bar item: starting → loading model → indexing → ready (model, provider).
  const deadline = Date.now() + job.readyTimeoutMs;
  for (;;) {
    const text = await statusText(page);
    if (text && out.statusTexts[out.statusTexts.length - 1] !== text) out.statusTexts.push(text);
    if (text.includes("qcn: ready")) break;
    if (Date.now() > deadline) throw new Error(`status bar never said "qcn: ready": ${out.statusTexts.join(" → ")}`);
    await page.waitForTimeout(100); // polling the DOM; the wait itself is bounded by the deadline
  }
  step("ready");
  await page.screenshot({ path: path.join(job.artifacts, "ready.png") });

  // Type at each place until ghost text shows (the tiny random model has nothing to say at some).
  for (const place of job.places) {
    await page.keyboard.press("Control+G");
    await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 30000 });
    await page.keyboard.type(`${place.line}:${place.column}`);
    await page.keyboard.press("Enter");
    await page.waitForSelector(".quick-input-widget", { state: "hidden", timeout: 30000 });
    await page.keyboard.type(place.type, { delay: 50 });
    step(`typed ${JSON.stringify(place.type)} at ${place.line}:${place.column}`);
    try {
      await page.waitForFunction(
        () => document.querySelector(".ghost-text-decoration, .ghost-text, .ghost-text-decoration-preview") !== null,
        null, { timeout: job.ghostTimeoutMs });
    } catch {
      step("no ghost text here");
      await page.keyboard.press("Escape");
      continue;
    }
    out.ghostText = await ghostText(page);
    out.place = place;
    await page.screenshot({ path: path.join(job.artifacts, "inline-suggestion.png") });
    step("ghost text");
    break;
  }

  // The command palette's "qcn: Toggle Completions" turns completions off: the status bar says so.
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  await page.waitForSelector(".quick-input-widget input", { state: "visible", timeout: 30000 });
  await page.keyboard.type("qcn: Toggle Completions");
  await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="Toggle Completions"]', { timeout: 30000 });
  await page.keyboard.press("Enter");
  await page.waitForFunction(
    () => [...document.querySelectorAll(".statusbar-item")].some((e) => e.textContent.includes("qcn: off")),
    null, { timeout: 30000 });
  step("toggled off");
  out.finalStatus = await statusText(page);

  // A server command that cannot run: the extension restarts into an error that says why.
  const machine = JSON.parse(fs.readFileSync(job.machineSettings, "utf8"));
  fs.writeFileSync(job.machineSettings, JSON.stringify({ ...machine, "qcn.server.command": [job.brokenCommand, "serve"] }));
  await page.waitForFunction(
    () => [...document.querySelectorAll(".statusbar-item")].some((e) => e.textContent.includes("qcn: error")),
    null, { timeout: 60000 });
  step("error");
  await page.locator(".statusbar-item", { hasText: "qcn: error" }).hover();
  await page.waitForFunction((needle) => [...document.querySelectorAll(".monaco-hover, .workbench-hover")]
    .some((e) => e.textContent.includes(needle)), job.brokenCommand, { timeout: 30000 });
  out.errorTooltip = await page.evaluate(() => [...document.querySelectorAll(".monaco-hover, .workbench-hover")]
    .map((e) => e.textContent).join(" "));
  await page.screenshot({ path: path.join(job.artifacts, "error.png") });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: job.chromium, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (err) => step(`page error: ${err.message}`));
  try {
    await main(page);
  } catch (err) {
    out.error = String(err && err.stack || err);
    await page.screenshot({ path: path.join(job.artifacts, "failure.png") }).catch(() => undefined);
  } finally {
    fs.writeFileSync(job.result, JSON.stringify(out, null, 2));
    await browser.close();
  }
})();
