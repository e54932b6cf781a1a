import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRegex } from '../src/regex.ts';
import { ScanText } from '../src/scan-text.ts';

function ok(source: string) {
  const r = compileRegex(source);
  if (!r.success) assert.fail(`${source}: ${r.message}`);
  return r;
}

describe('compileRegex', () => {
  it('moves leading inline flags to RE2 flags', () => {
    const r = ok('(?i)secret');
    assert.equal(r.matcher.flags, 'i');
    assert.deepEqual(r.matcher.exec('a SECRET b'), { start: 2, end: 8, valueStart: 2, valueEnd: 8 });
    const s = ok('(?is)a.b');
    assert.equal(s.matcher.flags, 'is');
    assert.equal(s.matcher.exec('A\nB')?.start, 0);
    assert.equal(ok('a.b').matcher.exec('a\nb'), null);
  });

  it('accepts scoped (?i:…) groups', () => {
    assert.equal(ok('x(?i:abc)').matcher.exec('xABC')?.end, 4);
  });

  it('rejects lookaround, backreferences and other inline flags with a reason', () => {
    for (const [src, why] of [
      ['(?=x)a', 'lookaround'],
      ['a(?!x)', 'lookaround'],
      ['(?<=x)a', 'lookaround'],
      ['(?<!x)a', 'lookaround'],
      ['(a)\\1', 'backreferences'],
      ['(?<n>a)\\k<n>', 'backreferences'],
      ['(?m)^a', 'inline flag "m"'],
      ['a++', 'possessive'],
      ['(a', 'missing closing )'],
      ['[a', 'missing closing ]'],
    ] as const) {
      const r = compileRegex(src);
      assert.equal(r.success, false, src);
      if (!r.success) {
        assert.match(r.message, /^invalid RE2 pattern: /, src);
        assert.ok(r.message.includes(why), `${src}: ${r.message}`);
      }
    }
  });

  it('rejects what RE2 itself rejects', () => {
    const r = compileRegex('a{2000}');
    assert.equal(r.success, false);
  });

  it('rejects patterns over 2 KiB', () => {
    const r = compileRegex('a'.repeat(2049));
    assert.equal(r.success, false);
    if (!r.success) assert.match(r.message, /limit is 2048/);
  });

  it('computes the max match span', () => {
    const cases: [string, number][] = [
      ['abc', 3],
      ['a{0,10}', 10],
      ['(?:ab|c){2,3}', 6],
      ['\\bfoo\\b', 3],
      ['^x$', 1],
      ['[a-z]{1,512}', 512],
      ['\\Qa.b\\E', 3],
      ['\\p{L}{2}', 2],
      ['(a|bc)?d', 3],
      ['x{3}', 3],
      ['😀{2}', 2],
    ];
    for (const [src, span] of cases) assert.equal(ok(src).matcher.maxSpan, span, src);
    for (const src of ['a*', 'a+', 'a{2,}', '(?:ab)+c', '(\\w+\\s?)*$']) {
      const r = ok(src);
      assert.equal(r.matcher.maxSpan, Number.POSITIVE_INFINITY, src);
      assert.equal(r.unbounded, true, src);
    }
    assert.equal(ok('[a-z]{1,513}').unbounded, true);
    assert.equal(ok('[a-z]{1,512}').unbounded, false);
    assert.equal(compileRegex('a{0,600}', { maxSpan: 1000 }).unbounded, false);
  });

  it('returns UTF-16 offsets on non-ASCII text', () => {
    const text = 'é😀 naïve abc 😀';
    const m = ok('abc').matcher.exec(text);
    assert.deepEqual(m && [m.start, m.end], [text.indexOf('abc'), text.indexOf('abc') + 3]);
    const m2 = ok('😀').matcher.exec(text, 3);
    assert.equal(m2?.start, text.lastIndexOf('😀'));
    const m3 = ok('naïve').matcher.exec(new ScanText(text));
    assert.equal(m3?.start, text.indexOf('naïve'));
  });

  it('reports capture group 1 as the value', () => {
    const m = ok('key=(\\w{1,10});').matcher.exec('x key=abc; y');
    assert.deepEqual(m, { start: 2, end: 10, valueStart: 6, valueEnd: 9 });
    const none = ok('key=(?:\\w{1,10})').matcher.exec('key=zz');
    assert.deepEqual(none, { start: 0, end: 6, valueStart: 0, valueEnd: 6 });
  });

  it('keeps text before `from` as context and bounds matches by `to`', () => {
    const m = ok('\\bb').matcher;
    assert.equal(m.exec('ab', 1), null);
    assert.equal(m.exec('a b', 1)?.start, 2);
    assert.equal(ok('^a').matcher.exec('aa', 1), null);
    assert.equal(ok('abc').matcher.exec('xxabc', 0, 4), null);
    assert.equal(ok('abc').matcher.exec('xxabc', 0, 5)?.start, 2);
  });
});

describe('ScanText', () => {
  it('converts between byte and UTF-16 offsets, including lone surrogates', () => {
    const text = `${'a'.repeat(70)}é${'😀'.repeat(40)}\ud800x${'b'.repeat(100)}`;
    const st = new ScanText(text);
    for (let u = 0; u <= text.length; u++) {
      const b = st.toByte(u);
      const back = st.toUtf16(b);
      // A unit inside a surrogate pair maps to the pair start.
      const expected =
        u > 0 &&
        u < text.length &&
        text.charCodeAt(u) >= 0xdc00 &&
        text.charCodeAt(u) <= 0xdfff &&
        text.charCodeAt(u - 1) >= 0xd800 &&
        text.charCodeAt(u - 1) <= 0xdbff
          ? u - 1
          : u;
      assert.equal(back, expected, `u=${u}`);
      assert.equal(b, Buffer.byteLength(text.slice(0, expected)), `bytes u=${u}`);
    }
  });
});
