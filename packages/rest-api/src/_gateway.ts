// Gateway RPC calls on behalf of a route: a bounded wait, and the client's failures mapped to 502 / 503 / 504.
import { maskSecrets } from '@defenseclaw/policy';
import type { GatewayRpc, RpcOptions } from './deps.ts';
import { isRestApiError, RestApiError } from './errors.ts';

/** Runs `call` with a timeout and maps its failure to the API's gateway errors. */
export async function withGateway<T>(
  gateway: GatewayRpc | undefined,
  what: string,
  timeoutMs: number,
  call: (gateway: GatewayRpc, options: RpcOptions) => Promise<T>,
): Promise<T> {
  if (gateway === undefined || !gateway.connected()) {
    throw new RestApiError('gateway_disconnected', 'not connected to the OpenClaw gateway');
  }
  const controller = new AbortController();
  const expired = new RestApiError(
    'gateway_timeout',
    `${what}: no answer from the OpenClaw gateway within ${timeoutMs} ms`,
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(expired);
      controller.abort(expired);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(gateway, { timeoutMs, signal: controller.signal }), timeout]);
  } catch (error) {
    // Aborting makes the call reject too; whichever settles first, the cause is our deadline.
    throw controller.signal.aborted ? expired : gatewayFailure(error, what);
  } finally {
    clearTimeout(timer);
  }
}

/** Maps a gateway client failure to 504 (timeout), 503 (not connected) or 502 (the gateway said no). */
export function gatewayFailure(error: unknown, what: string): RestApiError {
  if (isRestApiError(error)) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as {
    code?: unknown;
    detailCode?: unknown;
    serverError?: { code?: unknown };
    message?: unknown;
  };
  if (e.code === 'TIMEOUT') {
    return new RestApiError('gateway_timeout', `${what}: the OpenClaw gateway did not answer in time`, {
      cause: error,
    });
  }
  if (e.code === 'NOT_CONNECTED' || e.code === 'CLOSED') {
    return new RestApiError('gateway_disconnected', 'not connected to the OpenClaw gateway', {
      cause: error,
    });
  }
  const upstream =
    [e.detailCode, e.serverError?.code, e.code].find((x) => typeof x === 'string') ?? 'unknown';
  const said =
    typeof e.message === 'string' && e.message !== '' ? `: ${clip(maskSecrets(e.message), 300)}` : '';
  return new RestApiError('gateway_error', `${what} failed${said}`, {
    details: { upstream_code: upstream },
    cause: error,
  });
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
