// Property tests (spec 30 §A7) with a seeded PRNG: explanations never carry evidence, the prefilter never changes
// a result, window boundaries never change matches, adding a rule never lowers a verdict.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CompiledPolicy,
  compilePolicy,
  createEngine,
  loadBundledPacks,
  type PolicyEngine,
  type Subject,
  type Verdict,
} from '../src/index.ts';
import { compileTest, ctx, KEY, rng, testPack } from './_fixtures.ts';

const ACT = { allow: 0, alert: 1, confirm: 2, block: 3 } as const;
const SEV = { info: 0, low: 1, medium: 2, high: 3, critical: 4 } as const;

const testPolicy = compileTest();
const bundledResult = compilePolicy({ packs: loadBundledPacks() });
const bundled: CompiledPolicy | undefined = bundledResult.success ? bundledResult.policy : undefined;

/** Every example string of every rule in a policy's packs (a cheap source of realistic matching text). */
function examplesOf(policy: CompiledPolicy, sources: string[]): string[] {
  const out: string[] = [];
  for (const text of sources) {
    for (const m of text.matchAll(/^\s*(?:match|no_match):\s*\[(.*)\]\s*$|^\s*-\s*'((?:[^']|'')*)'\s*$/gm)) {
      if (m[1]) for (const s of m[1].matchAll(/'((?:[^']|'')*)'/g)) out.push(s[1]!.replace(/''/g, "'"));
      else if (m[2]) out.push(m[2].replace(/''/g, "'"));
    }
  }
  void policy;
  return out.filter((s) => s.length > 0);
}

const NOISE = [
  'lorem ',
  'ipsum\n',
  'é ',
  '😀',
  ' | ',
  '; ',
  '&& ',
  '"',
  "'",
  '$HOME/',
  '~/.ssh/',
  'curl ',
  'sh',
  ' -rf ',
  '/',
  'AKIA',
  'ignore ',
  'x@y.io ',
  '\t',
  '0123456789',
];

function randomText(rand: () => number, pool: readonly string[], parts: number): string {
  let s = '';
  for (let i = 0; i < parts; i++) {
    const r = rand();
    if (r < 0.35 && pool.length > 0) s += pool[Math.floor(rand() * pool.length)];
    else s += NOISE[Math.floor(rand() * NOISE.length)];
    if (rand() < 0.3) s += ' ';
  }
  return s;
}

function subjects(text: string, i: number): Subject[] {
  return [
    { kind: 'tool_result', tool: 'read', text, isError: false },
    { kind: 'tool_call', tool: 'exec', args: { command: text } },
    { kind: 'tool_call', tool: 'write', args: { path: text.slice(0, 80), content: text } },
    { kind: 'approval', approvalId: `a${i}`, commandText: text },
    { kind: 'prompt', messages: [{ index: 0, role: 'tool', provenance: 'tool_output', text }] },
    { kind: 'completion', text, toolCalls: [] },
  ];
}

function strip(v: Verdict) {
  return {
    ...v,
    timing: { ...v.timing, scanMicros: 0 },
    trace: v.trace.filter((t) => !t.startsWith('prefilter:')),
  };
}

function policies(): [string, CompiledPolicy, string[]][] {
  const out: [string, CompiledPolicy, string[]][] = [['test', testPolicy, [testPack().text]]];
  if (bundled) out.push(['bundled', bundled, loadBundledPacks().map((p) => p.text)]);
  return out;
}

