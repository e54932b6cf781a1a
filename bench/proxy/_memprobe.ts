// Temporary: memory per open stream for ours vs bare, with heap/external split.
import { fork } from 'node:child_process';
import { Pool } from 'undici';

const HERE = new URL('.', import.meta.url).pathname;
const N = Number(process.env.N ?? 1000);
function start(file: string, env: Record<string, string>) {
  const child = fork(file, [], {
    execArgv: ['--expose-gc', '--import', 'tsx', '--import', HERE + '_child-hooks.mjs'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<{ child: any; port: number; masterKey?: string }>((res) =>
    child.on('message', (m: any) => {
      if (m.op === 'ready') res({ child, port: m.port, masterKey: m.masterKey });
    }),
  );
}
const mem = (child: any) =>
  new Promise<any>((res) => {
    const id = Math.random();
    const on = (m: any) => {
      if (m.op === 'rss' && m.id === id) {
        child.off('message', on);
        res(m);
      }
    };
    child.on('message', on);
    child.send({ op: 'rss', id });
  });
const up = await start(HERE + '_upstream.ts', {});
for (const target of (process.env.TARGETS ?? 'bare,ours').split(',')) {
  const t = await start(HERE + (target === 'bare' ? '_passthrough.ts' : '_ours.ts'), {
    BENCH_UPSTREAM: `http://127.0.0.1:${up.port}`,
  });
  const pool = new Pool(`http://127.0.0.1:${t.port}`, { connections: N + 10 });
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (t.masterKey) headers.authorization = `Bearer ${t.masterKey}`;
  const body = JSON.stringify({
    model: `${target === 'ours' ? 'bench/' : ''}m-frames-600-interval-50`,
    stream: true,
    messages: [{ role: 'user', content: 'hello there' }],
  });
  // warm
  for (let i = 0; i < 20; i++) {
    const r = await pool.request({
      path: '/v1/chat/completions',
      method: 'POST',
      headers,
      body: body.replace('600', '3'),
    });
    await r.body.text();
  }
  const idle = await mem(t.child);
  const acs: AbortController[] = [];
  let open = 0;
  const all = Array.from({ length: N }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i));
    const ac = new AbortController();
    acs.push(ac);
    try {
      const r = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers,
        body,
        signal: ac.signal,
      });
      open++;
      for await (const _ of r.body) {
      }
    } catch {}
  });
  while (open < N) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000));
  const held = await mem(t.child);
  const per = (k: string) => ((held[k] - idle[k]) / 1024 / N).toFixed(1);
  console.log(
    target,
    'KiB/stream rss',
    per('rss'),
    'heap',
    per('heapUsed'),
    'external',
    per('external'),
    'arrayBuffers',
    per('arrayBuffers'),
  );
  if (process.env.SNAP && target === 'ours') {
    t.child.send({ op: 'snap' });
    await new Promise((r) => setTimeout(r, 15000));
  }
  for (const ac of acs) ac.abort();
  await Promise.allSettled(all);
  await pool.destroy();
  t.child.kill('SIGKILL');
}
up.child.kill('SIGKILL');
process.exit(0);
