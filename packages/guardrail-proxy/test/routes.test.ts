import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { describe, it } from 'node:test';
import { authed, MASTER_KEY, makeProxy, rawRequest, sendJson, startFakeUpstream } from './_helpers.ts';

const BASE = 'http://127.0.0.1:4000';

/** A proxy that is not listening (driven through `app.request()`), expecting Host 127.0.0.1:4000. */
function offline(t: TestContext, extra: Parameters<typeof makeProxy>[1] = {}) {
  return makeProxy(t, { listen: false, ...extra, config: { port: 4000, ...extra.config } });
}

const chatBody = (model = 'openai/gpt-test') =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

describe('routes', () => {
  it('serves /health without auth as the guardrail health entry', async (t) => {
    const { proxy } = await offline(t);
    const res = await proxy.app.request(`${BASE}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      state: string;
      details: { mode: string; providers: number; upstreams: object };
    };
    assert.equal(body.state, 'starting');
    assert.equal(body.details.mode, 'action');
    assert.equal(body.details.providers, 3);
    assert.deepEqual(Object.keys(body.details.upstreams), ['openai', 'anthropic', 'chatonly']);
  });

  it('answers unknown paths with 404 and wrong methods with 405, in the OpenAI envelope', async (t) => {
    const { proxy } = await offline(t);
    const nf = await proxy.app.request(`${BASE}/v1/embeddings`, {
      method: 'POST',
      headers: authed(),
      body: '{}',
    });
    assert.equal(nf.status, 404);
    const nfBody = (await nf.json()) as { error: { code: string; type: string } };
    assert.equal(nfBody.error.code, 'not_found');
    assert.ok(nf.headers.get('x-defenseclaw-request-id'));
    const na = await proxy.app.request(`${BASE}/v1/chat/completions`, { headers: authed() });
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'POST');
    assert.equal(((await na.json()) as { error: { code: string } }).error.code, 'method_not_allowed');
    const np = await proxy.app.request(`${BASE}/health`, { method: 'POST' });
    assert.equal(np.status, 405);
  });

  it('refuses a foreign Host and a non-localhost Origin with 403', async (t) => {
    const { proxy } = await offline(t);
    const host = await proxy.app.request('http://attacker.example:4000/health');
    assert.equal(host.status, 403);
    assert.equal(((await host.json()) as { error: { code: string } }).error.code, 'forbidden_host');
    const wrongPort = await proxy.app.request('http://127.0.0.1:4001/health');
    assert.equal(wrongPort.status, 403);
    const origin = await proxy.app.request(`${BASE}/v1/messages`, {
      method: 'POST',
      headers: authed({ origin: 'https://evil.example' }),
      body: '{}',
    });
    assert.equal(origin.status, 403);
    const body = (await origin.json()) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'permission_error');
    const local = await proxy.app.request('http://localhost:4000/health', {
      headers: { origin: 'http://localhost:3000' },
    });
    assert.equal(local.status, 200);
  });

  it('lists models from aliases and configured models behind the master key', async (t) => {
    const { proxy } = await offline(t);
    const denied = await proxy.app.request(`${BASE}/v1/models`);
    assert.equal(denied.status, 401);
    assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
    const ok = await proxy.app.request(`${BASE}/models`, { headers: { 'x-api-key': MASTER_KEY } });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as {
      object: string;
      data: { id: string; object: string; owned_by: string }[];
    };
    assert.equal(body.object, 'list');
    assert.deepEqual(
      body.data.map((m) => m.id),
      ['defenseclaw/fast', 'openai/gpt-test'],
    );
  });

  it('rejects a wrong or missing key with 401 in the caller format and audits it', async (t) => {
    const { proxy, records } = await offline(t);
    const openai = await proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-dc-wrong', 'content-type': 'application/json' },
      body: chatBody(),
    });
    assert.equal(openai.status, 401);
    const ob = (await openai.json()) as { error: { type: string; code: string } };
    assert.equal(ob.error.type, 'authentication_error');
    assert.equal(ob.error.code, 'invalid_api_key');
    const anthropic = await proxy.app.request(`${BASE}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': `${MASTER_KEY}x`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(anthropic.status, 401);
    const ab = (await anthropic.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(ab.type, 'error');
    assert.equal(ab.error.type, 'authentication_error');
    const none = await proxy.app.request(`${BASE}/v1/responses`, { method: 'POST', body: '{}' });
    assert.equal(none.status, 401);
    assert.equal(records.length, 3);
    for (const r of records) {
      assert.equal(r.outcome, 'rejected');
      assert.equal(r.error_code, 'invalid_api_key');
      assert.equal(r.status, 401);
    }
    assert.ok(!JSON.stringify(records).includes(MASTER_KEY));
  });

  it('accepts the master key as x-api-key', async (t) => {
    const { proxy } = await offline(t);
    const res = await proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-api-key': MASTER_KEY, 'content-type': 'application/json' },
      body: chatBody('nobody/model'),
    });
    // Past auth: the model does not resolve.
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'model_not_found');
  });

  it('refuses everything with 401 and reports health error when the master key is missing or malformed', async (t) => {
    const missing = await offline(t, { env: { DEFENSECLAW_MASTER_KEY: '' } });
    const res = await missing.proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: authed(),
      body: chatBody(),
    });
    assert.equal(res.status, 401);
    assert.match(missing.proxy.health().last_error ?? '', /DEFENSECLAW_MASTER_KEY is not set/);
    const malformed = await offline(t, { env: { DEFENSECLAW_MASTER_KEY: 'letmein' } });
    assert.match(malformed.proxy.health().last_error ?? '', /not a DefenseClaw master key/);
    assert.ok(!JSON.stringify(malformed.proxy.health()).includes('letmein'));
  });

  it('answers bad JSON, a missing model and non-array messages or input with 400', async (t) => {
    const { proxy } = await offline(t);
    const post = (path: string, body: string) =>
      proxy.app.request(`${BASE}${path}`, { method: 'POST', headers: authed(), body });
    const bad = await post('/v1/chat/completions', '{"model":');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_json');
    const noModel = await post('/v1/chat/completions', JSON.stringify({ messages: [] }));
    assert.equal(noModel.status, 400);
    assert.match(((await noModel.json()) as { error: { message: string } }).error.message, /model/);
    const notArray = await post('/v1/messages', JSON.stringify({ model: 'anthropic/c', messages: 'hi' }));
    assert.equal(notArray.status, 400);
    const nb = (await notArray.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(nb.error.type, 'invalid_request_error');
    assert.match(nb.error.message, /messages must be an array/);
    const badInput = await post('/v1/responses', JSON.stringify({ model: 'openai/x', input: 42 }));
    assert.equal(badInput.status, 400);
  });

  it('answers 413 over the request body cap, in the caller format', async (t) => {
    const { proxy, records } = await offline(t, { config: { limits: { request_body_bytes: 1024 } } });
    const big = JSON.stringify({
      model: 'anthropic/c',
      messages: [{ role: 'user', content: 'x'.repeat(2000) }],
    });
    const res = await proxy.app.request(`${BASE}/v1/messages`, {
      method: 'POST',
      headers: authed(),
      body: big,
    });
    assert.equal(res.status, 413);
    const body = (await res.json()) as { type: string; error: { type: string } };
    assert.equal(body.error.type, 'request_too_large');
    assert.equal(records.at(-1)?.error_code, 'request_too_large');
  });

  it('resolves models or answers model_not_found, and checks the provider flavour', async (t) => {
    const { proxy } = await offline(t);
    const post = (path: string, body: object) =>
      proxy.app.request(`${BASE}${path}`, { method: 'POST', headers: authed(), body: JSON.stringify(body) });
    const unknown = await post('/v1/chat/completions', { model: 'gpt-4o', messages: [] });
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'model_not_found');
    const wrong = await post('/v1/messages', { model: 'openai/gpt-test', messages: [] });
    assert.equal(wrong.status, 400);
    const wb = (await wrong.json()) as { defenseclaw: { code: string } };
    assert.equal(wb.defenseclaw.code, 'unsupported_endpoint_for_provider');
    const chatOnly = await post('/v1/responses', { model: 'chatonly/m', input: 'hi' });
    assert.equal(chatOnly.status, 400);
    assert.equal(
      ((await chatOnly.json()) as { error: { code: string } }).error.code,
      'unsupported_endpoint_for_provider',
    );
  });

  it('answers 503 provider_not_configured naming the key variable, never a value', async (t) => {
    const { proxy } = await offline(t, { env: { OPENAI_API_KEY: '' } });
    const res = await proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: authed(),
      body: chatBody(),
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'provider_not_configured');
    assert.match(body.error.message, /OPENAI_API_KEY/);
  });

  it('proxies through app.request() (web objects) for JSON and SSE answers', async (t) => {
    const up = await startFakeUpstream(t);
    const sse =
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hey"},"finish_reason":null}]}\n\n' +
      'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n' +
      'data: [DONE]\n\n';
    up.handle((req, res) => {
      if (JSON.parse(req.body).stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(sse);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          '{"id":"chatcmpl-w","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}',
        );
      }
    });
    const { proxy, records } = await offline(t, { upstream: up });
    const json = await proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: authed(),
      body: chatBody(),
    });
    assert.equal(json.status, 200);
    assert.equal(((await json.json()) as { id: string }).id, 'chatcmpl-w');
    const stream = await proxy.app.request(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: authed(),
      body: JSON.stringify({
        model: 'openai/gpt-test',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      }),
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(await stream.text(), sse);
    assert.deepEqual(
      records.map((r) => r.outcome),
      ['ok', 'ok'],
    );
  });
});

