import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import {
  type EventFrame,
  EventFrameSchema,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  parseFrame,
  parseFrameObject,
  type ResponseFrame,
  ResponseFrameSchema,
  serializeEvent,
  serializeRequest,
  serializeResponse,
} from '../src/index.ts';

describe('PROTOCOL_VERSION_MIN / PROTOCOL_VERSION_MAX', () => {
  it('advertises the range 3..4', () => {
    assert.equal(PROTOCOL_VERSION_MIN, 3);
    assert.equal(PROTOCOL_VERSION_MAX, 4);
  });
});

describe('serializeRequest', () => {
  it('round-trips through parseFrame as a req frame', () => {
    const text = serializeRequest({ type: 'req', id: 'r-1', method: 'sessions.subscribe', params: {} });
    assert.deepEqual(JSON.parse(text), { type: 'req', id: 'r-1', method: 'sessions.subscribe', params: {} });
    const parsed = parseFrame(text);
    assert.ok(parsed.success && parsed.kind === 'req');
    assert.deepEqual(parsed.frame, { type: 'req', id: 'r-1', method: 'sessions.subscribe', params: {} });
  });

  it('omits the params key when params are undefined or null', () => {
    const none = JSON.parse(serializeRequest({ type: 'req', id: 'a', method: 'config.get' }));
    assert.deepEqual(Object.keys(none), ['type', 'id', 'method']);
    const undef = JSON.parse(serializeRequest({ type: 'req', id: 'b', method: 'status', params: undefined }));
    assert.equal('params' in undef, false);
    const nul = JSON.parse(serializeRequest({ type: 'req', id: 'c', method: 'skills.bins', params: null }));
    assert.equal('params' in nul, false);
  });

  it('drops keys that are not part of a request', () => {
    const frame = { type: 'req', id: 'a', method: 'status', extra: 1 } as unknown as Parameters<
      typeof serializeRequest
    >[0];
    assert.deepEqual(Object.keys(JSON.parse(serializeRequest(frame))), ['type', 'id', 'method']);
  });
});

describe('serializeResponse', () => {
  it('round-trips a success and a failure through parseFrame', () => {
    const ok: ResponseFrame = { type: 'res', id: '1', ok: true, payload: { subscribed: true } };
    const okParsed = parseFrame(serializeResponse(ok));
    assert.ok(okParsed.success && okParsed.kind === 'res');
    assert.deepEqual(okParsed.frame, ok);

    const failed: ResponseFrame = {
      type: 'res',
      id: '2',
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: 'unknown method: x',
        details: { reason: 'R' },
        retryable: false,
      },
    };
    const failedParsed = parseFrame(serializeResponse(failed));
    assert.ok(failedParsed.success && failedParsed.kind === 'res');
    assert.deepEqual(failedParsed.frame.error, failed.error);
  });
});

describe('serializeEvent', () => {
  it('round-trips an event with seq and stateVersion, and one without', () => {
    const full: EventFrame = {
      type: 'event',
      event: 'health',
      payload: { ok: true },
      seq: 7,
      stateVersion: { presence: 1, health: 2 },
    };
    const parsed = parseFrame(serializeEvent(full));
    assert.ok(parsed.success && parsed.kind === 'event');
    assert.deepEqual(parsed.frame, full);

    const bare = parseFrame(
      serializeEvent({ type: 'event', event: 'connect.challenge', payload: { nonce: 'n' } }),
    );
    assert.ok(bare.success && bare.kind === 'event');
    assert.equal(bare.frame.seq, undefined);
    assert.equal(bare.frame.stateVersion, undefined);
  });
});

