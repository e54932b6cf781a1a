import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProviderRegistry, ProvidersView } from '../src/index.ts';
import { call, DATA_DIR, errorOf, json, makeApi } from './_helpers.ts';

const VIEW: ProvidersView = {
  providers: [
    {
      name: 'openai',
      baseUrl: 'https://api.openai.com/v1',
      flavour: 'openai',
      apiKeyEnv: 'OPENAI_API_KEY',
      keyPresent: true,
      models: ['gpt-4o'],
    },
  ],
  models: { fast: { provider: 'openai', model: 'gpt-4o-mini' } },
  defaultProvider: 'openai',
};

function registry(
  next: Awaited<ReturnType<ProviderRegistry['reload']>>,
): ProviderRegistry & { reloads: number } {
  const r = {
    reloads: 0,
    list: () => {
      // A registry object that also holds the key value must not leak it through the route.
      const leaky = VIEW.providers.map((p) => ({ ...p, apiKey: 'sk-live-should-never-show' }));
      return { ...VIEW, providers: leaky };
    },
    reload: async () => {
      r.reloads += 1;
      return next;
    },
  };
  return r;
}

describe('GET /v1/config/providers', () => {
  it('lists providers with variable names and presence, never key values', async (t) => {
    const { app } = makeApi(t, { deps: { providers: registry({ success: true, view: VIEW }) } });
    const res = await call(app, 'GET', '/v1/config/providers');
    const text = await res.text();
    assert.ok(!text.includes('sk-live'));
    assert.deepEqual(JSON.parse(text), {
      providers: [
        {
          name: 'openai',
          base_url: 'https://api.openai.com/v1',
          flavour: 'openai',
          api_key_env: 'OPENAI_API_KEY',
          key_present: true,
          models: ['gpt-4o'],
        },
      ],
      models: { fast: { provider: 'openai', model: 'gpt-4o-mini' } },
      default_provider: 'openai',
    });
  });

  it('answers 404 when the guardrail is off', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'GET', '/v1/config/providers');
    assert.equal(res.status, 404);
    assert.match((await errorOf(res)).message, /guardrail is disabled/);
  });
});

describe('POST /v1/config/providers/reload', () => {
  it('reloads and returns the new registry', async (t) => {
    const providers = registry({ success: true, view: VIEW });
    const { app } = makeApi(t, { deps: { providers } });
    const body = await json(await call(app, 'POST', '/v1/config/providers/reload', { body: {} }));
    assert.equal(body.status, 'reloaded');
    assert.equal(body.providers[0].name, 'openai');
    assert.equal(providers.reloads, 1);
  });

  it('answers 422 providers_invalid with the issues', async (t) => {
    const { app } = makeApi(t, {
      deps: {
        providers: registry({ success: false, errors: ['guardrail.providers.x.base_url: not https'] }),
      },
    });
    const res = await call(app, 'POST', '/v1/config/providers/reload', { body: {} });
    assert.equal(res.status, 422);
    const error = await errorOf(res);
    assert.equal(error.code, 'providers_invalid');
    assert.deepEqual(error.details, { errors: ['guardrail.providers.x.base_url: not https'] });
  });
});

describe('POST /api/v1/admin/shutdown', () => {
  it('answers 202 and starts the shutdown once; a repeat says already_shutting_down', async (t) => {
    let calls = 0;
    const shutdown = () => {
      calls += 1;
    };
    const { app } = makeApi(t, { deps: { shutdown } });
    const body = { pid: process.pid, data_dir: `${DATA_DIR}/` };
    const res = await call(app, 'POST', '/api/v1/admin/shutdown', { body });
    assert.equal(res.status, 202);
    assert.deepEqual(await json(res), { status: 'shutting_down' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 1);
    const again = await call(app, 'POST', '/api/v1/admin/shutdown', { body });
    assert.equal(again.status, 202);
    assert.deepEqual(await json(again), { status: 'already_shutting_down' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 1);
    // Other writes are refused from now on.
    const write = await call(app, 'POST', '/policy/reload', { body: {} });
    assert.equal(write.status, 503);
    assert.equal((await errorOf(write)).code, 'shutting_down');
  });

  it('answers 409 identity_mismatch for another pid or data dir, and shuts nothing down', async (t) => {
    let calls = 0;
    const shutdown = () => {
      calls += 1;
    };
    const { app } = makeApi(t, { deps: { shutdown } });
    for (const body of [
      { pid: process.pid + 1, data_dir: DATA_DIR },
      { pid: process.pid, data_dir: '/tmp/elsewhere' },
    ]) {
      const res = await call(app, 'POST', '/api/v1/admin/shutdown', { body });
      assert.equal(res.status, 409);
      assert.equal((await errorOf(res)).code, 'identity_mismatch');
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls, 0);
  });

  it('needs both fields and the token', async (t) => {
    const { app } = makeApi(t, { deps: { shutdown: () => {} } });
    assert.equal(
      (await call(app, 'POST', '/api/v1/admin/shutdown', { body: { pid: process.pid } })).status,
      400,
    );
    const res = await call(app, 'POST', '/api/v1/admin/shutdown', {
      body: { pid: process.pid, data_dir: DATA_DIR },
      token: false,
    });
    assert.equal(res.status, 401);
  });
});
