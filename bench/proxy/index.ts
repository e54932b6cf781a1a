// Benchmark: the guardrail proxy side by side with (a) direct calls to a fake OpenAI-compatible upstream, (b) a bare
// Node pass-through proxy (the floor: what any Node proxy costs) and (c) the Portkey gateway from the npm registry,
// in one run with interleaved rounds. The proxies run as child processes pinned to cpu1 (taskset), the fake upstream
// and this load generator on cpu0; everything on loopback.
//
//   node scripts/pnpm.mjs --filter @defenseclaw/bench run bench:proxy
//   BENCH_ROUNDS=5 BENCH_SECONDS=3 BENCH_STREAMS=256 BENCH_MEM_STREAMS=1000 node --import tsx bench/proxy/index.ts
//   BENCH_PORTKEY=0 skips Portkey (otherwise it is installed once into ~/.cache/defenseclaw-bench/portkey).
//
// Rows: non-streaming throughput at 64 connections (closed loop) and added median latency at one connection;
// streaming added time to first chunk at one stream (hold-back 0); 256 concurrent paced streams (64 frames × 20 ms,
// connects ramped) with lost / reordered / altered frames, stalls and first-chunk p99; memory per open stream
// (RSS delta after a forced GC ÷ streams); and the O(n) check: a 1 MiB streamed completion through the stream guard
// against the same text scanned once.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { median, percentile, printTable } from '../_stats.ts';
import { measureStreamScan } from './_scan.ts';
import { streamFrame } from './_upstream.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SERIAL = Number(process.env.BENCH_SERIAL ?? 300);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 256);
const MEM_STREAMS = Number(process.env.BENCH_MEM_STREAMS ?? 1000);
const WITH_PORTKEY = process.env.BENCH_PORTKEY !== '0';
const PORTKEY_DIR = process.env.BENCH_PORTKEY_DIR ?? join(homedir(), '.cache', 'defenseclaw-bench', 'portkey');
const PORTKEY_VERSION = '1.15.2';
const HERE = new URL('.', import.meta.url).pathname;
const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

type Target = {
  name: string;
  child?: ChildProcess;
  pool: Pool;
  path: string;
  headers: Record<string, string>;
  /** Whether the stream bytes must be identical to the upstream's. */
  byteIdentical: boolean;
};

const children: ChildProcess[] = [];
const cleanup = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
};
process.on('exit', cleanup);
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const upstream = await startChild('upstream', join(HERE, '_upstream.ts'), 0, {});
const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
const floor = await startChild('floor', join(HERE, '_passthrough.ts'), 1, { BENCH_UPSTREAM: upstreamUrl });
const ours = await startChild('ours', join(HERE, '_ours.ts'), 1, { BENCH_UPSTREAM: upstreamUrl });
const portkey = WITH_PORTKEY ? await startPortkey(upstreamUrl) : undefined;

