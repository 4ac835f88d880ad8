'use strict';
// Node push-mode peer for profcol's gateway suite: @pyroscope/nodejs (0.6.4) in
// push mode — init({ serverAddress, appName, tags, flushIntervalMs, wall: {
// collectCpuTime: true } }) + start() — while a workload burns CPU in
// workloadNodePushCpuBurn and allocates in workloadNodePushAlloc.
//
// The SDK sends POST {serverAddress}/ingest?format=pprof&... with the gzipped
// pprof as an application/octet-stream body (no multipart): one wall profile
// (samples/count, wall/nanoseconds, and cpu/nanoseconds with collectCpuTime)
// and one heap profile (inuse_objects/count, inuse_space/bytes) per flush
// interval; see integration/README.md, "Push SDKs".
//
// Its own accounting goes to stdout as JSON lines ({"event": "start" | "tick" |
// "exit", ...}) with cpu_user_s, cpu_sys_s, cpu_s (process.cpuUsage(), i.e.
// getrusage), cpu_s_since_start (since start()), wall_s_since_start, and uploads:
// the SDK's requests by HTTP status, counted by wrapping the global fetch it uses.
// sdk_stop_races counts the SDK stop race tolerated below (see stop()).
//
// Usage: node push.js --server-address URL [--app-name nodepush] [--tags k=v,...]
//          [--flush-interval-ms 1000] [--duration-ms 10000] [--report-every-ms 1000]
//          [--tenant-id T] [--basic-auth USER:PASS] [--auth-token TOKEN] [--burn-ms 50]

const crypto = require('node:crypto');
// The suites look for the workload functions' names in the stacks: TurboFan
// may inline them into their caller, and the profile then names only the
// caller (seen once in CI). No inlining in this test peer.
require('v8').setFlagsFromString('--no-turbo-inlining');

function parseArgs(argv) {
  const opts = {
    serverAddress: '', appName: 'nodepush', tags: '', flushIntervalMs: 1000,
    durationMs: 10000, reportEveryMs: 1000, tenantId: '', basicAuth: '', authToken: '',
    burnMs: 50,
  };
  const names = {
    '--server-address': 'serverAddress', '--app-name': 'appName', '--tags': 'tags',
    '--flush-interval-ms': 'flushIntervalMs', '--duration-ms': 'durationMs',
    '--report-every-ms': 'reportEveryMs', '--tenant-id': 'tenantId',
    '--basic-auth': 'basicAuth', '--auth-token': 'authToken', '--burn-ms': 'burnMs',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = names[argv[i]];
    if (!key || i + 1 >= argv.length) {
      console.error(`push.js: unknown or incomplete argument ${argv[i]}`);
      process.exit(2);
    }
    const v = argv[++i];
    opts[key] = typeof opts[key] === 'number' ? Number(v) : v;
  }
  if (!opts.serverAddress) {
    console.error('push.js: --server-address is required');
    process.exit(2);
  }
  return opts;
}

function parseTags(s) {
  const tags = {};
  for (const kv of s.split(',')) {
    if (!kv.trim()) continue;
    const i = kv.indexOf('=');
    if (i <= 0) {
      console.error(`push.js: tag ${kv} is not k=v`);
      process.exit(2);
    }
    tags[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
  }
  return tags;
}

let sink = [];

function workloadNodePushCpuBurn(ms) {
  const end = Date.now() + ms;
  let digest = Buffer.alloc(32);
  while (Date.now() < end) {
    for (let i = 0; i < 64; i++) digest = crypto.createHash('sha256').update(digest).digest();
  }
  return digest;
}

function workloadNodePushAlloc(n) {
  const local = [];
  for (let i = 0; i < n; i++) local.push({ i, s: 'x'.repeat(64 + (i % 256)), a: new Array(16).fill(i) });
  sink = local.slice(n / 2);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const tags = parseTags(opts.tags);

  // Count the SDK's uploads by status: it posts with the global fetch.
  const uploads = {};
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (...args) => {
    try {
      const resp = await realFetch(...args);
      uploads[resp.status] = (uploads[resp.status] || 0) + 1;
      return resp;
    } catch (e) {
      uploads.error = (uploads.error || 0) + 1;
      throw e;
    }
  };

  const Pyroscope = require('@pyroscope/nodejs').default;
  const config = {
    serverAddress: opts.serverAddress,
    appName: opts.appName,
    tags,
    flushIntervalMs: opts.flushIntervalMs,
    wall: { collectCpuTime: true },
  };
  if (opts.tenantId) config.tenantID = opts.tenantId;
  if (opts.authToken) config.authToken = opts.authToken;
  if (opts.basicAuth) {
    const i = opts.basicAuth.indexOf(':');
    config.basicAuthUser = opts.basicAuth.slice(0, i);
    config.basicAuthPassword = opts.basicAuth.slice(i + 1);
  }
  Pyroscope.init(config);

  let stopping = false;
  let sdkStopRaces = 0;
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  Pyroscope.start();
  const report = (event) => {
    const c = process.cpuUsage();
    const since = process.cpuUsage(c0);
    process.stdout.write(JSON.stringify({
      event, sdk: '@pyroscope/nodejs', sdk_version: '0.6.4', pid: process.pid,
      app_name: opts.appName, tags, flush_interval_ms: opts.flushIntervalMs,
      unix_nano: String(BigInt(Date.now()) * 1000000n),
      cpu_user_s: c.user / 1e6, cpu_sys_s: c.system / 1e6, cpu_s: (c.user + c.system) / 1e6,
      cpu_s_since_start: (since.user + since.system) / 1e6,
      wall_s_since_start: (Date.now() - t0) / 1000,
      uploads: { ...uploads }, sdk_stop_races: sdkStopRaces,
    }) + '\n');
  };
  report('start');

  // @pyroscope/nodejs 0.6.4 races its own stop(): a flush timer that fired in the
  // same loop turn as our stop has already queued a profiling round (setImmediate),
  // which then asks a stopped profiler for a profile and rejects ("Heap profiler is
  // not enabled.", "Wall profiler is not started") — unhandled, so node exits 1.
  // Give a queued round one loop turn to run before stopping, and tolerate that
  // one rejection once stopping has begun; any other unhandled rejection still fails.
  process.on('unhandledRejection', (err) => {
    if (stopping && /(Heap profiler is not enabled|Wall profiler is not started)/.test(String(err && err.message))) {
      sdkStopRaces += 1;
      return;
    }
    console.error('push.js: unhandled rejection', err);
    process.exit(1);
  });
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await new Promise((resolve) => setTimeout(() => setImmediate(resolve), 0));
    // stop() exports the last wall profile (the heap profiler exports nothing on stop).
    await Pyroscope.stop();
    report('exit');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opts.reportEveryMs > 0) setInterval(() => report('tick'), opts.reportEveryMs).unref();
  if (opts.durationMs > 0) setTimeout(stop, opts.durationMs);

  // The workload yields to the event loop between rounds, so that timers (the
  // SDK's flushes) and the upload requests run.
  const round = () => {
    if (stopping) return;
    workloadNodePushCpuBurn(opts.burnMs);
    workloadNodePushAlloc(2000);
    setTimeout(round, 5);
  };
  round();
}

main();
