import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LiteralSet } from '../src/_literal-set.ts';
import { foldString, LiteralIndex } from '../src/prefilter.ts';
import { rng } from './_fixtures.ts';

/** The prefilter view of a literal index: `[literal, rule]` pairs → marked rules. */
class Prefilter {
  readonly #index: LiteralIndex;
  constructor(entries: [string, number][]) {
    this.#index = new LiteralIndex([], entries);
  }
  scan(text: string, marks: Uint32Array, stamp: number): number {
    const before = marks.filter((m) => m === stamp).length;
    this.#index.scan(text, 0, marks, stamp);
    return marks.filter((m) => m === stamp).length - before;
  }
}

function candidates(pf: Prefilter | LiteralSet, text: string, rules: number): number[] {
  const marks = new Uint32Array(rules);
  if (pf instanceof LiteralSet) pf.scan(text, undefined, marks, 1);
  else pf.scan(text, marks, 1);
  return [...marks.keys()].filter((i) => marks[i] === 1);
}

describe('Prefilter', () => {
  it('finds overlapping literals in one pass (he/she/his/hers)', () => {
    const pf = new Prefilter([
      ['he', 0],
      ['she', 1],
      ['his', 2],
      ['hers', 3],
    ]);
    assert.deepEqual(candidates(pf, 'ushers', 4), [0, 1, 3]);
    assert.deepEqual(candidates(pf, 'ahis', 4), [2]);
    assert.deepEqual(candidates(pf, 'nothing', 4), []);
  });

  it('matches case-insensitively, also beyond ASCII', () => {
    const pf = new Prefilter([
      ['AKIA', 0],
      ['пароль', 1],
      ['Straße', 2],
      ['ignore previous', 3],
    ]);
    assert.deepEqual(candidates(pf, 'key akiaXYZ', 4), [0]);
    assert.deepEqual(candidates(pf, 'ПАРОЛЬ: x', 4), [1]);
    assert.deepEqual(candidates(pf, 'STRASSE straSSe STRAßE', 4), [2]);
    assert.deepEqual(candidates(pf, 'Please IGNORE PREVIOUS rules 😀', 4), [3]);
  });

  it('maps several rules to one literal and one rule to several literals', () => {
    const pf = new Prefilter([
      ['curl', 0],
      ['curl', 1],
      ['wget', 1],
    ]);
    assert.deepEqual(candidates(pf, 'wget x', 2), [1]);
    assert.deepEqual(candidates(pf, 'CURL x', 2), [0, 1]);
  });

  it('verifies long literals (entered by their prefix) in place', () => {
    const pf = new Prefilter([
      ['secret_access_key', 0],
      ['secret_acc', 1],
    ]);
    assert.deepEqual(candidates(pf, 'AWS_SECRET_ACCESS_KEY=x', 2), [0, 1]);
    assert.deepEqual(candidates(pf, 'secret_access_kez', 2), [1]);
    assert.deepEqual(candidates(pf, 'secret_acc', 2), [1]);
  });

  it('agrees with a naive substring search on random texts (fuzz)', () => {
    const rand = rng(42);
    const alphabet = 'abcAB_-é😀 .';
    const pick = (n: number) => {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    };
    for (let round = 0; round < 60; round++) {
      const literals: [string, number][] = [];
      const nRules = 1 + Math.floor(rand() * 12);
      for (let r = 0; r < nRules; r++) {
        const k = 1 + Math.floor(rand() * 3);
        for (let j = 0; j < k; j++) literals.push([pick(2 + Math.floor(rand() * 4)), r]);
      }
      const pf = new Prefilter(literals);
      for (let t = 0; t < 20; t++) {
        const text = pick(Math.floor(rand() * 200));
        const folded = foldString(text);
        const expected = [
          ...new Set(literals.filter(([l]) => folded.includes(foldString(l))).map(([, r]) => r)),
        ].sort((a, b) => a - b);
        assert.deepEqual(
          candidates(pf, text, nRules),
          expected,
          `round ${round} text ${JSON.stringify(text)}`,
        );
      }
    }
  });

  it('records every (overlapping) occurrence offset up to a cap', () => {
    const index = new LiteralIndex(['ab', 'abc', 'bc']);
    const hits = index.scan('xabcabc', 10);
    const at = (l: string) => hits.positions[index.idOf(l)!];
    assert.deepEqual(at('ab'), [1, 4]);
    assert.deepEqual(at('abc'), [1, 4]);
    assert.deepEqual(at('bc'), [2, 5]);
    const capped = index.scan('ababababab', 2);
    assert.equal(capped.counts[index.idOf('ab')!], 5);
    assert.equal(capped.positions[index.idOf('ab')!]!.length, 2);
  });

  it('reports by presence exactly the literals a counting scan finds (fuzz)', () => {
    const rand = rng(8);
    const alphabet = 'abcAB_-é😀 .';
    const pick = (n: number) => {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    };
    for (let round = 0; round < 40; round++) {
      const index = new LiteralIndex(
        Array.from({ length: 1 + Math.floor(rand() * 20) }, () => pick(1 + Math.floor(rand() * 4))),
      );
      for (let t = 0; t < 10; t++) {
        const text = pick(Math.floor(rand() * 300));
        const counts = index.scan(text, 0).counts;
        const want = [...counts.keys()].filter((id) => counts[id]! > 0);
        assert.deepEqual(
          [...index.presence(text)].sort((a, b) => a - b),
          want,
          JSON.stringify(text),
        );
        // A second pass over the same automaton starts clean.
        assert.deepEqual(
          [...index.presence(text)].sort((a, b) => a - b),
          want,
        );
      }
    }
  });

  it('reuses marks by stamp without clearing', () => {
    const pf = new Prefilter([['abc', 0]]);
    const marks = new Uint32Array(1);
    assert.equal(pf.scan('abc', marks, 1), 1);
    assert.equal(pf.scan('xyz', marks, 2), 0);
    assert.notEqual(marks[0], 2);
  });
});
