import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allowedHosts,
  createTokenChecker,
  isLoopbackAddress,
  isRestApiError,
  REST_API_ERROR_CODES,
  RestApiError,
  tokenDigest,
  tokensEqual,
} from '../src/index.ts';
import { call, errorOf, HOST, json, makeApi, PORT, TOKEN } from './_helpers.ts';

describe('Host allow-list', () => {
  it('answers the loopback names on our port', async (t) => {
    const { app } = makeApi(t);
    for (const host of [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`, `LOCALHOST:${PORT}`]) {
      const res = await call(app, 'GET', '/health', { headers: { Host: host } });
      assert.equal(res.status, 200, host);
    }
  });

  it('refuses a foreign Host with 403 forbidden_host, /health and a valid token included', async (t) => {
    const { app } = makeApi(t);
    for (const host of ['evil.test:18970', `127.0.0.1:${PORT + 1}`, 'localhost', '127.0.0.1', undefined]) {
      const res = await call(app, 'GET', '/health', { headers: { Host: host } });
      assert.equal(res.status, 403, String(host));
      assert.equal((await errorOf(res)).code, 'forbidden_host');
    }
    const res = await call(app, 'POST', '/policy/reload', {
      body: {},
      headers: { Host: 'evil.test:18970' },
    });
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'forbidden_host');
  });

  it('accepts configured api_allowed_hosts, read on every request', async (t) => {
    let extra: string[] = [];
    const { app } = makeApi(t, { options: { allowedHosts: () => extra } });
    assert.equal((await call(app, 'GET', '/health', { headers: { Host: 'gw.internal:18970' } })).status, 403);
    extra = ['GW.internal:18970'];
    assert.equal((await call(app, 'GET', '/health', { headers: { Host: 'gw.internal:18970' } })).status, 200);
  });

  it('accepts the configured api_host', async (t) => {
    const { app } = makeApi(t, { options: { apiHost: '10.0.0.5' } });
    assert.equal((await call(app, 'GET', '/health', { headers: { Host: `10.0.0.5:${PORT}` } })).status, 200);
  });
});

describe('Origin and Sec-Fetch-Site', () => {
  it('refuses foreign and null origins with 403 forbidden_origin', async (t) => {
    const { app } = makeApi(t);
    for (const origin of [
      'https://evil.test',
      'null',
      `http://127.0.0.1:${PORT + 1}`,
      `https://127.0.0.1:${PORT}`,
    ]) {
      const res = await call(app, 'GET', '/health', { headers: { Origin: origin } });
      assert.equal(res.status, 403, origin);
      assert.equal((await errorOf(res)).code, 'forbidden_origin');
    }
  });

  it('allows loopback origins on our port', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'GET', '/health', { headers: { Origin: `http://localhost:${PORT}` } });
    assert.equal(res.status, 200);
  });

  it('refuses Sec-Fetch-Site: cross-site with 403 cross_site and allows same-origin and none', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'GET', '/health', { headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'cross_site');
    for (const site of ['same-origin', 'none']) {
      assert.equal((await call(app, 'GET', '/health', { headers: { 'Sec-Fetch-Site': site } })).status, 200);
    }
  });
});

