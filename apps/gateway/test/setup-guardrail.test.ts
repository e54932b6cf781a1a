import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createGatewayClient, deviceIdentityFromSeed, type GatewayClient } from '@defenseclaw/gateway-client';
import { createFakeOpenClawGateway, type FakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import { parse } from 'yaml';
import { defaultConfig, ensureDataDir } from '../src/config/index.ts';
import { disableGuardrail, enableGuardrail, readState, SETUP_STATE_FILE } from '../src/setup/guardrail.ts';

const TOKEN = 'setup-guardrail-token-0123456789';
const UPSTREAM_KEY = 'sk-real-upstream-key-abcdef0123456789';
// OpenClaw's own `${VAR}` env-template syntax, written literally.
const KEY_TEMPLATE = ['$', '{MY_LLM_KEY}'].join('');
const openclaw = (baseUrl: string, apiKey: unknown) => ({
  gateway: { auth: { mode: 'token', token: TOKEN } },
  agents: { defaults: { model: { primary: 'fakellm/fake-model' } } },
  models: {
    providers: {
      fakellm: { baseUrl, apiKey, api: 'openai-completions', models: [{ id: 'fake-model', name: 'Fake' }] },
    },
  },
});

let root: string;
let n = 0;
const cleanups: (() => Promise<void>)[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'dc-setup-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
after(() => rmSync(root, { recursive: true, force: true }));

async function fixture(apiKey: unknown = UPSTREAM_KEY) {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  const initial = openclaw('http://127.0.0.1:9/v1', apiKey);
  const openclawConfigPath = join(dir, 'openclaw.json');
  writeFileSync(openclawConfigPath, JSON.stringify(initial));
  const fake: FakeOpenClawGateway = await createFakeOpenClawGateway({ token: TOKEN, initialConfig: initial });
  const client: GatewayClient = createGatewayClient({
    url: fake.url,
    token: TOKEN,
    identity: deviceIdentityFromSeed(new Uint8Array(32).fill(3)),
    openclawConfigPath: join(dir, 'none.json'),
    env: {},
  });
  cleanups.push(async () => {
    await client.close();
    await fake.close();
  });
  await client.connect();
  const env: NodeJS.ProcessEnv = {};
  const options = {
    client,
    config: defaultConfig(),
    dataDir: dir,
    configPath: join(dir, 'config.yaml'),
    envFile: join(dir, '.env'),
    env,
    openclawConfigPath,
  };
  return { dir, fake, options, env };
}

type Provider = { baseUrl: string; apiKey: unknown };
const providerOf = (fake: FakeOpenClawGateway) =>
  (fake.config as { models: { providers: { fakellm: Provider } } }).models.providers.fakellm;

describe('enableGuardrail / disableGuardrail', () => {
  it('routes the primary provider through the proxy, moves its key to .env, and undoes it exactly', async () => {
    const { dir, fake, options, env } = await fixture();
    writeFileSync(options.configPath, '# operator comment\nlog:\n  level: info\n', { mode: 0o600 });
    const enabled = await enableGuardrail(options);
    assert.ok(enabled.success);
    assert.equal(enabled.changed, true);
    assert.equal(enabled.provider, 'fakellm');
    const routed = providerOf(fake);
    assert.equal(routed.baseUrl, 'http://127.0.0.1:4000/v1');
    assert.match(String(routed.apiKey), /^sk-dc-[0-9a-f]{64}$/);
    assert.equal(routed.apiKey, env.DEFENSECLAW_MASTER_KEY);

    const yamlText = readFileSync(options.configPath, 'utf8');
    assert.match(yamlText, /# operator comment/, 'comments survive');
    const yaml = parse(yamlText) as {
      guardrail: { enabled: boolean; providers: Record<string, Record<string, unknown>>; aliases: object };
    };
    assert.equal(yaml.guardrail.enabled, true);
    assert.deepEqual(yaml.guardrail.providers.fakellm, {
      base_url: 'http://127.0.0.1:9/v1',
      flavour: 'openai-chat',
      api_key_env: 'DEFENSECLAW_UPSTREAM_FAKELLM_API_KEY',
      allow_private: true,
      models: ['fake-model'],
    });
    assert.deepEqual(yaml.guardrail.aliases, { 'fake-model': { provider: 'fakellm', model: 'fake-model' } });
    const dotenv = readFileSync(options.envFile, 'utf8');
    assert.match(dotenv, new RegExp(`DEFENSECLAW_UPSTREAM_FAKELLM_API_KEY=${UPSTREAM_KEY}`));
    assert.doesNotMatch(readFileSync(join(dir, SETUP_STATE_FILE), 'utf8'), new RegExp(UPSTREAM_KEY));
    assert.ok(
      enabled.lines.every((line) => !line.includes(UPSTREAM_KEY) && !line.includes(String(routed.apiKey))),
    );

    const again = await enableGuardrail(options);
    assert.ok(again.success);
    assert.equal(again.changed, false, 'a second run changes nothing');

    const disabled = await disableGuardrail(options);
    assert.ok(disabled.success);
    assert.equal(disabled.changed, true);
    assert.deepEqual(providerOf(fake), {
      ...providerOf(fake),
      baseUrl: 'http://127.0.0.1:9/v1',
      apiKey: UPSTREAM_KEY,
    });
    assert.equal(
      (parse(readFileSync(options.configPath, 'utf8')) as { guardrail: { enabled: boolean } }).guardrail
        .enabled,
      false,
    );
    assert.equal(readState(dir), undefined);
    const undoAgain = await disableGuardrail(options);
    assert.ok(undoAgain.success);
    assert.equal(undoAgain.changed, false);
  });

  it('keeps an env-template key as the upstream key variable and restores the template', async () => {
    const { fake, options } = await fixture(KEY_TEMPLATE);
    const enabled = await enableGuardrail(options);
    assert.ok(enabled.success);
    assert.match(enabled.warnings.join('\n'), /MY_LLM_KEY is not set/);
    const yaml = parse(readFileSync(options.configPath, 'utf8')) as {
      guardrail: { providers: Record<string, { api_key_env: string }> };
    };
    assert.equal(yaml.guardrail.providers.fakellm!.api_key_env, 'MY_LLM_KEY');
    assert.ok((await disableGuardrail(options)).success);
    assert.equal(providerOf(fake).apiKey, KEY_TEMPLATE);
  });

  it('refuses an unknown provider and names the known ones', async () => {
    const { options } = await fixture();
    const outcome = await enableGuardrail({ ...options, provider: 'nope' });
    assert.ok(!outcome.success);
    assert.match(outcome.message, /no model provider "nope" \(known: fakellm\)/);
  });
});
