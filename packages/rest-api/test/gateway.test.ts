import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRuntimeEnforcer } from '../src/index.ts';
import { fakeGateway } from './_fake-gateway.ts';
import { call, errorOf, json, makeApi } from './_helpers.ts';

describe('GET /tools/catalog and /skills', () => {
  it('passes the upstream payload through verbatim, with agent_id', async (t) => {
    const gateway = fakeGateway();
    const catalog = { agentId: 'main', profiles: [{ id: 'coding', label: 'Coding' }], groups: [] };
    gateway.behaviour = { kind: 'ok', payload: catalog };
    const { app } = makeApi(t, { deps: { gateway } });
    const res = await call(app, 'GET', '/tools/catalog?agent_id=main');
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), catalog);
    assert.deepEqual(gateway.calls, [
      { method: 'tools.catalog', params: { agentId: 'main' }, timeoutMs: 10_000 },
    ]);
    await call(app, 'GET', '/skills');
    assert.deepEqual(gateway.calls[1], { method: 'skills.status', params: {}, timeoutMs: 10_000 });
  });

  it('answers 503 gateway_disconnected while disconnected, and without a gateway at all', async (t) => {
    const gateway = fakeGateway();
    gateway.isConnected = false;
    const { app } = makeApi(t, { deps: { gateway } });
    const res = await call(app, 'GET', '/tools/catalog');
    assert.equal(res.status, 503);
    assert.equal((await errorOf(res)).code, 'gateway_disconnected');
    assert.equal(gateway.calls.length, 0);
    const bare = makeApi(t);
    const none = await call(bare.app, 'GET', '/skills');
    assert.equal(none.status, 503);
    assert.equal((await errorOf(none)).code, 'gateway_disconnected');
  });

  it('answers 502 gateway_error with the upstream code when the gateway refuses', async (t) => {
    const gateway = fakeGateway();
    gateway.behaviour = {
      kind: 'fail',
      code: 'REQUEST_FAILED',
      detailCode: 'INVALID_REQUEST',
      message: 'unknown agent',
    };
    const { app } = makeApi(t, { deps: { gateway } });
    const res = await call(app, 'GET', '/tools/catalog?agent_id=ghost');
    assert.equal(res.status, 502);
    const error = await errorOf(res);
    assert.equal(error.code, 'gateway_error');
    assert.deepEqual(error.details, { upstream_code: 'INVALID_REQUEST' });
    assert.match(error.message, /unknown agent/);
  });

  it('answers 503 when the connection drops during the call, 504 on a client timeout', async (t) => {
    const gateway = fakeGateway();
    const { app } = makeApi(t, { deps: { gateway } });
    gateway.behaviour = { kind: 'fail', code: 'NOT_CONNECTED' };
    assert.equal((await call(app, 'GET', '/skills')).status, 503);
    gateway.behaviour = { kind: 'fail', code: 'TIMEOUT' };
    const res = await call(app, 'GET', '/skills');
    assert.equal(res.status, 504);
    assert.equal((await errorOf(res)).code, 'gateway_timeout');
  });

  it('answers 504 gateway_timeout when the gateway never answers, and aborts the call', async (t) => {
    const gateway = fakeGateway();
    gateway.behaviour = { kind: 'hang' };
    const { app } = makeApi(t, { deps: { gateway }, options: { rpcTimeoutMs: 30 } });
    const res = await call(app, 'GET', '/tools/catalog');
    assert.equal(res.status, 504);
    assert.equal((await errorOf(res)).code, 'gateway_timeout');
  });
});

