// Benchmark: the guardrail proxy side by side with (a) direct calls to a fake OpenAI-compatible upstream, (b) a bare
// Node pass-through proxy (the floor: what any Node proxy costs) and (c) the Portkey gateway from the npm registry,
// in one run with interleaved rounds. The proxies run as child processes pinned to cpu1 (taskset), the fake upstream
// and this load generator on cpu0; everything on loopback; the whole run is time-bounded (BENCH_DEADLINE_S).
//
//   node scripts/pnpm.mjs --filter @defenseclaw/bench run bench:proxy
//   BENCH_ROUNDS=5 BENCH_SECONDS=3 BENCH_STREAMS=256 BENCH_MEM_STREAMS=1000 node --import tsx bench/proxy/index.ts
//   BENCH_PORTKEY=0 skips Portkey (otherwise it is installed once into ~/.cache/defenseclaw-bench/portkey).
//
// Rows: non-streaming throughput at 64 connections (closed loop), the proxy process's CPU time per request in that
// loop (a load-independent price of a request, since other work on a shared machine moves req/s), and added median
// latency at one connection; streaming added time to first chunk at 1 and 64 streams (hold-back 0); concurrent
// paced streams (64 frames × 20 ms, connects ramped) with lost / reordered / altered frames, stalls (a gap over
// 100 ms), first-chunk p99 and the proxy's worst event-loop delay meanwhile (a stall with a small loop delay happened
// outside the proxy); memory per open stream (RSS delta after a forced GC ÷ streams, at least 500 streams so the delta is above RSS
// noise); and the O(n) check: a 1 MiB streamed completion through the incremental scanner and through the whole
// stream guard against the same text scanned once, for the spec's setting and a few others side by side.
//
// The stream shape (frames, interval, chunk size) travels in the model name (`…frames-64-interval-20`): every proxy
// forwards the model, while custom request headers are dropped by Portkey (which is why an earlier version of this
// bench saw Portkey "lose" 48 of 64 frames: it was served the default 16-frame stream).
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { median, percentile, printTable } from '../_stats.ts';
import { measureStreamScan, SPEC_SETTING } from './_scan.ts';
import { streamFrame } from './_upstream.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const SERIAL = Number(process.env.BENCH_SERIAL ?? 300);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 256);
/** Fewer open streams than this leave the RSS delta inside allocator noise (50 streams read as −90 KiB each). */
const MEM_MIN_STREAMS = 500;
const MEM_STREAMS = Math.max(MEM_MIN_STREAMS, Number(process.env.BENCH_MEM_STREAMS ?? 1000));
const DEADLINE_S = Number(process.env.BENCH_DEADLINE_S ?? 1800);
const WITH_PORTKEY = process.env.BENCH_PORTKEY !== '0';
const PORTKEY_DIR =
  process.env.BENCH_PORTKEY_DIR ?? join(homedir(), '.cache', 'defenseclaw-bench', 'portkey');
const PORTKEY_VERSION = '1.15.2';
const PORTKEY_LOG = join(tmpdir(), 'dc-bench-portkey.log');
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
  /** Prefix of the model name (our proxy routes `bench/<model>` to the fake upstream). */
  modelPrefix: string;
  /** Whether the stream bytes must be identical to the upstream's. */
  byteIdentical: boolean;
};

const children: ChildProcess[] = [];
const running = () => children.filter((child) => child.exitCode === null && child.signalCode === null);
/** Last resort (exit, deadline, ^C): kill what is left. */
const cleanup = () => {
  for (const child of running()) child.kill('SIGKILL');
};
/** Normal end: SIGTERM lets our proxy close its audit store and remove its temp dir; SIGKILL after 3 s. */
const stopChildren = async () => {
  const left = running();
  const exited = Promise.all(left.map((child) => new Promise((resolve) => child.once('exit', resolve))));
  for (const child of left) child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
  cleanup();
};
process.on('exit', cleanup);
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});
// Every run is time-bounded: a wedged target fails the run instead of hanging it.
const deadline = setTimeout(() => {
  process.stderr.write(`bench:proxy: over its ${DEADLINE_S} s deadline; stopping\n`);
  cleanup();
  process.exit(2);
}, DEADLINE_S * 1000);
deadline.unref();