describe('token', () => {
  it('answers 401 with WWW-Authenticate for a write without a token or with a wrong one', async (t) => {
    const { app } = makeApi(t);
    for (const token of [false, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)] as const) {
      const res = await call(app, 'POST', '/policy/reload', { body: {}, token });
      assert.equal(res.status, 401, String(token));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      const error = await errorOf(res);
      assert.equal(error.code, 'unauthorized');
      assert.ok(!JSON.stringify(error).includes(TOKEN), 'the token is never echoed');
    }
  });

  it('accepts the right token as Bearer or X-DefenseClaw-Token', async (t) => {
    const { app } = makeApi(t);
    assert.equal((await call(app, 'POST', '/policy/reload', { body: {} })).status, 200);
    const res = await call(app, 'POST', '/policy/reload', {
      body: {},
      token: false,
      headers: { 'X-DefenseClaw-Token': TOKEN },
    });
    assert.equal(res.status, 200);
  });

  it('refuses a token in the query string with 400 token_in_query', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'GET', `/alerts?token=${TOKEN}`);
    assert.equal(res.status, 400);
    const error = await errorOf(res);
    assert.equal(error.code, 'token_in_query');
    assert.ok(!error.message.includes(TOKEN));
  });

  it('answers writes with 503 no_token_configured when no token is set, and reads keep working', async (t) => {
    const { app } = makeApi(t, { options: { token: () => undefined } });
    const res = await call(app, 'POST', '/policy/reload', { body: {}, token: 'anything' });
    assert.equal(res.status, 503);
    assert.equal((await errorOf(res)).code, 'no_token_configured');
    assert.equal((await call(app, 'GET', '/policy')).status, 200);
  });

  it('picks up a rotated token', async (t) => {
    let token = 'first-token-value';
    const { app } = makeApi(t, { options: { token: () => token } });
    assert.equal(
      (await call(app, 'POST', '/policy/reload', { body: {}, token: 'first-token-value' })).status,
      200,
    );
    token = 'second-token-value';
    assert.equal(
      (await call(app, 'POST', '/policy/reload', { body: {}, token: 'first-token-value' })).status,
      401,
    );
    assert.equal(
      (await call(app, 'POST', '/policy/reload', { body: {}, token: 'second-token-value' })).status,
      200,
    );
  });
});

describe('read access', () => {
  it('lets loopback peers read without a token', async (t) => {
    const { app } = makeApi(t);
    for (const path of ['/status', '/alerts', '/policy', '/audit/events', '/enforce/blocked']) {
      assert.equal((await call(app, 'GET', path)).status, 200, path);
    }
  });

  it('needs the token for reads with require_token_for_reads, and /health stays open', async (t) => {
    const { app } = makeApi(t, { options: { requireTokenForReads: true } });
    const res = await call(app, 'GET', '/alerts');
    assert.equal(res.status, 401);
    assert.equal((await errorOf(res)).code, 'unauthorized');
    assert.equal((await call(app, 'GET', '/alerts', { token: TOKEN })).status, 200);
    assert.equal((await call(app, 'GET', '/health')).status, 200);
  });

  it('needs the token for every read from a non-loopback peer, but never for /health', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'GET', '/status', { peer: '192.0.2.10' });
    assert.equal(res.status, 401);
    assert.equal((await call(app, 'GET', '/status', { peer: '192.0.2.10', token: TOKEN })).status, 200);
    assert.equal((await call(app, 'GET', '/health', { peer: '192.0.2.10' })).status, 200);
  });

  it('treats a request without a known peer as remote', async (t) => {
    const { app } = makeApi(t);
    const res = await app.request('/status', { headers: { Host: HOST } });
    assert.equal(res.status, 401);
  });
});

describe('CSRF and content type', () => {
  it('refuses a write without X-DefenseClaw-Client with 403 csrf_header_missing', async (t) => {
    const { app } = makeApi(t);
    for (const value of [undefined, '', '   ']) {
      const res = await call(app, 'POST', '/policy/reload', {
        body: {},
        headers: { 'X-DefenseClaw-Client': value },
      });
      assert.equal(res.status, 403);
      assert.equal((await errorOf(res)).code, 'csrf_header_missing');
    }
  });

  it('refuses text/plain and form bodies with 415, and a POST without a content type', async (t) => {
    const { app } = makeApi(t);
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      undefined,
    ]) {
      const res = await call(app, 'POST', '/policy/reload', {
        body: '{}',
        headers: { 'Content-Type': type },
      });
      assert.equal(res.status, 415, String(type));
      assert.equal((await errorOf(res)).code, 'unsupported_media_type');
    }
    const ok = await call(app, 'POST', '/policy/reload', {
      body: '{}',
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assert.equal(ok.status, 200);
  });

  it('checks the token before CSRF: failing both answers 401', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'POST', '/policy/reload', {
      body: '{}',
      token: false,
      headers: { 'X-DefenseClaw-Client': undefined, 'Content-Type': 'text/plain' },
    });
    assert.equal(res.status, 401);
  });

  it('answers OPTIONS with 405 and never sends Access-Control-* headers', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'OPTIONS', '/alerts', {
      headers: { 'Access-Control-Request-Method': 'POST', Origin: `http://127.0.0.1:${PORT}` },
    });
    assert.equal(res.status, 405);
    assert.equal((await errorOf(res)).code, 'method_not_allowed');
    assert.match(res.headers.get('allow') ?? '', /GET/);
    for (const name of res.headers.keys()) assert.ok(!name.startsWith('access-control-'), name);
    // A preflight for a write route carries no credentials and still gets 405, not 401.
    const write = await call(app, 'OPTIONS', '/api/v1/inspect/tool', {
      token: false,
      headers: { 'X-DefenseClaw-Client': undefined },
    });
    assert.equal(write.status, 405);
    assert.equal(write.headers.get('allow'), 'POST');
  });
});

