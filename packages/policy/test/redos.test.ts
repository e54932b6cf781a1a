// ReDoS canaries (spec 30 §A6.3): catastrophic-backtracking shapes as operator rules run on the linear engine over
// adversarial 64 KiB and 100 KiB inputs; they must compile (unbounded ones as warnings) or fail with E_REGEX, and
// finish with the right answer. No timing asserts here: the budgets are in bench/policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy, createEngine } from '../src/index.ts';
import { ctx, KEY } from './_fixtures.ts';

type Canary = { id: string; pattern: string; inputs: [string, boolean][] };

const N64 = 64 * 1024;
const N100 = 100 * 1024;

const CANARIES: Canary[] = [
  {
    id: 'NESTED-PLUS',
    pattern: '(a+)+$',
    inputs: [
      [`${'a'.repeat(N100)}!`, false],
      ['a'.repeat(N64), true],
    ],
  },
  {
    id: 'NESTED-STAR-CLASS',
    pattern: '([a-zA-Z]+)*@',
    inputs: [
      ['a'.repeat(N100), false],
      [`${'a'.repeat(N64)}@`, true],
    ],
  },
  {
    id: 'OVERLAP-ALT',
    pattern: '(a|a)*b',
    inputs: [
      ['a'.repeat(N100), false],
      [`${'a'.repeat(N64)}b`, true],
    ],
  },
  {
    id: 'OVERLAP-ALT-2',
    pattern: '(a|aa)+$',
    inputs: [
      [`${'a'.repeat(N100)}b`, false],
      ['a'.repeat(N64), true],
    ],
  },
  {
    id: 'WORD-SPACE',
    pattern: '(\\w+\\s?)*$',
    inputs: [
      [`${'word '.repeat(N100 / 5)}!`, false],
      ['word '.repeat(N64 / 5).trim(), true],
    ],
  },
  {
    id: 'DIGITS',
    pattern: '^(\\d+)+$',
    inputs: [
      [`${'1'.repeat(N100)}x`, false],
      ['1'.repeat(N64), true],
    ],
  },
  {
    id: 'XX-Y',
    pattern: '(x+x+)+y',
    inputs: [
      ['x'.repeat(N100), false],
      [`${'x'.repeat(N64)}y`, true],
    ],
  },
  {
    id: 'EMAIL-ISH',
    pattern:
      '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
    inputs: [
      [`${'a'.repeat(N100)}!`, false],
      ['a'.repeat(N64) + '@x.com', true],
    ],
  },
  // Bounded shapes: these also run windowed (span ≤ 512).
  {
    id: 'BOUNDED-NESTED',
    pattern: '(?:a{1,10}){1,40}b',
    inputs: [
      ['a'.repeat(N100), false],
      [`${'a'.repeat(N64)}b`, true],
    ],
  },
  {
    id: 'BOUNDED-ALT',
    pattern: '(?:a|ab|abc){1,100}d',
    inputs: [
      ['abc'.repeat(N100 / 3), false],
      [`${'abc'.repeat(N64 / 3)}d`, true],
    ],
  },
];

function pack(): string {
  let text = 'pack: { name: redos, version: 1.0.0 }\nrules:\n';
  for (const c of CANARIES) {
    text += `  - id: REDOS-${c.id}\n    title: canary ${c.id}\n    category: redos\n    severity: high\n    targets: [tool_result]\n    patterns: ['${c.pattern.replace(/'/g, "''")}']\n`;
  }
  return text;
}

describe('ReDoS canaries', () => {
  const compiled = compilePolicy({ packs: [{ path: 'ops/redos.yaml', text: pack(), bundled: false }] });

  it('compile as operator rules (unbounded spans are warnings)', () => {
    assert.ok(compiled.success, compiled.success ? '' : compiled.errors.map((e) => e.message).join('\n'));
    if (!compiled.success) return;
    const warned = new Set(
      compiled.warnings.filter((w) => w.code === 'E_REGEX_UNBOUNDED').map((w) => w.ruleId),
    );
    for (const c of CANARIES) assert.equal(warned.has(`REDOS-${c.id}`), !c.id.startsWith('BOUNDED'), c.id);
  });

  it('are rejected with E_REGEX when RE2 cannot compile them, and E_REGEX_UNBOUNDED when bundled', () => {
    const bad = compilePolicy({
      packs: [
        {
          path: 'ops/bad.yaml',
          text: "pack: { name: bad, version: 1.0.0 }\nrules:\n  - { id: REDOS-BIG, title: t, category: c, severity: low, targets: [prompt], patterns: ['(a*){2000}'] }\n  - { id: REDOS-BACKREF, title: t, category: c, severity: low, targets: [prompt], patterns: ['(a+)\\1'] }\n",
          bundled: false,
        },
      ],
    });
    assert.equal(bad.success, false);
    if (!bad.success)
      assert.deepEqual(
        bad.errors.map((e) => [e.code, e.ruleId]),
        [
          ['E_REGEX', 'REDOS-BIG'],
          ['E_REGEX', 'REDOS-BACKREF'],
        ],
      );
    const bundled = compilePolicy({
      packs: [
        {
          path: 'b.yaml',
          text: pack().replace(/\n {4}patterns:/g, '\n    prefilter: [a]\n    patterns:'),
          bundled: true,
        },
      ],
    });
    assert.equal(bundled.success, false);
    if (!bundled.success)
      assert.ok(bundled.errors.some((e) => e.code === 'E_REGEX_UNBOUNDED' && e.severity === 'error'));
  });

  for (const c of CANARIES) {
    it(`${c.id} finishes on adversarial 64/100 KiB input with the right answer`, () => {
      assert.ok(compiled.success);
      if (!compiled.success) return;
      for (const windowChars of [256 * 1024, 4096]) {
        const engine = createEngine(compiled.policy, { evidenceKey: KEY, windowChars });
        for (const [input, fires] of c.inputs) {
          const v = engine.evaluate(
            { kind: 'tool_result', tool: 'x', text: input, isError: false },
            ctx({ lane: 'inspect_tool_result' }),
          );
          assert.equal(
            v.ruleIds.includes(`REDOS-${c.id}`),
            fires,
            `${c.id} len=${input.length} window=${windowChars}`,
          );
          assert.equal(v.timing.scannedBytes, input.length);
          assert.equal(v.error, undefined);
        }
      }
    });
  }
});
