// Provider registry routes and the admin shutdown (spec 20 §6.1).
import { resolve } from 'node:path';
import * as v from 'valibot';
import type { ApiContext } from './_context.ts';
import { readBody } from './_http.ts';
import type { ProvidersView } from './deps.ts';
import { RestApiError } from './errors.ts';

/** Registers `/v1/config/providers`, its reload, and `/api/v1/admin/shutdown`. */
export function registerAdminRoutes(api: ApiContext): void {
  const registry = () => {
    const providers = api.deps.providers;
    if (providers === undefined) {
      throw new RestApiError(
        'not_found',
        'the guardrail is disabled (guardrail.enabled: false): no provider registry',
      );
    }
    return providers;
  };

  api.route('GET', '/v1/config/providers', 'read', (c) => c.json(providersToWire(registry().list())));

  api.route('POST', '/v1/config/providers/reload', 'write', async (c) => {
    await readBody(c, v.object({}));
    const outcome = await registry().reload();
    if (!outcome.success) {
      throw new RestApiError(
        'providers_invalid',
        `provider registry reload failed; the old registry is kept`,
        {
          details: { errors: [...outcome.errors] },
        },
      );
    }
    const wire = providersToWire(outcome.view);
    return c.json({ status: 'reloaded', providers: wire.providers, models: wire.models });
  });

  const ShutdownBodySchema = v.object({
    pid: v.pipe(v.number(), v.integer(), v.minValue(1)),
    data_dir: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  });

  api.route('POST', '/api/v1/admin/shutdown', 'admin', async (c) => {
    const body = await readBody(c, ShutdownBodySchema);
    const shutdown = api.deps.shutdown;
    if (shutdown === undefined) throw new RestApiError('not_found', 'admin shutdown is not available');
    if (body.pid !== api.identity.pid || resolve(body.data_dir) !== resolve(api.identity.dataDir)) {
      throw new RestApiError('identity_mismatch', 'pid or data_dir does not name this daemon');
    }
    if (api.shutdown.started) return c.json({ status: 'already_shutting_down' }, 202);
    api.shutdown.started = true;
    api.log.info('shutdown requested via the API', { client: c.get('client') });
    let fired = false;
    const fire = () => {
      if (fired) return;
      fired = true;
      Promise.resolve()
        .then(shutdown)
        .catch((error: unknown) =>
          api.log.error('shutdown failed', { error: error instanceof Error ? error.name : 'unknown' }),
        );
    };
    // Begin only once the 202 is on the wire: the shutdown closes this very server.
    const outgoing = c.env?.outgoing;
    if (outgoing !== undefined) {
      outgoing.once('finish', fire);
      outgoing.once('close', fire);
    } else {
      setImmediate(fire);
    }
    return c.json({ status: 'shutting_down' }, 202);
  });
}

// --- internal ---

/** Builds the wire view from known fields only, so a key value in a registry object can never leak out. */
function providersToWire(view: ProvidersView): {
  providers: Record<string, unknown>[];
  models: Record<string, unknown>;
  default_provider?: string;
} {
  const out: {
    providers: Record<string, unknown>[];
    models: Record<string, unknown>;
    default_provider?: string;
  } = {
    providers: view.providers.map((p) => ({
      name: p.name,
      base_url: p.baseUrl,
      flavour: p.flavour,
      api_key_env: p.apiKeyEnv ?? null,
      key_present: p.keyPresent,
      models: [...p.models],
    })),
    models: view.models,
  };
  if (view.defaultProvider !== undefined) out.default_provider = view.defaultProvider;
  return out;
}
