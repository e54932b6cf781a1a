// The O(n) row of bench:proxy: a 1 MiB completion streamed in small deltas, against the same text judged once by
// `evaluate`. Two ways of streaming are timed for each setting, in-process (no sockets; the guard's sink discards
// bytes): the engine's incremental scanner alone (what the "scanning stays O(n)" target is about), and the whole
// stream guard (SSE parsing, JSON decoding of every chunk, the release queue and the scanner), which adds a fixed cost
// per frame that no scan setting removes.
import { compilePolicy, createEngine, loadBundledPacks, type Verdict } from '@defenseclaw/policy';
import { createStreamGuard } from '../../packages/guardrail-proxy/src/stream/index.ts';
import { median } from '../_stats.ts';

/** One streaming setting: delta size, scan step and hold-back (the overlap is the engine's, 512). */
export type ScanSetting = { deltaChars: number; stepChars: number; holdbackChars: number };

/** The medians of one setting. */
export type ScanRow = ScanSetting & {
  /** Scanner alone: deltas pushed into `engine.streamScanner`, then `finish()`. */
  scannerMs: number;
  /** The stream guard over OpenAI chat chunks carrying the same deltas. */
  guardMs: number;
  /** `scannedChars / n` of the guard run (the O(n) bound is 1 + 512 / step). */
  scannedRatio: number;
  frames: number;
};

/** The spec's setting (scan_step 128, overlap 512) with 64-character deltas and the action-mode hold-back. */
export const SPEC_SETTING: ScanSetting = { deltaChars: 64, stepChars: 128, holdbackChars: 256 };

/** Times `evaluate` once over 1 MiB and each setting streamed, interleaved, `rounds` times; returns medians. */
export function measureStreamScan(
  settings: readonly ScanSetting[] = [SPEC_SETTING],
  rounds = 5,
): { chars: number; onceMs: number; rows: ScanRow[] } {
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
  const frameSets = settings.map((s) => toFrames(text, s.deltaChars));
  const once: number[] = [];
  const scanner: number[][] = settings.map(() => []);
  const guard: number[][] = settings.map(() => []);
  const ratios: number[] = settings.map(() => 0);
  // One warm-up round (JIT, lazily built automata), then the measured rounds.
  for (let round = 0; round <= rounds; round++) {
    let t = performance.now();
    engine.evaluate({ kind: 'completion', text, toolCalls: [] }, ctx);
    if (round > 0) once.push(performance.now() - t);
    settings.forEach((setting, i) => {
      t = performance.now();
      const alone = engine.streamScanner(ctx, { scanStepChars: setting.stepChars });
      for (let at = 0; at < text.length; at += setting.deltaChars)
        alone.push(text.slice(at, at + setting.deltaChars));
      if (alone.finish().action !== 'allow') throw new Error('the bench text must not block');
      if (round > 0) scanner[i]!.push(performance.now() - t);

      t = performance.now();
      const g = createStreamGuard({
        format: 'openai-chat',
        mode: 'action',
        holdbackChars: setting.holdbackChars,
        scanner: engine.streamScanner(ctx, { scanStepChars: setting.stepChars }),
        judgeToolCall: () => ({ action: 'allow' }) as unknown as Verdict,
        makeBlock: () => {
          throw new Error('the bench text must not block');
        },
        sink: { write: () => true, end: () => {} },
      });
      for (const frame of frameSets[i]!) g.push(frame);
      g.end();
      if (round > 0) guard[i]!.push(performance.now() - t);
      ratios[i] = g.summary().scannedChars / text.length;
    });
  }
  return {
    chars: text.length,
    onceMs: median(once),
    rows: settings.map((setting, i) => ({
      ...setting,
      scannerMs: median(scanner[i]!),
      guardMs: median(guard[i]!),
      scannedRatio: ratios[i]!,
      frames: frameSets[i]!.length,
    })),
  };
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
  const frames: Uint8Array[] = [];
  const head = { id: 'chatcmpl-scan', object: 'chat.completion.chunk', created: 1, model: 'm' };
  const frame = (choice: unknown) =>
    Buffer.from(`data: ${JSON.stringify({ ...head, choices: [choice] })}\n\n`);
  frames.push(frame({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }));
  for (let i = 0; i < text.length; i += deltaChars) {
    frames.push(frame({ index: 0, delta: { content: text.slice(i, i + deltaChars) }, finish_reason: null }));
  }
  frames.push(
    Buffer.concat([frame({ index: 0, delta: {}, finish_reason: 'stop' }), Buffer.from('data: [DONE]\n\n')]),
  );
  return frames;
}
