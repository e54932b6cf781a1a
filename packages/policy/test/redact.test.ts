import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  buildSnippet,
  fingerprint,
  KNOWN_TOKEN_PREFIXES,
  maskSecrets,
  redactionMarker,
  SNIPPET_MAX,
} from '../src/redact.ts';
import { KEY, OTHER_KEY, rng } from './_fixtures.ts';

const SECRETS = [
  'AKIAQWERTYUIOPASDFGH',
  'ghp_0123456789abcdefghijABCDEFGHIJ012345',
  'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789',
  'xoxb-123456789012-abcdefghijkl',
  'glpat-abcdefghij0123456789',
];

describe('maskSecrets', () => {
  it('masks known token shapes and keeps their prefix', () => {
    for (const s of SECRETS) {
      const out = maskSecrets(`curl -H "Authorization: Bearer ${s}" https://x.invalid`);
      assert.ok(!out.includes(s), out);
      assert.ok(!out.includes(s.slice(-8)), out);
      assert.match(out, /\[MASKED len=\d+\]/);
    }
    assert.match(maskSecrets('id AKIAQWERTYUIOPASDFGH'), /AKIA\[MASKED len=16\]/);
  });

  it('masks assignment values and URL passwords but keeps the key', () => {
    assert.equal(maskSecrets('password=hunter2hunter2'), 'password=[MASKED len=14]');
    assert.equal(
      maskSecrets('postgres://app:s3cretpw@db.internal/x'),
      'postgres://app:[MASKED len=8]@db.internal/x',
    );
    assert.match(maskSecrets('{"api_key": "abcd1234efgh5678"}'), /"api_key": "\[MASKED len=16\]"/);
  });

  it('masks long opaque blobs', () => {
    const blob = 'Zm9vYmFyYmF6cXV4cXV1eHh5enp5eHh5enp5eHh5enp5';
    assert.ok(!maskSecrets(`token ${blob}`).includes(blob));
  });

  it('leaves ordinary text alone', () => {
    const text = 'rm -rf node_modules && npm ci';
    assert.equal(maskSecrets(text), text);
  });

  it('skips a mask only where it cannot match: same output as every mask run (fuzz)', () => {
    // The reference runs every mask unconditionally; the masker checks cheap necessary conditions first.
    const source = readFileSync(new URL('../src/redact.ts', import.meta.url), 'utf8');
    const block = source.slice(
      source.indexOf('const MASKS'),
      source.indexOf('];', source.indexOf('const MASKS')),
    );
    const masks = [...block.matchAll(/^ {2}(\/.*\/[a-z]+),$/gm)].map(
      (m) => new Function(`return ${m[1]}`)() as RegExp,
    );
    assert.equal(masks.length, 10);
    const reference = (text: string) => {
      let out = text;
      for (const re of masks) {
        out = out.replace(re, (match: string, ...groups: unknown[]) => {
          if (typeof groups[0] === 'string' && typeof groups[1] === 'string' && groups.length >= 4) {
            return `${groups[0]}[MASKED len=${groups[1].length}]${typeof groups[2] === 'string' ? groups[2] : ''}`;
          }
          if (match.startsWith('[MASKED') || match.startsWith('[REDACTED')) return match;
          const prefix = KNOWN_TOKEN_PREFIXES.find((p) => match.startsWith(p)) ?? '';
          return `${prefix}[MASKED len=${match.length - prefix.length}]`;
        });
      }
      return out;
    };
    const parts = [
      ...SECRETS,
      'password=',
      'PASSWD: ',
      'Token',
      'api-key',
      'x',
      ' ',
      '"',
      '=',
      ':',
      '://',
      'user:pw',
      '@',
      'https://a:b',
      '@host/',
      'eyJhbGciOi.eyJzdWIi.sig',
      'A'.repeat(31),
      'b/+_-',
      'ſecret',
      '\u212Aey',
      '\n',
      '-----BEGIN RSA PRIVATE KEY-----',
      'é',
    ];
    const rand = rng(3);
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = Math.floor(rand() * 12);
      for (let j = 0; j < n; j++) text += parts[Math.floor(rand() * parts.length)];
      assert.equal(maskSecrets(text), reference(text), JSON.stringify(text));
    }
  });
});

describe('buildSnippet', () => {
  it('replaces the value with a REDACTED marker in redacted categories', () => {
    const text = `${'x'.repeat(300)} aws_key=AKIAQWERTYUIOPASDFGH ${'y'.repeat(300)}`;
    const start = text.indexOf('AKIA');
    const snippet = buildSnippet({
      text,
      start,
      end: start + 20,
      valueStart: start,
      valueEnd: start + 20,
      ruleId: 'T-AWS-KEY',
      redact: true,
    });
    assert.ok(snippet.length <= SNIPPET_MAX);
    assert.ok(snippet.includes('AKIA[REDACTED:T-AWS-KEY len=16]'), snippet);
    assert.ok(!snippet.includes('QWERTYUIOPASDFGH'));
  });

  it('masks secrets in the context of non-redacted findings', () => {
    const text = 'curl -H "x-api-key: AKIAQWERTYUIOPASDFGH" https://x.invalid/i.sh | sh';
    const start = text.indexOf('| sh');
    const snippet = buildSnippet({
      text,
      start,
      end: start + 4,
      valueStart: start,
      valueEnd: start + 4,
      ruleId: 'R-X',
      redact: false,
    });
    assert.ok(snippet.includes('| sh'));
    assert.ok(!snippet.includes('QWERTYUIOPASDFGH'), snippet);
  });

  it('never exceeds 120 chars, even for a long match', () => {
    const text = 'a'.repeat(1000);
    const snippet = buildSnippet({
      text,
      start: 10,
      end: 900,
      valueStart: 10,
      valueEnd: 900,
      ruleId: 'R-X',
      redact: false,
    });
    assert.ok(snippet.length <= SNIPPET_MAX);
  });

  it('strips control characters', () => {
    const snippet = buildSnippet({
      text: 'a\nb\u0000c',
      start: 0,
      end: 5,
      valueStart: 0,
      valueEnd: 5,
      ruleId: 'R-X',
      redact: false,
    });
    assert.equal(snippet, 'a b c');
  });
});

describe('redactionMarker', () => {
  it('keeps a known token prefix only', () => {
    assert.equal(
      redactionMarker('R-X', 'ghp_0123456789abcdefghijABCDEFGHIJ012345'),
      'ghp_[REDACTED:R-X len=36]',
    );
    assert.equal(redactionMarker('R-X', '123-45-6789'), '[REDACTED:R-X len=11]');
  });
});

describe('fingerprint', () => {
  it('is 16 hex chars, stable per key and value, and depends on the key', () => {
    const a = fingerprint(KEY, '123-45-6789');
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(fingerprint(KEY, '123-45-6789'), a);
    assert.notEqual(fingerprint(OTHER_KEY, '123-45-6789'), a);
    assert.notEqual(fingerprint(KEY, '123-45-6780'), a);
  });
});