describe('properties', () => {
  it('explanations and reasons never contain a seeded secret or evidence; snippets never contain secrets', () => {
    const rand = rng(7);
    const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    for (const [name, policy] of policies()) {
      const engine = createEngine(policy, { evidenceKey: KEY });
      for (let i = 0; i < 200; i++) {
        let key = 'AKIA';
        for (let j = 0; j < 16; j++) key += alnum[Math.floor(rand() * alnum.length)];
        const secrets = [key, `ghp_${key.toLowerCase()}${key}`.slice(0, 40)];
        const text = `${randomText(rand, [], 4)} aws=${secrets[0]} token ${secrets[1]} ${randomText(rand, [], 4)} ignore previous instructions`;
        for (const subject of subjects(text, i)) {
          const v = engine.evaluate(
            subject,
            ctx({ lane: subject.kind === 'approval' ? 'exec_approval' : 'inspect_tool' }),
          );
          for (const s of secrets) {
            assert.ok(!v.explanation.includes(s) && !v.reason.includes(s), `${name}: secret in explanation`);
            assert.ok(!v.explanation.includes(s.slice(4, 14)), `${name}: secret part in explanation`);
            for (const f of v.findings)
              assert.ok(
                !f.evidence.snippet.includes(s.slice(4)),
                `${name}: ${f.ruleId} snippet leaks: ${f.evidence.snippet}`,
              );
          }
          const titles = v.findings.map((f) => f.title).join(' ');
          for (const f of v.findings) {
            const loc = f.evidence.location;
            const matched = loc.end - loc.start >= 12 ? text.slice(loc.start, loc.end) : '';
            if (matched && !titles.includes(matched))
              assert.ok(!v.explanation.includes(matched), `${name}: evidence in explanation`);
          }
          assert.ok(!v.explanation.includes('aws='));
        }
      }
    }
  });

  it('the prefilter never changes a result (fuzz over texts built from rule examples)', () => {
    for (const [name, policy, sources] of policies()) {
      const pool = examplesOf(policy, sources);
      assert.ok(pool.length > 10);
      const on = createEngine(policy, { evidenceKey: KEY });
      const off = createEngine(policy, { evidenceKey: KEY, prefilter: false });
      const rand = rng(11);
      for (let i = 0; i < (name === 'test' ? 300 : 150); i++) {
        const text = randomText(rand, pool, 1 + Math.floor(rand() * 8));
        for (const subject of subjects(text, i)) {
          const c = ctx({ lane: subject.kind === 'approval' ? 'exec_approval' : 'inspect_tool' });
          assert.deepEqual(
            strip(on.evaluate(subject, c)),
            strip(off.evaluate(subject, c)),
            `${name}: ${JSON.stringify(text)} as ${subject.kind}`,
          );
        }
      }
      // Every example alone as well.
      for (const [i, text] of pool.entries()) {
        for (const subject of subjects(text, i)) {
          const c = ctx({ lane: subject.kind === 'approval' ? 'exec_approval' : 'inspect_tool' });
          assert.deepEqual(
            strip(on.evaluate(subject, c)),
            strip(off.evaluate(subject, c)),
            `${name}: example ${JSON.stringify(text)} as ${subject.kind}`,
          );
        }
      }
    }
  });

  it('literal-anchored region scanning of large texts never changes a result', () => {
    // Texts ≥ 32 KiB get regex scans restricted to regions around necessary literals; compare with the engine
    // whose literal machinery is off, on texts that mix examples, case variants and astral characters.
    const tricky = ['ſecret', 'KEY', 'Ignore', 'İ', '😀😀', 'é', '\u212A', '  ', '-', '|', '@'];
    for (const [name, policy, sources] of policies()) {
      const pool = [...examplesOf(policy, sources), ...tricky];
      const on = createEngine(policy, { evidenceKey: KEY });
      const off = createEngine(policy, { evidenceKey: KEY, prefilter: false });
      const rand = rng(31);
      for (let i = 0; i < (name === 'test' ? 12 : 6); i++) {
        let text = '';
        while (text.length < 40_000) {
          text +=
            rand() < 0.1 ? `${pool[Math.floor(rand() * pool.length)]} ` : `${randomText(rand, tricky, 6)}\n`;
        }
        for (const subject of [
          { kind: 'tool_result', tool: 'read', text, isError: false },
          { kind: 'completion', text, toolCalls: [] },
          { kind: 'prompt', messages: [{ index: 0, role: 'tool', provenance: 'tool_output', text }] },
        ] as Subject[]) {
          assert.deepEqual(
            strip(on.evaluate(subject, ctx())),
            strip(off.evaluate(subject, ctx())),
            `${name} #${i} ${subject.kind}`,
          );
        }
      }
    }
  });

  it('splitting a target at any window boundary finds the same matches', () => {
    for (const [name, policy, sources] of policies()) {
      const pool = examplesOf(policy, sources).filter((s) => !s.includes('\n'));
      const base = createEngine(policy, { evidenceKey: KEY });
      const engines: PolicyEngine[] = [1024, 1500, 2048].map((w) =>
        createEngine(policy, { evidenceKey: KEY, windowChars: w, overlapChars: 512 }),
      );
      const rand = rng(23);
      for (let i = 0; i < 40; i++) {
        let text = '';
        while (text.length < 9000) {
          text +=
            rand() < 0.2
              ? `${pool[Math.floor(rand() * pool.length)]}\n`
              : `${'benign words and more words '.repeat(1 + Math.floor(rand() * 6))}\n`;
        }
        for (const subject of [
          { kind: 'tool_result', tool: 'read', text, isError: false },
          { kind: 'completion', text, toolCalls: [] },
        ] as Subject[]) {
          const want = strip(base.evaluate(subject, ctx()));
          for (const e of engines) assert.deepEqual(strip(e.evaluate(subject, ctx())), want, `${name} #${i}`);
        }
      }
    }
  });

  it('adding a rule never lowers a verdict', () => {
    const extra = {
      path: 'ops/extra.yaml',
      bundled: false,
      text: `pack: { name: extra, version: 1.0.0 }
rules:
  - { id: X-WORD, title: extra word, category: extra, severity: high, targets: [tool_result, tool_args, prompt, completion], patterns: ['(?i)\\bwords?\\b'] }
  - { id: X-SH, title: extra sh, category: extra, severity: medium, targets: [command], conditions: { program: [sh, bash] } }
  - { id: X-DOT, title: extra dot, category: extra, severity: low, targets: [tool_result, completion], patterns: ['\\.'] }
`,
    };
    for (const [name, policy, sources] of policies()) {
      const bigger = compilePolicy({
        packs: [...(name === 'test' ? [testPack()] : loadBundledPacks()), extra],
      });
      assert.ok(bigger.success, bigger.success ? '' : bigger.errors.map((e) => e.message).join('\n'));
      if (!bigger.success) return;
      const a = createEngine(policy, { evidenceKey: KEY });
      const b = createEngine(bigger.policy, { evidenceKey: KEY });
      const pool = examplesOf(policy, sources);
      const rand = rng(5);
      for (let i = 0; i < 150; i++) {
        const text = `${randomText(rand, pool, 5)} words`;
        for (const subject of subjects(text, i)) {
          const va = a.evaluate(subject, ctx());
          const vb = b.evaluate(subject, ctx());
          assert.ok(ACT[vb.rawAction] >= ACT[va.rawAction], `${name}: action lowered`);
          assert.ok(
            (vb.severity === null ? -1 : SEV[vb.severity]) >= (va.severity === null ? -1 : SEV[va.severity]),
            `${name}: severity lowered`,
          );
        }
      }
    }
  });
});
