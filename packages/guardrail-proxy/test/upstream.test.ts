import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { describe, it } from 'node:test';
import {
  anthropicMessage,
  authed,
  chatCompletion,
  closedPort,
  MASTER_KEY,
  makeProxy,
  PROVIDER_KEYS,
  rawRequest,
  sendJson,
  startFakeUpstream,
  waitFor,
} from './_helpers.ts';

const chat = (model = 'openai/gpt-test', content = 'hello there') =>
  JSON.stringify({ model, messages: [{ role: 'user', content }] });

/** A fake resolver for the connect-time SSRF guard. */
function fakeLookup(table: Record<string, string>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    const address = table[hostname];
    if (!address) return cb(Object.assign(new Error('ENOTFOUND'), { code: 'ENOTFOUND' }));
    const entry: LookupAddress = { address, family: address.includes(':') ? 6 : 4 };
    if (options.all) cb(null, [entry]);
    else cb(null, entry.address, entry.family);
  }) as unknown as LookupFunction;
}

describe('header hygiene', () => {
  it('forwards only allow-listed request headers, adds the provider key and identity encoding', async (t) => {
    const up = await startFakeUpstream(t);
    const { url } = await makeProxy(t, { upstream: up, config: { forward_headers: ['X-Team'] } });
    const res = await rawRequest(`${url}/v1/chat/completions`, {
      headers: {
        host: `127.0.0.1:${new URL(url).port}`,
        authorization: `Bearer ${MASTER_KEY}`,
        'content-type': 'application/json',
        cookie: 'session=abc',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-authorization': 'Basic eHh4',
        'x-forwarded-for': '10.9.9.9',
        forwarded: 'for=10.9.9.9',
        'x-defenseclaw-session-key': 'sess-1',
        'x-stainless-os': 'Linux',
        'openai-beta': 'assistants=v2',
        'idempotency-key': 'idem-1',
        'accept-encoding': 'gzip, br',
        'x-team': 'blue',
        'x-other': 'dropped',
        'api-key': 'azure-style-secret',
      },
      body: chat(),
    });
    assert.equal(res.status, 200);
    const seen = up.requests[0]!;
    const names = Object.keys(seen.headers);
    for (const forbidden of [
      'cookie',
      'keep-alive',
      'proxy-authorization',
      'x-forwarded-for',
      'forwarded',
      'x-defenseclaw-session-key',
      'x-other',
      'api-key',
      'x-api-key',
    ]) {
      assert.ok(!names.includes(forbidden), `${forbidden} must not reach the upstream`);
    }
    assert.ok(
      !JSON.stringify(seen.headers).includes(MASTER_KEY),
      'the master key never reaches the upstream',
    );
    assert.equal(seen.headers.authorization, `Bearer ${PROVIDER_KEYS.OPENAI_API_KEY}`);
    assert.equal(seen.headers['accept-encoding'], 'identity');
    assert.equal(seen.headers['x-stainless-os'], 'Linux');
    assert.equal(seen.headers['openai-beta'], 'assistants=v2');
    assert.equal(seen.headers['idempotency-key'], 'idem-1');
    assert.equal(seen.headers['x-team'], 'blue');
    assert.equal(seen.headers.host, `127.0.0.1:${up.port}`);
  });

  it('relays only allow-listed response headers and adds request id and Server-Timing', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) =>
      sendJson(res, 200, chatCompletion('hi'), {
        'set-cookie': 'track=1',
        'x-powered-by': 'fake',
        'x-request-id': 'req_up_1',
        'openai-processing-ms': '12',
        'x-ratelimit-remaining-requests': '99',
        'strict-transport-security': 'max-age=1',
      }),
    );
    const { url } = await makeProxy(t, { upstream: up });
    const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(res.status, 200);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.headers['x-powered-by'], undefined);
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.equal(res.headers['x-request-id'], 'req_up_1');
    assert.equal(res.headers['openai-processing-ms'], '12');
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '99');
    assert.match(String(res.headers['x-defenseclaw-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    assert.match(String(res.headers['server-timing']), /^scan;dur=\d+\.\d+, upstream;dur=\d+\.\d+$/);
  });

  it('sends the Anthropic key as x-api-key and keeps or defaults anthropic-version', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) => sendJson(res, 200, anthropicMessage('hi')));
    const { url } = await makeProxy(t, { upstream: up });
    const body = JSON.stringify({
      model: 'anthropic/claude-test',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
    });
    await rawRequest(`${url}/v1/messages`, {
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json' },
      body,
    });
    await rawRequest(`${url}/v1/messages`, {
      headers: {
        'x-api-key': MASTER_KEY,
        'content-type': 'application/json',
        'anthropic-version': '2023-01-01',
      },
      body,
    });
    assert.equal(up.requests[0]!.url, '/v1/messages');
    assert.equal(up.requests[0]!.headers['x-api-key'], PROVIDER_KEYS.ANTHROPIC_API_KEY);
    assert.equal(up.requests[0]!.headers.authorization, undefined);
    assert.equal(up.requests[0]!.headers['anthropic-version'], '2023-06-01');
    assert.equal(up.requests[1]!.headers['anthropic-version'], '2023-01-01');
  });
});

