import assert from 'node:assert/strict';
import { createPrivateKey, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  buildDeviceAuthPayloadV2,
  buildDeviceAuthPayloadV3,
  DEFAULT_SCOPES,
  type DeviceAuthFields,
  normalizeDeviceMetadata,
  toWirePlatform,
} from '../src/index.ts';

// The spec 10 §2.3 test vector (seed 00..1f), reproduced against a real server.
const VECTOR = {
  deviceId: '56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c',
  payload:
    'v3|56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c|gateway-client|backend|operator|' +
    'operator.read,operator.write,operator.admin,operator.approvals|1700000000000|test-token|test-nonce-abc|linux|',
  signature: 'l3ct4XhFhowIOfY883W6WtyzKm8huVA7_UEn1bjinWQQE4LuXt8dPdBzLpliRpqVHN6au0oNdGXqldtaUGCeCg',
};

const fields: DeviceAuthFields = {
  deviceId: VECTOR.deviceId,
  clientId: 'gateway-client',
  clientMode: 'backend',
  role: 'operator',
  scopes: DEFAULT_SCOPES,
  signedAtMs: 1_700_000_000_000,
  token: 'test-token',
  nonce: 'test-nonce-abc',
  platform: 'linux',
};

describe('buildDeviceAuthPayloadV3', () => {
  it('reproduces the spec 10 §2.3 vector string exactly', () => {
    assert.equal(buildDeviceAuthPayloadV3(fields), VECTOR.payload);
  });

  it('yields the vector signature when signed with the vector key (byte-exact string)', () => {
    const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const signature = sign(null, Buffer.from(buildDeviceAuthPayloadV3(fields), 'utf8'), key).toString(
      'base64url',
    );
    assert.equal(signature, VECTOR.signature);
  });

  it('ends with a trailing | when there is no device family', () => {
    assert.ok(buildDeviceAuthPayloadV3({ ...fields, deviceFamily: '' }).endsWith('|linux|'));
    assert.ok(buildDeviceAuthPayloadV3({ ...fields, deviceFamily: undefined }).endsWith('|linux|'));
  });

  it('normalises platform and family', () => {
    const s = buildDeviceAuthPayloadV3({ ...fields, platform: ' Windows ', deviceFamily: 'MacBookPro' });
    assert.ok(s.endsWith('|test-nonce-abc|windows|macbookpro'), s);
  });

  it('keeps the scopes in the given order', () => {
    const s = buildDeviceAuthPayloadV3({ ...fields, scopes: ['operator.write', 'operator.read'] });
    assert.equal(s.split('|')[5], 'operator.write,operator.read');
  });

  it('leaves the token field empty when there is no token', () => {
    const parts = buildDeviceAuthPayloadV3({ ...fields, token: undefined }).split('|');
    assert.equal(parts.length, 11);
    assert.equal(parts[7], '');
    assert.equal(parts[8], 'test-nonce-abc');
  });
});

describe('buildDeviceAuthPayloadV2', () => {
  it('builds the nine-field v2 string without platform or family', () => {
    const { platform: _p, deviceFamily: _f, ...rest } = fields;
    assert.equal(
      buildDeviceAuthPayloadV2(rest),
      `v2|${VECTOR.deviceId}|gateway-client|backend|operator|operator.read,operator.write,operator.admin,operator.approvals|1700000000000|test-token|test-nonce-abc`,
    );
  });
});

describe('normalizeDeviceMetadata', () => {
  it('trims and lowercases ASCII letters only', () => {
    assert.equal(normalizeDeviceMetadata(' Windows '), 'windows');
    assert.equal(normalizeDeviceMetadata('Linux '), 'linux');
    assert.equal(normalizeDeviceMetadata('ÉCOLE-X1'), 'École-x1');
    assert.equal(normalizeDeviceMetadata(undefined), '');
    assert.equal(normalizeDeviceMetadata('   '), '');
  });
});

describe('toWirePlatform', () => {
  it('maps win32 to windows and leaves other platforms alone', () => {
    assert.equal(toWirePlatform('win32'), 'windows');
    assert.equal(toWirePlatform('linux'), 'linux');
    assert.equal(toWirePlatform('darwin'), 'darwin');
  });
});