describe('body limit', () => {
  it('refuses a body over 1 MiB with 413 payload_too_large', async (t) => {
    const { app } = makeApi(t);
    const big = JSON.stringify({ tool: 'exec', args: { command: 'x'.repeat(1024 * 1024) } });
    const res = await call(app, 'POST', '/api/v1/inspect/tool', { body: big });
    assert.equal(res.status, 413);
    assert.equal((await errorOf(res)).code, 'payload_too_large');
  });

  it('refuses an oversized chunked body (no Content-Length) too', async (t) => {
    const { app } = makeApi(t, { options: { maxBodyBytes: 1024 } });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(512)));
        controller.close();
      },
    });
    const res = await app.request(
      '/policy/evaluate',
      {
        method: 'POST',
        body: chunks,
        headers: {
          Host: HOST,
          Authorization: `Bearer ${TOKEN}`,
          'X-DefenseClaw-Client': 'test',
          'Content-Type': 'application/json',
          'Transfer-Encoding': 'chunked',
        },
        duplex: 'half',
      } as RequestInit,
      { incoming: { socket: { remoteAddress: '127.0.0.1' } } },
    );
    assert.equal(res.status, 413);
  });
});

describe('responses', () => {
  it('sets Cache-Control: no-store, nosniff and a request id on every answer, errors included', async (t) => {
    const { app } = makeApi(t);
    for (const res of [
      await call(app, 'GET', '/health'),
      await call(app, 'GET', '/nope'),
      await call(app, 'GET', '/health', { headers: { Host: 'evil.test' } }),
    ]) {
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(
        res.headers.get('x-request-id') ?? '',
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async (t) => {
    const { app } = makeApi(t);
    const mine = await call(app, 'GET', '/nope', { headers: { 'X-Request-Id': 'cli:abc-123' } });
    assert.equal(mine.headers.get('x-request-id'), 'cli:abc-123');
    assert.equal((await errorOf(mine)).request_id, 'cli:abc-123');
    const bad = await call(app, 'GET', '/health', { headers: { 'X-Request-Id': 'a b<script>' } });
    assert.notEqual(bad.headers.get('x-request-id'), 'a b<script>');
  });

  it('answers 404 not_found and 405 method_not_allowed with Allow in the error shape', async (t) => {
    const { app } = makeApi(t);
    const missing = await call(app, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.equal((await errorOf(missing)).code, 'not_found');
    const wrong = await call(app, 'DELETE', '/health');
    assert.equal(wrong.status, 405);
    assert.equal((await errorOf(wrong)).code, 'method_not_allowed');
    assert.equal(wrong.headers.get('allow'), 'GET, HEAD');
  });

  it('answers HEAD wherever GET is allowed', async (t) => {
    const { app } = makeApi(t);
    const res = await call(app, 'HEAD', '/health');
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });

  it('answers an unexpected failure with 500 internal and no detail', async (t) => {
    const { app } = makeApi(t, {
      deps: {
        status: () => {
          throw new Error('boom at /secret/path');
        },
      },
    });
    const res = await call(app, 'GET', '/status');
    assert.equal(res.status, 500);
    const error = await errorOf(res);
    assert.equal(error.code, 'internal');
    assert.ok(!error.message.includes('secret'));
  });

  it('counts requests and auth failures', async (t) => {
    const { app } = makeApi(t);
    await call(app, 'GET', '/health');
    await call(app, 'POST', '/policy/reload', { body: {}, token: 'wrong' });
    assert.equal(app.stats.requests, 2);
    assert.equal(app.stats.authFailures, 1);
    assert.equal(app.stats.inFlight, 0);
  });
});

describe('admin routes', () => {
  it('refuse non-loopback peers with 403 loopback_only, even with the token', async (t) => {
    const { app } = makeApi(t, { deps: { shutdown: () => {} } });
    const res = await call(app, 'POST', '/api/v1/admin/shutdown', {
      body: { pid: process.pid, data_dir: '/tmp/dc-rest-api-test-home' },
      peer: '192.0.2.7',
    });
    assert.equal(res.status, 403);
    assert.equal((await errorOf(res)).code, 'loopback_only');
  });
});

describe('isLoopbackAddress', () => {
  it('knows 127/8, ::1 and IPv4-mapped loopback, and nothing else', () => {
    for (const a of [
      '127.0.0.1',
      '127.255.0.9',
      '::1',
      '[::1]',
      '::ffff:127.0.0.1',
      '0:0:0:0:0:0:0:1',
      '::ffff:7f00:1',
    ]) {
      assert.equal(isLoopbackAddress(a), true, a);
    }
    for (const a of [
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '128.0.0.1',
      '::2',
      'localhost',
      '',
      undefined,
      '1127.0.0.1',
    ]) {
      assert.equal(isLoopbackAddress(a), false, String(a));
    }
  });
});

describe('allowedHosts', () => {
  it('lists the loopback names, a bracketed IPv6 api host and lower-cased extras', () => {
    const hosts = allowedHosts(1234, 'fd00::1', ['Example:1']);
    assert.deepEqual([...hosts].sort(), [
      '127.0.0.1:1234',
      '[::1]:1234',
      '[fd00::1]:1234',
      'example:1',
      'localhost:1234',
    ]);
  });
});

describe('tokensEqual', () => {
  it('compares through SHA-256 digests and refuses an empty expected token', () => {
    assert.equal(tokensEqual('abc', 'abc'), true);
    assert.equal(tokensEqual('abc', 'abd'), false);
    assert.equal(tokensEqual('abc', 'abcd'), false);
    assert.equal(tokensEqual('', ''), false);
    assert.equal(tokensEqual('abc', tokenDigest('abc')), true);
    assert.equal(tokenDigest('abc').length, 32);
  });

  it('backs a checker that follows a rotating token', () => {
    let token: string | undefined;
    const checker = createTokenChecker(() => token);
    assert.equal(checker.configured(), false);
    assert.equal(checker.matches(''), false);
    token = 'one';
    assert.equal(checker.matches('one'), true);
    token = 'two';
    assert.equal(checker.matches('one'), false);
    assert.equal(checker.matches('two'), true);
  });
});

describe('RestApiError', () => {
  it('takes its status from the closed code table', () => {
    const error = new RestApiError('gateway_timeout', 'slow');
    assert.equal(error.status, 504);
    assert.equal(isRestApiError(error, 'gateway_timeout'), true);
    assert.equal(isRestApiError(error, 'internal'), false);
    assert.equal(isRestApiError(new Error('x')), false);
    assert.equal(REST_API_ERROR_CODES.payload_too_large, 413);
  });
});

describe('GET /health', () => {
  it('serves the health map and 503 under ?strict=1 when a subsystem failed', async (t) => {
    let failing: string[] = [];
    const { app } = makeApi(t, {
      deps: {
        health: {
          snapshot: () => ({ gateway: { state: failing.length > 0 ? 'error' : 'running', since: 'x' } }),
          failing: () => failing,
        },
      },
    });
    assert.deepEqual(await json(await call(app, 'GET', '/health?strict=1')), {
      gateway: { state: 'running', since: 'x' },
    });
    failing = ['gateway'];
    assert.equal((await call(app, 'GET', '/health')).status, 200);
    const strict = await call(app, 'GET', '/health?strict=1');
    assert.equal(strict.status, 503);
    assert.equal((await json(strict)).gateway.state, 'error');
  });
});

describe('GET /status', () => {
  it('serves what the status provider builds', async (t) => {
    const { app } = makeApi(t);
    const body = await json(await call(app, 'GET', '/status'));
    assert.equal(body.runtime.pid, process.pid);
  });
});
