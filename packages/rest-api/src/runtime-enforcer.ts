// The default RuntimeEnforcer: disables and re-enables skills (`skills.update`) and plugins (spec 10 §3.3) in
// OpenClaw, and queues the change while the gateway is disconnected (spec 20 §6.1: `runtime: "pending"`).
import { withGateway } from './_gateway.ts';
import type { GatewayRpc, Logger, RuntimeEnforcer, RuntimeTarget } from './deps.ts';
import { RestApiError } from './errors.ts';

/** Options of `createRuntimeEnforcer`. */
export type RuntimeEnforcerOptions = {
  /** How many changes wait for a reconnect; the oldest is dropped (and logged) beyond it. @default 100 */
  maxQueued?: number;
  /** How long one RPC may take. @default 10000 */
  timeoutMs?: number;
  /** Receives queue and flush lines (never tokens). */
  logger?: Logger;
};

/** A `RuntimeEnforcer` with a reconnect queue; call `flush()` when the gateway connects again. */
export type QueueingRuntimeEnforcer = RuntimeEnforcer & {
  /** Sends the queued changes in order; resolves with how many were sent and how many failed. */
  flush(): Promise<{ sent: number; failed: number }>;
  /** Changes waiting for a connection. */
  readonly pending: number;
};

/**
 * Creates the default runtime enforcer over the gateway RPC: connected → the RPC now (`applied`), disconnected →
 * queued until `flush()` (`queued`); a later change to the same target replaces a queued one.
 *
 * @example
 * const enforcer = createRuntimeEnforcer(gatewayRpc, { logger });
 * client.on('connected', () => void enforcer.flush());
 */
export function createRuntimeEnforcer(
  gateway: GatewayRpc,
  options: RuntimeEnforcerOptions = {},
): QueueingRuntimeEnforcer {
  const maxQueued = options.maxQueued ?? 100;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const queue = new Map<string, { target: RuntimeTarget; enabled: boolean }>();

  const send = (target: RuntimeTarget, enabled: boolean) => {
    const what = `${enabled ? 'enable' : 'disable'} ${target.targetType} ${JSON.stringify(target.name)}`;
    return withGateway(gateway, what, timeoutMs, (gw, rpc) => {
      if (target.targetType === 'skill') {
        return gw.request('skills.update', { skillKey: target.name, enabled }, rpc);
      }
      if (gw.setPluginEnabled === undefined) {
        throw new RestApiError('gateway_error', `${what} failed: no plugin helper is wired`, {
          details: { upstream_code: 'UNSUPPORTED' },
        });
      }
      return gw.setPluginEnabled(target.name, enabled, rpc);
    });
  };

  return {
    async setEnabled(target, enabled) {
      const key = `${target.targetType}\u0000${target.name}`;
      if (!gateway.connected()) {
        queue.delete(key);
        if (queue.size >= maxQueued) {
          const [oldest] = queue.keys();
          queue.delete(oldest!);
          options.logger?.warn('runtime enforcement queue full; dropped the oldest queued change');
        }
        queue.set(key, { target, enabled });
        return 'queued';
      }
      queue.delete(key);
      await send(target, enabled);
      return 'applied';
    },
    async flush() {
      let sent = 0;
      let failed = 0;
      for (const [key, change] of [...queue]) {
        if (!gateway.connected()) break;
        queue.delete(key);
        try {
          await send(change.target, change.enabled);
          sent += 1;
        } catch (error) {
          failed += 1;
          options.logger?.error(
            `queued ${change.enabled ? 'enable' : 'disable'} of ${change.target.targetType} failed`,
            { code: (error as { code?: unknown }).code },
          );
        }
      }
      return { sent, failed };
    },
    get pending() {
      return queue.size;
    },
  };
}
