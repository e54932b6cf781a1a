import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureDataDir, isConfigError, loadEnvFile } from '../src/config/index.ts';
import { ensureSidecarSecrets } from '../src/config/secrets.ts';

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'dc-secrets-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  return dir;
}

describe('ensureSidecarSecrets', () => {
  it('generates the evidence key and API token into .env on first run, keeping other lines, mode 0600', () => {
    const dir = dataDir();
    const envFile = join(dir, '.env');
    writeFileSync(envFile, '# notes\nOPENCLAW_GATEWAY_TOKEN=abc123456\n', { mode: 0o600 });
    const env: NodeJS.ProcessEnv = {};
    loadEnvFile(envFile, env);
    const first = ensureSidecarSecrets({ envFile, env });
    assert.deepEqual(first.generated, ['DEFENSECLAW_EVIDENCE_KEY', 'DEFENSECLAW_API_TOKEN']);
    assert.equal(first.evidenceKey.length, 32);
    assert.match(first.apiToken ?? '', /^[0-9a-f]{64}$/);
    const text = readFileSync(envFile, 'utf8');
    const lines = text.trimEnd().split('\n');
    assert.equal(lines[0], '# notes');
    assert.equal(lines[1], 'OPENCLAW_GATEWAY_TOKEN=abc123456');
    assert.match(lines[2] ?? '', /^DEFENSECLAW_EVIDENCE_KEY=[0-9a-f]{64}$/);
    assert.equal(lines[3], `DEFENSECLAW_API_TOKEN=${first.apiToken}`);
    assert.equal(statSync(envFile).mode & 0o777, 0o600);

    // The second run reads them back and generates nothing.
    const env2: NodeJS.ProcessEnv = {};
    loadEnvFile(envFile, env2);
    const second = ensureSidecarSecrets({ envFile, env: env2 });
    assert.deepEqual(second.generated, []);
    assert.deepEqual(second.evidenceKey, first.evidenceKey);
    assert.equal(second.apiToken, first.apiToken);
    assert.equal(readFileSync(envFile, 'utf8'), text);
  });

  it('uses the configured API token variable and leaves an already-set one alone', () => {
    const dir = dataDir();
    const envFile = join(dir, '.env');
    const env: NodeJS.ProcessEnv = { MY_API_TOKEN: 'preset-token-value' };
    const result = ensureSidecarSecrets({ envFile, env, apiTokenEnv: 'MY_API_TOKEN' });
    assert.equal(result.apiToken, 'preset-token-value');
    assert.deepEqual(result.generated, ['DEFENSECLAW_EVIDENCE_KEY']);
    assert.doesNotMatch(readFileSync(envFile, 'utf8'), /MY_API_TOKEN/);
  });

  it('refuses an evidence key that is not 64 hex characters without echoing it', () => {
    const dir = dataDir();
    const env: NodeJS.ProcessEnv = { DEFENSECLAW_EVIDENCE_KEY: 'not-hex-secret-value' };
    assert.throws(
      () => ensureSidecarSecrets({ envFile: join(dir, '.env'), env }),
      (error: unknown) =>
        isConfigError(error) &&
        /DEFENSECLAW_EVIDENCE_KEY.*64 hex characters/.test(error.message) &&
        !error.message.includes('not-hex-secret-value'),
    );
  });

  it('falls back to an in-memory key with a warning when .env cannot be written', () => {
    const dir = dataDir();
    // A directory where the file should be makes the rename fail.
    const envFile = join(dir, '.env');
    mkdirSync(envFile);
    const result = ensureSidecarSecrets({ envFile, env: {} });
    assert.equal(result.evidenceKey.length, 32);
    assert.equal(result.apiToken, undefined);
    assert.deepEqual(result.generated, []);
    assert.ok(result.warnings.some((w) => /in-memory evidence key/.test(w)));
  });
});
