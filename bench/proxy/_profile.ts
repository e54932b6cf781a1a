// Profiling driver: upstream + ours (with --cpu-prof), closed-loop load of one kind.
import { fork } from 'node:child_process';
import { Pool } from 'undici';

const HERE = '/work/main/bench/proxy/';
const MODE = process.env.MODE ?? 'json'; // json | ttft | paced
const SECS = Number(process.env.SECS ?? 5);
function start(file: string, env: Record<string, string>, extra: string[] = [], cpu = '1') {
  const child = fork(file, [], {
    execPath: 'taskset',
    execArgv: [
      '-c',
      cpu,
      process.execPath,
      ...extra,
      '--expose-gc',
      '--import',
      'tsx',
      '--import',
      HERE + '_child-hooks.mjs',
    ],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<{ child: any; port: number; masterKey?: string }>((res) =>
    child.on('message', (m: any) => {
      if (m.op === 'ready') res({ child, port: m.port, masterKey: m.masterKey });
    }),
  );
}
const up = await start(HERE + '_upstream.ts', {}, [], '0');
const TARGET = process.env.TARGET ?? 'ours';
const ours = await start(
  HERE + (TARGET === 'bare' ? '_passthrough.ts' : '_ours.ts'),
  { BENCH_UPSTREAM: `http://127.0.0.1:${up.port}`, BENCH_HOLDBACK: process.env.HOLDBACK ?? '0' },
  process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/h6prof/out'] : [],
);
const pool = new Pool(`http://127.0.0.1:${ours.port}`, { connections: 300 });
const PROMPT = [
  { role: 'system', content: 'You are a coding assistant working in the user repository. Be concise.' },
  {
    role: 'user',
    content:
      'Can you look at the failing test in packages/api and tell me why the pagination cursor is off by one? It started after the refactor last week; the alerts list returns the last row of the previous page again.',
  },
  {
    role: 'assistant',
    content: 'I will read the test file and the query builder first, then run the test to see the failure.',
  },
  {
    role: 'user',
    content:
      'The query uses WHERE id < ? ORDER BY id DESC LIMIT ?, and the cursor is built from the last row. Please check whether the cursor is encoded before or after the limit is applied, and suggest a fix with a test that pins the behaviour so it does not regress again. Keep the change small.',
  },
];
const headers = { 'content-type': 'application/json', authorization: `Bearer ${ours.masterKey}` };
const body = (stream: boolean) =>
  JSON.stringify({ model: 'bench/bench-model', stream, messages: PROMPT, max_tokens: 256 });
const cpuOf = (child: any) =>
  new Promise<number>((res) => {
    const id = Math.random();
    const on = (m: any) => {
      if (m.op === 'cpu' && m.id === id) {
        child.off('message', on);
        res(m.cpu);
      }
    };
    child.on('message', on);
    child.send({ op: 'cpu', id });
  });
const cpu0 = await cpuOf(ours.child);
const end = performance.now() + SECS * 1000;
let done = 0;
const lat: number[] = [];
const conns = Number(process.env.CONNS ?? (MODE === 'json' ? 64 : 1));
const worker = async () => {
  while (performance.now() < end) {
    const t = performance.now();
    const r = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers:
        MODE === 'json'
          ? headers
          : {
              ...headers,
              'x-bench-frames': MODE === 'paced' ? '64' : '16',
              'x-bench-interval-ms': MODE === 'paced' ? '20' : '0',
            },
      body: body(MODE !== 'json'),
    });
    let first = true;
    for await (const _c of r.body) {
      if (first) {
        lat.push(performance.now() - t);
        first = false;
      }
    }
    if (r.statusCode !== 200) throw new Error(String(r.statusCode));
    done++;
  }
};
await Promise.all(Array.from({ length: conns }, worker));
const cpu1 = await cpuOf(ours.child);
lat.sort((a, b) => a - b);
console.log(TARGET, 'cpu µs/request', ((cpu1 - cpu0) / done).toFixed(0), 'requests', done);
console.log(
  MODE,
  'conns',
  conns,
  'rps',
  (done / SECS).toFixed(0),
  'p50',
  lat[lat.length >> 1]?.toFixed(3),
  'p99',
  lat[Math.floor(lat.length * 0.99)]?.toFixed(3),
);
{
  const c = new Pool(`http://127.0.0.1:${up.port}`);
  const r = await c.request({ path: '/count', method: 'GET' });
  console.log('upstream', await r.body.text());
  await c.close();
}
await pool.close();
ours.child.kill('SIGTERM');
up.child.kill('SIGTERM');
await new Promise((r) => ours.child.on('exit', r));
