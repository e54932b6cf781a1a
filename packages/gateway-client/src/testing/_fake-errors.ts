// Error shapes the fake gateway sends, shared by the handshake, the method handlers and the config store.
import type { ErrorShape } from '@defenseclaw/protocol';

/** Builds an `INVALID_REQUEST` error shape, with `details` only when given. */
export function invalidRequest(message: string, details?: unknown): ErrorShape {
  return details === undefined
    ? { code: 'INVALID_REQUEST', message }
    : { code: 'INVALID_REQUEST', message, details };
}
