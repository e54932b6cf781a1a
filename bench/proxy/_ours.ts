// Our guardrail proxy for bench:proxy, as its own process (pinned to cpu1): the real default pack in action mode,
// hold-back 0 (the TTFT row), and every request's audit record committed to a real audit store in a temp dir,
// as the sidecar does (BENCH_AUDIT=0 swaps in a no-op sink, to price the audit store when profiling).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditStore } from '@defenseclaw/audit-store';
import { createGuardrailProxy, parseGuardrailConfig } from '@defenseclaw/guardrail-proxy';
import { compilePolicy, createEngine, loadBundledPacks } from '@defenseclaw/policy';
import { proxyAuditRecord } from '../../apps/gateway/src/sidecar/proxy-audit.ts';

const upstream = process.env.BENCH_UPSTREAM!;
const holdback = Number(process.env.BENCH_HOLDBACK ?? 0);
const masterKey = `sk-dc-${'be'.repeat(32)}`;
const dir = mkdtempSync(join(tmpdir(), 'dc-bench-proxy-'));
const store = openAuditStore({ path: join(dir, 'audit.db') });
const compiled = compilePolicy({
  packs: loadBundledPacks(),
  config: { profile: 'default' },
  bundled: true,
  verifyBundledExamples: false,
});
if (!compiled.success) throw new Error('the bundled pack did not compile');
const engine = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(1) });
// The config schema wants a fixed port (1–65535): pick free-looking ones and retry on a collision.
const proxy = await listenOnSomePort();
const { port } = proxy;
process.send?.({ op: 'ready', port, masterKey });

const shutdown = async () => {
  await proxy.proxy.close({ graceMs: 100 });
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

// --- internal ---

async function listenOnSomePort(): Promise<{ proxy: ReturnType<typeof createGuardrailProxy>; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const parsed = parseGuardrailConfig({
      enabled: true,
      host: '127.0.0.1',
      port: 20_000 + Math.floor(Math.random() * 30_000),
      mode: 'action',
      providers: {
        bench: {
          base_url: `${upstream}/v1`,
          flavour: 'openai',
          allow_private: true,
          api_key_env: 'BENCH_UPSTREAM_KEY',
        },
      },
      stream: { holdback_chars: holdback },
      forward_headers: ['x-bench-frames', 'x-bench-interval-ms', 'x-bench-chunk-chars'],
    });
    if (!parsed.success) throw new Error(parsed.errors.join('\n'));
    const proxy = createGuardrailProxy({
      engine,
      config: parsed.config,
      masterKey,
      env: (name) => (name === 'BENCH_UPSTREAM_KEY' ? 'sk-bench-upstream' : undefined),
      audit:
        process.env.BENCH_AUDIT === '0'
          ? () => {}
          : (record) => {
              store.enqueue(proxyAuditRecord(record)).catch(() => {});
            },
    });
    try {
      const { port } = await proxy.listen();
      return { proxy, port };
    } catch (error) {
      await proxy.close({ graceMs: 0 });
      if (attempt >= 20) throw error;
    }
  }
}
