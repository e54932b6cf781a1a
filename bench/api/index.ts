// Benchmark: the operator-facing speed targets of issue 5 against the real binary.
//
//   1. `defenseclaw-gateway status` wall time (spawn → exit) against a running daemon, with the floors that explain
//      it: bare `node`, node + tsx's ESM hooks (what the bin used to register for every command), node + tsx's
//      in-thread CommonJS hook (what it registers now), `version` (the CLI without any I/O), and `status` loaded
//      the old way for the ratio. Rounds interleave the variants.
//   2. `start` → healthy on a fresh home (`start --no-watchdog` wall time, then `stop`), and the daemon alone
//      (`run` spawn → `/health` ready).
//   3. `GET /alerts?limit=100` over a 1,000,000-event audit store (one verdict each; every 4th with an alert and a
//      finding, half of those acknowledged), serial on one connection: the first page, deep pages (random
//      cursors), each filter, and `/audit/events` for comparison.
//   4. `POST /api/v1/inspect/tool` (~0.7 KB of exec args, commit included): open loop at fixed offered rates over 64
//      connections (latency from each request's scheduled time), then a closed loop of 64 workers (throughput).
//
// Inspect rows split the time: `server` is the answer's own `elapsed_ms` (handler start → answer, commit included),
// `scan` its verdict's `timing.scan_micros`; the rest is HTTP, the event loops and the client, whose own event-loop
// delay (`client lag`) says how late the sender itself was. `daemon waiting for a CPU` is the share of the phase
// the daemon's main thread spent runnable but not running (/proc schedstat): time other processes took from it.
//
// The daemon runs `run` in a temp home (`gateway.connect: false`). `BENCH_PIN=1` pins it to cpu1 and this process
// to cpu0 (taskset); the default leaves both to the scheduler, because on a shared machine a pinned process cannot
// move away from a core someone else keeps busy. Wall times move with the machine's load (printed with every
// table), so each table also shows CPU time: the CLI's user + system time (GNU time) and the daemon's CPU time per
// request (/proc), which other load does not inflate. Everything on loopback.
//
//   node scripts/pnpm.mjs --filter @defenseclaw/bench run bench:api
//   BENCH_ROWS=200000 BENCH_STATUS_RUNS=11 BENCH_START_RUNS=3 BENCH_SECONDS=3 node --import tsx bench/api/index.ts
//   BENCH_RATES=500,1000,2000 sets the open-loop rates; BENCH_PHASES=status,start,alerts,inspect picks phases.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { encodeCursor } from '@defenseclaw/audit-store';
import { Pool } from 'undici';
import { median, percentile, printTable } from '../_stats.ts';
import {
  type BenchHome,
  createHome,
  type Daemon,
  PIN,
  processCpuMs,
  runQueueWaitMs,
  startDaemon,
  type Timed,
  timedCli,
  timedNode,
} from './_cli.ts';
import { closedLoop, type LoadResult, openLoop, type RequestSpec, serial } from './_load.ts';
import { type BuiltStore, buildStore } from './_store.ts';

