import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ADVERTISED_EVENTS, CONSUMED_EVENTS, EVENTS, isKnownEvent, parseEventPayload } from '../src/index.ts';
import { findResult, loadFixture } from './_fixtures.ts';

const toolPayload = (data: Record<string, unknown>) => ({
  runId: 'r',
  sessionKey: 'agent:main:main',
  agentId: 'main',
  stream: 'tool',
  seq: 1,
  ts: 1,
  data: { name: 'exec', toolCallId: 'call_1', ...data },
});

describe('EVENTS / CONSUMED_EVENTS', () => {
  it('consumes every known event except connect.challenge', () => {
    assert.equal(Object.keys(EVENTS).length, 12);
    assert.equal(CONSUMED_EVENTS.length, 11);
    assert.equal(CONSUMED_EVENTS.includes(EVENTS.CONNECT_CHALLENGE), false);
    assert.ok(CONSUMED_EVENTS.includes(EVENTS.EXEC_APPROVAL_REQUESTED));
    assert.equal(Object.values(EVENTS).includes('tool_call' as never), false);
    assert.equal(isKnownEvent('tool_result'), false);
  });
});

describe('ADVERTISED_EVENTS', () => {
  it('lists only events the real 2026.9.6 hello-ok advertises', () => {
    const hello = findResult(loadFixture('rpc.jsonl'), 'connect') as { features: { events: string[] } };
    const advertised = new Set(hello.features.events);
    assert.deepEqual(
      ADVERTISED_EVENTS.filter((name) => !advertised.has(name)),
      [],
    );
    // config.changed is emitted (rpc.jsonl) but not advertised, so it is left out of the check.
    assert.equal(advertised.has(EVENTS.CONFIG_CHANGED), false);
    assert.equal(ADVERTISED_EVENTS.length, CONSUMED_EVENTS.length - 1);
  });
});

describe('parseEventPayload', () => {
  it('passes unknown event names through untouched with known=false', () => {
    const payload = { anything: [1, 2] };
    const result = parseEventPayload('presence', payload);
    assert.ok(result.success);
    assert.equal(result.known, false);
    assert.equal(result.output, payload);
  });

  it('tolerates unknown tool phases, chat states, agent streams and sessions.changed phases', () => {
    const cases: [string, unknown][] = [
      ['session.tool', toolPayload({ phase: 'end' })],
      ['agent', { ...toolPayload({ phase: 'cancelled' }), stream: 'brand-new-stream' }],
      ['agent', { runId: 'r', stream: 'assistant', data: { text: 'hi' }, ts: 1 }],
      ['chat', { runId: 'r', sessionKey: 's', state: 'paused', phase: 'thinking_harder' }],
      ['sessions.changed', { sessionKey: 's', phase: 'hibernate', reason: 'new-reason', ts: 1 }],
      ['exec.approval.resolved', { id: 'a', decision: 'allow-forever', ts: 1 }],
    ];
    for (const [name, payload] of cases) {
      const result = parseEventPayload(name, payload);
      assert.ok(result.success, `${name}: ${!result.success ? result.reason : ''}`);
      assert.equal(result.known, true);
    }
  });

  it('keeps unknown keys and reads nulls as absent', () => {
    const result = parseEventPayload('exec.approval.requested', {
      id: 'a',
      approvalKind: 'exec',
      request: { command: 'ls', systemRunPlan: null, nodeId: null, futureField: { x: 1 } },
      createdAtMs: 1,
    });
    assert.ok(result.success);
    const output = result.output as { request: Record<string, unknown> };
    assert.equal(output.request.systemRunPlan, undefined);
    assert.deepEqual(output.request.futureField, { x: 1 });
  });

  it('fails with a reason naming the event when a field we read is wrong', () => {
    const cases: [string, unknown][] = [
      ['session.tool', { runId: 'r', data: { phase: 'start' } }],
      ['chat', { runId: 'r' }],
      ['exec.approval.requested', { request: { command: 'ls' } }],
      ['exec.approval.requested', { id: 'a', request: { command: 42 } }],
      ['tick', 'not-an-object'],
    ];
    for (const [name, payload] of cases) {
      const result = parseEventPayload(name, payload);
      assert.equal(result.success, false, name);
      assert.match(
        !result.success ? result.reason : '',
        new RegExp(`invalid ${name.replace('.', '\\.')} payload`),
      );
    }
  });
});
