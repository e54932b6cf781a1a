import { fork } from 'node:child_process';
import { Agent, request } from 'undici';
import { callUpstream, createUpstreamPools } from '../../packages/guardrail-proxy/src/upstream.ts';

const HERE = new URL('.', import.meta.url).pathname;
const child = fork(HERE + '_upstream.ts', [], {
  execPath: 'taskset',
  execArgv: ['-c', '0', process.execPath, '--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const port = await new Promise<number>((res) =>
  child.on('message', (m: any) => m.op === 'ready' && res(m.port)),
);
const url = `http://127.0.0.1:${port}/v1/chat/completions`;
const body = Buffer.from(
  JSON.stringify({
    model: 'bench-model',
    stream: false,
    messages: [{ role: 'user', content: 'x'.repeat(700) }],
  }),
);
const bare = new Agent({ connections: 1024, pipelining: 1, keepAliveTimeout: 30_000 });
const pools = createUpstreamPools({ connections: 1024, connectTimeoutMs: 5000 });
const ours = pools.agentFor({ name: 'b', origin: `http://127.0.0.1:${port}`, allowPrivate: true } as any);
const hdrs = {
  'content-type': 'application/json',
  'accept-encoding': 'identity',
  authorization: 'Bearer sk-x',
};
const res: Record<string, number[]> = { bare: [], ours: [], oursCall: [] };
for (let i = 0; i < 600; i++) {
  for (const k of ['bare', 'ours', 'oursCall']) {
    const t = performance.now();
    if (k === 'oursCall') {
      const ac = new AbortController();
      const r = await callUpstream(
        {
          url,
          headers: hdrs,
          body,
          agent: ours,
          signal: ac.signal,
          headersTimeoutMs: 600000,
          bodyTimeoutMs: 120000,
        },
        'b',
      );
      if (!r.success) throw new Error('x');
      for await (const _ of r.response.body) {
      }
    } else {
      const r = await request(url, {
        method: 'POST',
        headers: hdrs,
        body,
        dispatcher: k === 'bare' ? bare : ours,
      });
      await r.body.text();
    }
    res[k]!.push(performance.now() - t);
  }
}
for (const [k, v] of Object.entries(res)) {
  v.sort((a, b) => a - b);
  console.log(k, 'p10', v[60]!.toFixed(3), 'p50', v[300]!.toFixed(3));
}
child.kill('SIGKILL');
process.exit(0);
