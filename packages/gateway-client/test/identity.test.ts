import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildDeviceAuthPayloadV3, DEFAULT_SCOPES } from '@defenseclaw/protocol';
import {
  deviceIdentityFromSeed,
  isGatewayClientError,
  loadOrCreateDeviceIdentity,
  signDevicePayload,
} from '../src/index.ts';
import { createRecordingLogger } from './_support.ts';

const VECTOR_SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const VECTOR_PEM =
  '-----BEGIN ED25519 PRIVATE KEY-----\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n-----END ED25519 PRIVATE KEY-----\n';
const VECTOR_PUBLIC_KEY = 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg';
const VECTOR_DEVICE_ID = '56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c';
const VECTOR_PAYLOAD =
  'v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|gateway-client|backend|operator|operator.read,operator.write,operator.admin,operator.approvals|1700000000000|test-token|test-nonce-abc|linux|';
const VECTOR_SIGNATURE =
  'l3ct4XhFhowIOfY883W6WtyzKm8huVA7_UEn1bjinWQQE4LuXt8dPdBzLpliRpqVHN6au0oNdGXqldtaUGCeCg';

const posix = process.platform !== 'win32';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dc-identity-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadOrCreateDeviceIdentity', () => {
  it('creates the key file on first use: 0600 file, 0700 nested dirs, PEM label, 32-byte seed', async () => {
    const path = join(root, 'create', 'nested', 'deeper', 'device.key');
    const { logger, text } = createRecordingLogger();
    const identity = await loadOrCreateDeviceIdentity(path, { logger });
    const pem = await readFile(path, 'utf8');
    assert.match(
      pem,
      /^-----BEGIN ED25519 PRIVATE KEY-----\n[A-Za-z0-9+/=]+\n-----END ED25519 PRIVATE KEY-----\n$/,
    );
    const body = pem.split('\n')[1] as string;
    assert.equal(Buffer.from(body, 'base64').length, 32);
    assert.equal(identity.deviceId, deviceIdentityFromSeed(Buffer.from(body, 'base64')).deviceId);
    if (posix) {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      for (const dir of [dirname(path), dirname(dirname(path)), join(root, 'create')]) {
        assert.equal((await stat(dir)).mode & 0o777, 0o700, dir);
      }
    }
    assert.ok(text().includes(identity.deviceId), 'the device id is logged');
    assert.ok(!text().includes(body), 'the key is never logged');
  });

  it('returns the same identity on a second load', async () => {
    const path = join(root, 'twice', 'device.key');
    const first = await loadOrCreateDeviceIdentity(path);
    const bytes = await readFile(path);
    const second = await loadOrCreateDeviceIdentity(path);
    assert.equal(second.deviceId, first.deviceId);
    assert.equal(second.publicKey, first.publicKey);
    assert.deepEqual(await readFile(path), bytes);
  });

  it('loads the winner when two creators race (EEXIST)', async () => {
    const path = join(root, 'race', 'device.key');
    const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDeviceIdentity(path)));
    const ids = new Set(results.map((identity) => identity.deviceId));
    assert.equal(ids.size, 1);
    const body = (await readFile(path, 'utf8')).split('\n')[1] as string;
    assert.equal(deviceIdentityFromSeed(Buffer.from(body, 'base64')).deviceId, [...ids][0]);
  });

  it('refuses an invalid PEM and leaves the file bytes unchanged', async () => {
    const path = join(root, 'bad-pem', 'device.key');
    await mkdir(dirname(path), { recursive: true });
    const content = 'not a pem file\n';
    await writeFile(path, content, { mode: 0o600 });
    await assert.rejects(loadOrCreateDeviceIdentity(path), (error) => {
      assert.ok(isGatewayClientError(error, 'DEVICE_KEY_INVALID'));
      assert.equal(error.message, `gateway: invalid PEM in device key file ${path}`);
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), content);
  });

  it('refuses a wrong seed length and leaves the file bytes unchanged', async () => {
    const path = join(root, 'bad-length', 'device.key');
    await mkdir(dirname(path), { recursive: true });
    const content = `-----BEGIN ED25519 PRIVATE KEY-----\n${Buffer.alloc(64, 7).toString('base64')}\n-----END ED25519 PRIVATE KEY-----\n`;
    await writeFile(path, content, { mode: 0o600 });
    await assert.rejects(loadOrCreateDeviceIdentity(path), (error) => {
      assert.ok(isGatewayClientError(error, 'DEVICE_KEY_INVALID'));
      assert.match(error.message, /invalid seed length 64 \(expected 32\)/);
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), content);
  });

  it('tightens a group-readable key file to 0600 and warns with its path', { skip: !posix }, async () => {
    const path = join(root, 'loose', 'device.key');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, VECTOR_PEM);
    await chmod(path, 0o640);
    const { logger, lines } = createRecordingLogger();
    const identity = await loadOrCreateDeviceIdentity(path, { logger });
    assert.equal(identity.deviceId, VECTOR_DEVICE_ID);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const warnings = lines.filter((line) => line.level === 'warn');
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]?.msg.includes(path));
  });

  it('reads the spec 10 §2.3 key file (Go-compatible PEM)', async () => {
    const path = join(root, 'vector', 'device.key');
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, VECTOR_PEM, { mode: 0o600 });
    const identity = await loadOrCreateDeviceIdentity(path);
    assert.equal(identity.publicKey, VECTOR_PUBLIC_KEY);
    assert.equal(identity.deviceId, VECTOR_DEVICE_ID);
  });
});

