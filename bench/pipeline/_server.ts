// The gateway side of the pipeline benchmark, in a worker thread so that building and sending frames does not
// share an event loop with the sidecar pipeline being measured. Frames are real 2026.9.6 `session.tool` frames
// (shared/fixtures, ~4.7–6 KB each: the session row is flattened into the payload) with fresh ids, serialised
// before the burst and numbered to continue the connection's own seq, as bench/gateway-client does.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parentPort } from 'node:worker_threads';
import { createFakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';

/** `real`: the recorded frames as they are; `compact`: benign ones with the session row stripped (~0.5 KB). */
export type FrameSet = 'real' | 'compact';

type Command =
  | { op: 'burst'; pairs: number; tag: string; set: FrameSet }
  | { op: 'paced'; rate: number; durationMs: number; tickMs: number; tag: string; set: FrameSet }
  | { op: 'close' };

if (!parentPort) throw new Error('bench server must run in a worker thread');
const port = parentPort;

const TOKEN = 'bench-token-0123456789';
const fake = await createFakeOpenClawGateway({ token: TOKEN, tickIntervalMs: 3_600_000 });

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/openclaw-2026.9.6/', import.meta.url));
// Weighted mix: mostly benign reads and writes, some exec, a secret read and an injection-bearing result.
const MIX: readonly [file: string, weight: number, benign: boolean][] = [
  ['read.jsonl', 4, true],
  ['multi.jsonl', 2, true],
  ['write.jsonl', 2, true],
  ['exec-allow.jsonl', 2, true],
  ['exec-secret.jsonl', 1, false],
  ['inject.jsonl', 1, false],
];
// The payload keys OpenClaw sends besides the flattened session row.
const CORE_KEYS = new Set(['runId', 'stream', 'data', 'sessionKey', 'agentId', 'seq', 'ts', 'isHeartbeat']);

/** A start/result pair as JSON text with `__CALL__`, `__RUN__` and a trailing `"seq":0}` to fill in. */
type PairTemplate = { start: string; result: string };

function loadTemplates(set: FrameSet): PairTemplate[] {
  if (!existsSync(FIXTURES)) {
    process.stderr.write(`bench: fixtures not found at ${FIXTURES}; using synthetic frames\n`);
    return [synthetic()];
  }
  const out: PairTemplate[] = [];
  for (const [file, weight, benign] of MIX) {
    if (set === 'compact' && !benign) continue;
    const frames = readFileSync(`${FIXTURES}${file}`, 'utf8')
      .split('\n')
      .filter((line) => line.includes('"event":"session.tool"'))
      .map(
        (line) =>
          (JSON.parse(line) as { frame: { payload: { data: { phase: string; toolCallId: string } } } }).frame,
      )
      .filter((frame) => frame.payload.data.phase !== 'update');
    const pairs: PairTemplate[] = [];
    for (const start of frames.filter((f) => f.payload.data.phase === 'start')) {
      const result = frames.find(
        (f) =>
          f.payload.data.phase === 'result' && f.payload.data.toolCallId === start.payload.data.toolCallId,
      );
      if (result) pairs.push({ start: template(start, set), result: template(result, set) });
    }
    for (let i = 0; i < weight; i++) out.push(...pairs);
  }
  return out;
}

function template(
  frame: { payload: { data: { toolCallId: string }; runId?: string } },
  set: FrameSet,
): string {
  const copy = structuredClone(frame) as {
    payload: Record<string, unknown> & { data: Record<string, unknown> };
  };
  copy.payload.data.toolCallId = '__CALL__';
  copy.payload.runId = '__RUN__';
  if (set === 'compact') {
    for (const key of Object.keys(copy.payload)) if (!CORE_KEYS.has(key)) delete copy.payload[key];
  }
  const { seq: _seq, ...rest } = copy as Record<string, unknown>;
  return JSON.stringify({ ...rest, seq: 0 });
}

function synthetic(): PairTemplate {
  const base = {
    runId: '__RUN__',
    stream: 'tool',
    sessionKey: 'agent:main:main',
    agentId: 'main',
    seq: 1,
    ts: 1,
  };
  return {
    start: JSON.stringify({
      type: 'event',
      event: 'session.tool',
      payload: {
        ...base,
        data: { phase: 'start', name: 'read', toolCallId: '__CALL__', args: { path: 'notes.txt' } },
      },
      seq: 0,
    }),
    result: JSON.stringify({
      type: 'event',
      event: 'session.tool',
      payload: {
        ...base,
        data: {
          phase: 'result',
          name: 'read',
          toolCallId: '__CALL__',
          isError: false,
          result: { content: [{ type: 'text', text: 'Harness note: the build is green.\n' }] },
        },
      },
      seq: 0,
    }),
  };
}

const templates: Record<FrameSet, PairTemplate[]> = {
  real: loadTemplates('real'),
  compact: loadTemplates('compact'),
};
const frameBytes = (set: FrameSet) => {
  const all = templates[set].flatMap((t) => [t.start.length, t.result.length]);
  return Math.round(all.reduce((a, b) => a + b, 0) / all.length);
};

function lastSeq(sent: readonly (string | Buffer)[]): number {
  for (let i = sent.length - 1; i >= 0; i--) {
    const frame = sent[i];
    if (typeof frame !== 'string') continue;
    const match = /"seq":(\d+)\}$/.exec(frame);
    if (match) return Number(match[1]);
  }
  return 0;
}