const upstream = await startChild('upstream', join(HERE, '_upstream.ts'), 0, {});
const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
const floor = await startChild('floor', join(HERE, '_passthrough.ts'), 1, { BENCH_UPSTREAM: upstreamUrl });
const ours = await startChild('ours', join(HERE, '_ours.ts'), 1, { BENCH_UPSTREAM: upstreamUrl });
const portkey = WITH_PORTKEY ? await startPortkey(upstreamUrl) : undefined;

const json = { 'content-type': 'application/json' };
const targets: Target[] = [
  {
    name: 'direct',
    pool: pool(upstream.port),
    path: '/v1/chat/completions',
    headers: json,
    modelPrefix: '',
    byteIdentical: true,
  },
  {
    name: 'bare proxy',
    child: floor.child,
    pool: pool(floor.port),
    path: '/v1/chat/completions',
    headers: json,
    modelPrefix: '',
    byteIdentical: true,
  },
  {
    name: 'ours',
    child: ours.child,
    pool: pool(ours.port),
    path: '/v1/chat/completions',
    headers: { ...json, authorization: `Bearer ${ours.masterKey}` },
    modelPrefix: 'bench/',
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
    modelPrefix: '',
    // Portkey re-serialises chunks; the check compares their content instead.
    byteIdentical: false,
  });

const PROMPT = buildPrompt();
/** A request body; the stream shape rides in the model name, which every target forwards. */
const body = (target: Target, stream: boolean, frames = 16, intervalMs = 0) =>
  JSON.stringify({
    model: `${target.modelPrefix}bench-model-frames-${frames}-interval-${intervalMs}-chunk-24`,
    stream,
    messages: PROMPT,
    max_tokens: 256,
  });

process.stdout.write(
  `bench:proxy — ${ROUNDS} rounds × ${SECONDS} s, prompt ${Buffer.byteLength(body(targets[0]!, false))} B, ` +
    `${HAS_TASKSET ? 'proxies on cpu1, load on cpu0' : 'taskset missing: unpinned'}` +
    `${portkey ? `; Portkey's stderr → ${PORTKEY_LOG}` : ''}\n`,
);

type Row = {
  rps: number[];
  /** The target process's CPU time per request in the closed loop (µs). */
  cpu: number[];
  serial: number[];
  ttft: number[];
  ttft64: number[];
  firstP99: number[];
  gapP99: number[];
  lost: number;
  reordered: number;
  altered: number;
  stalls: number;
  /** The target's worst event-loop delay during the paced streams (ms), per round. */
  loopMax: number[];
};
const rows = new Map<string, Row>(
  targets.map((t) => [
    t.name,
    {
      rps: [],
      cpu: [],
      serial: [],
      ttft: [],
      ttft64: [],
      firstP99: [],
      gapP99: [],
      lost: 0,
      reordered: 0,
      altered: 0,
      stalls: 0,
      loopMax: [],
    },
  ]),
);

// Warm every target (JIT, pools, the proxy's seen-cache is keyed by content so the prompt is scanned once anyway).
for (const target of targets) await closedLoop(target, 8, 1000);
for (const target of targets) await pacedStreams(target, 8, 8, 5);

