// Pull-mode Node.js target for profcol's real-peer suite: Express plus
// @pyroscope/nodejs's middleware, which serves /debug/pprof/profile?seconds=N
// (wall/CPU) and /debug/pprof/heap as gzipped pprof. A background workload
// burns CPU and allocates in functions whose names the suite looks for.
'use strict';

const fs = require('fs');
// The suites look for the workload functions' names in the stacks: TurboFan
// may inline them into their caller, and the profile then names only the
// caller (seen once in CI). No inlining in this test peer.
require('v8').setFlagsFromString('--no-turbo-inlining');
const crypto = require('crypto');
const express = require('express');
const Pyroscope = require('@pyroscope/nodejs').default;

function parseArgs(argv) {
  const out = { listen: '127.0.0.1:0', portFile: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--listen') out.listen = argv[++i];
    else if (argv[i] === '--port-file') out.portFile = argv[++i];
  }
  return out;
}

let retained = [];

function workloadNodeCpuBurn(ms) {
  const end = Date.now() + ms;
  let h = Buffer.alloc(64);
  while (Date.now() < end) {
    h = crypto.createHash('sha256').update(h).digest();
  }
  return h;
}

function workloadNodeAlloc(n) {
  const fresh = [];
  for (let i = 0; i < n; i++) {
    fresh.push({ id: i, payload: 'x'.repeat(64 + (i % 512)), arr: new Array(32).fill(i) });
  }
  retained = fresh.slice(n / 2);
  return fresh.length;
}

function workloadTick() {
  workloadNodeCpuBurn(40);
  workloadNodeAlloc(5000);
  // Yield to the event loop so profile requests are served promptly.
  setTimeout(workloadTick, 10);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const idx = args.listen.lastIndexOf(':');
  const host = args.listen.slice(0, idx);
  const port = Number(args.listen.slice(idx + 1));

  Pyroscope.init({ appName: 'profcol-node-target' });
  const app = express();
  app.use(Pyroscope.expressMiddleware());
  app.get('/', (_req, res) => res.send('profcol node target\n'));

  const server = app.listen(port, host, () => {
    const addr = server.address();
    const bound = `${addr.address}:${addr.port}`;
    console.log(`node target listening on ${bound}`);
    if (args.portFile) {
      fs.writeFileSync(args.portFile + '.tmp', bound);
      fs.renameSync(args.portFile + '.tmp', args.portFile);
    }
    workloadTick();
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