/** Builds `pairs` start/result pairs with fresh ids, numbered on from `seq`. */
function buildFrames(set: FrameSet, pairs: number, tag: string, seq: number): string[] {
  const frames: string[] = [];
  const pool = templates[set];
  for (let i = 0; i < pairs; i++) {
    const t = pool[i % pool.length]!;
    const call = `call_${tag}_${i}`;
    const run = `run-${tag}-${i >> 4}`;
    for (const text of [t.start, t.result]) {
      frames.push(
        text
          .replaceAll('__CALL__', call)
          .replaceAll('__RUN__', run)
          .replace(/"seq":0\}$/, `"seq":${++seq}}`),
      );
    }
  }
  return frames;
}

/**
 * Sends prebuilt frames at a fixed offered rate: every `tickMs` (a timer, so ~1–2 ms in practice) whatever is due
 * by the clock goes out as one small corked chunk, so the rate stays exact on average and smooth within a tick.
 */
function sendPaced(frames: readonly string[], rate: number, tickMs: number): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    let sent = 0;
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(frames.length, Math.floor((elapsed * rate) / 1000) + 1);
      if (due > sent) {
        fake.sendRaw(frames.slice(sent, due));
        sent = due;
      }
      if (sent < frames.length) setTimeout(tick, tickMs);
      else resolve(performance.now() - start);
    };
    tick();
  });
}

port.on('message', (command: Command) => {
  if (command.op === 'close') {
    void fake.close().then(() => port.postMessage({ op: 'closed' }));
    return;
  }
  const connection = fake.openConnections[0];
  if (!connection) throw new Error('bench: the client is not connected');
  const seq = lastSeq(connection.sent);
  if (command.op === 'burst') {
    const frames = buildFrames(command.set, command.pairs, command.tag, seq);
    fake.sendRaw(frames);
    port.postMessage({ op: 'sent', count: frames.length });
    return;
  }
  const pairs = Math.max(1, Math.round((command.rate * command.durationMs) / 2000));
  const frames = buildFrames(command.set, pairs, command.tag, seq);
  void sendPaced(frames, command.rate, command.tickMs).then((ms) => {
    // The fake keeps every frame it sent; keep only the last (its seq numbers the next phase) so that
    // minutes of paced traffic do not pile up in this thread's heap.
    const sent = connection.sent as unknown as unknown[];
    sent.splice(0, sent.length - 1);
    port.postMessage({ op: 'paced', count: frames.length, ms });
  });
});

port.postMessage({
  op: 'ready',
  url: fake.url,
  token: TOKEN,
  frameBytes: { real: frameBytes('real'), compact: frameBytes('compact') },
});
