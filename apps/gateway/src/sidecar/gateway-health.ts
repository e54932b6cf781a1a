import type { GatewayClient } from '@defenseclaw/gateway-client';
import { isGatewayClientError } from '@defenseclaw/gateway-client';
import type { HealthRegistry } from './health.ts';

/** Why the gateway connection is unhealthy (spec 20 §5.2 `details.fault`). */
export type GatewayFault = 'auth' | 'pairing' | 'protocol' | 'network' | 'internal';

/** How a failed attempt affects health: transient failures reconnect, the rest are `error` (still retrying). */
export type GatewayFailureClass = { state: 'reconnecting' | 'error'; fault: GatewayFault };

// Close codes after which the server is expected back: going away, service restart, tick timeout, abnormal close.
const TRANSIENT_CLOSE_CODES: ReadonlySet<number> = new Set([1001, 1006, 1012, 4000]);

/** Classifies a failed connection attempt per spec 10 §2.7 and §5.13. */
export function classifyGatewayFailure(error: unknown): GatewayFailureClass {
  if (!isGatewayClientError(error)) return { state: 'error', fault: 'internal' };
  switch (error.code) {
    case 'SOCKET_ERROR':
    case 'CHALLENGE_TIMEOUT':
    case 'HELLO_TIMEOUT':
    case 'TICK_TIMEOUT':
    case 'TIMEOUT':
    case 'NOT_CONNECTED':
    case 'CLOSED':
    case 'FRAME_TOO_LARGE':
      return { state: 'reconnecting', fault: 'network' };
    case 'HANDSHAKE_CLOSED':
      return error.closeCode === undefined || TRANSIENT_CLOSE_CODES.has(error.closeCode)
        ? { state: 'reconnecting', fault: 'network' }
        : { state: 'error', fault: 'protocol' };
    case 'CONNECT_REJECTED':
      switch (error.rejection) {
        case 'unavailable':
          return { state: 'reconnecting', fault: 'network' };
        case 'auth':
        case 'rate-limited':
          return { state: 'error', fault: 'auth' };
        case 'pairing':
        case 'pairing-upgrade':
        case 'device':
          return { state: 'error', fault: 'pairing' };
        case 'protocol':
        case 'params':
          return { state: 'error', fault: 'protocol' };
        default:
          return { state: 'error', fault: 'internal' };
      }
    case 'DEVICE_KEY_INVALID':
    case 'DEVICE_KEY_IO':
      return { state: 'error', fault: 'pairing' };
    case 'CHALLENGE_INVALID':
    case 'PROTOCOL_UNSUPPORTED':
    case 'HELLO_INVALID':
    case 'BUFFER_OVERFLOW':
      return { state: 'error', fault: 'protocol' };
    default:
      return { state: 'error', fault: 'internal' };
  }
}

/** Options of `bindGatewayHealth`. */
export type GatewayHealthOptions = {
  /** The upstream URL shown in `details.url` (never carries a token). */
  url: string;
  /** Masks secrets in error text before it reaches `last_error`. @default identity */
  mask?: (text: string) => string;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
};

/** The live link between a gateway client and the `gateway` health entry. */
export type GatewayHealthBinding = {
  /** Marks the entry `stopped` and ignores later client events; call before closing the client. */
  stop(): void;
  /** Detaches every listener without changing the entry. */
  dispose(): void;
};

/**
 * Maps gateway-client events to the `gateway` health entry (spec 10 §5.13): `starting` until the first attempt
 * settles, `running` on hello-ok, `reconnecting` on a drop or a transient failure, `error` on a non-transient one,
 * `stopped` after `stop()`; plus the counters `events_received`, `last_seq`, `seq_gaps` and `reconnects`.
 *
 * @example
 * ```ts
 * const binding = bindGatewayHealth(client, health, { url: 'ws://127.0.0.1:18789' });
 * client.start();
 * // on shutdown
 * binding.stop(); await client.close();
 * ```
 */
export function bindGatewayHealth(
  client: GatewayClient,
  health: HealthRegistry,
  options: GatewayHealthOptions,
): GatewayHealthBinding {
  const now = options.now ?? (() => new Date());
  const mask = options.mask ?? ((text: string) => text);
  let stopped = false;
  let connections = 0;
  let eventsReceived = 0;
  let seqGaps = 0;
  // Set when a live connection dropped, so the following `reconnecting` keeps "connection lost: …".
  let dropPending = false;

  health.set('gateway', 'starting', {
    details: { url: options.url, reconnects: 0, events_received: 0, seq_gaps: 0 },
  });

  const unsubscribers = [
    client.on('connected', ({ hello, protocol }) => {
      if (stopped) return;
      connections += 1;
      dropPending = false;
      health.set('gateway', 'running', {
        details: {
          protocol,
          server_version: hello.server?.version,
          conn_id: hello.server?.connId,
          connected_at: now().toISOString(),
          scopes: hello.auth?.scopes,
          device_id: client.deviceId,
          reconnects: Math.max(0, connections - 1),
          attempt: undefined,
          next_retry_at: undefined,
          fault: undefined,
        },
      });
    }),
    client.on('disconnected', ({ code, reason, wasConnected }) => {
      if (stopped || !wasConnected) return;
      dropPending = true;
      health.set('gateway', 'reconnecting', {
        lastError: mask(`connection lost: ${code} ${reason}`.trim()),
        details: { fault: 'network', conn_id: undefined },
      });
    }),
    client.on('reconnecting', ({ attempt, delayMs, lastError }) => {
      if (stopped) return;
      const details = { attempt, next_retry_at: new Date(now().getTime() + delayMs).toISOString() };
      if (dropPending) {
        dropPending = false;
        health.patch('gateway', details);
        return;
      }
      const { state, fault } = classifyGatewayFailure(lastError);
      const message = lastError instanceof Error ? lastError.message : String(lastError);
      health.set('gateway', state, { lastError: mask(message), details: { ...details, fault } });
    }),
    client.on('gap', ({ expected, received }) => {
      if (stopped) return;
      seqGaps += 1;
      health.patch('gateway', {
        seq_gaps: seqGaps,
        last_seq_gap: { expected, received, at: now().toISOString() },
      });
    }),
    client.on('event', ({ seq }) => {
      if (stopped) return;
      eventsReceived += 1;
      health.patch('gateway', {
        events_received: eventsReceived,
        ...(typeof seq === 'number' ? { last_seq: seq } : {}),
      });
    }),
  ];

  const dispose = () => {
    for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
  };
  return {
    stop() {
      stopped = true;
      health.set('gateway', 'stopped', { details: { attempt: undefined, next_retry_at: undefined } });
      dispose();
    },
    dispose,
  };
}
