import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  CLOSE_CODES,
  CONNECT_DETAIL_CODES,
  ERROR_CODES,
  type ErrorShape,
  ErrorShapeSchema,
  getDetailCode,
  getDetailReason,
} from '../src/index.ts';
import { type FixtureLine, loadFixture } from './_fixtures.ts';

function recordedErrors(lines: FixtureLine[]): unknown[] {
  return lines.flatMap((line) =>
    line.dir === 'recv' && line.frame.type === 'res' && line.frame.ok === false ? [line.frame.error] : [],
  );
}

describe('ERROR_CODES', () => {
  it('maps every name to the same string', () => {
    assert.equal(Object.keys(ERROR_CODES).length, 8);
    for (const [key, value] of Object.entries(ERROR_CODES)) assert.equal(key, value);
  });
});

describe('ErrorShapeSchema', () => {
  it('parses details, retryable, retryAfterMs and extra keys', () => {
    const input = {
      code: 'UNAVAILABLE',
      message: 'gateway starting; retry shortly',
      details: { code: 'X', nested: [1] },
      retryable: true,
      retryAfterMs: 1500,
      hint: 'extra',
    };
    const result = v.safeParse(ErrorShapeSchema, input);
    assert.ok(result.success);
    assert.deepEqual(result.output, input);
  });

  it('accepts codes outside the known table', () => {
    assert.ok(v.safeParse(ErrorShapeSchema, { code: 'BRAND_NEW', message: 'm' }).success);
  });

  it('rejects a shape without code or message', () => {
    assert.equal(v.safeParse(ErrorShapeSchema, { message: 'm' }).success, false);
    assert.equal(v.safeParse(ErrorShapeSchema, { code: 'X' }).success, false);
    assert.equal(
      v.safeParse(ErrorShapeSchema, { code: 'X', message: 'm', retryAfterMs: '5' }).success,
      false,
    );
  });

  describe('against recorded errors', () => {
    const errors = () => [
      ...recordedErrors(loadFixture('rpc.jsonl')),
      ...recordedErrors(loadFixture('connect-errors.jsonl')),
    ];

    it('parses every recorded error', () => {
      const all = errors();
      assert.ok(all.length >= 15, `only ${all.length} recorded errors`);
      for (const error of all) assert.ok(v.safeParse(ErrorShapeSchema, error).success, JSON.stringify(error));
    });

    it('knows every recorded connect detail code', () => {
      const known = new Set<string>(Object.values(CONNECT_DETAIL_CODES));
      const seen = errors()
        .map((e) => getDetailCode(e as ErrorShape))
        .filter((c) => c?.startsWith('AUTH_') || c?.startsWith('DEVICE_') || c === 'PROTOCOL_MISMATCH');
      assert.ok(seen.length >= 6);
      for (const code of seen) assert.ok(known.has(code as string), code);
    });
  });
});

describe('CONNECT_DETAIL_CODES', () => {
  it('lists the spec 10 §1.5 codes by their own names', () => {
    for (const code of [
      'AUTH_TOKEN_MISSING',
      'AUTH_RATE_LIMITED',
      'DEVICE_IDENTITY_REQUIRED',
      'PAIRING_REQUIRED',
      'CONTROL_UI_DEVICE_IDENTITY_REQUIRED',
    ]) {
      assert.equal((CONNECT_DETAIL_CODES as Record<string, string>)[code], code);
    }
    for (const [key, value] of Object.entries(CONNECT_DETAIL_CODES)) assert.equal(key, value);
  });
});

describe('CLOSE_CODES', () => {
  it('holds the numeric close codes of spec 10 §1.3', () => {
    assert.deepEqual(CLOSE_CODES, {
      NORMAL: 1000,
      GOING_AWAY: 1001,
      PROTOCOL_ERROR: 1002,
      POLICY_VIOLATION: 1008,
      MESSAGE_TOO_BIG: 1009,
      SERVICE_RESTART: 1012,
      TICK_TIMEOUT: 4000,
      AUTH_CHANGED: 4001,
    });
  });
});

describe('getDetailCode', () => {
  it('returns details.code only when it is a string', () => {
    assert.equal(
      getDetailCode({ code: 'INVALID_REQUEST', message: 'm', details: { code: 'AUTH_TOKEN_MISMATCH' } }),
      'AUTH_TOKEN_MISMATCH',
    );
    assert.equal(getDetailCode({ code: 'X', message: 'm', details: { code: 5 } }), undefined);
    assert.equal(getDetailCode({ code: 'X', message: 'm', details: 'text' }), undefined);
    assert.equal(getDetailCode({ code: 'X', message: 'm' }), undefined);
  });
});

describe('getDetailReason', () => {
  it('returns details.reason (the unknown approval id case of 2026.9.6)', () => {
    const error = {
      code: 'INVALID_REQUEST',
      message: 'unknown or expired approval id',
      details: { reason: 'APPROVAL_NOT_FOUND' },
    };
    assert.equal(getDetailReason(error), 'APPROVAL_NOT_FOUND');
    assert.equal(getDetailReason({ code: 'X', message: 'm', details: null }), undefined);
  });
});