// Pin the load generator to cpu0 (the daemon gets cpu1) by re-running this file under taskset once.
if (PIN && process.env.BENCH_API_PINNED !== '1') {
  const run = spawnSync(
    'taskset',
    ['-c', '0', process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
      env: { ...process.env, BENCH_API_PINNED: '1' },
    },
  );
  process.exit(run.status ?? 1);
}

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const STATUS_RUNS = Number(process.env.BENCH_STATUS_RUNS ?? 21);
const START_RUNS = Number(process.env.BENCH_START_RUNS ?? 5);
const ALERT_REQUESTS = Number(process.env.BENCH_ALERT_REQUESTS ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const RATES = (process.env.BENCH_RATES ?? '500,1000')
  .split(',')
  .map(Number)
  .filter((rate) => rate > 0);
const PHASES = new Set((process.env.BENCH_PHASES ?? 'status,start,alerts,inspect').split(','));
const CONNECTIONS = 64;
const HERE = new URL('.', import.meta.url).pathname;
const BENCH_DIR = join(HERE, '..');
const MAIN_TS = join(BENCH_DIR, '..', 'apps', 'gateway', 'src', 'main.ts');

const token = randomBytes(32).toString('hex');
const homes: BenchHome[] = [];
const daemons: Daemon[] = [];
const cleanup = async () => {
  for (const daemon of daemons.splice(0)) await daemon.stop();
  for (const home of homes.splice(0)) rmSync(home.dir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };

try {
  process.stdout.write(
    `bench:api — ${ROWS.toLocaleString('en-US')} events, ${PIN ? 'daemon on cpu1, load on cpu0' : 'unpinned'}, ${load()}\n`,
  );
  const main = await createHome(token);
  homes.push(main);
  let store: BuiltStore | undefined;
  let daemon: Daemon | undefined;
  if (PHASES.has('status') || PHASES.has('alerts') || PHASES.has('inspect')) {
    store = await buildStore(join(main.dir, 'audit.db'), ROWS);
    const size = statSync(store.path).size;
    process.stdout.write(
      `  store: ${store.events.toLocaleString('en-US')} events, ${store.alerts.toLocaleString('en-US')} alerts ` +
        `(${store.openAlerts.toLocaleString('en-US')} open), ${store.findings.toLocaleString('en-US')} findings, ` +
        `${fmt(size / 2 ** 20, 0)} MiB, built in ${fmt(store.buildMs / 1000, 1)} s\n`,
    );
    results.store = { ...store, sizeBytes: size };
    daemon = await startDaemon(main, 1);
    daemons.push(daemon);
    process.stdout.write(`  daemon ready in ${fmt(daemon.readyMs, 0)} ms over the built store\n`);
  }

  if (PHASES.has('status')) results.status = await statusPhase(main);
  if (PHASES.has('alerts')) results.alerts = await alertsPhase(main, store!, daemon!);
  if (PHASES.has('inspect')) results.inspect = await inspectPhase(main, daemon!);
  if (daemon !== undefined) {
    await daemon.stop();
    daemons.splice(daemons.indexOf(daemon), 1);
  }
  if (PHASES.has('start')) results.start = await startPhase();

  const out = join(BENCH_DIR, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, `api-${new Date().toISOString().slice(0, 10)}.json`),
    `${JSON.stringify(results, null, 2)}\n`,
  );
} finally {
  await cleanup();
}

// --- phases ---

async function statusPhase(home: BenchHome) {
  const floors: { name: string; run: () => Promise<Timed> }[] = [
    { name: 'node -e 0', run: () => timedNode(['-e', '0'], home.env) },
    {
      name: 'node + tsx ESM hooks (register)',
      run: () =>
        timedNode(
          ['--input-type=module', '-e', "(await import('tsx/esm/api')).register();"],
          home.env,
          BENCH_DIR,
        ),
    },
    {
      name: 'node + tsx CJS hook (register)',
      run: () => timedNode(['-e', "require('tsx/cjs/api').register();"], home.env, BENCH_DIR),
    },
    { name: 'defenseclaw-gateway version', run: () => timedCli(home, ['version']) },
    { name: 'defenseclaw-gateway status', run: () => timedCli(home, ['status']) },
    {
      name: 'status, loaded through tsx ESM hooks (the bin before)',
      run: () =>
        timedNode(
          [
            '--input-type=module',
            '-e',
            "(await import('tsx/esm/api')).register(); const { runCli } = await import(process.argv[1]); " +
              'process.exit(await runCli(process.argv.slice(2)));',
            MAIN_TS,
            'status',
            '--home',
            home.dir,
          ],
          home.env,
          BENCH_DIR,
        ),
    },
    { name: 'defenseclaw-gateway status --json', run: () => timedCli(home, ['status', '--json']) },
  ];
  // Warm tsx's transform cache and the page cache once; a failed status fails the benchmark.
  for (const floor of floors) {
    const warm = await floor.run();
    if (warm.code !== 0) throw new Error(`${floor.name} exited ${warm.code}: ${warm.stderr}`);
  }
  const samples = new Map<string, number[]>(floors.map((f) => [f.name, []]));
  const cpu = new Map<string, number[]>(floors.map((f) => [f.name, []]));
  for (let round = 0; round < STATUS_RUNS; round++) {
    for (const floor of floors) {
      const run = await floor.run();
      samples.get(floor.name)!.push(run.ms);
      cpu.get(floor.name)!.push(run.cpuMs);
    }
  }
  const serverStatus = await serial(pool(home.port, 1), 200, () => ({ method: 'GET', path: '/status' }));
  const rows = [['variant', 'wall median (ms)', 'p10', 'p90', 'CPU median (ms)', 'target']];
  for (const floor of floors) {
    const s = samples.get(floor.name)!;
    rows.push([
      floor.name,
      fmt(median(s)),
      fmt(percentile(s, 10)),
      fmt(percentile(s, 90)),
      fmt(median(cpu.get(floor.name)!), 0),
      floor.name === 'defenseclaw-gateway status' ? `≤ 400 ${median(s) <= 400 ? '✔' : '✘'}` : '',
    ]);
  }
  rows.push([
    'GET /status in the daemon (serial, p50)',
    fmt(median(serverStatus.latencies), 2),
    fmt(percentile(serverStatus.latencies, 10), 2),
    fmt(percentile(serverStatus.latencies, 90), 2),
    '',
    '',
  ]);
  printTable(`status, spawn → exit, ${STATUS_RUNS} interleaved rounds (${load()})`, rows);
  return {
    samples: Object.fromEntries(samples),
    cpuMs: Object.fromEntries(cpu),
    serverStatusP50: median(serverStatus.latencies),
  };
}

async function startPhase() {
  const start: number[] = [];
  const stop: number[] = [];
  const run: number[] = [];
  for (let round = 0; round < START_RUNS; round++) {
    const home = await createHome(token);
    homes.push(home);
    const started = await timedCli(home, ['start', '--no-watchdog']);
    // Stop whatever a failed start may have left behind before reporting it.
    const stopped = await timedCli(home, ['stop']);
    if (started.code !== 0)
      throw new Error(`start exited ${started.code}: ${started.stdout}${started.stderr}`);
    if (stopped.code !== 0) throw new Error(`stop exited ${stopped.code}: ${stopped.stderr}`);
    start.push(started.ms);
    stop.push(stopped.ms);
    // The daemon alone, on the same (now initialised) home.
    const daemon = await startDaemon(home, undefined);
    daemons.push(daemon);
    run.push(daemon.readyMs);
    await daemon.stop();
    daemons.splice(daemons.indexOf(daemon), 1);
  }
  printTable(`start → healthy, fresh home each round, ${START_RUNS} rounds (${load()})`, [
    ['what', 'median (ms)', 'min', 'max', 'target'],
    [
      'start --no-watchdog (returns when healthy)',
      fmt(median(start), 0),
      fmt(Math.min(...start), 0),
      fmt(Math.max(...start), 0),
      `≤ 3000 ${median(start) <= 3000 ? '✔' : '✘'}`,
    ],
    [
      '  of which: run spawn → /health ready',
      fmt(median(run), 0),
      fmt(Math.min(...run), 0),
      fmt(Math.max(...run), 0),
      '',
    ],
    ['stop', fmt(median(stop), 0), fmt(Math.min(...stop), 0), fmt(Math.max(...stop), 0), ''],
  ]);
  return { start, run, stop };
}

async function alertsPhase(home: BenchHome, store: BuiltStore, daemon: Daemon) {
  const p = pool(home.port, 1);
  const get = (path: string) => (): RequestSpec => ({ method: 'GET', path });
  const deepCursor = () => encodeCursor(1 + Math.floor(Math.random() * store.events));
  const cases: { name: string; next: (i: number) => RequestSpec; target?: boolean }[] = [
    { name: '/alerts?limit=100 (first page, open)', next: get('/alerts?limit=100'), target: true },
    {
      name: '/alerts?limit=100&cursor=<random>',
      next: () => ({ method: 'GET', path: `/alerts?limit=100&cursor=${deepCursor()}` }),
    },
    { name: '/alerts?limit=100&status=all', next: get('/alerts?limit=100&status=all') },
    { name: '/alerts?limit=100&severity=critical', next: get('/alerts?limit=100&severity=critical') },
    {
      name: `/alerts?limit=100&tool=${store.sampleTool}`,
      next: get(`/alerts?limit=100&tool=${store.sampleTool}`),
    },
    {
      name: '/alerts?limit=100&session=<one of 997>',
      next: get(`/alerts?limit=100&session=${encodeURIComponent(store.sampleSession)}`),
    },
    { name: '/alerts?limit=100&since=1h', next: get('/alerts?limit=100&since=1h') },
    { name: '/audit/events?limit=100', next: get('/audit/events?limit=100') },
    {
      name: '/audit/events?limit=100&include=verdicts',
      next: get('/audit/events?limit=100&include=verdicts'),
    },
  ];
  const rows = [
    [
      'request (serial, one connection)',
      'p50 (ms)',
      'p99 (ms)',
      'max (ms)',
      'daemon CPU/req (ms)',
      'daemon waiting for a CPU',
      'errors',
      'target',
    ],
  ];
  const out: Record<string, LoadResult & { cpuPerRequestMs: number; runQueueWaitShare: number }> = {};
  for (const c of cases) {
    await serial(p, 100, c.next);
    const cpu0 = processCpuMs(daemon.child.pid);
    const wait0 = runQueueWaitMs(daemon.child.pid);
    const r = await serial(p, c.target ? ALERT_REQUESTS : Math.ceil(ALERT_REQUESTS / 2), c.next);
    const cpuPerRequestMs = (processCpuMs(daemon.child.pid) - cpu0) / (r.ok + r.errors);
    const waitShare = (runQueueWaitMs(daemon.child.pid) - wait0) / (r.seconds * 1000);
    out[c.name] = { ...r, cpuPerRequestMs, runQueueWaitShare: waitShare };
    const p99 = percentile(r.latencies, 99);
    rows.push([
      c.name,
      fmt(median(r.latencies), 2),
      fmt(p99, 2),
      fmt(Math.max(...r.latencies), 1),
      fmt(cpuPerRequestMs, 3),
      percent(waitShare),
      String(r.errors),
      c.target ? `p99 ≤ 20 ${p99 <= 20 ? '✔' : '✘'}` : '',
    ]);
  }
  await p.close();
  printTable(
    `Reads over ${store.events.toLocaleString('en-US')} events / ${store.alerts.toLocaleString('en-US')} alerts (${load()})`,
    rows,
  );
  return Object.fromEntries(Object.entries(out).map(([k, r]) => [k, summary(r)]));
}

async function inspectPhase(home: BenchHome, daemon: Daemon) {
  const p = pool(home.port, CONNECTIONS);
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'x-defenseclaw-client': 'bench',
  };
  const next = (i: number): RequestSpec => ({
    method: 'POST',
    path: '/api/v1/inspect/tool',
    headers,
    body: inspectBody(i),
  });
  process.stdout.write(`\n  inspect body ${Buffer.byteLength(inspectBody(0))} B; warming up\n`);
  // Warm the JIT and open all 64 connections, so no row pays for TCP handshakes.
  await closedLoop(p, CONNECTIONS, 1, next);
  const rows = [
    [
      'load',
      'achieved req/s',
      'p50 (ms)',
      'p90',
      'p99',
      'p99.9',
      'max',
      'server p50 / p99',
      'of which scan p50 / p99',
      'server − scan p99',
      'daemon CPU/req (ms)',
      'daemon waiting for a CPU',
      'client lag p99',
      'errors',
      'target',
    ],
  ];
  const out: Record<string, unknown> = {};
  for (const rate of RATES) {
    const cpu0 = processCpuMs(daemon.child.pid);
    const wait0 = runQueueWaitMs(daemon.child.pid);
    const lag = lagMonitor();
    const r = await openLoop(p, rate, SECONDS, next);
    const lagP99 = lag.stop();
    const cpuPerRequestMs = (processCpuMs(daemon.child.pid) - cpu0) / (r.ok + r.errors);
    const waitShare = (runQueueWaitMs(daemon.child.pid) - wait0) / (r.seconds * 1000);
    out[`open ${rate}/s`] = {
      ...summary(r),
      cpuPerRequestMs,
      clientLagP99Ms: lagP99,
      runQueueWaitShare: waitShare,
    };
    const p99 = percentile(r.latencies, 99);
    rows.push([
      `open loop ${rate}/s, ${CONNECTIONS} conns`,
      fmt(r.ok / r.seconds, 0),
      fmt(median(r.latencies), 2),
      fmt(percentile(r.latencies, 90), 2),
      fmt(p99, 2),
      fmt(percentile(r.latencies, 99.9), 1),
      fmt(Math.max(...r.latencies), 1),
      serverText(r),
      scanText(r),
      fmt(percentile(outsideScan(r), 99), 2),
      fmt(cpuPerRequestMs, 3),
      percent(waitShare),
      fmt(lagP99, 1),
      errorText(r),
      `p99 ≤ 5 ${p99 <= 5 ? '✔' : '✘'}`,
    ]);
  }
  const cpu0 = processCpuMs(daemon.child.pid);
  const wait0 = runQueueWaitMs(daemon.child.pid);
  const lag = lagMonitor();
  const closed = await closedLoop(p, CONNECTIONS, SECONDS, next);
  const closedLag = lag.stop();
  const closedCpu = (processCpuMs(daemon.child.pid) - cpu0) / (closed.ok + closed.errors);
  const closedWait = (runQueueWaitMs(daemon.child.pid) - wait0) / (closed.seconds * 1000);
  out.closed = {
    ...summary(closed),
    cpuPerRequestMs: closedCpu,
    clientLagP99Ms: closedLag,
    runQueueWaitShare: closedWait,
  };
  rows.push([
    `closed loop, ${CONNECTIONS} workers`,
    fmt(closed.ok / closed.seconds, 0),
    fmt(median(closed.latencies), 2),
    fmt(percentile(closed.latencies, 90), 2),
    fmt(percentile(closed.latencies, 99), 2),
    fmt(percentile(closed.latencies, 99.9), 1),
    fmt(Math.max(...closed.latencies), 1),
    serverText(closed),
    scanText(closed),
    fmt(percentile(outsideScan(closed), 99), 2),
    fmt(closedCpu, 3),
    percent(closedWait),
    fmt(closedLag, 1),
    errorText(closed),
    '(throughput)',
  ]);
  await p.close();
  printTable(`POST /api/v1/inspect/tool, ${SECONDS} s per row, commit included (${load()})`, rows);
  return out;
}

