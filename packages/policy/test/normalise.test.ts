// normalisePath's one-pass shortcut for text it returns unchanged must agree with the full normalisation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HOME, normalisePath } from '../src/shell/_normalise.ts';
import { rng } from './_fixtures.ts';

/** The full normalisation, written plainly (the reference the shortcut must match). */
function reference(text: string): string {
  if (text === '' || (!text.includes('/') && text !== '.' && text !== '..') || text.length > 4096)
    return text;
  if (/\s/.test(text) || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /[$`]/.test(text)) return text;
  let root = '';
  let rest = text;
  if (rest.startsWith(HOME)) {
    if (rest.length > HOME.length && rest[HOME.length] !== '/') return text;
    root = HOME;
    rest = rest.slice(HOME.length);
  } else if (rest.startsWith('/')) root = '/';
  const out: string[] = [];
  let ups = 0;
  for (const seg of rest.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0) out.pop();
      else if (root === '') ups++;
      else if (root === HOME) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const body = [...new Array<string>(ups).fill('..'), ...out].join('/');
  if (root === '/') return `/${body}`;
  if (root === HOME) return body === '' ? HOME : `${HOME}/${body}`;
  return body === '' ? '.' : body;
}

describe('normalisePath', () => {
  it('normalises dot segments, duplicate and trailing slashes', () => {
    assert.equal(normalisePath('/etc//passwd'), '/etc/passwd');
    assert.equal(normalisePath('./a/../b/'), 'b');
    assert.equal(normalisePath('<home>/.ssh/../.ssh/id_rsa'), '<home>/.ssh/id_rsa');
    assert.equal(normalisePath('../x'), '../x');
    assert.equal(normalisePath('/'), '/');
    assert.equal(normalisePath('src/app.ts'), 'src/app.ts');
    assert.equal(normalisePath('a b/../c'), 'a b/../c');
    assert.equal(normalisePath('https://x.io//a/../b'), 'https://x.io//a/../b');
  });

  it('agrees with the full normalisation on random path-like text (fuzz)', () => {
    const rand = rng(99);
    const parts = [
      '/',
      '/',
      '.',
      '..',
      'a',
      'bc',
      '.x',
      'x.',
      '...',
      HOME,
      ' ',
      '$',
      '`',
      '~',
      ':',
      'é',
      '😀',
      'http:',
    ];
    for (let i = 0; i < 50_000; i++) {
      let text = '';
      const n = Math.floor(rand() * 8);
      for (let j = 0; j < n; j++) text += parts[Math.floor(rand() * parts.length)];
      assert.equal(normalisePath(text), reference(text), JSON.stringify(text));
    }
  });
});