describe('routing', () => {
  it('sends the resolved model upstream and passes the response model through unchanged', async (t) => {
    const up = await startFakeUpstream(t);
    const { url, records } = await makeProxy(t, { upstream: up });
    const res = await rawRequest(`${url}/v1/chat/completions`, {
      headers: authed(),
      body: chat('defenseclaw/fast'),
    });
    assert.equal(JSON.parse(up.requests[0]!.body).model, 'gpt-fast');
    assert.equal(up.requests[0]!.url, '/v1/chat/completions');
    assert.equal(JSON.parse(res.body).model, 'gpt-test');
    await rawRequest(`${url}/chat/completions`, { headers: authed(), body: chat('chatonly/llama3') });
    assert.equal(JSON.parse(up.requests[1]!.body).model, 'llama3');
    assert.equal(up.requests[1]!.headers.authorization, undefined, 'keyless provider gets no credential');
    assert.equal(records[0]!.provider, 'openai');
    assert.equal(records[0]!.model_requested, 'defenseclaw/fast');
    assert.equal(records[0]!.model_upstream, 'gpt-fast');
  });

  it('relays a non-stream answer byte-identical', async (t) => {
    const up = await startFakeUpstream(t);
    const exact =
      '{ "id":"chatcmpl-x",  "object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}] }';
    up.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(exact);
    });
    const { url } = await makeProxy(t, { upstream: up });
    const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(res.body, exact);
  });
});