// --- internal ---

function pool(port: number, connections: number): Pool {
  return new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
}

/** A benign exec call of ~0.7 KB, different on every request (no cache can answer it). */
function inspectBody(i: number): string {
  return JSON.stringify({
    tool: 'exec',
    args: {
      command: `cd /srv/app/releases/${i} && git status --short && npm ci --omit=dev && ls -la build`,
      cwd: '/srv/app',
      timeout_ms: 120_000,
      description:
        'Refresh the working tree of the release directory, install the production dependencies from the lock ' +
        'file and list the build output so the agent can check the artefacts before it reports back. ' +
        'The agent runs this after every merge to the main branch; nothing here touches credentials, the ' +
        'network beyond the package registry, or files outside the release directory. '.repeat(2),
    },
    call_id: `call-${i}`,
    session_key: `agent:main:bench-${i % 16}`,
  });
}

function summary(r: LoadResult) {
  return {
    ok: r.ok,
    errors: r.errors,
    statuses: r.statuses,
    seconds: r.seconds,
    p50: median(r.latencies),
    p90: percentile(r.latencies, 90),
    p99: percentile(r.latencies, 99),
    p999: percentile(r.latencies, 99.9),
    serverP50: median(r.serverMs),
    serverP99: percentile(r.serverMs, 99),
    scanP50: median(r.scanMs),
    scanP99: percentile(r.scanMs, 99),
    max: r.latencies.length > 0 ? Math.max(...r.latencies) : Number.NaN,
  };
}

