import { compilePolicy, createEngine, loadBundledPacks, type Verdict } from '@defenseclaw/policy';
import { createStreamGuard } from '../../packages/guardrail-proxy/src/stream/index.ts';

const compiled = compilePolicy({
  packs: loadBundledPacks(),
  config: { profile: 'default' },
  bundled: true,
  verifyBundledExamples: false,
});
if (!compiled.success) throw new Error('x');
const engine = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(2) });
const ctx = { lane: 'proxy_completion' as const, mode: 'action' as const, nowMs: Date.now(), meta: {} };
const frame = Buffer.from(
  `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'f00001 lorem ipsum dolor sit amet ' }, finish_reason: null }] })}\n\n`,
);
const N = 2000;
const gc = (globalThis as any).gc as () => void;
engine.streamScanner(ctx).push('warm up text '.repeat(20));
gc();
let base = process.memoryUsage().heapUsed;
const keep: unknown[] = [];
for (let i = 0; i < N; i++) {
  const s = engine.streamScanner(ctx);
  for (let k = 0; k < 20; k++) s.push('lorem ipsum dolor sit amet, consectetur ');
  keep.push(s);
}
gc();
console.log(
  'scanner after 800 chars',
  ((process.memoryUsage().heapUsed - base) / N / 1024).toFixed(2),
  'KiB',
);
keep.length = 0;
gc();
base = process.memoryUsage().heapUsed;
for (let i = 0; i < N; i++) {
  const g = createStreamGuard({
    format: 'openai-chat',
    mode: 'action',
    holdbackChars: 0,
    scanner: engine.streamScanner(ctx),
    judgeToolCall: () => ({ action: 'allow' }) as unknown as Verdict,
    makeBlock: () => {
      throw new Error('x');
    },
    sink: { write: () => true, end: () => {} },
  });
  for (let k = 0; k < 20; k++) g.push(frame);
  keep.push(g);
}
gc();
console.log('guard after 20 frames', ((process.memoryUsage().heapUsed - base) / N / 1024).toFixed(2), 'KiB');
