// Benchmark: @defenseclaw/gateway-client against the fake OpenClaw gateway, side by side with a
// bare `ws` floor (JSON.parse only, no validation, no dispatch). Prints medians over repeated
// rounds and the ratio ours/floor.
//
//   pnpm bench            (or: node --import tsx bench/gateway-client/index.ts)
//   BENCH_ROUNDS=7 BENCH_EVENTS=50000 BENCH_PAYLOAD_BYTES=400,2048 pnpm bench
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { createGatewayClient, deviceIdentityFromSeed } from '@defenseclaw/gateway-client';
import WebSocket from 'ws';
import { median, percentile, printTable } from '../_stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 50_000);
const RPCS = Number(process.env.BENCH_RPCS ?? 5_000);
// 400 B is a small tool event; ~2 KiB is what a real 2026.9.6 `session.tool` frame weighs (the
// session row is flattened into the payload).
const PAYLOAD_SIZES = (process.env.BENCH_PAYLOAD_BYTES ?? '400,2048').split(',').map(Number);

type Ready = { op: 'ready'; url: string; floorUrl: string; token: string };

const worker = new Worker(new URL('./_server-worker.mjs', import.meta.url));
const ready = await new Promise<Ready>((resolve, reject) => {
  worker.once('error', reject);
  worker.on('message', (message: { op: string }) => {
    if (message.op === 'ready') resolve(message as Ready);
  });
});
const blast = (target: 'fake' | 'floor', payloadBytes: number) =>
  worker.postMessage({ op: 'blast', count: EVENTS, payloadBytes, target });

// --- ours ---------------------------------------------------------------------------------
const identity = deviceIdentityFromSeed(new Uint8Array(32).map((_, i) => i));
const client = createGatewayClient({
  url: ready.url,
  token: ready.token,
  identity,
  clientVersion: 'bench',
  bootstrap: true,
});
const hello = await client.connect();
if (hello.protocol < 3) throw new Error('unexpected protocol');

let received = 0;
let roundDone: (() => void) | undefined;
let firstAt = 0;
let lastAt = 0;
client.on('event', (event) => {
  if (event.name !== 'session.tool') return;
  if (received === 0) firstAt = performance.now();
  received++;
  if (received === EVENTS) {
    lastAt = performance.now();
    roundDone?.();
  }
});

async function oursEventsRound(payloadBytes: number): Promise<number> {
  received = 0;
  const done = new Promise<void>((resolve) => {
    roundDone = resolve;
  });
  blast('fake', payloadBytes);
  await done;
  return EVENTS / ((lastAt - firstAt) / 1000);
}

async function oursRpcRound(): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RPCS; i++) {
    const start = performance.now();
    await client.request('status');
    samples.push(performance.now() - start);
  }
  return samples;
}

// --- floor: bare ws + JSON.parse ----------------------------------------------------------
const floorSocket = new WebSocket(ready.floorUrl, { perMessageDeflate: false });
await new Promise<void>((resolve, reject) => {
  floorSocket.once('open', () => resolve());
  floorSocket.once('error', reject);
});
let floorReceived = 0;
let floorFirst = 0;
let floorLast = 0;
let floorDone: (() => void) | undefined;
const floorPending = new Map<string, () => void>();
floorSocket.on('message', (data) => {
  const frame = JSON.parse(data.toString()) as { type: string; id?: string };
  if (frame.type === 'res' && frame.id) {
    floorPending.get(frame.id)?.();
    floorPending.delete(frame.id);
    return;
  }
  if (floorReceived === 0) floorFirst = performance.now();
  floorReceived++;
  if (floorReceived === EVENTS) {
    floorLast = performance.now();
    floorDone?.();
  }
});

async function floorEventsRound(payloadBytes: number): Promise<number> {
  floorReceived = 0;
  const done = new Promise<void>((resolve) => {
    floorDone = resolve;
  });
  blast('floor', payloadBytes);
  await done;
  return EVENTS / ((floorLast - floorFirst) / 1000);
}

async function floorRpcRound(): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < RPCS; i++) {
    const id = randomUUID();
    const start = performance.now();
    await new Promise<void>((resolve) => {
      floorPending.set(id, resolve);
      floorSocket.send(JSON.stringify({ type: 'req', id, method: 'status' }));
    });
    samples.push(performance.now() - start);
  }
  return samples;
}

// --- rounds, interleaved so both sides see the same machine state -----------------------------
const ours = { eps: new Map<number, number[]>(), p50: [] as number[], p99: [] as number[] };
const floor = { eps: new Map<number, number[]>(), p50: [] as number[], p99: [] as number[] };
for (const size of PAYLOAD_SIZES) {
  ours.eps.set(size, []);
  floor.eps.set(size, []);
}
process.stderr.write(
  `bench: ${ROUNDS} rounds × ${EVENTS} events (${PAYLOAD_SIZES.join(' B, ')} B) and ${RPCS} RPCs\n`,
);
for (const size of PAYLOAD_SIZES) {
  await oursEventsRound(size); // warm-up (JIT, socket buffers)
  await floorEventsRound(size);
}
for (let round = 1; round <= ROUNDS; round++) {
  for (const size of PAYLOAD_SIZES) {
    ours.eps.get(size)!.push(await oursEventsRound(size));
    floor.eps.get(size)!.push(await floorEventsRound(size));
  }
  const oursRtt = await oursRpcRound();
  const floorRtt = await floorRpcRound();
  ours.p50.push(percentile(oursRtt, 50));
  ours.p99.push(percentile(oursRtt, 99));
  floor.p50.push(percentile(floorRtt, 50));
  floor.p99.push(percentile(floorRtt, 99));
  process.stderr.write(`bench: round ${round}/${ROUNDS} done\n`);
}

const ratio = (a: number, b: number) => (a / b).toFixed(2);
printTable('gateway-client (median of rounds)', [
  ['metric', 'ours', 'floor (bare ws)', 'ours/floor', 'target'],
  ...PAYLOAD_SIZES.map((size) => {
    const o = median(ours.eps.get(size)!);
    const f = median(floor.eps.get(size)!);
    return [`events/s dispatched (${size} B)`, o.toFixed(0), f.toFixed(0), ratio(o, f), '≥ 100000'];
  }),
  [
    'RPC round trip p50 (ms)',
    median(ours.p50).toFixed(3),
    median(floor.p50).toFixed(3),
    ratio(median(ours.p50), median(floor.p50)),
    '≤ 0.3',
  ],
  [
    'RPC round trip p99 (ms)',
    median(ours.p99).toFixed(3),
    median(floor.p99).toFixed(3),
    ratio(median(ours.p99), median(floor.p99)),
    '',
  ],
]);
process.stdout.write(
  `seq gaps during the run: ${client.stats.seqGaps}; malformed frames: ${client.stats.malformedFrames}\n`,
);

await client.close();
floorSocket.close();
worker.postMessage({ op: 'close' });
await new Promise<void>((resolve) =>
  worker.on('message', (m: { op: string }) => m.op === 'closed' && resolve()),
);
await worker.terminate();
