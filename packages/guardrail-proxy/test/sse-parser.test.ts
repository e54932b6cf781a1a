import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSseParser, type SseFrame } from '../src/stream/index.ts';

type Parsed = { event: string; data: string | undefined; id?: string; retry?: number; raw: string };

function parse(chunks: readonly Uint8Array[], maxEventBytes?: number) {
  const frames: Parsed[] = [];
  const p = createSseParser({
    onFrame: (f: SseFrame) => {
      const x: Parsed = { event: f.event, data: f.data, raw: Buffer.from(f.raw).toString('latin1') };
      if (f.id !== undefined) x.id = f.id;
      if (f.retry !== undefined) x.retry = f.retry;
      frames.push(x);
    },
    ...(maxEventBytes ? { maxEventBytes } : {}),
  });
  const results = chunks.map((c) => p.push(c));
  const { droppedBytes } = p.end();
  return { frames, results, droppedBytes };
}

function cutsAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(at, c));
    at = c;
  }
  return out;
}

const MIXED = Buffer.from(
  '\uFEFF: comment line\n' +
    'event: first\r\ndata: line one\r\ndata: line two\r\nid: 7\r\nretry: 1500\r\n\r\n' +
    'data:no-space\rdata:  two spaces\r\r' +
    'event: ünïcödé 😀\ndata: {"t":"a😀b"}\nunknown: field\ndata\n\n' +
    ': keep-alive\n\n' +
    'data: last\r\n\r\n',
);

describe('createSseParser', () => {
  it('parses event, multi-line data, id, retry, comments and every line ending', () => {
    const { frames, droppedBytes } = parse([MIXED]);
    assert.equal(droppedBytes, 0);
    assert.deepEqual(
      frames.map(({ raw: _raw, ...f }) => f),
      [
        { event: 'first', data: 'line one\nline two', id: '7', retry: 1500 },
        { event: '', data: 'no-space\n two spaces' },
        { event: 'ünïcödé 😀', data: '{"t":"a😀b"}\n' },
        { event: '', data: undefined },
        { event: '', data: 'last' },
      ],
    );
  });

  it('keeps each frame’s exact original bytes, the BOM included, so frames concatenate to the input', () => {
    const { frames } = parse([MIXED]);
    assert.equal(frames.map((f) => f.raw).join(''), MIXED.toString('latin1'));
    assert.ok(frames[0]!.raw.startsWith('\xEF\xBB\xBF'), 'the BOM stays with the first frame');
  });

  it('yields identical frames for every single split point and for 1- and 2-byte chunks', () => {
    const want = parse([MIXED]).frames;
    for (let i = 0; i <= MIXED.length; i++) {
      assert.deepEqual(parse(cutsAt(MIXED, [i])).frames, want, `split at ${i}`);
    }
    for (const size of [1, 2]) {
      const cuts: number[] = [];
      for (let i = size; i < MIXED.length; i += size) cuts.push(i);
      assert.deepEqual(parse(cutsAt(MIXED, cuts)).frames, want, `${size}-byte chunks`);
    }
  });

  it('joins a CR at a chunk end with the LF that starts the next chunk (no phantom frame)', () => {
    const bytes = Buffer.from('data: a\r\n\r\ndata: b\r\n\r\n');
    const { frames } = parse(cutsAt(bytes, [10, 11]));
    assert.deepEqual(
      frames.map((f) => f.raw),
      ['data: a\r\n\r\n', 'data: b\r\n\r\n'],
    );
  });

  it('decodes a code point split across chunks', () => {
    const bytes = Buffer.from('data: 😀é漢\n\n');
    for (let i = 6; i < bytes.length - 2; i++) {
      assert.equal(parse(cutsAt(bytes, [i])).frames[0]!.data, '😀é漢', `split at ${i}`);
    }
  });

  it('does not dispatch a partial event at EOF, but does dispatch one ended by a final CR', () => {
    const partial = parse([Buffer.from('data: done\n\ndata: partial\n')]);
    assert.deepEqual(
      partial.frames.map((f) => f.data),
      ['done'],
    );
    assert.equal(partial.droppedBytes, 'data: partial\n'.length);
    const cr = parse([Buffer.from('data: x\r\r')]);
    assert.deepEqual(
      cr.frames.map((f) => f.raw),
      ['data: x\r\r'],
    );
    assert.equal(cr.droppedBytes, 0);
  });

  it('fails an event larger than maxEventBytes, even before its line ends', () => {
    const big = Buffer.from(`data: ${'x'.repeat(100)}`);
    const r = parse([Buffer.from('data: ok\n\n'), big], 64);
    assert.deepEqual(
      r.frames.map((f) => f.data),
      ['ok'],
    );
    assert.equal(r.results[1]!.success, false);
    assert.equal(!r.results[1]!.success && r.results[1]!.code, 'event_too_large');
    const fits = parse([Buffer.from(`data: ${'x'.repeat(40)}\n\n`)], 64);
    assert.equal(fits.frames.length, 1);
  });

  it('copies retained bytes, so a caller reusing its chunk buffer does not corrupt frames', () => {
    const frames: string[] = [];
    const p = createSseParser({ onFrame: (f) => frames.push(Buffer.from(f.raw).toString()) });
    const buf = Buffer.from('data: abc');
    p.push(buf);
    buf.fill(0x7a);
    p.push(Buffer.from('\n\n'));
    assert.deepEqual(frames, ['data: abc\n\n']);
  });
});