describe('upstream faults', () => {
  it('answers 504 when the upstream sends no headers in time', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) => {
      const timer = setTimeout(() => sendJson(res, 200, chatCompletion('late')), 5_000);
      res.on('close', () => clearTimeout(timer));
    });
    const { url, records } = await makeProxy(t, {
      upstream: up,
      config: { limits: { first_byte_timeout_ms: 150 } },
    });
    const res = await rawRequest(`${url}/v1/messages`, {
      headers: authed(),
      body: JSON.stringify({ model: 'anthropic/c', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 504);
    const body = JSON.parse(res.body) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    assert.equal(records[0]!.outcome, 'timeout');
    assert.equal(records[0]!.error_code, 'upstream_timeout');
  });

  it('answers 502 upstream_unavailable when the connection is refused', async (t) => {
    const port = await closedPort();
    const { url, proxy, records } = await makeProxy(t, {
      config: {
        providers: {
          dead: { base_url: `http://127.0.0.1:${port}/v1`, flavour: 'openai', allow_private: true },
        },
        aliases: {},
      },
    });
    const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat('dead/m') });
    assert.equal(res.status, 502);
    const body = JSON.parse(res.body) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'upstream_unavailable');
    assert.match(body.error.message, /connection refused/);
    assert.equal(records[0]!.outcome, 'upstream_error');
    assert.equal(proxy.health().details.upstreams.dead?.state, 'error');
  });

  it('relays 429 and 500 with status, body and retry-after, unscanned', async (t) => {
    const up = await startFakeUpstream(t);
    const { url, records } = await makeProxy(t, { upstream: up });
    up.handle((_req, res) =>
      sendJson(
        res,
        429,
        { error: { message: 'Rate limit reached', type: 'rate_limit_error' } },
        {
          'retry-after': '7',
          'x-ratelimit-reset-requests': '7s',
        },
      ),
    );
    const r429 = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(r429.status, 429);
    assert.equal(r429.headers['retry-after'], '7');
    assert.equal(r429.headers['x-ratelimit-reset-requests'], '7s');
    assert.equal(JSON.parse(r429.body).error.message, 'Rate limit reached');
    up.handle((_req, res) => sendJson(res, 500, { error: { message: 'boom' } }));
    const r500 = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(r500.status, 500);
    assert.equal(JSON.parse(r500.body).error.message, 'boom');
    assert.equal(records[0]!.outcome, 'upstream_status');
    assert.equal(records[0]!.upstream_status, 429);
    assert.equal(records[0]!.response_verdict, undefined);
  });

  it('refuses a malformed 2xx body in action mode and relays it in observe mode', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [ truncated');
    });
    const action = await makeProxy(t, { upstream: up });
    const a = await rawRequest(`${action.url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(a.status, 502);
    assert.equal(JSON.parse(a.body).error.code, 'upstream_invalid_response');
    const observe = await makeProxy(t, { upstream: up, config: { mode: 'observe' } });
    const o = await rawRequest(`${observe.url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(o.status, 200);
    assert.equal(o.body, '{"choices": [ truncated');
    assert.deepEqual(observe.records[0]!.fail_open, [
      { lane: 'proxy_completion', reason: 'unparseable_response' },
    ]);
    assert.equal(observe.proxy.stats().fail_open['proxy_completion:unparseable_response'], 1);
  });

  it('answers 502 upstream_response_too_large instead of truncating', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) => sendJson(res, 200, chatCompletion('x'.repeat(10_000))));
    const { url } = await makeProxy(t, { upstream: up, config: { limits: { response_body_bytes: 2048 } } });
    const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error.code, 'upstream_response_too_large');
    assert.ok(!res.body.includes('xxxx'));
  });

  it('answers 502 when the upstream resets mid-body', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"id":"chatcmpl-x","choices":[');
      setTimeout(() => res.destroy(), 20);
    });
    const { url } = await makeProxy(t, { upstream: up });
    const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(res.status, 502);
    assert.equal(JSON.parse(res.body).error.code, 'upstream_unavailable');
  });
});

describe('SSRF guard at connect time', () => {
  it('refuses a provider whose DNS answer is private or metadata, before any byte is sent', async (t) => {
    const lookup = fakeLookup({
      'llm.test': '10.0.0.7',
      'imds.test': '169.254.169.254',
      'loop.test': '127.0.0.1',
    });
    const { url, records } = await makeProxy(t, {
      lookup,
      config: {
        providers: {
          privdns: { base_url: 'https://llm.test/v1', flavour: 'openai' },
          imds: { base_url: 'https://imds.test/v1', flavour: 'openai', allow_private: true },
          loop: { base_url: 'https://loop.test/v1', flavour: 'openai' },
        },
        aliases: {},
      },
    });
    for (const model of ['privdns/m', 'imds/m', 'loop/m']) {
      const res = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat(model) });
      assert.equal(res.status, 502, model);
      const body = JSON.parse(res.body) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'upstream_address_refused', model);
      assert.match(body.error.message, /refused/);
    }
    assert.deepEqual(
      records.map((r) => r.error_code),
      ['upstream_address_refused', 'upstream_address_refused', 'upstream_address_refused'],
    );
  });

  it('connects to a loopback name with allow_private', async (t) => {
    const up = await startFakeUpstream(t);
    const { url } = await makeProxy(t, {
      lookup: fakeLookup({ localhost: '127.0.0.1' }),
      config: {
        providers: {
          local: { base_url: `http://localhost:${up.port}/v1`, flavour: 'openai-chat', allow_private: true },
        },
        aliases: {},
      },
    });
    const res = await rawRequest(`${url}/v1/chat/completions`, {
      headers: authed(),
      body: chat('local/llama3'),
    });
    assert.equal(res.status, 200);
    assert.equal(up.requests.length, 1);
  });
});

