// HTTP load shapes over an undici Pool: serial requests, a closed loop (N workers back to back: throughput) and an
// open loop (a fixed offered rate: latency). Open-loop latency is measured from each request's *scheduled* send
// time, so a stalled server cannot hide its queue by slowing the sender down (no coordinated omission).
import { performance } from 'node:perf_hooks';
import type { Dispatcher, Pool } from 'undici';

/** One request to send. */
export type RequestSpec = {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
};

/** The outcome of a load phase: latencies of the 2xx answers in ms, and everything else counted. */
export type LoadResult = {
  latencies: number[];
  ok: number;
  errors: number;
  /** Status codes other than 2xx, by code. */
  statuses: Record<number, number>;
  /** The server's own `elapsed_ms` of each 2xx answer that reports one (the inspect routes do). */
  serverMs: number[];
  /** The verdict's `timing.scan_micros` of each 2xx answer that reports one, in ms. */
  scanMs: number[];
  seconds: number;
};

/** Sends `count` requests one after another on one connection. */
export async function serial(
  pool: Pool,
  count: number,
  next: (i: number) => RequestSpec,
): Promise<LoadResult> {
  const result = emptyResult();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await send(pool, next(i), result, start);
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/** Runs `workers` loops that each send the next request as soon as the previous answered, for `seconds`. */
export async function closedLoop(
  pool: Pool,
  workers: number,
  seconds: number,
  next: (i: number) => RequestSpec,
): Promise<LoadResult> {
  const result = emptyResult();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        await send(pool, next(i++), result, start);
      }
    }),
  );
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/**
 * Offers `rate` requests per second for `seconds` over the pool's connections, whatever the answers do; each
 * latency runs from the request's scheduled time to its answer.
 */
export async function openLoop(
  pool: Pool,
  rate: number,
  seconds: number,
  next: (i: number) => RequestSpec,
): Promise<LoadResult> {
  const result = emptyResult();
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (i < total && t0 + i * interval <= now) {
        pending.push(send(pool, next(i), result, t0 + i * interval));
        i++;
      }
      if (i < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  await Promise.all(pending);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

// --- internal ---

const ELAPSED_RE = /"elapsed_ms":([0-9.]+)/;
const SCAN_RE = /"scan_micros":([0-9.]+)/;

function emptyResult(): LoadResult {
  return { latencies: [], ok: 0, errors: 0, statuses: {}, seconds: 0, serverMs: [], scanMs: [] };
}

async function send(pool: Pool, spec: RequestSpec, result: LoadResult, start: number): Promise<void> {
  try {
    const options: Dispatcher.RequestOptions = { method: spec.method, path: spec.path };
    if (spec.headers !== undefined) options.headers = spec.headers;
    if (spec.body !== undefined) options.body = spec.body;
    const res = await pool.request(options);
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) {
      result.latencies.push(performance.now() - start);
      result.ok += 1;
      const elapsed = ELAPSED_RE.exec(text);
      if (elapsed !== null) result.serverMs.push(Number(elapsed[1]));
      const scan = SCAN_RE.exec(text);
      if (scan !== null) result.scanMs.push(Number(scan[1]) / 1000);
    } else {
      result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1;
      result.errors += 1;
    }
  } catch {
    result.errors += 1;
  }
}