describe('deviceIdentityFromSeed', () => {
  it('reproduces the spec 10 §2.3 publicKey, deviceId and signature', () => {
    const identity = deviceIdentityFromSeed(VECTOR_SEED);
    assert.equal(identity.publicKey, VECTOR_PUBLIC_KEY);
    assert.equal(identity.deviceId, VECTOR_DEVICE_ID);
    const payload = buildDeviceAuthPayloadV3({
      deviceId: identity.deviceId,
      clientId: 'gateway-client',
      clientMode: 'backend',
      role: 'operator',
      scopes: DEFAULT_SCOPES,
      signedAtMs: 1_700_000_000_000,
      token: 'test-token',
      nonce: 'test-nonce-abc',
      platform: 'linux',
    });
    assert.equal(payload, VECTOR_PAYLOAD);
    assert.equal(identity.sign(payload), VECTOR_SIGNATURE);
  });

  it('signs base64url signatures that verify and change with the nonce and signedAt', () => {
    const identity = deviceIdentityFromSeed(VECTOR_SEED);
    const publicKey = createPublicKey(identity.privateKey);
    const signatures = new Set<string>();
    for (const [nonce, signedAt] of [
      ['n-1', 1_700_000_000_000],
      ['n-2', 1_700_000_000_000],
      ['n-1', 1_700_000_000_001],
    ] as const) {
      const payload = VECTOR_PAYLOAD.replace('test-nonce-abc', nonce).replace(
        '1700000000000',
        String(signedAt),
      );
      const signature = identity.sign(payload);
      assert.equal(signature.length, 86);
      assert.doesNotMatch(signature, /[+/=]/);
      assert.ok(verify(null, Buffer.from(payload), publicKey, Buffer.from(signature, 'base64url')));
      assert.ok(!verify(null, Buffer.from(`${payload}x`), publicKey, Buffer.from(signature, 'base64url')));
      signatures.add(signature);
    }
    assert.equal(signatures.size, 3);
  });

  it('rejects a seed that is not 32 bytes', () => {
    assert.throws(
      () => deviceIdentityFromSeed(new Uint8Array(31)),
      (error) => isGatewayClientError(error, 'INVALID_ARGUMENT'),
    );
  });
});

describe('signDevicePayload', () => {
  it('signs with a bare private key exactly like identity.sign', () => {
    const identity = deviceIdentityFromSeed(VECTOR_SEED);
    assert.equal(signDevicePayload(identity.privateKey, VECTOR_PAYLOAD), VECTOR_SIGNATURE);
  });
});
