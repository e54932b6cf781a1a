// The O(n) row of bench:proxy: a 1 MiB completion streamed through the stream guard in small deltas, against the
// same text judged once by `evaluate`. Runs in the bench process (no sockets): the guard's sink discards bytes.
import { createStreamGuard } from '../../packages/guardrail-proxy/src/stream/index.ts';
import { compilePolicy, createEngine, loadBundledPacks, type Verdict } from '@defenseclaw/policy';
import { median } from '../_stats.ts';

/** Medians of both ways of scanning and the scanned-characters ratio of the streamed way. */
export async function measureStreamScan(rounds = 5): Promise<{ onceMs: number; streamMs: number; scannedRatio: number }> {
  const compiled = compilePolicy({
    packs: loadBundledPacks(),
    config: { profile: 'default' },
    bundled: true,
    verifyBundledExamples: false,
  });
  if (!compiled.success) throw new Error('the bundled pack did not compile');
  const engine = createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(2) });
  const text = buildText(1 << 20);
  const ctx = { lane: 'proxy_completion' as const, mode: 'action' as const, nowMs: Date.now(), meta: {} };
  const frames = toFrames(text, 64);
  const once: number[] = [];
  const streamed: number[] = [];
  let scannedRatio = 0;
  for (let round = 0; round < rounds; round++) {
    let t = performance.now();
    engine.evaluate({ kind: 'completion', text, toolCalls: [] }, ctx);
    once.push(performance.now() - t);
    const scanner = engine.streamScanner(ctx);
    const guard = createStreamGuard({
      format: 'openai-chat',
      mode: 'action',
      holdbackChars: 256,
      scanner,
      judgeToolCall: () => ({ action: 'allow' }) as unknown as Verdict,
      makeBlock: () => {
        throw new Error('the bench text must not block');
      },
      sink: { write: () => true, end: () => {} },
    });
    t = performance.now();
    for (const frame of frames) guard.push(frame);
    guard.end();
    streamed.push(performance.now() - t);
    scannedRatio = guard.summary().scannedChars / text.length;
  }
  return { onceMs: median(once), streamMs: median(streamed), scannedRatio };
}

// --- internal ---

function buildText(chars: number): string {
  const paragraph =
    'The service reads its configuration at start, validates every key and reports problems with the line ' +
    'number. Requests are routed by model name; each provider has its own pool of connections. ';
  let out = '';
  while (out.length < chars) out += paragraph;
  return out.slice(0, chars);
}

function toFrames(text: string, deltaChars: number): Uint8Array[] {
  const encoder = new TextEncoder();
  const frames: Uint8Array[] = [];
  const head = { id: 'chatcmpl-scan', object: 'chat.completion.chunk', created: 1, model: 'm' };
  frames.push(encoder.encode(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`));
  for (let i = 0; i < text.length; i += deltaChars) {
    const content = text.slice(i, i + deltaChars);
    frames.push(encoder.encode(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`));
  }
  frames.push(encoder.encode(`data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`));
  return frames;
}