describe('POST /skill/* and /plugin/*', () => {
  it('disables and enables a skill through skills.update', async (t) => {
    const gateway = fakeGateway();
    const { app, store } = makeApi(t, { deps: { gateway } });
    let res = await call(app, 'POST', '/skill/disable', { body: { skill_key: 'evil-skill' } });
    assert.deepEqual(await json(res), { skill_key: 'evil-skill', enabled: false });
    res = await call(app, 'POST', '/skill/enable', { body: { skill_key: 'evil-skill' } });
    assert.deepEqual(await json(res), { skill_key: 'evil-skill', enabled: true });
    assert.deepEqual(
      gateway.calls.map((c) => c.params),
      [
        { skillKey: 'evil-skill', enabled: false },
        { skillKey: 'evil-skill', enabled: true },
      ],
    );
    await store.flush();
    assert.equal(store.queries.listEvents({ kind: 'enforce.change' }).events.length, 2);
  });

  it('disables and enables a plugin through the plugin helper', async (t) => {
    const gateway = fakeGateway();
    const { app } = makeApi(t, { deps: { gateway } });
    const res = await call(app, 'POST', '/plugin/disable', { body: { plugin_name: 'shady' } });
    assert.deepEqual(await json(res), { plugin_name: 'shady', enabled: false });
    assert.deepEqual(gateway.calls[0]?.params, { name: 'shady', enabled: false });
  });

  it('maps gateway failures to 502/503 and validates the body', async (t) => {
    const gateway = fakeGateway();
    const { app } = makeApi(t, { deps: { gateway } });
    gateway.behaviour = {
      kind: 'fail',
      code: 'REQUEST_FAILED',
      detailCode: 'FORBIDDEN',
      message: 'missing scope: operator.admin',
    };
    const refused = await call(app, 'POST', '/skill/disable', { body: { skill_key: 'x' } });
    assert.equal(refused.status, 502);
    assert.equal((await errorOf(refused)).details?.upstream_code, 'FORBIDDEN');
    gateway.isConnected = false;
    assert.equal((await call(app, 'POST', '/plugin/enable', { body: { plugin_name: 'x' } })).status, 503);
    assert.equal((await call(app, 'POST', '/skill/disable', { body: { skill: 'x' } })).status, 400);
  });
});

describe('createRuntimeEnforcer', () => {
  it('applies a change at once while connected', async () => {
    const gateway = fakeGateway();
    const enforcer = createRuntimeEnforcer(gateway);
    assert.equal(await enforcer.setEnabled({ targetType: 'skill', name: 'a' }, false), 'applied');
    assert.deepEqual(gateway.calls[0], {
      method: 'skills.update',
      params: { skillKey: 'a', enabled: false },
      timeoutMs: 10_000,
    });
  });

  it('queues changes while disconnected, keeps the last per target, and flushes in order', async () => {
    const gateway = fakeGateway();
    gateway.isConnected = false;
    const enforcer = createRuntimeEnforcer(gateway, { maxQueued: 2 });
    assert.equal(await enforcer.setEnabled({ targetType: 'skill', name: 'a' }, false), 'queued');
    assert.equal(await enforcer.setEnabled({ targetType: 'plugin', name: 'p' }, false), 'queued');
    assert.equal(await enforcer.setEnabled({ targetType: 'skill', name: 'a' }, true), 'queued');
    assert.equal(enforcer.pending, 2);
    await enforcer.setEnabled({ targetType: 'skill', name: 'b' }, false);
    assert.equal(enforcer.pending, 2, 'the oldest change is dropped beyond maxQueued');
    gateway.isConnected = true;
    assert.deepEqual(await enforcer.flush(), { sent: 2, failed: 0 });
    assert.deepEqual(
      gateway.calls.map((c) => c.params),
      [
        { skillKey: 'a', enabled: true },
        { skillKey: 'b', enabled: false },
      ],
    );
    assert.equal(enforcer.pending, 0);
  });

  it('rejects with the mapped gateway error when the RPC fails', async () => {
    const gateway = fakeGateway();
    gateway.behaviour = { kind: 'fail', code: 'REQUEST_FAILED', detailCode: 'INVALID_REQUEST' };
    const enforcer = createRuntimeEnforcer(gateway);
    await assert.rejects(enforcer.setEnabled({ targetType: 'skill', name: 'a' }, false), {
      code: 'gateway_error',
    });
    gateway.behaviour = { kind: 'ok' };
    gateway.isConnected = false;
    await enforcer.setEnabled({ targetType: 'skill', name: 'a' }, false);
    gateway.isConnected = true;
    gateway.behaviour = { kind: 'fail', code: 'REQUEST_FAILED' };
    assert.deepEqual(await enforcer.flush(), { sent: 0, failed: 1 });
  });
});
