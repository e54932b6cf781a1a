// A fake OpenClaw RPC object for the passthrough routes: it records calls and answers as scripted.
import type { GatewayRpc, RpcOptions } from '../src/index.ts';

/** How the fake answers the next calls. */
export type Behaviour =
  | { kind: 'ok'; payload?: unknown }
  | { kind: 'fail'; code: string; detailCode?: string; message?: string }
  | { kind: 'hang' };

/** A scripted gateway RPC: `connected` and `behaviour` can change between calls. */
export type FakeGateway = GatewayRpc & {
  calls: { method: string; params: unknown; timeoutMs: number }[];
  isConnected: boolean;
  behaviour: Behaviour;
};

/** Creates a connected fake that answers `{ ok: true }`. */
export function fakeGateway(): FakeGateway {
  const fake: FakeGateway = {
    calls: [],
    isConnected: true,
    behaviour: { kind: 'ok', payload: { ok: true } },
    connected: () => fake.isConnected,
    request: (method: string, params: unknown, options: RpcOptions) => answer(method, params, options),
    setPluginEnabled: (name: string, enabled: boolean, options: RpcOptions) =>
      answer('plugin.toggle', { name, enabled }, options),
  };
  const answer = (method: string, params: unknown, options: RpcOptions): Promise<unknown> => {
    fake.calls.push({ method, params, timeoutMs: options.timeoutMs });
    const b = fake.behaviour;
    if (b.kind === 'ok') return Promise.resolve(b.payload);
    if (b.kind === 'hang') {
      return new Promise((_, reject) => {
        options.signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('aborted'), { code: 'ABORTED' })),
        );
      });
    }
    return Promise.reject(
      Object.assign(new Error(b.message ?? `${method} failed`), { code: b.code, detailCode: b.detailCode }),
    );
  };
  return fake;
}