for (let round = 1; round <= ROUNDS; round++) {
  for (const target of rotate(targets, round)) {
    const row = rows.get(target.name)!;
    const cpuBefore = target.child ? await cpuOf(target.child) : 0;
    const loop = await closedLoop(target, 64, SECONDS * 1000);
    row.rps.push(loop.rps);
    if (target.child) row.cpu.push(((await cpuOf(target.child)) - cpuBefore) / loop.done);
    row.serial.push(await serialMedian(target, SERIAL));
    row.ttft.push(await ttftMedian(target, 100, 1));
    row.ttft64.push(await ttftMedian(target, 640, 64));
    if (target.child) await ask(target.child, 'loop-reset');
    const paced = await pacedStreams(target, STREAMS, 64, 20);
    if (target.child) row.loopMax.push((await ask<{ max: number }>(target.child, 'loop')).max);
    row.firstP99.push(paced.firstP99);
    row.gapP99.push(paced.gapP99);
    row.lost += paced.lost;
    row.reordered += paced.reordered;
    row.altered += paced.altered;
    row.stalls += paced.stalls;
  }
  process.stdout.write(`  round ${round}/${ROUNDS} done\n`);
}

const countAnswer = await targets[0]!.pool.request({ path: '/count', method: 'GET' });
const served = (await countAnswer.body.json()) as { served: number };

const direct = rows.get('direct')!;
const bare = rows.get('bare proxy')!;
const ourRow = rows.get('ours')!;
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const table: string[][] = [
  [
    'target',
    'req/s @64',
    'vs bare',
    'CPU µs/req @64',
    'p50 @1 (ms)',
    'added p50 @1',
    'added TTFT p50 @1',
    'added TTFT p50 @64',
    `first-chunk p99 @${STREAMS}`,
    'gap p99 (ms)',
    'lost/reord/altered',
    'stalls',
    'proxy loop delay max (ms)',
  ],
];
for (const target of targets) {
  const row = rows.get(target.name)!;
  const rps = median(row.rps);
  table.push([
    target.name,
    fmt(rps, 0),
    fmt(rps / median(bare.rps)),
    target.child ? fmt(median(row.cpu), 0) : '',
    fmt(median(row.serial), 3),
    target.name === 'direct' ? '' : fmt(median(row.serial) - median(direct.serial), 3),
    target.name === 'direct' ? '' : fmt(median(row.ttft) - median(direct.ttft), 3),
    target.name === 'direct' ? '' : fmt(median(row.ttft64) - median(direct.ttft64), 3),
    fmt(median(row.firstP99), 1),
    fmt(median(row.gapP99), 1),
    `${row.lost}/${row.reordered}/${row.altered}`,
    String(row.stalls),
    target.child ? fmt(Math.max(...row.loopMax), 0) : '',
  ]);
}
printTable('Non-streaming and streaming, medians over rounds', table);
const ourAdded = median(ourRow.serial) - median(direct.serial);
const bareAdded = median(bare.serial) - median(direct.serial);
process.stdout.write(
  `\nours/bare throughput ${fmt(median(ourRow.rps) / median(bare.rps))} (target ≥ 0.70)` +
    (portkey ? `, ours/portkey ${fmt(median(ourRow.rps) / median(rows.get('portkey')!.rps))} (≥ 6)` : '') +
    `; CPU per request ours/bare ${fmt(median(ourRow.cpu) / median(bare.cpu))}` +
    `; added p50 @1 ours/bare ${fmt(ourAdded / bareAdded)} (≤ 1.5)` +
    `; added TTFT ours ${fmt(median(ourRow.ttft) - median(direct.ttft), 3)} ms @1, ` +
    `${fmt(median(ourRow.ttft64) - median(direct.ttft64), 3)} ms @64 (≤ 1)` +
    `; upstream served ${served.served} completions\n`,
);

