// Splunk HEC forwarder benchmark (issue 6 targets): forwarding throughput against a fake collector that answers
// every request after 5 ms, and the process RSS while the collector is down and the writer keeps committing.
//
// 1. Drain: a backlog of BENCH_EVENTS committed events (one verdict each, real schema, file DB) is forwarded with
//    the default batch settings (100 events / 1 MiB); events/s = backlog / time until the cursor reaches max(id).
//    Rows for the in-flight depth (concurrency 1, 2, 4 = default), median of BENCH_ROUNDS rounds.
// 2. Live: the writer commits BENCH_LIVE_RATE events/s for BENCH_LIVE_S seconds, without and then with a forwarder
//    alongside; reports refused records, the enqueue→commit p99 (the hot path's wait) and its ratio, the deepest
//    backlog and how long the forwarder needs to catch up after the writes stop.
// 3. Outage: the collector is down (connection refused) for BENCH_OUTAGE_S seconds (the issue asks for 600) while
//    the writer commits BENCH_OUTAGE_RATE events/s; RSS and heap are sampled every second, for a control run
//    without a forwarder (BENCH_OUTAGE_CONTROL=0 skips it) and for the forwarder run, so what SQLite's page caches
//    and WAL take on their own is visible next to the forwarder's share. Then the collector comes back and a new
//    forwarder catches up (a backlog above max_lag_events is skipped and counted).
//
//   pnpm --filter @defenseclaw/bench bench:splunk     (or: node --import tsx bench/splunk/index.ts)
//   BENCH_OUTAGE_S=600 node --import tsx bench/splunk/index.ts
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  type AuditRecord,
  type AuditStore,
  createSplunkForwarder,
  openAuditStore,
  type SplunkStats,
} from '@defenseclaw/audit-store';
import { median, percentile, printTable } from '../_stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const HEC_DELAY_MS = Number(process.env.BENCH_HEC_DELAY_MS ?? 5);
const LIVE_RATE = Number(process.env.BENCH_LIVE_RATE ?? 20_000);
const LIVE_S = Number(process.env.BENCH_LIVE_S ?? 10);
const OUTAGE_S = Number(process.env.BENCH_OUTAGE_S ?? 60);
const OUTAGE_RATE = Number(process.env.BENCH_OUTAGE_RATE ?? 2_000);
const OUTAGE_CONTROL = process.env.BENCH_OUTAGE_CONTROL !== '0';
const PHASES = new Set((process.env.BENCH_PHASES ?? 'drain,live,outage').split(','));
const TOKEN = 'bench-hec-token';
const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));

const PAYLOAD = {
  tool: 'exec',
  args: { command: 'git status --porcelain && npm test -- --reporter=dot', cwd: '/home/dev/project' },
  session: { key: 'agent:main:main', run: 'run-7f3a', agent: 'main' },
};

let seq = 0;
function makeRecord(): AuditRecord {
  seq += 1;
  return {
    event: {
      ts: Date.now(),
      kind: 'tool.call',
      source: 'ws',
      sessionKey: 'agent:main:main',
      runId: 'run-7f3a',
      tool: 'exec',
      callId: `call-${seq}`,
      summary: 'exec: git status --porcelain && npm test -- --reporter=dot',
      payload: PAYLOAD,
    },
    verdicts: [
      {
        lane: 'ws_tool_call',
        action: seq % 50 === 0 ? 'alert' : 'allow',
        rawAction: seq % 50 === 0 ? 'alert' : 'allow',
        mode: 'action',
        wouldBlock: false,
        severity: seq % 50 === 0 ? 'medium' : null,
        ruleIds: seq % 50 === 0 ? ['CMD-NETWORK-CURL'] : [],
        reason: 'no rule matched',
        profile: 'default',
        generationId: 'gen-1',
        enforced: false,
        enforcement: 'none',
        scanMicros: 40,
        findings: [],
      },
    ],
  };
}