/** Watches this process's event-loop delay: a late sender inflates the open-loop latencies it reports. */
function lagMonitor(): { stop(): number } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      return histogram.percentile(99) / 1e6;
    },
  };
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(0)} % of wall` : '–';
}

function load(): string {
  return `load average ${loadavg()
    .map((n) => n.toFixed(2))
    .join(' ')} on ${availableParallelism()} CPUs`;
}

/** Each answer's `elapsed_ms` minus its scan time: the commit wait, record building and the rest of the handler. */
function outsideScan(r: LoadResult): number[] {
  return r.serverMs.length === r.scanMs.length ? r.serverMs.map((ms, i) => ms - r.scanMs[i]!) : [];
}

function scanText(r: LoadResult): string {
  return `${fmt(median(r.scanMs), 2)} / ${fmt(percentile(r.scanMs, 99), 2)}`;
}

function serverText(r: LoadResult): string {
  return `${fmt(median(r.serverMs), 2)} / ${fmt(percentile(r.serverMs, 99), 2)}`;
}

function errorText(r: LoadResult): string {
  const codes = Object.entries(r.statuses).map(([code, n]) => `${code}×${n}`);
  return r.errors === 0 ? '0' : `${r.errors}${codes.length > 0 ? ` (${codes.join(', ')})` : ''}`;
}