const json = { 'content-type': 'application/json' };
const targets: Target[] = [
  { name: 'direct', pool: pool(upstream.port), path: '/v1/chat/completions', headers: json, byteIdentical: true },
  {
    name: 'bare proxy',
    child: floor.child,
    pool: pool(floor.port),
    path: '/v1/chat/completions',
    headers: json,
    byteIdentical: true,
  },
  {
    name: 'ours',
    child: ours.child,
    pool: pool(ours.port),
    path: '/v1/chat/completions',
    headers: { ...json, authorization: `Bearer ${ours.masterKey}` },
    byteIdentical: true,
  },
];
if (portkey !== undefined)
  targets.push({
    name: 'portkey',
    child: portkey.child,
    pool: pool(portkey.port),
    path: '/v1/chat/completions',
    headers: {
      ...json,
      authorization: 'Bearer sk-bench',
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${upstreamUrl}/v1`,
    },
    byteIdentical: false,
  });

const PROMPT = buildPrompt();
const body = (stream: boolean) =>
  JSON.stringify({ model: 'bench/bench-model', stream, messages: PROMPT, max_tokens: 256 });

process.stdout.write(
  `bench:proxy — ${ROUNDS} rounds × ${SECONDS} s, prompt ${Buffer.byteLength(body(false))} B, ` +
    `${HAS_TASKSET ? 'proxies on cpu1, load on cpu0' : 'taskset missing: unpinned'}\n`,
);

type Row = {
  rps: number[];
  serial: number[];
  ttft: number[];
  firstP99: number[];
  gapP99: number[];
  lost: number;
  reordered: number;
  altered: number;
  stalls: number;
};
const rows = new Map<string, Row>(
  targets.map((t) => [
    t.name,
    { rps: [], serial: [], ttft: [], firstP99: [], gapP99: [], lost: 0, reordered: 0, altered: 0, stalls: 0 },
  ]),
);

// Warm every target (JIT, pools, the proxy's seen-cache is keyed by content so the prompt is scanned once anyway).
for (const target of targets) await closedLoop(target, 8, 1000);

for (let round = 1; round <= ROUNDS; round++) {
  for (const target of rotate(targets, round)) {
    const row = rows.get(target.name)!;
    row.rps.push(await closedLoop(target, 64, SECONDS * 1000));
    row.serial.push(await serialMedian(target, SERIAL));
    row.ttft.push(await ttftMedian(target, 100));
    const paced = await pacedStreams(target, STREAMS, 64, 20);
    row.firstP99.push(paced.firstP99);
    row.gapP99.push(paced.gapP99);
    row.lost += paced.lost;
    row.reordered += paced.reordered;
    row.altered += paced.altered;
    row.stalls += paced.stalls;
  }
  process.stdout.write(`  round ${round}/${ROUNDS} done\n`);
}

const served = (await (await fetch(`${upstreamUrl}/count`)).json()) as { served: number };

const direct = rows.get('direct')!;
const bare = rows.get('bare proxy')!;
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const table: string[][] = [
  [
    'target',
    'req/s @64',
    'vs bare',
    'p50 @1 (ms)',
    'added p50 @1',
    'added TTFT p50 @1',
    `first-chunk p99 @${STREAMS}`,
    'gap p99 (ms)',
    'lost/reord/altered',
    'stalls',
  ],
];
for (const target of targets) {
  const row = rows.get(target.name)!;
  const rps = median(row.rps);
  table.push([
    target.name,
    fmt(rps, 0),
    fmt(rps / median(bare.rps)),
    fmt(median(row.serial), 3),
    target.name === 'direct' ? '' : fmt(median(row.serial) - median(direct.serial), 3),
    target.name === 'direct' ? '' : fmt(median(row.ttft) - median(direct.ttft), 3),
    fmt(median(row.firstP99), 1),
    fmt(median(row.gapP99), 1),
    `${row.lost}/${row.reordered}/${row.altered}`,
    String(row.stalls),
  ]);
}
printTable('Non-streaming and streaming, medians over rounds', table);
const ourAdded = median(rows.get('ours')!.serial) - median(direct.serial);
const bareAdded = median(bare.serial) - median(direct.serial);
process.stdout.write(
  `\nours/bare throughput ${fmt(median(rows.get('ours')!.rps) / median(bare.rps))} (target ≥ 0.70)` +
    (portkey ? `, ours/portkey ${fmt(median(rows.get('ours')!.rps) / median(rows.get('portkey')!.rps))} (≥ 6)` : '') +
    `; added p50 @1 ours/bare ${fmt(ourAdded / bareAdded)} (≤ 1.5)` +
    `; added TTFT ours ${fmt(median(rows.get('ours')!.ttft) - median(direct.ttft), 3)} ms (≤ 1)` +
    `; upstream served ${served.served} completions\n`,
);

// Memory: hold MEM_STREAMS slow streams open through each proxy, then ask it for its RSS after a forced GC.
const memRows: string[][] = [['target', 'rss idle (MiB)', `rss with ${MEM_STREAMS} streams (MiB)`, 'KiB per stream']];
for (const target of targets.filter((t) => t.child !== undefined)) {
  const idle = await rssOf(target.child!);
  const held = await holdStreams(target, MEM_STREAMS, async () => await rssOf(target.child!));
  memRows.push([
    target.name,
    fmt(idle / 2 ** 20, 1),
    fmt(held / 2 ** 20, 1),
    fmt((held - idle) / 1024 / MEM_STREAMS, 1),
  ]);
}
printTable('Memory per open stream (target ≤ 100 KiB)', memRows);

const scan = await measureStreamScan();
printTable('O(n) scanning: a 1 MiB completion streamed in small deltas vs the same text scanned once', [
  ['case', 'ms (median)', 'ratio', 'scannedChars / n'],
  ['scanned once (evaluate)', fmt(scan.onceMs, 1), '1.00', ''],
  ['streamed through the guard', fmt(scan.streamMs, 1), fmt(scan.streamMs / scan.onceMs), fmt(scan.scannedRatio)],
]);

const results = { date: new Date().toISOString(), rows: Object.fromEntries(rows), scan };
const out = join(HERE, '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, `proxy-${new Date().toISOString().slice(0, 10)}.json`), `${JSON.stringify(results, null, 2)}\n`);
for (const target of targets) await target.pool.close();
cleanup();

// --- internal ---

function pool(port: number): Pool {
  return new Pool(`http://127.0.0.1:${port}`, { connections: 1100, pipelining: 1, keepAliveTimeout: 30_000 });
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function spawnArgs(cpu: number): { execPath: string; prefix: string[] } {
  return HAS_TASKSET
    ? { execPath: 'taskset', prefix: ['-c', String(cpu), process.execPath] }
    : { execPath: process.execPath, prefix: [] };
}

async function startChild(
  name: string,
  file: string,
  cpu: number,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; masterKey?: string }> {
  const { execPath, prefix } = spawnArgs(cpu);
  const child = fork(file, [], {
    execPath,
    execArgv: [...prefix, '--expose-gc', '--import', 'tsx', '--import', join(HERE, '_child-hooks.mjs')],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
    child.on('message', (message: { op: string; port: number; masterKey?: string }) => {
      if (message.op !== 'ready') return;
      clearTimeout(timer);
      resolve({ child, port: message.port, masterKey: message.masterKey });
    });
  });
}

async function startPortkey(upstreamUrl: string): Promise<{ child: ChildProcess; port: number }> {
  const entry = join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  if (!existsSync(entry)) {
    process.stdout.write(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${PORTKEY_DIR} …\n`);
    mkdirSync(PORTKEY_DIR, { recursive: true });
    // Its streaming answers 500 with the @hono/node-server it pulls in; 1.14.1 works.
    writeFileSync(
      join(PORTKEY_DIR, 'package.json'),
      JSON.stringify({
        name: 'portkey-bench-install',
        private: true,
        dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION },
        overrides: { '@hono/node-server': '1.14.1' },
      }),
    );
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: PORTKEY_DIR,
      stdio: 'ignore',
    });
  }
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const { execPath, prefix } = spawnArgs(1);
  const child = fork(entry, [`--port=${port}`, '--headless'], {
    cwd: PORTKEY_DIR,
    execPath,
    execArgv: [
      ...prefix,
      '--expose-gc',
      '--import',
      join(HERE, '_force-loopback.mjs'),
      '--import',
      join(HERE, '_child-hooks.mjs'),
    ],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const deadline = performance.now() + 30_000;
  const probe = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  for (;;) {
    try {
      const answer = await probe.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer sk-bench',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${upstreamUrl}/v1`,
        },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await answer.body.text();
      if (answer.statusCode === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error('portkey did not start within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await probe.close();
  return { child, port };
}

function buildPrompt(): { role: string; content: string }[] {
  // ~1 KiB of realistic conversation: a system prompt, a user turn, an assistant turn and a tool result.
  return [
    { role: 'system', content: 'You are a coding assistant working in the user repository. Be concise.' },
    {
      role: 'user',
      content:
        'Can you look at the failing test in packages/api and tell me why the pagination cursor is off by one? ' +
        'It started after the refactor last week; the alerts list returns the last row of the previous page again.',
    },
    {
      role: 'assistant',
      content: 'I will read the test file and the query builder first, then run the test to see the failure.',
    },
    {
      role: 'user',
      content:
        'The query uses WHERE id < ? ORDER BY id DESC LIMIT ?, and the cursor is built from the last row. ' +
        'Please check whether the cursor is encoded before or after the limit is applied, and suggest a fix ' +
        'with a test that pins the behaviour so it does not regress again. Keep the change small.',
    },
  ];
}

async function closedLoop(target: Target, connections: number, ms: number): Promise<number> {
  const payload = body(false);
  const end = performance.now() + ms;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const answer = await target.pool.request({
        path: target.path,
        method: 'POST',
        headers: target.headers,
        body: payload,
      });
      await answer.body.dump();
      if (answer.statusCode !== 200) throw new Error(`${target.name} answered ${answer.statusCode}`);
      done++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  return done / ((performance.now() - started) / 1000);
}

async function serialMedian(target: Target, count: number): Promise<number> {
  const payload = body(false);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const answer = await target.pool.request({
      path: target.path,
      method: 'POST',
      headers: target.headers,
      body: payload,
    });
    await answer.body.text();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

async function ttftMedian(target: Target, count: number): Promise<number> {
  const payload = body(true);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const answer = await target.pool.request({
      path: target.path,
      method: 'POST',
      headers: { ...target.headers, 'x-bench-frames': '16', 'x-bench-interval-ms': '0' },
      body: payload,
    });
    let first = true;
    for await (const _chunk of answer.body) {
      if (first) {
        samples.push(performance.now() - started);
        first = false;
      }
    }
  }
  return median(samples);
}

type Paced = { firstP99: number; gapP99: number; lost: number; reordered: number; altered: number; stalls: number };

/** Opens `streams` paced streams (connects ramped over ~200 ms) and checks every frame. */
async function pacedStreams(target: Target, streams: number, frames: number, intervalMs: number): Promise<Paced> {
  const payload = body(true);
  const firsts: number[] = [];
  const gaps: number[] = [];
  let lost = 0;
  let reordered = 0;
  let altered = 0;
  let stalls = 0;
  const one = async (delayMs: number) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const started = performance.now();
    const answer = await target.pool.request({
      path: target.path,
      method: 'POST',
      headers: {
        ...target.headers,
        'x-bench-frames': String(frames),
        'x-bench-interval-ms': String(intervalMs),
      },
      body: payload,
    });
    let text = '';
    let last = started;
    let firstSeen = false;
    let next = 0;
    for await (const chunk of answer.body) {
      const now = performance.now();
      if (!firstSeen) {
        firsts.push(now - started);
        firstSeen = true;
      } else {
        gaps.push(now - last);
        if (now - last > intervalMs * 5) stalls++;
      }
      last = now;
      text += (chunk as Buffer).toString('utf8');
    }
    // Check the frames: numbered, in order, content as the upstream wrote it.
    const events = text.split('\n\n').filter((event) => event.startsWith('data: {'));
    let id: string | undefined;
    for (const event of events) {
      let parsed: { id?: string; choices?: { delta?: { content?: string } }[] };
      try {
        parsed = JSON.parse(event.slice(6)) as typeof parsed;
      } catch {
        altered++;
        continue;
      }
      id ??= parsed.id;
      const content = parsed.choices?.[0]?.delta?.content;
      if (content === undefined) continue;
      const n = Number(content.slice(1, 6));
      if (n !== next) {
        if (n > next) lost += n - next;
        else reordered++;
      }
      next = Math.max(next, n + 1);
      const expected = streamFrame(id ?? '', n, 24);
      if (target.byteIdentical ? `${event}\n\n` !== expected : !expected.includes(JSON.stringify(content)))
        altered++;
    }
    if (next < frames) lost += frames - next;
  };
  await Promise.all(Array.from({ length: streams }, (_, i) => one((i * 200) / streams)));
  return {
    firstP99: percentile(firsts, 99),
    gapP99: percentile(gaps, 99) - intervalMs,
    lost,
    reordered,
    altered,
    stalls,
  };
}

async function holdStreams<T>(target: Target, streams: number, measure: () => Promise<T>): Promise<T> {
  const payload = body(true);
  const frames = 200;
  let open = 0;
  const controllers: AbortController[] = [];
  const all = Array.from({ length: streams }, async (_, i) => {
    await new Promise((resolve) => setTimeout(resolve, (i * 1000) / streams));
    const controller = new AbortController();
    controllers.push(controller);
    try {
      const answer = await target.pool.request({
        path: target.path,
        method: 'POST',
        headers: { ...target.headers, 'x-bench-frames': String(frames), 'x-bench-interval-ms': '50' },
        body: payload,
        signal: controller.signal,
      });
      open++;
      for await (const _chunk of answer.body) {
        // keep reading
      }
    } catch {
      // aborted below
    }
  });
  const deadline = performance.now() + 15_000;
  while (open < streams && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const value = await measure();
  for (const controller of controllers) controller.abort();
  await Promise.allSettled(all);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return value;
}

async function rssOf(child: ChildProcess): Promise<number> {
  const id = Math.random();
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no rss answer')), 10_000);
    const onMessage = (message: { op: string; rss: number; id: number }) => {
      if (message.op !== 'rss' || message.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.rss);
    };
    child.on('message', onMessage);
    child.send({ op: 'rss', id });
  });
}