// The fake collector runs on a worker thread, like a remote Splunk would run elsewhere: its HTTP parsing does not
// share the event loop of the forwarder and the writer being measured.
const HEC_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:http');
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"text":"Success","code":0}');
  }, workerData.delayMs));
});
server.listen(workerData.port, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => {
  server.closeAllConnections();
  server.close(() => parentPort.close());
});
`;

/** Starts a fake collector answering 200 (code 0) after `delayMs`, on `port` (0: any). */
async function startHec(delayMs: number, port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const worker = new Worker(HEC_WORKER, { eval: true, workerData: { delayMs, port } });
  const bound = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${bound}`,
    close: async () => {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      await exited;
    },
  };
}

async function seed(store: AuditStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    void store.enqueue(makeRecord());
    if (i % 5000 === 4999) await store.flush();
  }
  await store.flush();
}

function maxId(store: AuditStore): number {
  return store.queries.counts().eventsRecorded;
}

async function until(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return true;
}

function tempStore(): { store: AuditStore; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'dc-bench-splunk-'));
  const store = openAuditStore({ path: join(dir, 'audit.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };

async function drainPhase(): Promise<void> {
  const hec = await startHec(HEC_DELAY_MS);
  const rows: string[][] = [
    [
      'in flight',
      'events/s (median)',
      'rounds',
      'requests/s',
      'main-loop busy',
      'µs main-loop per event',
      'target ≥ 20,000',
    ],
  ];
  const drain: Record<string, { eventsPerSecond: number[]; loopBusy: number[] }> = {};
  for (const concurrency of [1, 2, 4]) {
    const samples: number[] = [];
    const busy: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { store, cleanup } = tempStore();
      await seed(store, EVENTS);
      const top = maxId(store);
      const started = performance.now();
      const elu = performance.eventLoopUtilization();
      const forwarder = createSplunkForwarder({ store, hecUrl: hec.url, token: TOKEN, concurrency });
      await until(() => forwarder.stats.cursor >= top, 120_000);
      const seconds = (performance.now() - started) / 1000;
      // How much of the main event loop forwarding took (the collector runs on its own thread).
      busy.push(performance.eventLoopUtilization(elu).utilization);
      samples.push(forwarder.stats.delivered / seconds);
      await forwarder.close();
      await cleanup();
    }
    drain[String(concurrency)] = { eventsPerSecond: samples, loopBusy: busy };
    const eps = median(samples);
    const loopBusy = median(busy);
    rows.push([
      String(concurrency) + (concurrency === 4 ? ' (default)' : ''),
      Math.round(eps).toLocaleString('en-US'),
      String(samples.length),
      Math.round(eps / 100).toLocaleString('en-US'),
      `${(loopBusy * 100).toFixed(0)} %`,
      ((loopBusy * 1e6) / eps).toFixed(1),
      eps >= 20_000 ? 'met' : 'NOT met',
    ]);
  }
  await hec.close();
  results.drain = { events: EVENTS, hecDelayMs: HEC_DELAY_MS, byConcurrency: drain };
  printTable(
    `Drain ${EVENTS.toLocaleString('en-US')} committed events, HEC answers in ${HEC_DELAY_MS} ms, batch 100 events`,
    rows,
  );
}

type LiveRun = {
  written: number;
  refused: number;
  commitP99Ms: number;
  delivered: number;
  deepest: number;
  lagAtEnd: number;
  catchUpSeconds: number | undefined;
};

/** The writer commits LIVE_RATE events/s in 10 ms slices, with or without a forwarder alongside. */
async function liveRun(forwarding: boolean): Promise<LiveRun> {
  const hec = await startHec(HEC_DELAY_MS);
  const { store, cleanup } = tempStore();
  const forwarder = forwarding ? createSplunkForwarder({ store, hecUrl: hec.url, token: TOKEN }) : undefined;
  let deepest = 0;
  const sampler = setInterval(() => {
    if (forwarder !== undefined) deepest = Math.max(deepest, forwarder.stats.queueDepth);
  }, 50);
  const started = performance.now();
  let written = 0;
  let refused = 0;
  const commitMs: number[] = [];
  while (performance.now() - started < LIVE_S * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * LIVE_RATE);
    for (; written < due; written++) {
      const t0 = performance.now();
      // Every 20th commit is timed: enqueue → commit, the latency the hot path waits for.
      const timed = written % 20 === 0;
      store.enqueue(makeRecord()).then(
        () => {
          if (timed) commitMs.push(performance.now() - t0);
        },
        () => {
          refused += 1;
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await store.flush();
  const writeSeconds = (performance.now() - started) / 1000;
  const lagAtEnd = forwarder?.stats.queueDepth ?? 0;
  const caughtUp = forwarder === undefined || (await until(() => forwarder.stats.queueDepth === 0, 60_000));
  const totalSeconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const delivered = forwarder?.stats.delivered ?? 0;
  await forwarder?.close();
  await cleanup();
  await hec.close();
  return {
    written,
    refused,
    commitP99Ms: percentile(commitMs, 99),
    delivered,
    deepest,
    lagAtEnd,
    catchUpSeconds: forwarder === undefined ? 0 : caughtUp ? totalSeconds - writeSeconds : undefined,
  };
}

async function livePhase(): Promise<void> {
  const off = await liveRun(false);
  const on = await liveRun(true);
  results.live = { rate: LIVE_RATE, seconds: LIVE_S, withoutForwarder: off, withForwarder: on };
  const row = (name: string, r: LiveRun) => [
    name,
    r.written.toLocaleString('en-US'),
    r.refused.toLocaleString('en-US'),
    r.commitP99Ms.toFixed(2),
    r.delivered.toLocaleString('en-US'),
    r.deepest.toLocaleString('en-US'),
    r.lagAtEnd.toLocaleString('en-US'),
    r.catchUpSeconds === undefined ? 'no (60 s)' : `${r.catchUpSeconds.toFixed(2)} s`,
  ];
  printTable(`Live: writer at ${LIVE_RATE.toLocaleString('en-US')} events/s for ${LIVE_S} s`, [
    [
      'forwarder',
      'offered',
      'refused (queue full)',
      'commit p99 ms',
      'delivered',
      'deepest backlog',
      'backlog at end',
      'caught up after',
    ],
    row('off', off),
    row('on', on),
    ['ratio on/off', '', '', (on.commitP99Ms / off.commitP99Ms).toFixed(2), '', '', '', ''],
  ]);
}

type OutageRun = {
  written: number;
  rss: number[];
  heap: number[];
  during: SplunkStats | undefined;
  recovery?: { delivered: number; skippedForLag: number; seconds: number; drained: boolean };
};

/** The writer commits OUTAGE_RATE events/s for OUTAGE_S seconds while the collector is down; memory every second. */
async function outageRun(forwarding: boolean): Promise<OutageRun> {
  // Bind a port, then close it: the collector is down (connection refused) at a known address.
  const hec = await startHec(HEC_DELAY_MS);
  const url = hec.url;
  await hec.close();
  const { store, cleanup } = tempStore();
  const forwarder = forwarding ? createSplunkForwarder({ store, hecUrl: url, token: TOKEN }) : undefined;
  global.gc?.();
  const rss: number[] = [];
  const heap: number[] = [];
  const sample = () => {
    const usage = process.memoryUsage();
    rss.push(usage.rss);
    heap.push(usage.heapUsed);
  };
  sample();
  const started = performance.now();
  let written = 0;
  let nextSample = 1000;
  while (performance.now() - started < OUTAGE_S * 1000) {
    const elapsed = performance.now() - started;
    const due = Math.floor((elapsed / 1000) * OUTAGE_RATE);
    for (; written < due; written++) store.enqueue(makeRecord()).catch(() => {});
    if (elapsed >= nextSample) {
      sample();
      nextSample += 1000;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await store.flush();
  sample();
  const during = forwarder?.stats;
  await forwarder?.close();
  const run: OutageRun = { written, rss, heap, during };
  if (forwarding) {
    // The collector comes back on the same port: a new forwarder (as after a reload) catches up; a backlog above
    // max_lag_events is skipped (counted), the rest is delivered.
    const port = Number(new URL(url).port);
    const back = await startHec(HEC_DELAY_MS, port);
    const top = maxId(store);
    const drainStart = performance.now();
    const after = createSplunkForwarder({ store, hecUrl: url, token: TOKEN });
    const drained = await until(() => after.stats.cursor >= top, 300_000);
    const seconds = (performance.now() - drainStart) / 1000;
    run.recovery = {
      delivered: after.stats.delivered,
      skippedForLag: after.stats.dropped.lag,
      seconds,
      drained,
    };
    await after.close();
    await back.close();
  }
  await cleanup();
  return run;
}

async function outagePhase(): Promise<void> {
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const runs: [string, OutageRun][] = [];
  // The control run (same writes, no forwarder) shows what SQLite's page caches and the WAL take on their own.
  if (OUTAGE_CONTROL) runs.push(['off (control)', await outageRun(false)]);
  runs.push(['on, HEC down', await outageRun(true)]);
  const quarter = (series: number[], q: number) =>
    series[Math.min(series.length - 1, Math.floor((series.length - 1) * q))]!;
  printTable(
    `Outage: ${OUTAGE_S} s, writer at ${OUTAGE_RATE.toLocaleString('en-US')} events/s (RSS sampled every second)`,
    [
      [
        'forwarder',
        'RSS start',
        'RSS 25 %',
        'RSS 50 %',
        'RSS 75 %',
        'RSS end',
        'RSS peak',
        'heap peak',
        'backlog',
        'circuit',
      ],
      ...runs.map(([name, r]) => [
        name,
        mb(r.rss[0]!),
        mb(quarter(r.rss, 0.25)),
        mb(quarter(r.rss, 0.5)),
        mb(quarter(r.rss, 0.75)),
        mb(r.rss[r.rss.length - 1]!),
        mb(Math.max(...r.rss)),
        mb(Math.max(...r.heap)),
        r.during === undefined ? '—' : r.during.queueDepth.toLocaleString('en-US'),
        r.during?.circuit ?? '—',
      ]),
    ],
  );
  const on = runs[runs.length - 1]![1];
  const recovery = on.recovery!;
  printTable('Recovery: the collector is back; a new forwarder catches up from the cursor', [
    ['written during outage', 'delivered', 'skipped (max_lag_events)', 'seconds', 'events/s delivered'],
    [
      on.written.toLocaleString('en-US'),
      recovery.delivered.toLocaleString('en-US'),
      recovery.skippedForLag.toLocaleString('en-US'),
      recovery.drained ? recovery.seconds.toFixed(2) : 'not drained in 300 s',
      Math.round(recovery.delivered / recovery.seconds).toLocaleString('en-US'),
    ],
  ]);
  const summary = (r: OutageRun) => ({
    written: r.written,
    rssMb: r.rss.map((bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10),
    heapPeakMb: Math.round((Math.max(...r.heap) / 1024 / 1024) * 10) / 10,
    backlog: r.during?.queueDepth,
    circuit: r.during?.circuit,
    retries: r.during?.retries,
    recovery: r.recovery,
  });
  results.outage = {
    seconds: OUTAGE_S,
    rate: OUTAGE_RATE,
    runs: Object.fromEntries(runs.map(([n, r]) => [n, summary(r)])),
  };
}

if (PHASES.has('drain')) await drainPhase();
if (PHASES.has('live')) await livePhase();
if (PHASES.has('outage')) await outagePhase();

const out = join(BENCH_DIR, 'results');
mkdirSync(out, { recursive: true });
// A partial or longer run (e.g. the 10-minute outage) gets its own file next to the default run's.
const variant =
  process.env.BENCH_PHASES === undefined && process.env.BENCH_OUTAGE_S === undefined
    ? ''
    : `-${[...PHASES].join('+')}-${OUTAGE_S}s`;
const file = join(out, `splunk${variant}-${new Date().toISOString().slice(0, 10)}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`\nresults: ${file}\n`);