// Memory: hold MEM_STREAMS slow streams open through each proxy, then ask it for its RSS after a forced GC.
const memRows: string[][] = [
  [
    'target',
    'rss idle (MiB)',
    `rss with ${MEM_STREAMS} streams (MiB)`,
    'streams open',
    'RSS KiB per stream',
    'JS heap KiB per stream',
  ],
];
const memory: Record<string, { idle: Mem; held: Mem; open: number }> = {};
for (const target of targets.filter((t) => t.child !== undefined)) {
  const idle = await rssOf(target.child!);
  const held = await holdStreams(target, MEM_STREAMS, async () => await rssOf(target.child!));
  memory[target.name] = { idle, held: held.value, open: held.open };
  const per = (k: 'rss' | 'heapUsed') => fmt((held.value[k] - idle[k]) / 1024 / Math.max(1, held.open), 1);
  memRows.push([
    target.name,
    fmt(idle.rss / 2 ** 20, 1),
    fmt(held.value.rss / 2 ** 20, 1),
    String(held.open),
    per('rss'),
    per('heapUsed'),
  ]);
}
printTable(`Memory per open stream (target ≤ 100 KiB; at least ${MEM_MIN_STREAMS} streams)`, memRows);

// O(n): the spec's setting first (scan_step 128, overlap 512, 64-char deltas, H = 256), then others side by side.
const scan = measureStreamScan([
  SPEC_SETTING,
  { deltaChars: 5, stepChars: 128, holdbackChars: 256 },
  { deltaChars: 16, stepChars: 128, holdbackChars: 256 },
  { deltaChars: 256, stepChars: 128, holdbackChars: 256 },
  { deltaChars: 64, stepChars: 128, holdbackChars: 0 },
  { deltaChars: 64, stepChars: 512, holdbackChars: 256 },
  { deltaChars: 64, stepChars: 2048, holdbackChars: 256 },
]);
const scanTable: string[][] = [
  [
    'delta chars',
    'scan step',
    'overlap',
    'H',
    'frames',
    'scanner ms',
    'ratio',
    'guard ms',
    'ratio',
    'scannedChars/n',
  ],
  ['(evaluate once)', '', '', '', '', fmt(scan.onceMs, 1), '1.00', '', '', ''],
];
for (const r of scan.rows) {
  scanTable.push([
    String(r.deltaChars),
    String(r.stepChars),
    '512',
    String(r.holdbackChars),
    String(r.frames),
    fmt(r.scannerMs, 1),
    fmt(r.scannerMs / scan.onceMs),
    fmt(r.guardMs, 1),
    fmt(r.guardMs / scan.onceMs),
    fmt(r.scannedRatio),
  ]);
}
printTable(
  'O(n) scanning: 1 MiB streamed (first row: the spec setting; target ≤ 2× once) vs the same text scanned once',
  scanTable,
);

const results = {
  date: new Date().toISOString(),
  settings: { ROUNDS, SECONDS, SERIAL, STREAMS, MEM_STREAMS, taskset: HAS_TASKSET },
  rows: Object.fromEntries(rows),
  memory,
  scan,
};
const out = join(HERE, '..', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, `proxy-${new Date().toISOString().slice(0, 10)}.json`),
  `${JSON.stringify(results, null, 2)}\n`,
);
await Promise.race([
  Promise.allSettled(targets.map((t) => t.pool.destroy())),
  new Promise((resolve) => setTimeout(resolve, 2000)),
]);
await stopChildren();
process.exit(0);

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
  // Its CLI takes a fixed port: pick one and try another when that one turns out to be taken (the child exits).
  for (let attempt = 1; ; attempt++) {
    const started = await tryPortkey(entry, 20_000 + Math.floor(Math.random() * 20_000), upstreamUrl);
    if (started) return started;
    if (attempt >= 5) throw new Error('portkey did not start (5 ports tried)');
  }
}

async function tryPortkey(
  entry: string,
  port: number,
  upstreamUrl: string,
): Promise<{ child: ChildProcess; port: number } | undefined> {
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
    // Portkey logs every aborted stream (the memory row aborts a thousand) to stderr: keep that out of the report.
    stdio: ['ignore', 'ignore', openSync(PORTKEY_LOG, 'a'), 'ipc'],
  });
  children.push(child);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const deadline = performance.now() + 30_000;
  const probe = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  try {
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
        if (answer.statusCode === 200 && !exited) return { child, port };
      } catch {
        // not listening yet
      }
      if (exited) return undefined;
      if (performance.now() > deadline) throw new Error('portkey did not start within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await probe.destroy();
  }
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

