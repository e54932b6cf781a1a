// A profiling harness for one target of bench:proxy (not part of the report): the fake upstream on cpu0, the target
// (ours or the bare pass-through) on cpu1, and a closed loop of one kind of request from this process. It prints the
// target's CPU time per request (load-independent, unlike req/s on a shared machine) and, with PROFILE_DIR set, the
// target writes a V8 CPU profile there on exit (`--cpu-prof`).
//
//   node --import tsx bench/proxy/_profile.ts                       # ours, non-streaming, 64 connections, 5 s
//   TARGET=bare MODE=paced CONNS=128 DURATION_S=10 node --import tsx bench/proxy/_profile.ts
//   PROFILE_DIR=/tmp/prof MODE=ttft node --import tsx bench/proxy/_profile.ts
//
// MODE: json (non-streaming), ttft (16 frames at once), paced (64 frames × 20 ms). BENCH_AUDIT=0 gives ours a no-op
// audit sink, to price the audit store.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';

const HERE = new URL('.', import.meta.url).pathname;
const MODE = process.env.MODE ?? 'json';
const TARGET = process.env.TARGET ?? 'ours';
const SECONDS = Number(process.env.DURATION_S ?? 5);
const CONNS = Number(process.env.CONNS ?? (MODE === 'json' ? 64 : 1));
const PROFILE_DIR = process.env.PROFILE_DIR;
const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

type Started = { child: ChildProcess; port: number; masterKey?: string };

const upstream = await start(join(HERE, '_upstream.ts'), {}, [], 0);
const target = await start(
  join(HERE, TARGET === 'bare' ? '_passthrough.ts' : '_ours.ts'),
  { BENCH_UPSTREAM: `http://127.0.0.1:${upstream.port}` },
  PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
  1,
);
const pool = new Pool(`http://127.0.0.1:${target.port}`, { connections: CONNS + 8 });
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (target.masterKey) headers.authorization = `Bearer ${target.masterKey}`;
const shape = MODE === 'paced' ? '-frames-64-interval-20' : MODE === 'ttft' ? '-frames-16-interval-0' : '';
const payload = JSON.stringify({
  model: `${TARGET === 'bare' ? '' : 'bench/'}bench-model${shape}`,
  stream: MODE !== 'json',
  messages: [
    { role: 'system', content: 'You are a coding assistant working in the user repository. Be concise.' },
    {
      role: 'user',
      content:
        'Can you look at the failing test in packages/api and tell me why the pagination cursor is off by one? ' +
        'It started after the refactor last week; the alerts list returns the last row of the previous page again.',
    },
  ],
});

const cpuBefore = await cpuOf(target.child);
const end = performance.now() + SECONDS * 1000;
let done = 0;
const firstByte: number[] = [];
await Promise.all(
  Array.from({ length: CONNS }, async () => {
    while (performance.now() < end) {
      const started = performance.now();
      const answer = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers,
        body: payload,
      });
      let first = true;
      for await (const _chunk of answer.body) {
        if (first) firstByte.push(performance.now() - started);
        first = false;
      }
      if (answer.statusCode !== 200) throw new Error(`${TARGET} answered ${answer.statusCode}`);
      done++;
    }
  }),
);
const cpu = (await cpuOf(target.child)) - cpuBefore;
firstByte.sort((a, b) => a - b);
process.stdout.write(
  `${TARGET} ${MODE} × ${CONNS}: ${(done / SECONDS).toFixed(0)} req/s, CPU ${(cpu / done).toFixed(0)} µs/request, ` +
    `first byte p50 ${firstByte[firstByte.length >> 1]?.toFixed(3)} ms ` +
    `p99 ${firstByte[Math.floor(firstByte.length * 0.99)]?.toFixed(3)} ms\n`,
);
await pool.destroy();
// SIGTERM lets the target exit normally, which is when V8 writes the profile.
target.child.kill('SIGTERM');
await new Promise((resolve) => target.child.once('exit', resolve));
upstream.child.kill('SIGKILL');

// --- internal ---

function start(file: string, env: Record<string, string>, extra: string[], cpu: number): Promise<Started> {
  const node = [...extra, '--expose-gc', '--import', 'tsx', '--import', join(HERE, '_child-hooks.mjs')];
  const child = fork(file, [], {
    execPath: HAS_TASKSET ? 'taskset' : process.execPath,
    execArgv: HAS_TASKSET ? ['-c', String(cpu), process.execPath, ...node] : node,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start within 30 s`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
    child.on('message', (message: { op: string; port: number; masterKey?: string }) => {
      if (message.op !== 'ready') return;
      clearTimeout(timer);
      resolve({ child, port: message.port, ...(message.masterKey ? { masterKey: message.masterKey } : {}) });
    });
  });
}

function cpuOf(child: ChildProcess): Promise<number> {
  const id = Math.random();
  return new Promise((resolve) => {
    const onMessage = (message: { op: string; cpu: number; id: number }) => {
      if (message.op !== 'cpu' || message.id !== id) return;
      child.off('message', onMessage);
      resolve(message.cpu);
    };
    child.on('message', onMessage);
    child.send({ op: 'cpu', id });
  });
}
