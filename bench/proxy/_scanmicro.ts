import { compilePolicy, createEngine, loadBundledPacks } from '@defenseclaw/policy';

const compiled = compilePolicy({
  packs: loadBundledPacks(),
  config: { profile: 'default' },
  bundled: true,
  verifyBundledExamples: false,
});
if (!compiled.success) throw new Error('x');
const engine = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(2) });
const paragraph =
  'The service reads its configuration at start, validates every key and reports problems with the line ' +
  'number. Requests are routed by model name; each provider has its own pool of connections. ';
let text = '';
while (text.length < 1 << 20) text += paragraph;
text = text.slice(0, 1 << 20);
const ctx = { lane: 'proxy_completion' as const, mode: 'action' as const, nowMs: Date.now(), meta: {} };
const delta = Number(process.env.DELTA ?? 64);
const step = process.env.STEP ? Number(process.env.STEP) : undefined;
for (let r = 0; r < Number(process.env.R ?? 8); r++) {
  let t = performance.now();
  engine.evaluate({ kind: 'completion', text, toolCalls: [] }, ctx);
  const once = performance.now() - t;
  t = performance.now();
  const s = engine.streamScanner(ctx, step ? { scanStepChars: step } : undefined);
  for (let i = 0; i < text.length; i += delta) s.push(text.slice(i, i + delta));
  const v = s.finish();
  const streamed = performance.now() - t;
  console.log(
    `once ${once.toFixed(1)} ms, streamed ${streamed.toFixed(1)} ms, ratio ${(streamed / once).toFixed(1)}, scanned/n ${(s.scannedChars / text.length).toFixed(2)} ${v.action}`,
  );
}
