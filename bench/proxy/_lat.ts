import { fork } from 'node:child_process';
import { Pool } from 'undici';

const HERE = new URL('.', import.meta.url).pathname;
function start(file: string, env: Record<string, string>, cpu = '1') {
  const child = fork(file, [], {
    execPath: 'taskset',
    execArgv: [
      '-c',
      cpu,
      process.execPath,
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
const up = await start(HERE + '_upstream.ts', {}, '0');
const t = await start(HERE + (process.env.TARGET === 'bare' ? '_passthrough.ts' : '_ours.ts'), {
  BENCH_UPSTREAM: `http://127.0.0.1:${up.port}`,
});
const pool = new Pool(`http://127.0.0.1:${t.port}`, { connections: 80 });
const headers: Record<string, string> = { 'content-type': 'application/json' };
if (t.masterKey) headers.authorization = `Bearer ${t.masterKey}`;
const body = JSON.stringify({
  model: `${t.masterKey ? 'bench/' : ''}bench-model`,
  stream: false,
  messages: [
    {
      role: 'user',
      content:
        'Can you look at the failing test in packages/api and tell me why the pagination cursor is off by one?',
    },
  ],
});
const lat: number[] = [];
const timings: string[] = [];
if (process.env.PRELOAD) {
  const end = performance.now() + 2000;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const r = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
        await r.body.dump();
      }
    }),
  );
}
t.child.send({ op: 'elu-reset' });
for (let i = 0; i < 400; i++) {
  const s = performance.now();
  const r = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body });
  await r.body.text();
  lat.push(performance.now() - s);
  if (i % 50 === 49) timings.push(String(r.headers['server-timing']));
  if (process.env.GAP) await new Promise((res) => setTimeout(res, Number(process.env.GAP)));
}
t.child.send({ op: 'elu' });
console.log(
  await new Promise((res) => t.child.on('message', (m: any) => m.op === 'elu' && res(JSON.stringify(m)))),
);
lat.sort((a, b) => a - b);
console.log(
  process.env.TARGET ?? 'ours',
  'p50',
  lat[200]!.toFixed(3),
  'p10',
  lat[40]!.toFixed(3),
  'p90',
  lat[360]!.toFixed(3),
  timings.slice(-3),
);
await pool.destroy();
t.child.kill('SIGKILL');
up.child.kill('SIGKILL');
process.exit(0);