async function closedLoop(
  target: Target,
  connections: number,
  ms: number,
): Promise<{ rps: number; done: number }> {
  const payload = body(target, false);
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
  return { rps: done / ((performance.now() - started) / 1000), done };
}

async function serialMedian(target: Target, count: number): Promise<number> {
  const payload = body(target, false);
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

/** Median time to the first body chunk of `count` 16-frame streams, `concurrency` at a time (closed loop). */
async function ttftMedian(target: Target, count: number, concurrency: number): Promise<number> {
  const payload = body(target, true, 16, 0);
  const samples: number[] = [];
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const started = performance.now();
      const answer = await target.pool.request({
        path: target.path,
        method: 'POST',
        headers: target.headers,
        body: payload,
      });
      let first = true;
      for await (const _chunk of answer.body) {
        if (first) samples.push(performance.now() - started);
        first = false;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return median(samples);
}

type Paced = {
  firstP99: number;
  gapP99: number;
  lost: number;
  reordered: number;
  altered: number;
  stalls: number;
};

/** Opens `streams` paced streams (connects ramped over ~200 ms) and checks every frame. */
async function pacedStreams(
  target: Target,
  streams: number,
  frames: number,
  intervalMs: number,
): Promise<Paced> {
  const payload = body(target, true, frames, intervalMs);
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
      headers: target.headers,
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
    // Check the frames: numbered, in order, content as the upstream wrote it. A re-serialising proxy may end its
    // lines with CR LF; the content comparison does not depend on that.
    const normalised = target.byteIdentical ? text : text.replace(/\r\n/g, '\n');
    const events = normalised.split('\n\n').filter((event) => event.startsWith('data: {'));
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

/** Opens `streams` slow streams (ramped over 1 s), measures once they are all open, then aborts them. */
async function holdStreams<T>(
  target: Target,
  streams: number,
  measure: () => Promise<T>,
): Promise<{ value: T; open: number }> {
  // 600 frames × 50 ms: every stream outlives the ramp and the measurement by far.
  const payload = body(target, true, 600, 50);
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
        headers: target.headers,
        body: payload,
        signal: controller.signal,
      });
      open++;
      try {
        for await (const _chunk of answer.body) {
          // keep reading
        }
      } finally {
        open--;
      }
    } catch {
      // aborted below
    }
  });
  const deadline = performance.now() + 20_000;
  while (open < streams && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const value = await measure();
  const openAtMeasure = open;
  for (const controller of controllers) controller.abort();
  await Promise.allSettled(all);
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { value, open: openAtMeasure };
}

type Mem = { rss: number; heapUsed: number };

async function rssOf(child: ChildProcess): Promise<Mem> {
  const id = Math.random();
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no rss answer')), 10_000);
    const onMessage = (message: { op: string; rss: number; heapUsed: number; id: number }) => {
      if (message.op !== 'rss' || message.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ rss: message.rss, heapUsed: message.heapUsed });
    };
    child.on('message', onMessage);
    child.send({ op: 'rss', id });
  });
}

async function cpuOf(child: ChildProcess): Promise<number> {
  const id = Math.random();
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no cpu answer')), 10_000);
    const onMessage = (message: { op: string; cpu: number; id: number }) => {
      if (message.op !== 'cpu' || message.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message.cpu);
    };
    child.on('message', onMessage);
    child.send({ op: 'cpu', id });
  });
}

/** Sends `{op}` to a child (its hooks) and resolves with the answer carrying the same id. */
async function ask<T = unknown>(child: ChildProcess, op: string): Promise<T> {
  const id = Math.random();
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${op} answer`)), 10_000);
    const onMessage = (message: { op: string; id: number }) => {
      if (message.op !== op || message.id !== id) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send({ op, id });
  });
}
