import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readOpenClawToken, resolveOpenClawConfigPath } from '../src/index.ts';
import {
  collect,
  createRecordingLogger,
  detailsOf,
  nextEvent,
  nextReconnects,
  sentToken,
  testIdentity,
  withFakeClient,
} from './_support.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dc-auth-repair-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A `${VAR}` token as OpenClaw configs may hold it. */
const ENV_TEMPLATE = '$' + '{OPENCLAW_GATEWAY_TOKEN}';

let dirCounter = 0;
/** Writes an OpenClaw home with `openclaw.json` holding `text`, and returns the config path. */
async function openclawHome(text: string | undefined): Promise<{ home: string; path: string }> {
  const home = join(root, `home-${dirCounter++}`);
  await mkdir(join(home, '.openclaw'), { recursive: true });
  const path = join(home, '.openclaw', 'openclaw.json');
  if (text !== undefined) await writeFile(path, text);
  return { home, path };
}

function json5Config(token: string): string {
  return `// OpenClaw config, as a human edits it
{
  gateway: {
    mode: 'local', /* block comment */
    bind: "loopback",
    auth: { mode: 'token', token: '${token}', },
  },
  agents: { defaults: { skipBootstrap: true, }, },
}
`;
}

/** Every file below `dir` with its bytes and mode, for byte-for-byte comparisons. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const full = join(entry.parentPath, entry.name);
    const info = await stat(full);
    out[full] = entry.isFile()
      ? `${info.mode}:${(await readFile(full)).toString('base64')}`
      : `${info.mode}:dir`;
  }
  return out;
}

describe('auth repair', () => {
  it('takes the token from a JSON5 openclaw.json after AUTH_TOKEN_MISMATCH and connects', async () => {
    const { path } = await openclawHome(json5Config('fresh-token'));
    const clientOptions = {
      token: 'stale-token',
      openclawConfigPath: path,
      reconnect: { initialDelayMs: 5 },
    };
    await withFakeClient({ token: 'fresh-token' }, clientOptions, async (fake, client) => {
      const order: string[] = [];
      client.on('token-refreshed', ({ source }) => order.push(`token-refreshed ${source}`));
      client.on('connected', () => order.push('connected'));
      client.start();
      await client.connect();
      assert.deepEqual(order, [`token-refreshed ${path}`, 'connected']);
      assert.equal(sentToken(fake.connections[0]), 'stale-token');
      assert.equal(sentToken(fake.connections.at(-1)), 'fresh-token');
      assert.equal(client.stats.tokenRefreshes, 1);
    });
  });

  it('keeps the normal backoff (no hot loop) and surfaces the error once when the file holds the same stale token', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const { path } = await openclawHome(json5Config('stale-token'));
    const { logger, lines } = createRecordingLogger();
    const clientOptions = { token: 'stale-token', openclawConfigPath: path, random: () => 0.5, logger };
    await withFakeClient({ token: 'fresh-token' }, clientOptions, async (fake, client) => {
      const refreshed = collect(client, 'token-refreshed');
      client.start();
      const failures = await nextReconnects(client, (ms) => t.mock.timers.tick(ms), 4);
      assert.deepEqual(
        failures.map((f) => f.delayMs),
        [800, 1360, 2312, 3930],
      );
      assert.ok(failures.every((f) => f.lastError.detailCode === 'AUTH_TOKEN_MISMATCH'));
      assert.equal(client.stats.attempts, 4, 'one attempt per backoff step');
      assert.equal(fake.connections.length, 4);
      assert.equal(refreshed.length, 0);
      const warnings = lines.filter((l) => l.level === 'warn');
      assert.equal(warnings.filter((l) => l.msg.startsWith('gateway connection failed')).length, 1);
      assert.equal(warnings.filter((l) => l.msg.startsWith('auth repair')).length, 1);
    });
  });

  for (const [label, text, expected] of [
    ['a missing file', undefined, /does not exist/],
    ['an unparseable file', '{ gateway: { auth: { token: "x" ', /cannot parse/],
    ['an env-template token', json5Config(ENV_TEMPLATE), /OPENCLAW_GATEWAY_TOKEN/],
    [
      'a SecretRef object token',
      '{ gateway: { auth: { token: { source: "env", id: "TOKEN" } } } }',
      /OPENCLAW_GATEWAY_TOKEN/,
    ],
  ] as const) {
    it(`changes nothing and warns once for ${label}`, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
      const { path } = await openclawHome(text);
      const { logger, lines } = createRecordingLogger();
      const clientOptions = { token: 'stale-token', openclawConfigPath: path, random: () => 0.5, logger };
      await withFakeClient({ token: 'fresh-token' }, clientOptions, async (fake, client) => {
        const refreshed = collect(client, 'token-refreshed');
        client.start();
        await nextReconnects(client, (ms) => t.mock.timers.tick(ms), 3);
        assert.equal(refreshed.length, 0);
        const repairs = lines.filter((l) => l.level === 'warn' && l.msg.startsWith('auth repair'));
        assert.equal(repairs.length, 1);
        assert.match(repairs[0]?.msg ?? '', expected);
        for (const conn of fake.connections) {
          assert.equal(sentToken(conn), 'stale-token');
        }
      });
    });
  }

  it('re-reads the file after a 4001 token rotation and reconnects with the new token', async () => {
    const { path } = await openclawHome(json5Config('first-token'));
    const clientOptions = {
      token: 'first-token',
      openclawConfigPath: path,
      reconnect: { initialDelayMs: 5 },
    };
    await withFakeClient({ token: 'first-token' }, clientOptions, async (fake, client) => {
      client.start();
      await client.connect();
      await writeFile(path, json5Config('rotated-token'));
      const disconnected = nextEvent(client, 'disconnected');
      const refreshed = nextEvent(client, 'token-refreshed');
      const reconnected = nextEvent(client, 'connected');
      fake.rotateToken('rotated-token');
      const lost = await disconnected;
      assert.equal(lost.code, 4001);
      assert.equal(lost.reason, 'gateway auth changed');
      assert.deepEqual(await refreshed, { source: path });
      await reconnected;
      assert.equal(sentToken(fake.connections.at(-1)), 'rotated-token');
    });
  });

  it('waits at least retryAfterMs after AUTH_RATE_LIMITED', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: Date.now() });
    const { path } = await openclawHome(json5Config('stale-token'));
    const fakeOptions = { token: 'fresh-token', rateLimit: { maxFailures: 1, retryAfterMs: 9000 } };
    const clientOptions = { token: 'stale-token', openclawConfigPath: path, random: () => 0.5 };
    await withFakeClient(fakeOptions, clientOptions, async (_fake, client) => {
      client.start();
      const [mismatch, limited] = await nextReconnects(client, (ms) => t.mock.timers.tick(ms), 2);
      assert.equal(mismatch?.lastError.detailCode, 'AUTH_TOKEN_MISMATCH');
      assert.equal(limited?.lastError.rejection, 'rate-limited');
      const retryAfterMs = limited?.lastError.retryAfterMs ?? 0;
      assert.ok(retryAfterMs > 1360, `retryAfterMs ${retryAfterMs} exceeds the nominal step`);
      assert.equal(limited?.delayMs, retryAfterMs);
    });
  });

  for (const [reason, entry] of [
    ['role-upgrade', { roles: ['node'], scopes: ['operator.read'] }],
    ['scope-upgrade', { roles: ['operator'], scopes: ['operator.read'] }],
  ] as const) {
    it(`never repairs a pairing ${reason}: rejection pairing-upgrade, requestId exposed, token file untouched`, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
      const { home, path } = await openclawHome(json5Config('other-token'));
      const before = await snapshot(home);
      const { logger, lines } = createRecordingLogger();
      const fakeOptions = { pairing: { [testIdentity.deviceId]: entry } };
      await withFakeClient(fakeOptions, { openclawConfigPath: path, logger }, async (_fake, client) => {
        const refreshed = collect(client, 'token-refreshed');
        client.start();
        const [first, second] = await nextReconnects(client, (ms) => t.mock.timers.tick(ms), 2);
        for (const failure of [first, second]) {
          assert.equal(failure?.lastError.code, 'CONNECT_REJECTED');
          assert.equal(failure?.lastError.rejection, 'pairing-upgrade');
          assert.equal(detailsOf(failure?.lastError).reason, reason);
          assert.ok(failure?.lastError.requestId);
          assert.ok(failure?.lastError.message.includes(failure.lastError.requestId));
        }
        assert.equal(refreshed.length, 0);
        assert.equal(
          lines.filter((l) => l.msg.startsWith('auth repair')).length,
          0,
          'the token file was not read',
        );
        const hint = lines.filter(
          (l) => l.level === 'warn' && l.msg.includes('approve the pending device request'),
        );
        assert.equal(hint.length, 1);
        assert.deepEqual(await snapshot(home), before);
      });
    });
  }

  it('re-reads only the token on not-paired, reports the requestId and writes nothing', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    const { home, path } = await openclawHome(json5Config('some-token'));
    const before = await snapshot(home);
    await withFakeClient({ pairing: {} }, { openclawConfigPath: path }, async (_fake, client) => {
      const refreshed = nextEvent(client, 'token-refreshed');
      client.start();
      const [failure] = await nextReconnects(client, (ms) => t.mock.timers.tick(ms), 1);
      assert.equal(failure?.lastError.rejection, 'pairing');
      assert.equal(detailsOf(failure?.lastError).reason, 'not-paired');
      assert.ok(failure?.lastError.requestId);
      assert.deepEqual(await refreshed, { source: path });
      assert.deepEqual(await snapshot(home), before);
    });
  });
});

describe('readOpenClawToken', () => {
  it('reads gateway.auth.token from JSON5 (comments, unquoted keys, trailing commas)', async () => {
    const { path } = await openclawHome(json5Config('abc-123'));
    assert.deepEqual(await readOpenClawToken({ configPath: path }), {
      success: true,
      token: 'abc-123',
      path,
    });
  });

  it('reports a missing token, an empty token and a parse error without quoting the file', async () => {
    const empty = await openclawHome('{ gateway: { auth: { token: "" } } }');
    const none = await openclawHome('{ gateway: {} }');
    const broken = await openclawHome('{ gateway: { auth: { token: "sEcReT-in-broken-file" ] } }');
    assert.equal((await readOpenClawToken({ configPath: empty.path })).success, false);
    const noToken = await readOpenClawToken({ configPath: none.path });
    assert.ok(!noToken.success && noToken.reason === 'no-token');
    const parse = await readOpenClawToken({ configPath: broken.path });
    assert.ok(!parse.success && parse.reason === 'parse-error');
    assert.ok(!parse.message.includes('sEcReT'));
  });
});

describe('resolveOpenClawConfigPath', () => {
  it('prefers the option, then OPENCLAW_CONFIG_PATH, then OPENCLAW_STATE_DIR, then ~/.openclaw', () => {
    const env = { OPENCLAW_CONFIG_PATH: '/etc/oc.json', OPENCLAW_STATE_DIR: '/var/lib/oc' };
    assert.equal(resolveOpenClawConfigPath({ configPath: '/opt/x.json', env, homeDir: '/h' }), '/opt/x.json');
    assert.equal(resolveOpenClawConfigPath({ env, homeDir: '/h' }), '/etc/oc.json');
    assert.equal(
      resolveOpenClawConfigPath({ env: { OPENCLAW_STATE_DIR: '/var/lib/oc' }, homeDir: '/h' }),
      join('/var/lib/oc', 'openclaw.json'),
    );
    assert.equal(
      resolveOpenClawConfigPath({ env: {}, homeDir: '/h' }),
      join('/h', '.openclaw', 'openclaw.json'),
    );
    assert.equal(
      resolveOpenClawConfigPath({ configPath: '~/oc.json', env: {}, homeDir: '/h' }),
      join('/h', 'oc.json'),
    );
  });
});
