import { compilePolicy, loadBundledPacks } from '@defenseclaw/policy';
import { internalsOf } from '../../packages/policy/src/_compiled.ts';

const compiled = compilePolicy({
  packs: loadBundledPacks(),
  config: { profile: 'default' },
  bundled: true,
  verifyBundledExamples: false,
});
if (!compiled.success) throw new Error('x');
const p = internalsOf(compiled.policy);
const rules = p.byTarget.completion.filter((r) => !r.tools && r.patterns.length > 0);
console.log(
  'rules',
  p.rules.length,
  'completion',
  p.byTarget.completion.length,
  'scanned',
  rules.length,
  'pats',
  rules.reduce((a, r) => a + r.patterns.length, 0),
  'literals',
  p.literals.size,
);
console.log(
  'no prefilter',
  rules.filter((r) => !r.hasPrefilter).map((r) => r.id),
);
console.log(
  'maxSpan',
  rules
    .flatMap((r) => r.patterns.map((m) => m.maxSpan))
    .sort((a, b) => b - a)
    .slice(0, 10),
);
console.log(
  'pats without anchors',
  rules
    .flatMap((r) => r.patterns.map((m, i) => (r.anchors[i] ? null : r.id + ':' + m.source.slice(0, 40))))
    .filter(Boolean),
);
const kws = rules.flatMap((r) => r.info.prefilter ?? []);
console.log(
  'keywords',
  kws.length,
  'max len',
  Math.max(...kws.map((k) => k.length)),
  kws.filter((k) => k.length > 20),
);
const facs = rules.flatMap((r) => r.patterns.flatMap((m) => m.factors.flat()));
console.log(
  'factor lits',
  facs.length,
  'distinct',
  new Set(facs).size,
  'max',
  Math.max(...facs.map((f) => f.length)),
);
for (const r of rules)
  r.patterns.forEach((m, i) => {
    if (!r.anchors[i]) console.log(r.id, m.maxSpan, m.maxUnits);
  });
console.log('factor slots', rules.reduce((a, r) => a + r.patterns.reduce((b, m, i) => b + (r.anchors[i] ? m.factors.length : 0), 0), 0));
