import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createFakeOpenClawGateway, type FakeOpenClawGateway } from '@defenseclaw/gateway-client/testing';
import { type Config, ensureDataDir } from '../src/config/index.ts';
import { createSidecar, type Sidecar } from '../src/sidecar/sidecar.ts';
import { waitUntil } from './_helpers.ts';
import { captureLogs as capture, sidecarConfig } from './_sidecar-harness.ts';

const TOKEN = 'sidecar-fresh-token-0123456789';
const STALE = 'sidecar-stale-token-9876543210';

let root: string;
let fake: FakeOpenClawGateway;
const sidecars: Sidecar[] = [];
let n = 0;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'dc-sidecar-'));
  fake = await createFakeOpenClawGateway({ token: TOKEN });
});
afterEach(async () => {
  for (const sidecar of sidecars.splice(0)) await sidecar.close();
});
after(async () => {
  await fake.close();
  rmSync(root, { recursive: true, force: true });
});

const configFor = (dir: string, patch: (config: Config) => void) => sidecarConfig(dir, fake, patch);

function newDataDir(): string {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  return dir;
}

describe('createSidecar', () => {
  it('persists a token refreshed by auth repair to .env (0600, other lines kept) and never logs it', async () => {
    const dir = newDataDir();
    writeFileSync(join(dir, '.env'), '# operator notes\nOTHER=1\n', { mode: 0o600 });
    const openclawConfig = join(dir, 'openclaw.json');
    writeFileSync(openclawConfig, `{ gateway: { auth: { mode: 'token', token: '${TOKEN}' } }, }\n`);
    const config = await configFor(dir, (c) => {
      c.claw.config_file = openclawConfig;
    });
    const out = capture();
    const sidecar = createSidecar(config, {
      logger: out.logger,
      dataDir: dir,
      clientVersion: '0.0.0-test',
      env: { OPENCLAW_GATEWAY_TOKEN: STALE },
    });
    sidecars.push(sidecar);
    await sidecar.start();
    await waitUntil(
      () => (sidecar.health.get('gateway').state === 'running' ? true : undefined),
      10_000,
      'running',
    );
    const envText = await waitUntil(() => {
      const text = readFileSync(join(dir, '.env'), 'utf8');
      return text.includes(`OPENCLAW_GATEWAY_TOKEN=${TOKEN}`) ? text : undefined;
    });
    // The first run also generated the evidence key and API token; every other line is kept, in order.
    assert.match(
      envText,
      new RegExp(
        `^# operator notes\\nOTHER=1\\nDEFENSECLAW_EVIDENCE_KEY=[0-9a-f]{64}\\nDEFENSECLAW_API_TOKEN=[0-9a-f]{64}\\nOPENCLAW_GATEWAY_TOKEN=${TOKEN}\\n$`,
      ),
    );
    assert.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600);
    assert.ok(!out.text().includes(TOKEN), 'fresh token not logged');
    assert.ok(!out.text().includes(STALE), 'stale token not logged');
  });

  it('reports gateway disabled with gateway.connect false, and stops its subsystems on close', async () => {
    const dir = newDataDir();
    const config = await configFor(dir, (c) => {
      c.gateway.connect = false;
    });
    const sidecar = createSidecar(config, {
      logger: capture().logger,
      dataDir: dir,
      clientVersion: '0.0.0-test',
    });
    sidecars.push(sidecar);
    await sidecar.start();
    assert.equal(sidecar.address, `127.0.0.1:${config.gateway.api_port}`);
    const body = (await (await fetch(`http://${sidecar.address}/health`)).json()) as Record<
      string,
      { state: string; details?: { reason?: string } }
    >;
    assert.equal(body.gateway?.state, 'disabled');
    assert.equal(body.gateway?.details?.reason, 'disabled by config (gateway.connect: false)');
    assert.equal(body.api?.state, 'running');
    await sidecar.close();
    assert.equal(sidecar.health.get('api').state, 'stopped');
    assert.equal(sidecar.health.get('sandbox').state, 'disabled');
    await assert.rejects(fetch(`http://127.0.0.1:${config.gateway.api_port}/health`));
  });

  it('closes promptly while connected, leaving gateway stopped', async () => {
    const dir = newDataDir();
    const config = await configFor(dir, () => {});
    const sidecar = createSidecar(config, {
      logger: capture().logger,
      dataDir: dir,
      clientVersion: '0.0.0-test',
      env: { OPENCLAW_GATEWAY_TOKEN: TOKEN },
    });
    sidecars.push(sidecar);
    await sidecar.start();
    await waitUntil(
      () => (sidecar.health.get('gateway').state === 'running' ? true : undefined),
      10_000,
      'running',
    );
    // A client holding a keep-alive connection must not delay the close.
    await fetch(`http://${sidecar.address}/health`);
    await sidecar.close();
    assert.equal(sidecar.health.get('gateway').state, 'stopped');
    await fake.waitFor((g) => (g.openConnections.length === 0 ? true : undefined), { timeoutMs: 5000 });
  });
});