describe('admission', () => {
  it('answers 413 over the body cap on the Node path, declared or chunked, without calling upstream', async (t) => {
    const up = await startFakeUpstream(t);
    const { url, records } = await makeProxy(t, {
      upstream: up,
      config: { limits: { request_body_bytes: 4096 } },
    });
    const big = chat('openai/gpt-test', 'y'.repeat(10_000));
    const declared = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: big });
    assert.equal(declared.status, 413);
    const chunked = await rawRequest(`${url}/v1/chat/completions`, {
      headers: authed({ 'transfer-encoding': 'chunked' }),
      body: big,
    });
    assert.equal(chunked.status, 413);
    assert.equal(JSON.parse(chunked.body).error.code, 'request_too_large');
    assert.equal(up.requests.length, 0);
    assert.deepEqual(
      records.map((r) => r.error_code),
      ['request_too_large', 'request_too_large'],
    );
  });

  it('answers 503 overloaded with Retry-After over max_inflight', async (t) => {
    const up = await startFakeUpstream(t);
    let release: (() => void) | undefined;
    up.handle((_req, res) => {
      release = () => sendJson(res, 200, chatCompletion('late'));
    });
    const { url, proxy } = await makeProxy(t, { upstream: up, config: { max_inflight: 1 } });
    const first = rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    await waitFor(() => release !== undefined);
    const second = await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    assert.equal(second.status, 503);
    assert.equal(second.headers['retry-after'], '1');
    assert.equal(JSON.parse(second.body).error.code, 'overloaded');
    release!();
    assert.equal((await first).status, 200);
    assert.equal(proxy.stats().inflight, 0);
  });
});

describe('health and reload', () => {
  it('derives upstream health passively and reloads providers all-or-nothing', async (t) => {
    const up = await startFakeUpstream(t);
    const { url, proxy } = await makeProxy(t, { upstream: up });
    assert.equal(proxy.health().state, 'running');
    assert.equal(proxy.health().details.upstreams.openai?.state, 'unknown');
    await rawRequest(`${url}/v1/chat/completions`, { headers: authed(), body: chat() });
    const h = proxy.health().details.upstreams.openai;
    assert.equal(h?.state, 'ok');
    assert.ok(h?.last_ok_at);
    const bad = proxy.reloadProviders({
      providers: { x: { base_url: 'http://10.0.0.1', flavour: 'openai' } },
    });
    assert.equal(bad.success, false);
    assert.equal(proxy.providers().length, 3, 'the old registry stays after a failed reload');
    const good = proxy.reloadProviders({
      mode: 'action',
      providers: { only: { base_url: `${up.baseUrl}/v1`, flavour: 'openai-chat', allow_private: true } },
      default_provider: 'only',
    });
    assert.ok(good.success);
    assert.deepEqual(
      proxy.providers().map((p) => p.name),
      ['only'],
    );
    const res = await rawRequest(`${url}/v1/chat/completions`, {
      headers: authed(),
      body: chat('gpt-anything'),
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(up.requests.at(-1)!.body).model, 'gpt-anything');
  });
});
