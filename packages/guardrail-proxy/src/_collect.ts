import type { Readable } from 'node:stream';

// Reads a whole body under a byte cap, for the request body and non-streaming upstream answers. Listeners are
// anonymous and stay attached (a settled collector ignores later events): named per-request closures each cost a
// `name` definition under the loader's keep-names transform, and an error event must always find a listener.

/** The outcome of collecting a body. */
export type Collected =
  | { kind: 'ok'; bytes: Buffer }
  | { kind: 'too_large' }
  | { kind: 'failed'; error?: unknown };

/**
 * Collects `stream` up to `capBytes`. A `close` before `end` fails the read unless `complete()` says the whole body
 * arrived (its `end` is then still to come).
 */
export function collectBody(
  stream: Readable,
  capBytes: number,
  onTooLarge: 'pause' | 'destroy',
  complete: () => boolean = () => false,
): Promise<Collected> {
  // A stream destroyed before anyone read it will not emit again.
  if (stream.destroyed) return Promise.resolve({ kind: 'failed', error: stream.errored ?? undefined });
  return new Promise((resolve) => {
    const c = new Collector(capBytes, resolve);
    stream.on('data', (chunk: Buffer) => {
      if (c.data(chunk)) return;
      if (onTooLarge === 'pause') stream.pause();
      else stream.destroy();
    });
    stream.on('end', () => c.end());
    stream.on('error', (error: unknown) => c.settle({ kind: 'failed', error }));
    stream.on('close', () => {
      if (!complete()) c.settle({ kind: 'failed', error: stream.errored ?? undefined });
    });
  });
}

// --- internal ---

class Collector {
  readonly #cap: number;
  readonly #resolve: (result: Collected) => void;
  #chunks: Buffer[] = [];
  #total = 0;
  #settled = false;

  constructor(cap: number, resolve: (result: Collected) => void) {
    this.#cap = cap;
    this.#resolve = resolve;
  }

  /** Takes a chunk; false once the cap is exceeded (the collector has then settled `too_large`). */
  data(chunk: Buffer): boolean {
    if (this.#settled) return true;
    this.#total += chunk.length;
    if (this.#total > this.#cap) {
      this.settle({ kind: 'too_large' });
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  end(): void {
    const chunks = this.#chunks;
    this.settle({ kind: 'ok', bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) });
  }

  settle(result: Collected): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#chunks = [];
    this.#resolve(result);
  }
}
