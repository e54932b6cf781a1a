import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { readApiSettings, scanGatewayKeys } from '../src/commands/_api-client.ts';

describe('scanGatewayKeys', () => {
  it('reads the API keys of block-style files exactly as the YAML parser does', () => {
    const cases = [
      'gateway:\n  connect: false\n  api_port: 1234\n',
      'gateway:\n  watchdog:\n    enabled: true\n  api_port: 99 # custom\n  api_host: "::1"\nlog:\n  level: info\n',
      '# gateway:\n#   api_port: 1\nconfig_version: 1\n',
      "gateway:\n    api_token_env: 'MY_TOKEN'\n    api_port: 5\npolicy:\n  mode: observe\n",
    ];
    for (const text of cases) {
      const gateway = ((parse(text) as { gateway?: Record<string, unknown> } | null)?.gateway ??
        {}) as Record<string, unknown>;
      const want = Object.fromEntries(Object.entries(gateway).filter(([key]) => key.startsWith('api_')));
      assert.deepEqual(scanGatewayKeys(text), want, text);
    }
  });

  it('gives up on anything beyond plain scalars, so the real parser decides', () => {
    for (const text of [
      'gateway: {api_port: 1}\n',
      'gateway:\n  api_port: &a 5\n',
      'gateway:\n  api_port: 1\n  api_port: 2\n',
      'gateway:\n  api_port: [1]\n',
      'gateway:\n  api_port: 1\ngateway:\n  api_port: 2\n',
    ]) {
      assert.equal(scanGatewayKeys(text), undefined, text);
    }
  });
});

describe('readApiSettings', () => {
  it('applies config.yaml, then DEFENSECLAW__GATEWAY__ overrides, and falls back to defaults', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-api-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'config.yaml');
    assert.deepEqual(await readApiSettings(file, {}), {
      host: '127.0.0.1',
      port: 18970,
      tokenEnv: 'DEFENSECLAW_API_TOKEN',
    });
    writeFileSync(file, 'gateway:\n  api_port: 19000\n  api_token_env: MY_TOKEN\n');
    assert.deepEqual(await readApiSettings(file, { DEFENSECLAW__GATEWAY__API_HOST: '::1' }), {
      host: '::1',
      port: 19000,
      tokenEnv: 'MY_TOKEN',
    });
    assert.equal((await readApiSettings(file, { defenseclaw__gateway__api_port: '19001' })).port, 19001);
    writeFileSync(file, 'gateway: {api_port: 19002}\n');
    assert.equal((await readApiSettings(file, {})).port, 19002, 'flow style goes through the YAML parser');
    writeFileSync(file, 'gateway:\n  api_port: [oops\n');
    assert.equal(
      (await readApiSettings(file, {})).port,
      18970,
      'an unparsable file falls back to the default',
    );
  });
});
