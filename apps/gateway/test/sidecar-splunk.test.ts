import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { ensureDataDir, loadConfig } from '../src/config/index.ts';
import { createSidecar, type Sidecar } from '../src/sidecar/sidecar.ts';
import { freePort, waitUntil } from './_helpers.ts';
import { captureLogs } from './_sidecar-harness.ts';

const GOOD = 'hec-good-token-7a1b2c3d4e5f';
const STALE = 'hec-stale-token-0f9e8d7c6b5a';

let root: string;
let hec: Server;
let hecPort = 0;
let accepted = GOOD;
/** Event ids the fake collector answered 200 for (repeats included). */
const received: number[] = [];
const sidecars: Sidecar[] = [];
let n = 0;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'dc-sc-splunk-'));
  hec = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      if (req.headers.authorization !== `Splunk ${accepted}`) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"text":"Invalid token","code":4}');
        return;
      }
      for (const line of body.split('\n'))
        received.push((JSON.parse(line) as { event: { id: number } }).event.id);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"text":"Success","code":0}');
    });
  });
  await new Promise<void>((resolve) => hec.listen(0, '127.0.0.1', resolve));
  hecPort = (hec.address() as AddressInfo).port;
});
afterEach(async () => {
  for (const sidecar of sidecars.splice(0)) await sidecar.close();
  accepted = GOOD;
});
after(async () => {
  hec.closeAllConnections();
  await new Promise((resolve) => hec.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

const yaml = (apiPort: number, splunk: boolean) =>
  `gateway:\n  connect: false\n  api_port: ${apiPort}\n  watcher:\n    enabled: false\n` +
  (splunk
    ? `splunk:\n  enabled: true\n  hec_url: http://127.0.0.1:${hecPort}\n  batch:\n    interval_ms: 20\n`
    : '');

function dataDir(): string {
  const dir = join(root, `d${n++}`);
  ensureDataDir(dir);
  mkdirSync(join(dir, 'policies'), { recursive: true, mode: 0o700 });
  return dir;
}

async function start(dir: string, options: { splunk: boolean; dotenv?: string; apiPort?: number }) {
  const apiPort = options.apiPort ?? (await freePort());
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, yaml(apiPort, options.splunk), { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {};
  const fromFile: string[] = [];
  if (options.dotenv !== undefined) {
    writeFileSync(join(dir, '.env'), `SPLUNK_HEC_TOKEN=${options.dotenv}\n`, { mode: 0o600 });
    env.SPLUNK_HEC_TOKEN = options.dotenv;
    fromFile.push('SPLUNK_HEC_TOKEN');
  }
  const { config } = loadConfig({ dataDir: dir, configPath, env });
  const logs = captureLogs();
  const sidecar = createSidecar(config, {
    logger: logs.logger,
    dataDir: dir,
    clientVersion: '0.0.0-test',
    env,
    configPath,
    envFileVars: fromFile,
  });
  sidecars.push(sidecar);
  await sidecar.start();
  return { sidecar, configPath, apiPort, logs: logs.text };
}

const splunkState = (sidecar: Sidecar, state: string) =>
  waitUntil(
    () => {
      const entry = sidecar.health.get('splunk');
      return entry.state === state ? entry : undefined;
    },
    10_000,
    `splunk ${state}`,
  );

describe('the sidecar with splunk.enabled', () => {
  it('reports error when the token variable is empty, and starts forwarding once a reload finds it in .env', async () => {
    const dir = dataDir();
    const { sidecar, logs } = await start(dir, { splunk: true });
    const missing = sidecar.health.get('splunk');
    assert.equal(missing.state, 'error');
    assert.match(missing.last_error ?? '', /SPLUNK_HEC_TOKEN is empty/);
    writeFileSync(join(dir, '.env'), `SPLUNK_HEC_TOKEN=${GOOD}\n`, { mode: 0o600 });
    const outcome = await sidecar.reload('sighup');
    assert.equal(outcome.success, true);
    const healthy = await splunkState(sidecar, 'healthy');
    assert.equal(healthy.last_error, undefined);
    assert.ok((healthy.details?.delivered as number) >= 1);
    assert.ok(!logs().includes(GOOD), 'the token is never logged');
  });

  it('opens the circuit on a rejected token, and a reload with the rotated token retries at once', async () => {
    const dir = dataDir();
    const { sidecar, logs } = await start(dir, { splunk: true, dotenv: STALE });
    const rejected = await splunkState(sidecar, 'error');
    assert.equal(rejected.last_error, 'HEC token rejected');
    assert.equal(rejected.details?.circuit, 'open');
    assert.equal(typeof rejected.details?.next_attempt_at, 'string');
    writeFileSync(join(dir, '.env'), `SPLUNK_HEC_TOKEN=${GOOD}\n`, { mode: 0o600 });
    await sidecar.reload('sighup');
    // The circuit would stay open for 30 s; the reload starts a fresh forwarder with the new token now.
    const healthy = await splunkState(sidecar, 'healthy');
    assert.equal(healthy.details?.circuit, 'closed');
    const text = logs();
    assert.ok(!text.includes(GOOD) && !text.includes(STALE), 'neither token is logged');
    assert.match(text, /token rejected/);
  });

  it('resumes from the cursor in audit.db after a restart: every event reaches HEC, none is lost', async () => {
    const dir = dataDir();
    received.length = 0;
    const first = await start(dir, { splunk: true, dotenv: GOOD });
    await splunkState(first.sidecar, 'healthy');
    const store = first.sidecar.store!;
    for (let i = 0; i < 30; i++) {
      void store.enqueue({
        event: { ts: Date.now(), kind: 'tool.call', source: 'ws', summary: `call ${i}` },
      });
    }
    await store.flush();
    const top = store.queries.counts().eventsRecorded;
    await waitUntil(() => (first.sidecar.health.get('splunk').details?.cursor === top ? true : undefined));
    await first.sidecar.close();
    sidecars.splice(sidecars.indexOf(first.sidecar), 1);
    const stoppedAt = received.length;

    const second = await start(dir, { splunk: true, dotenv: GOOD });
    await splunkState(second.sidecar, 'healthy');
    const last = second.sidecar.store!.queries.counts().eventsRecorded;
    await waitUntil(() => (second.sidecar.health.get('splunk').details?.cursor === last ? true : undefined));
    const ids = [...new Set(received)].sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: last }, (_, i) => i + 1),
      'sidecar.start/stop and every call forwarded, no gap',
    );
    // The second run starts after the cursor: what the first run had confirmed is not sent again.
    assert.ok(
      received.slice(stoppedAt).every((id) => id > top),
      'nothing already confirmed is resent',
    );
  });

  it('reports disabled with the reason when splunk.enabled is false', async () => {
    const { sidecar } = await start(dataDir(), { splunk: false });
    const entry = sidecar.health.get('splunk');
    assert.equal(entry.state, 'disabled');
    assert.equal(entry.details?.reason, 'disabled by config (splunk.enabled: false)');
  });
});
