// Browser tests of profcol's admin pages.
//
// Starts three local pprof targets (healthy: always 200; failing: always 500
// with a two-line error that holds markup; flapping: 200 and 500 in turn),
// then the built profcol (PROFCOL_BIN, else PROFCOL as for the other suites, else
// ../../target/debug/profcol)
// with a generated config: one pyroscope_scrape receiver over the three
// targets (goroutine profiles only, every second), a file exporter, and the
// admin server on a free port behind basic auth. When every target has been
// scraped once, each spec in specs/*.mjs runs in its own page of a headless
// Debian chromium driven by playwright-core. A spec exports
//
//   export default async function (ctx) { ... }
//
// with ctx = { page, baseURL, screenshot(name), assert, sleep, dialogs,
// fixtures } (assert = node:assert/strict; dialogs: every alert/confirm the
// page opened; fixtures: the targets' URLs, the planted secrets, the admin
// credentials). Screenshots go to out/<spec>-<name>.png.
//
// Usage: node run.mjs [--allow-missing] [spec names...]
// Prints `N passed, M failed` (run_all.sh adds these up); exits 1 on failure.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const allowMissing = args.includes("--allow-missing");
const only = args.filter((a) => !a.startsWith("--"));
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const bin = path.resolve(here, process.env.PROFCOL_BIN || process.env.PROFCOL || "../../target/debug/profcol");
const outDir = path.join(here, "out");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function missing(what) {
  console.error(`ui: ${what}`);
  if (allowMissing) {
    console.log("0 passed, 0 failed, 1 skipped");
    process.exit(0);
  }
  console.log("0 passed, 1 failed");
  process.exit(1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A pprof endpoint answering each request with `answer(n)` ({status, body}). */
function target(answer) {
  let n = 0;
  const server = http.createServer((req, res) => {
    const a = answer(n++);
    res.writeHead(a.status, { "content-type": a.type || "application/octet-stream" });
    res.end(a.body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port })),
  );
}

async function main() {
  if (!fs.existsSync(chromiumPath)) missing(`${chromiumPath} not found (integration/install.sh installs chromium)`);
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    missing("playwright-core not installed (cd integration/ui && npm ci)");
  }
  if (!fs.existsSync(bin)) missing(`${bin} not found (cargo build -p profcol, or set PROFCOL_BIN)`);
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (f.endsWith(".png")) fs.rmSync(path.join(outDir, f));

  const pprof = fs.readFileSync(path.join(here, "../corpus/go_goroutine.pb.gz"));
  const ok = { status: 200, body: pprof };
  const error = "boom: <b>bad</b> & <i>worse</i>\nsecond line of the error";
  const fail = { status: 500, body: error, type: "text/plain" };
  const healthy = await target(() => ok);
  const failing = await target(() => fail);
  const flapping = await target((n) => (n % 2 === 0 ? ok : fail));

  // An OTLP/HTTP backend the components spec switches off and on again.
  const backendPort = await freePort();
  const backendServer = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  const listenBackend = () => new Promise((r) => backendServer.listen(backendPort, "127.0.0.1", r));
  await listenBackend();
  const exporterBackend = {
    id: "otlp_http/ui",
    start: listenBackend,
    stop: () =>
      new Promise((r) => {
        backendServer.close(() => r());
        backendServer.closeAllConnections();
      }),
  };

  const admin = await freePort();
  const user = "admin";
  const password = "planted-admin-password-51x";
  const scrapePassword = "planted-scrape-password-77q";
  const evil = "<script>alert(1)</script>";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "profcol-ui-"));
  const t = (port, name) => `{__address__: '127.0.0.1:${port}', service_name: ${name}}`;
  const config = [
    "receivers:",
    "  pyroscope_scrape/ui:",
    "    targets:",
    `      - {__address__: '127.0.0.1:${healthy.port}', service_name: healthy, evil: ${JSON.stringify(evil)}}`,
    `      - ${t(failing.port, "failing")}`,
    `      - ${t(flapping.port, "flapping")}`,
    "    scrape_interval: 1s",
    `    basic_auth: {username: scraper, password: ${scrapePassword}}`,
    "    profiling_config:",
    "      profile: {memory: {enabled: false}, block: {enabled: false}, mutex: {enabled: false}, process_cpu: {enabled: false}}",
    "exporters:",
    `  file: {directory: '${path.join(dir, "exported")}'}`,
    `  otlp_http/ui: {endpoint: 'http://127.0.0.1:${backendPort}', retry_on_failure: {initial_interval: 200ms, max_interval: 500ms}}`,
    "service:",
    "  pipelines:",
    "    profiles: {receivers: [pyroscope_scrape/ui], exporters: [file, otlp_http/ui]}",
    "  telemetry:",
    "    metrics:",
    `      address: '127.0.0.1:${admin}'`,
    `      basic_auth: {username: ${user}, password: ${password}}`,
    "",
  ].join("\n");
  const configPath = path.join(dir, "profcol.yaml");
  fs.writeFileSync(configPath, config);

  const log = fs.openSync(path.join(outDir, "profcol.log"), "w");
  const proc = spawn(bin, ["--config", configPath], { stdio: ["ignore", log, log] });
  let exited = null;
  proc.on("exit", (code) => (exited = code));
  const baseURL = `http://127.0.0.1:${admin}`;
  const auth = "Basic " + Buffer.from(`${user}:${password}`).toString("base64");

  let passed = 0, failed = 0;
  let browser;
  try {
    // Ready, and every target scraped at least once.
    const deadline = Date.now() + 30000;
    for (;;) {
      if (exited !== null) throw new Error(`profcol exited with ${exited}; see out/profcol.log`);
      if (Date.now() > deadline) throw new Error("profcol did not scrape all three targets within 30 s");
      try {
        const r = await fetch(`${baseURL}/api/v1/targets`, { headers: { authorization: auth } });
        const j = r.ok ? await r.json() : null;
        const list = (j && j.data.receivers["pyroscope_scrape/ui"]) || [];
        if (list.length === 3 && list.every((s) => s.last_scrape)) break;
      } catch {}
      await sleep(250);
    }
    const noAuth = await fetch(`${baseURL}/targets`);
    assert.equal(noAuth.status, 401, "the pages need the admin server's basic auth");

    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    const fixtures = {
      healthy: `127.0.0.1:${healthy.port}`,
      failing: `127.0.0.1:${failing.port}`,
      flapping: `127.0.0.1:${flapping.port}`,
      receiver: "pyroscope_scrape/ui",
      error,
      evil,
      secrets: [password, scrapePassword],
      user,
      password,
      exporterBackend,
    };
    const specs = fs
      .readdirSync(path.join(here, "specs"))
      .filter((f) => f.endsWith(".mjs"))
      .filter((f) => only.length === 0 || only.includes(f.replace(/\.mjs$/, "")))
      .sort();
    for (const file of specs) {
      const name = file.replace(/\.mjs$/, "");
      const context = await browser.newContext({
        viewport: { width: 1280, height: 900 },
        httpCredentials: { username: user, password },
      });
      const page = await context.newPage();
      const dialogs = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      const errors = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      const screenshot = (shot) =>
        page.screenshot({ path: path.join(outDir, `${name}-${shot}.png`), fullPage: true });
      const started = Date.now();
      try {
        const spec = await import(pathToFileURL(path.join(here, "specs", file)).href);
        await spec.default({ page, baseURL, screenshot, assert, sleep, dialogs, fixtures });
        assert.deepEqual(errors, [], "the page's scripts threw");
        assert.deepEqual(dialogs, [], "a dialog opened");
        passed++;
        console.log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (e) {
        failed++;
        console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
        await screenshot("failure").catch(() => {});
      }
      await context.close();
    }
  } catch (e) {
    failed++;
    console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (exited === null) {
      proc.kill("SIGTERM");
      await Promise.race([new Promise((r) => proc.once("exit", r)), sleep(10000)]);
      if (exited === null) proc.kill("SIGKILL");
    }
    for (const s of [healthy, failing, flapping]) s.server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