describe('parseFrame', () => {
  it('keeps unknown keys on every frame kind', () => {
    const ev = parseFrame('{"type":"event","event":"tick","payload":{"ts":1},"seq":1,"future":{"x":1}}');
    assert.ok(ev.success && ev.kind === 'event');
    assert.deepEqual(ev.frame.future, { x: 1 });
    const res = parseFrame(
      '{"type":"res","id":"1","ok":false,"error":{"code":"X","message":"m","hint":"h"},"extra":2}',
    );
    assert.ok(res.success && res.kind === 'res');
    assert.equal(res.frame.extra, 2);
    assert.equal(res.frame.error?.hint, 'h');
    const req = parseFrame('{"type":"req","id":"1","method":"m","extra":3}');
    assert.ok(req.success && req.kind === 'req');
    assert.equal((req.frame as Record<string, unknown>).extra, 3);
  });

  it('does not validate event payloads (they are parsed on demand)', () => {
    const parsed = parseFrame('{"type":"event","event":"session.tool","payload":42}');
    assert.ok(parsed.success && parsed.kind === 'event');
    assert.equal(parsed.frame.payload, 42);
  });

  it('reports malformed JSON as a failure with a reason', () => {
    const parsed = parseFrame('{"type":"event",');
    assert.equal(parsed.success, false);
    assert.match(!parsed.success ? parsed.reason : '', /malformed JSON/);
  });

  it('reports a non-object as a failure', () => {
    for (const text of ['[]', '42', 'null', '"event"', 'true']) {
      const parsed = parseFrame(text);
      assert.equal(parsed.success, false, text);
      assert.match(!parsed.success ? parsed.reason : '', /not a JSON object/);
    }
  });

  it('reports a missing or non-string type as a failure', () => {
    for (const text of ['{}', '{"event":"tick"}', '{"type":1}']) {
      const parsed = parseFrame(text);
      assert.equal(parsed.success, false, text);
      assert.match(!parsed.success ? parsed.reason : '', /type/);
    }
  });

  it('reports broken envelopes with the offending field', () => {
    const cases: [string, RegExp][] = [
      ['{"type":"event","payload":{}}', /invalid event frame.*event/],
      ['{"type":"event","event":"tick","seq":-1}', /invalid event frame.*seq/],
      ['{"type":"res","id":"1","ok":"yes"}', /invalid res frame.*ok/],
      ['{"type":"res","id":"1","ok":false,"error":{"code":"X"}}', /invalid res frame.*message/],
      ['{"type":"req","method":"m"}', /invalid req frame.*id/],
      ['{"type":"req","id":"","method":"m"}', /invalid req frame.*id/],
    ];
    for (const [text, reason] of cases) {
      const parsed = parseFrame(text);
      assert.equal(parsed.success, false, text);
      assert.match(!parsed.success ? parsed.reason : '', reason, text);
    }
  });

  it('returns kind unknown for an unknown type and keeps the frame', () => {
    const parsed = parseFrame('{"type":"stream","chunk":1}');
    assert.ok(parsed.success && parsed.kind === 'unknown');
    assert.deepEqual(parsed.frame, { type: 'stream', chunk: 1 });
  });
});

describe('parseFrameObject', () => {
  it('parses an already-decoded value like parseFrame', () => {
    const parsed = parseFrameObject({ type: 'event', event: 'tick', payload: { ts: 1 }, seq: 3 });
    assert.ok(parsed.success && parsed.kind === 'event');
    assert.equal(parsed.frame.seq, 3);
    assert.equal(parseFrameObject(undefined).success, false);
    assert.equal(parseFrameObject([{ type: 'event' }]).success, false);
  });

  it('accepts exactly the envelopes the schemas accept (fast path and schema agree)', () => {
    const events: Record<string, unknown>[] = [
      { type: 'event', event: 'tick' },
      { type: 'event', event: 'tick', seq: 0, extra: { a: 1 } },
      { type: 'event', event: 'tick', seq: 1.5 },
      { type: 'event', event: 'tick', seq: -1 },
      { type: 'event', event: 'tick', seq: '3' },
      { type: 'event', event: '' },
      { type: 'event', event: 7 },
      { type: 'event' },
      { type: 'event', event: 'health', stateVersion: { presence: 1, health: 2 } },
      { type: 'event', event: 'health', stateVersion: { presence: '1' } },
      { type: 'event', event: 'health', stateVersion: null },
      { type: 'event', event: 'health', stateVersion: [] },
    ];
    for (const frame of events) {
      const parsed = parseFrameObject(frame);
      assert.equal(parsed.success, v.safeParse(EventFrameSchema, frame).success, JSON.stringify(frame));
    }
    const responses: Record<string, unknown>[] = [
      { type: 'res', id: 'a', ok: true, payload: {} },
      { type: 'res', id: 'a', ok: false, error: { code: 'X', message: 'm' } },
      { type: 'res', id: 'a', ok: false, error: { code: 'X' } },
      { type: 'res', id: 'a', ok: true, error: { code: 'X', message: 'm' } },
      { type: 'res', id: 'a', ok: true, error: 'boom' },
      { type: 'res', id: 1, ok: true },
      { type: 'res', id: 'a', ok: 'yes' },
      { type: 'res', id: 'a' },
    ];
    for (const frame of responses) {
      const parsed = parseFrameObject(frame);
      assert.equal(parsed.success, v.safeParse(ResponseFrameSchema, frame).success, JSON.stringify(frame));
    }
  });

  it('returns a well-formed event envelope without copying it', () => {
    const frame = { type: 'event', event: 'session.tool', payload: { big: 'x' }, seq: 9 };
    const parsed = parseFrameObject(frame);
    assert.ok(parsed.success && parsed.kind === 'event');
    assert.equal(parsed.frame, frame);
  });
});
