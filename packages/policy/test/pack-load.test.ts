import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { IssueSink } from '../src/_pnode.ts';
import { isPolicyError, loadBundledPacks, readPackFiles } from '../src/index.ts';
import { parsePackSource } from '../src/pack-load.ts';

function load(text: string, bundled = false) {
  const sink = new IssueSink();
  const pack = parsePackSource({ path: 'p.yaml', text, bundled }, sink);
  return { pack, issues: sink.issues };
}

const HEAD = 'pack: { name: p, version: 1.0.0 }\nrules:\n';
const RULE = `  - id: P-ONE
    title: One
    category: test
    severity: high
    targets: [tool_result]
    patterns: ['one']
`;

describe('parsePackSource', () => {
  it('reads a valid pack', () => {
    const { pack, issues } = load(HEAD + RULE);
    assert.deepEqual(issues, []);
    assert.equal(pack?.name, 'p');
    assert.equal(pack?.rules[0]?.id, 'P-ONE');
    assert.equal(pack?.rules[0]?.valid, true);
  });

  it('rejects duplicate keys, merge keys, anchors/aliases and custom tags with positions', () => {
    const dup = load(`${HEAD}${RULE}    severity: low\n`);
    assert.equal(dup.issues[0]?.code, 'E_YAML');
    assert.match(dup.issues[0]!.message, /^p\.yaml:9:5: duplicate key/);
    const merge = load(`${HEAD}${RULE}    <<: { tags: [x] }\n`);
    assert.ok(merge.issues.some((i) => i.code === 'E_YAML' && /merge keys/.test(i.message) && i.line === 9));
    const alias = load(
      `${HEAD}  - &r\n    id: P-A\n    title: A\n    category: t\n    severity: low\n    targets: [prompt]\n    patterns: [a]\n  - *r\n`,
    );
    assert.ok(alias.issues.some((i) => i.code === 'E_YAML' && /anchors|aliases/.test(i.message)));
    const tag = load(`${HEAD}${RULE.replace("['one']", '!regex one')}`);
    assert.ok(
      tag.issues.some((i) => i.code === 'E_YAML' && /custom tags/.test(i.message)),
      JSON.stringify(tag.issues),
    );
  });

  it('reports YAML syntax errors as E_YAML', () => {
    const { pack, issues } = load('pack: { name: p\nrules: [');
    assert.equal(pack, undefined);
    assert.ok(issues.length > 0 && issues.every((i) => i.code === 'E_YAML' && i.line !== undefined));
  });

  it('reports an unknown field with a did-you-mean hint, file:line:col and rule id', () => {
    const { issues } = load(`${HEAD}${RULE}    patern: ['x']\n`);
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.code, 'E_SCHEMA_UNKNOWN_FIELD');
    assert.equal(
      issues[0]!.message,
      'p.yaml:9:5 rule P-ONE: unknown field "patern" (did you mean "patterns"?)',
    );
    assert.equal(issues[0]!.ruleId, 'P-ONE');
    assert.deepEqual([issues[0]!.line, issues[0]!.col], [9, 5]);
  });

  it('reports bad enums and types', () => {
    const { issues } = load(
      HEAD +
        RULE.replace('severity: high', 'severity: severe').replace('[tool_result]', '[tool_result, args]'),
    );
    const sev = issues.find((i) => i.message.includes('must be one of info'));
    assert.equal(sev?.code, 'E_ENUM');
    assert.equal(
      sev?.message,
      'p.yaml:6:15 rule P-ONE severity: must be one of info, low, medium, high, critical',
    );
    assert.ok(issues.some((i) => i.code === 'E_ENUM' && i.message.includes('"args" is not a target')));
    const t = load(HEAD + RULE.replace("patterns: ['one']", 'patterns: one'));
    assert.equal(t.issues[0]?.code, 'E_SCHEMA_TYPE');
  });

  it('checks ids, required fields and pack headers', () => {
    const bad = load(HEAD + RULE.replace('P-ONE', 'p_one'));
    assert.ok(bad.issues.some((i) => i.code === 'E_SCHEMA_TYPE' && i.message.includes('must match')));
    const missing = load(`${HEAD}  - id: P-TWO\n    title: Two\n`);
    for (const f of ['category', 'severity', 'targets']) {
      assert.ok(
        missing.issues.some((i) => i.message.includes(`missing required field "${f}"`)),
        f,
      );
    }
    assert.ok(missing.issues.some((i) => i.message.includes('needs `patterns`, `conditions`, or both')));
    const header = load(`pack: { name: Bad Name, version: 1.0 }\nrules: []\n`);
    assert.equal(header.issues.length, 2);
  });

  it('requires a prefilter on bundled pattern rules', () => {
    const { issues } = load(HEAD + RULE, true);
    assert.ok(issues.some((i) => i.message.includes('bundled rules with patterns need a prefilter')));
  });

  it('rejects files over 1 MiB with E_LIMIT', () => {
    const { issues } = load(`${HEAD}# ${'x'.repeat(1024 * 1024)}\n`);
    assert.equal(issues[0]?.code, 'E_LIMIT');
  });

  it('reports unknown condition keys with a hint', () => {
    const { issues } = load(`${HEAD}  - id: P-C
    title: C
    category: test
    severity: low
    targets: [command]
    conditions:
      all:
        - programs: [rm]
`);
    assert.equal(issues[0]?.code, 'E_SCHEMA_UNKNOWN_FIELD');
    assert.match(
      issues[0]!.message,
      /^p\.yaml:10:11 rule P-C conditions\.all\[0\]\.programs: unknown condition "programs" \(did you mean "program"\?\)$/,
    );
  });
});

describe('readPackFiles', () => {
  it('reads a directory (sorted, yaml only) and a single file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dc-packs-'));
    try {
      await writeFile(join(dir, 'b.yaml'), 'b');
      await writeFile(join(dir, 'a.yml'), 'a');
      await writeFile(join(dir, 'notes.txt'), 'x');
      const packs = await readPackFiles(dir);
      assert.deepEqual(
        packs.map((p) => [p.path.slice(dir.length + 1), p.text, p.bundled]),
        [
          ['a.yml', 'a', false],
          ['b.yaml', 'b', false],
        ],
      );
      const one = await readPackFiles(join(dir, 'b.yaml'));
      assert.equal(one.length, 1);
      await assert.rejects(readPackFiles(join(dir, 'missing')), (e) => isPolicyError(e) && e.code === 'IO');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('loadBundledPacks', () => {
  it('returns the bundled sources marked bundled', () => {
    const packs = loadBundledPacks();
    assert.ok(packs.every((p) => p.bundled && /\.ya?ml$/.test(p.path)));
  });
});
