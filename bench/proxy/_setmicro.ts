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
const paragraph =
  'The service reads its configuration at start, validates every key and reports problems with the line ' +
  'number. Requests are routed by model name; each provider has its own pool of connections. ';
let text = '';
while (text.length < 4096) text += paragraph;
for (const n of [64, 128, 192, 256, 700, 2048]) {
  const s = text.slice(0, n);
  for (let i = 0; i < 2000; i++) p.literals.match(s);
  const t = performance.now();
  let ids = 0;
  for (let i = 0; i < 20000; i++) ids = p.literals.match(s.slice(i % 7) + 'x').length;
  console.log(n, (((performance.now() - t) * 1000) / 20000).toFixed(2), 'µs', ids, 'ids');
}
const ids = p.literals.match(text.slice(0, 700));
console.log(ids.map((id) => id));