describe('the Node listener (LLM fast path and hono for the rest)', () => {
  it('refuses a foreign Host and a non-localhost Origin on the LLM paths with 403 in the caller format', async (t) => {
    const up = await startFakeUpstream(t);
    const { url, port, records } = await makeProxy(t, { upstream: up });
    const host = await rawRequest(`${url}/v1/chat/completions`, {
      headers: authed({ host: `evil.example:${port}` }),
      body: chatBody(),
    });
    assert.equal(host.status, 403);
    assert.equal(JSON.parse(host.body).error.code, 'forbidden_host');
    assert.ok(host.headers['x-defenseclaw-request-id']);
    const origin = await rawRequest(`${url}/v1/messages`, {
      headers: authed({ origin: 'https://evil.example' }),
      body: chatBody('anthropic/c'),
    });
    assert.equal(origin.status, 403);
    const body = JSON.parse(origin.body) as { type: string; error: { type: string } };
    assert.equal(body.type, 'error');
    // Refused before the pipeline: no upstream call, no audit record.
    assert.equal(up.requests.length, 0);
    assert.equal(records.length, 0);
  });

  it('serves an LLM path with a query string through the pipeline, and other methods and paths through hono', async (t) => {
    const up = await startFakeUpstream(t);
    up.handle((_req, res) =>
      sendJson(res, 200, { id: 'chatcmpl-q', object: 'chat.completion', choices: [] }),
    );
    const { url, records } = await makeProxy(t, { upstream: up });
    const query = await rawRequest(`${url}/v1/chat/completions?api-version=1`, {
      headers: authed(),
      body: chatBody(),
    });
    assert.equal(query.status, 200);
    assert.equal(records.length, 1);
    const wrongMethod = await rawRequest(`${url}/v1/chat/completions`, { method: 'GET', headers: authed() });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    const unknown = await rawRequest(`${url}/v1/chat/completions/extra`, {
      headers: authed(),
      body: chatBody(),
    });
    assert.equal(unknown.status, 404);
    const health = await rawRequest(`${url}/health`, { method: 'GET' });
    assert.equal(health.status, 200);
  });
});
