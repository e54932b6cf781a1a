/** A health poll as the watchdog judges it (spec 20 §3 step 3). */
export type HealthOutcome =
  /** The daemon answered and nothing that a restart could fix is wrong. */
  | { kind: 'healthy' }
  /** One failure: connection refused, timeout, non-200, unparsable body or `api` in `error`. */
  | { kind: 'unhealthy'; reason: string }
  /** `gateway` is in `error` with an internal fault since `sinceMs`; a failure only after the grace period. */
  | { kind: 'gateway_internal_error'; sinceMs: number; reason: string };

/** Options of `createHealthProbe`. */
export type HealthProbeOptions = {
  /** The `/health` URL, e.g. `http://127.0.0.1:18970/health`. */
  url: string;
  /** Per-request timeout. @default 5000 */
  timeoutMs?: number;
  /** Largest body read. @default 65536 */
  maxBodyBytes?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
};

/** Largest `/health` body the probe reads. */
export const MAX_HEALTH_BODY_BYTES = 64 * 1024;

/**
 * Builds the watchdog's `/health` probe over the global `fetch`: one GET with a timeout and a body cap, judged by
 * `judgeHealth`.
 *
 * @example
 * ```ts
 * const probe = createHealthProbe({ url: 'http://127.0.0.1:18970/health', timeoutMs: 5000 });
 * const outcome = await probe(signal);
 * ```
 */
export function createHealthProbe(
  options: HealthProbeOptions,
): (signal?: AbortSignal) => Promise<HealthOutcome> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_HEALTH_BODY_BYTES;
  return async (signal) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
    let response: Response;
    try {
      response = await fetch(options.url, {
        signal: combined,
        headers: { accept: 'application/json', ...options.headers },
      });
    } catch (error) {
      return { kind: 'unhealthy', reason: describeFetchError(error, timeout.aborted, timeoutMs) };
    }
    let text: string;
    try {
      text = await readCapped(response, maxBodyBytes);
    } catch (error) {
      return { kind: 'unhealthy', reason: error instanceof Error ? error.message : String(error) };
    }
    if (response.status !== 200) return { kind: 'unhealthy', reason: `HTTP ${response.status}` };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { kind: 'unhealthy', reason: 'unparsable health body' };
    }
    return judgeHealth(body);
  };
}

/**
 * Judges a parsed `/health` body: `api` in `error` is a failure; `gateway` in `error` with `details.fault` =
 * `internal` is a gateway-internal error (failure after the grace period); auth, pairing, protocol and network
 * faults never count, since a restart cannot fix them.
 */
export function judgeHealth(body: unknown): HealthOutcome {
  if (!isRecord(body)) return { kind: 'unhealthy', reason: 'unparsable health body' };
  const api = body.api;
  if (!isRecord(api) || typeof api.state !== 'string') {
    return { kind: 'unhealthy', reason: 'health body has no api entry' };
  }
  if (api.state === 'error') {
    return {
      kind: 'unhealthy',
      reason: `api: ${typeof api.last_error === 'string' ? api.last_error : 'error'}`,
    };
  }
  const gateway = body.gateway;
  if (isRecord(gateway) && gateway.state === 'error') {
    const details = isRecord(gateway.details) ? gateway.details : {};
    if (details.fault === 'internal') {
      const since = typeof gateway.since === 'string' ? Date.parse(gateway.since) : Number.NaN;
      return {
        kind: 'gateway_internal_error',
        sinceMs: Number.isFinite(since) ? since : Date.now(),
        reason: `gateway: ${typeof gateway.last_error === 'string' ? gateway.last_error : 'internal error'}`,
      };
    }
  }
  return { kind: 'healthy' };
}

// --- internal ---

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeFetchError(error: unknown, timedOut: boolean, timeoutMs: number): string {
  if (timedOut) return `timeout after ${timeoutMs} ms`;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return `connect ${cause.code}`;
  if (typeof cause?.message === 'string') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`health body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
