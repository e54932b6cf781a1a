import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createAppLogger } from '../src/logger.ts';

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return { stream, text: () => text };
}

const now = () => new Date('2026-05-01T10:00:00.000Z');

describe('createAppLogger', () => {
  it('writes `<ISO> <LEVEL> [<subsystem>] <message> key=value` lines off a TTY', () => {
    const out = sink();
    const log = createAppLogger({ stream: out.stream, now }).child('gateway');
    log.info('connected', { protocol: 4, server: '2026.9.6', reason: 'two words', skipped: undefined });
    log.debug('hidden at info');
    assert.equal(
      out.text(),
      '2026-05-01T10:00:00.000Z INFO [gateway] connected protocol=4 server=2026.9.6 reason="two words"\n',
    );
  });

  it('writes JSON lines with log.format json and honours setLevel', () => {
    const out = sink();
    const log = createAppLogger({ stream: out.stream, now, format: 'json', level: 'warn' });
    log.info('dropped');
    log.setLevel('debug');
    log.child('api').debug('kept', { n: 1 });
    assert.deepEqual(JSON.parse(out.text()), {
      ts: '2026-05-01T10:00:00.000Z',
      level: 'debug',
      subsystem: 'api',
      msg: 'kept',
      n: 1,
    });
  });

  it('prints registered secrets as [REDACTED] in every child', () => {
    const out = sink();
    const root = createAppLogger({ stream: out.stream, now });
    root.addSecret('tok-abcdef-123');
    root.child('gateway').warn('rejected tok-abcdef-123', { header: 'Bearer tok-abcdef-123' });
    assert.ok(!out.text().includes('tok-abcdef-123'));
    assert.match(out.text(), /rejected \[REDACTED\] header="Bearer \[REDACTED\]"/);
  });
});
