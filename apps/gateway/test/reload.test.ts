import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { diffConfig, needsRestart } from '../src/config/diff.ts';
import { ensureDataDir, loadConfig } from '../src/config/index.ts';
import { createSidecar, type Sidecar } from '../src/sidecar/sidecar.ts';
import { freePort, waitUntil } from './_helpers.ts';
import { captureLogs } from './_sidecar-harness.ts';

let root: string;
let n = 0;
const sidecars: Sidecar[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'dc-reload-'));
});
afterEach(async () => {
  for (const sidecar of sidecars.splice(0)) await sidecar.close();
});
after(() => rmSync(root, { recursive: true, force: true }));

const yaml = (port: number, extra = '') =>
  `gateway:\n  connect: false\n  api_port: ${port}\npolicy:\n  mode: action\n${extra}`;

async function started(env: NodeJS.ProcessEnv = {}) {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  mkdirSync(join(dir, 'policies'), { recursive: true, mode: 0o700 });
  const port = await freePort();
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml(port));
  writeFileSync(join(dir, '.env'), 'ROTATED_KEY=first\n', { mode: 0o600 });
  const fullEnv: NodeJS.ProcessEnv = { ...env, ROTATED_KEY: 'first' };
  const { config } = loadConfig({ dataDir: dir, configPath, env: fullEnv });
  const logs = captureLogs();
  const sidecar = createSidecar(config, {
    logger: logs.logger,
    dataDir: dir,
    clientVersion: '0.0.0-test',
    env: fullEnv,
    configPath,
    envFileVars: ['ROTATED_KEY'],
  });
  sidecars.push(sidecar);
  await sidecar.start();
  return { sidecar, dir, port, configPath, env: fullEnv, logs: logs.text };
}

describe('diffConfig', () => {
  it('lists changed leaves and classifies restart-only keys', () => {
    const dir = join(root, 'diff');
    ensureDataDir(dir);
    const a = loadConfig({ dataDir: dir, configPath: join(dir, 'none.yaml'), env: {} }).config;
    const b = structuredClone(a);
    b.policy.mode = 'observe';
    b.gateway.api_port = 1;
    b.policy.pack_dirs = ['/x'];
    assert.deepEqual(diffConfig(a, b), ['gateway.api_port', 'policy.mode', 'policy.pack_dirs']);
    assert.equal(needsRestart('gateway.api_port'), true);
    assert.equal(needsRestart('policy.mode'), false);
    assert.equal(needsRestart('gateway.api_portal'), false);
  });
});

describe('Sidecar.reload', () => {
  it('applies hot keys, keeps restart-only keys and reports them, and records config.reload', async () => {
    const { sidecar, port, configPath } = await started();
    const before = sidecar.health.get('policy').details!.generation as { loaded_at: string };
    await new Promise((resolve) => setTimeout(resolve, 5));
    writeFileSync(configPath, yaml(port + 1).replace('mode: action', 'mode: observe'));
    const outcome = await sidecar.reload('cli');
    assert.equal(outcome.success, true);
    assert.ok(outcome.success);
    assert.deepEqual(outcome.applied, ['policy.mode']);
    assert.deepEqual(outcome.restartRequired, ['gateway.api_port']);
    assert.equal(sidecar.config.policy.mode, 'observe');
    assert.equal(sidecar.config.gateway.api_port, port);
    assert.equal(outcome.configGeneration, 2);
    const after = sidecar.health.get('policy').details!.generation as { loaded_at: string };
    assert.notEqual(after.loaded_at, before.loaded_at, 'a new generation is compiled and swapped in');
    const store = sidecar.store!;
    await store.flush();
    await waitUntil(() =>
      store.queries.listEvents({ kind: 'config.reload' }).events.length > 0 ? true : undefined,
    );
  });

  it('changes nothing when config.yaml is invalid and names the key', async () => {
    const { sidecar, port, configPath } = await started();
    const generation = (sidecar.health.get('policy').details!.generation as { id: string }).id;
    writeFileSync(
      configPath,
      yaml(port, 'guardrail:\n  mode: block\n').replace('mode: action', 'mode: observe'),
    );
    const outcome = await sidecar.reload('api');
    assert.equal(outcome.success, false);
    assert.ok(!outcome.success);
    assert.equal(outcome.code, 'invalid_config');
    assert.match(outcome.error, /guardrail\.mode/);
    assert.equal(sidecar.config.policy.mode, 'action', 'the valid part of a bad file is not applied either');
    const details = sidecar.health.get('policy').details as {
      generation: { id: string };
      last_error?: string;
    };
    assert.equal(details.generation.id, generation);
    assert.match(details.last_error ?? '', /guardrail\.mode/);
  });

  it('keeps the running generation when an operator pack does not compile', async () => {
    const { sidecar, dir, configPath, port } = await started();
    const generation = (sidecar.health.get('policy').details!.generation as { id: string }).id;
    writeFileSync(
      join(dir, 'policies', 'bad.yaml'),
      'name: bad\nversion: 1\nrules:\n  - id: X\n    oops: 1\n',
    );
    writeFileSync(configPath, yaml(port).replace('mode: action', 'mode: observe'));
    const outcome = await sidecar.reload('sighup');
    assert.ok(!outcome.success);
    assert.equal(outcome.code, 'invalid_policy');
    assert.match(outcome.error, /bad\.yaml/);
    assert.equal(sidecar.config.policy.mode, 'action');
    assert.equal((sidecar.health.get('policy').details!.generation as { id: string }).id, generation);
  });

  it('serialises reloads: a second call during one answers reload_in_progress', async () => {
    const { sidecar } = await started();
    const [first, second] = await Promise.all([sidecar.reload('api'), sidecar.reload('api')]);
    assert.equal(first.success, true);
    assert.ok(!second.success);
    assert.equal(second.code, 'reload_in_progress');
  });

  it('rotates variables that came from .env but never overrides the real environment', async () => {
    const { sidecar, dir, env } = await started({ FROM_SHELL: 'shell' });
    writeFileSync(join(dir, '.env'), 'ROTATED_KEY=second\nFROM_SHELL=file\nNEW_KEY=new\n', { mode: 0o600 });
    const outcome = await sidecar.reload('api');
    assert.equal(outcome.success, true);
    assert.equal(env.ROTATED_KEY, 'second');
    assert.equal(env.FROM_SHELL, 'shell');
    assert.equal(env.NEW_KEY, 'new');
  });
});
