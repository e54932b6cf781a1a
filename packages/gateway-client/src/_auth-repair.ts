// --- internal: auth repair (spec 10 §5.9); never re-exported ---

import { CONNECT_DETAIL_CODES, type Logger } from '@defenseclaw/protocol';
import type { GatewayClientError } from './errors.ts';
import { readOpenClawToken } from './openclaw-config.ts';

const REPAIR_DETAIL_CODES: ReadonlySet<string> = new Set([
  CONNECT_DETAIL_CODES.AUTH_TOKEN_MISSING,
  CONNECT_DETAIL_CODES.AUTH_TOKEN_MISMATCH,
  CONNECT_DETAIL_CODES.AUTH_UNAUTHORIZED,
  CONNECT_DETAIL_CODES.AUTH_REQUIRED,
  CONNECT_DETAIL_CODES.AUTH_DEVICE_TOKEN_MISMATCH,
]);

/**
 * Tells whether a failed attempt should re-read the token: auth rejections that a new shared token can fix,
 * pairing `not-paired`/`metadata-upgrade`, and `DEVICE_IDENTITY_REQUIRED`. Never a `pairing-upgrade`.
 */
export function needsAuthRepair(error: GatewayClientError): boolean {
  if (error.code !== 'CONNECT_REJECTED') return false;
  if (error.rejection === 'pairing-upgrade') return false;
  if (error.rejection === 'pairing') return true;
  if (error.detailCode === CONNECT_DETAIL_CODES.DEVICE_IDENTITY_REQUIRED) return true;
  if (error.rejection === 'auth')
    return error.detailCode === undefined || REPAIR_DETAIL_CODES.has(error.detailCode);
  return false;
}

/** Describes a token for logs without revealing it. */
export function describeToken(token: string | undefined): string {
  return token === undefined ? 'not set' : `set (${token.length} chars)`;
}

/** Re-reads the OpenClaw token; each distinct failure is warned about once until `reset()`. */
export class TokenRepair {
  readonly #configPath: string | undefined;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #logger: Logger;
  readonly #warned = new Set<string>();

  constructor(
    configPath: string | undefined,
    env: Readonly<Record<string, string | undefined>>,
    logger: Logger,
  ) {
    this.#configPath = configPath;
    this.#env = env;
    this.#logger = logger;
  }

  /** Returns the config's token when it is usable and differs from `current`, else `undefined`. */
  async read(current: string | undefined): Promise<{ token: string; source: string } | undefined> {
    const result = await readOpenClawToken({ configPath: this.#configPath, env: this.#env });
    if (!result.success) {
      this.#warnOnce(`auth repair: ${result.message}`);
      return undefined;
    }
    if (result.token === current) {
      this.#warnOnce(
        `auth repair: ${result.path} holds the token we already use; the gateway still refuses it`,
      );
      return undefined;
    }
    this.#warned.clear();
    this.#logger.info('took a new gateway token from the OpenClaw config', {
      source: result.path,
      token: describeToken(result.token),
    });
    return { token: result.token, source: result.path };
  }

  /** Forgets which failures were already reported (after a successful connection). */
  reset(): void {
    this.#warned.clear();
  }

  #warnOnce(message: string): void {
    if (this.#warned.has(message)) return;
    this.#warned.add(message);
    this.#logger.warn(message);
  }
}
