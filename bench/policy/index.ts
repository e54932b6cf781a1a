// Benchmark: @defenseclaw/policy evaluate() on the bundled default pack (whatever is in packs/default at run time)
// against the spec 30 §A6.3 budgets, side by side with the same engine with its literal prefilter disabled.
// Prints medians (and p99) per case over interleaved rounds, plus the prefilter's ratio.
//
//   node --import tsx policy/index.ts          (from bench/)
//   BENCH_ROUNDS=7 BENCH_MIN_MS=300 node --import tsx policy/index.ts
import { performance } from 'node:perf_hooks';
import {
  type CompiledPolicy,
  compilePolicy,
  createEngine,
  type EvalContext,
  loadBundledPacks,
  type PackSource,
  type PolicyEngine,
  type Subject,
} from '@defenseclaw/policy';
import { median, percentile, printTable } from '../_stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 200);
const KEY = new Uint8Array(32).fill(1);

// --- the default pack ----------------------------------------------------------------------
function compileDefault(): { policy: CompiledPolicy; note: string } {
  const packs = loadBundledPacks();
  const t0 = performance.now();
  const all = compilePolicy({ packs });
  const ms = performance.now() - t0;
  if (all.success)
    return {
      policy: all.policy,
      note: `${packs.length} files, ${all.policy.rules.length} rules, compiled in ${ms.toFixed(0)} ms`,
    };
  // Packs still being written: keep the files that compile on their own and say which were skipped.
  const good: PackSource[] = [];
  const skipped: string[] = [];
  for (const p of packs) {
    const one = compilePolicy({ packs: [p] });
    if (one.success) good.push(p);
    else skipped.push(`${p.path.split('/').pop()} (${one.errors.length} errors)`);
  }
  const partial = compilePolicy({ packs: good });
  if (!partial.success) throw new Error(partial.errors.map((e) => e.message).join('\n'));
  return {
    policy: partial.policy,
    note: `${good.length}/${packs.length} files, ${partial.policy.rules.length} rules; SKIPPED (do not compile): ${skipped.join(', ')}`,
  };
}

// --- inputs --------------------------------------------------------------------------------
const CODE_LINES = [
  "import { readFile } from 'node:fs/promises';",
  'export async function loadConfig(path: string): Promise<Config> {',
  "  const text = await readFile(path, 'utf8');",
  '  const parsed = JSON.parse(text) as Partial<Config>;',
  '  return { port: parsed.port ?? 8080, host: parsed.host ?? "127.0.0.1", retries: 3 };',
  '}',
  '// Retry with exponential backoff; the caller owns cancellation.',
  'for (let attempt = 0; attempt < retries; attempt++) {',
  "  try { return await fetchJson(baseUrl + '/api/items?page=' + attempt); } catch (err) { await sleep(2 ** attempt * 100); }",
  '}',
  'const total = items.reduce((sum, item) => sum + item.price * item.quantity, 0);',
  "console.log('processed', items.length, 'items, total', total.toFixed(2));",
];
const PROSE_LINES = [
  'The build finished in 42.3 seconds with 1,204 modules compiled and no warnings.',
  'Tests: 318 passed, 0 failed, 4 skipped; coverage 87.2% statements, 81.0% branches.',
  '2026-09-06T12:00:01.123Z INFO server listening on http://127.0.0.1:3000 (pid 41234)',
  'Refactor the parser so that each token carries its source span; update the callers.',
  'drwxr-xr-x  5 dev staff   160 Sep  6 11:59 src',
  '-rw-r--r--  1 dev staff  2451 Sep  6 11:58 package.json',
  'GET /api/v1/items?page=2 200 12.4 ms - 1432 bytes',
  'See the migration notes in docs/upgrading.md before bumping the major version.',
];

function fill(lines: readonly string[], bytes: number): string {
  let out = '';
  let i = 0;
  while (out.length < bytes) out += `${lines[i++ % lines.length]}\n`;
  return out.slice(0, bytes);
}

/** `bytes` of seeded pseudo-random data as base64 (a binary file read back as text). */
function base64Blob(bytes: number): string {
  let a = 0x2545f491;
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    // xorshift32: fixed input, no dependency on a random source.
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    buf[i] = a & 0xff;
  }
  return buf.toString('base64');
}

const KIB = 1024;
type Case = { name: string; target: string; subject: Subject; ctx: EvalContext; budgetUs?: number };
const baseCtx = (lane: EvalContext['lane']): EvalContext => ({
  lane,
  mode: 'action',
  nowMs: Date.now(),
  meta: {},
});

const cases: Case[] = [
  {
    name: '1 KiB tool call (write, code)',
    target: 'p50 < 50 µs',
    budgetUs: 50,
    subject: {
      kind: 'tool_call',
      tool: 'write',
      args: { path: 'src/config.ts', content: fill(CODE_LINES, KIB) },
    },
    ctx: baseCtx('inspect_tool'),
  },
  {
    name: '1 KiB tool call (exec, command)',
    target: 'p50 < 50 µs',
    budgetUs: 50,
    subject: {
      kind: 'tool_call',
      tool: 'exec',
      args: {
        command:
          `cd app && npm ci && npm run build -- --mode production && ${'node scripts/check.mjs --strict src/ && '.repeat(18)}echo done`.slice(
            0,
            KIB,
          ),
      },
    },
    ctx: baseCtx('inspect_tool'),
  },
  {
    name: '1 KiB tool result (prose/logs)',
    target: 'p50 < 50 µs',
    budgetUs: 50,
    subject: { kind: 'tool_result', tool: 'exec', text: fill(PROSE_LINES, KIB), isError: false },
    ctx: baseCtx('inspect_tool_result'),
  },
  {
    name: '64 KiB tool args (file write)',
    target: 'p50 < 2 ms',
    budgetUs: 2000,
    subject: {
      kind: 'tool_call',
      tool: 'write',
      args: { path: 'src/big.ts', content: fill(CODE_LINES, 64 * KIB) },
    },
    ctx: baseCtx('inspect_tool'),
  },
  {
    name: '1 MiB tool result',
    target: 'p50 < 20 ms',
    budgetUs: 20_000,
    subject: {
      kind: 'tool_result',
      tool: 'read',
      text: fill([...PROSE_LINES, ...CODE_LINES], 1024 * KIB),
      isError: false,
    },
    ctx: baseCtx('inspect_tool_result'),
  },
  {
    name: '1 MiB tool result (base64)',
    target: 'p50 < 20 ms',
    budgetUs: 20_000,
    subject: { kind: 'tool_result', tool: 'read', text: base64Blob(768 * KIB), isError: false },
    ctx: baseCtx('inspect_tool_result'),
  },
];

// --- ReDoS canaries (operator rules, one policy each) ----------------------------------------
const N = 100 * KIB;
const CANARIES: { id: string; pattern: string; input: string }[] = [
  { id: 'nested (a+)+$', pattern: '(a+)+$', input: `${'a'.repeat(N)}!` },
  { id: 'nested ([a-zA-Z]+)*@', pattern: '([a-zA-Z]+)*@', input: 'a'.repeat(N) },
  { id: 'overlap (a|a)*b', pattern: '(a|a)*b', input: 'a'.repeat(N) },
  { id: 'overlap (a|aa)+$', pattern: '(a|aa)+$', input: `${'a'.repeat(N)}b` },
  { id: '(\\w+\\s?)*$', pattern: '(\\w+\\s?)*$', input: `${'word '.repeat(N / 5)}!` },
  { id: '^(\\d+)+$', pattern: '^(\\d+)+$', input: `${'1'.repeat(N)}x` },
  { id: '(x+x+)+y', pattern: '(x+x+)+y', input: 'x'.repeat(N) },
  { id: 'bounded (?:a{1,10}){1,40}b', pattern: '(?:a{1,10}){1,40}b', input: 'a'.repeat(N) },
];

function canaryEngine(pattern: string, prefilter: boolean): PolicyEngine {
  const text = `pack: { name: canary, version: 1.0.0 }\nrules:\n  - { id: CANARY-X, title: canary, category: redos, severity: high, targets: [tool_result], patterns: ['${pattern.replace(/'/g, "''")}'] }\n`;
  const r = compilePolicy({ packs: [{ path: 'ops/canary.yaml', text, bundled: false }] });
  if (!r.success) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return createEngine(r.policy, { evidenceKey: KEY, prefilter });
}

// --- measurement ---------------------------------------------------------------------------
/** Runs `fn` repeatedly for at least MIN_MS and returns per-call times in µs. */
function sample(fn: () => void): number[] {
  for (let i = 0; i < 3; i++) fn(); // warm-up
  const out: number[] = [];
  const start = performance.now();
  while (performance.now() - start < MIN_MS || out.length < 5) {
    const t = performance.now();
    fn();
    out.push((performance.now() - t) * 1000);
  }
  return out;
}

function fmt(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`;
}

const { policy, note } = compileDefault();
const withPf = createEngine(policy, { evidenceKey: KEY });
const withoutPf = createEngine(policy, { evidenceKey: KEY, prefilter: false });

process.stdout.write(
  `@defenseclaw/policy bench — default pack: ${note}\nrounds=${ROUNDS}, ≥${MIN_MS} ms per round and variant, Node ${process.version}\n`,
);

const rows: string[][] = [
  ['case', 'target', 'p50 prefilter', 'p99 prefilter', 'p50 no prefilter', 'ratio', 'verdict', 'ok'],
];
for (const c of cases) {
  const a: number[] = [];
  const b: number[] = [];
  const p99s: number[] = [];
  let verdict = '';
  for (let round = 0; round < ROUNDS; round++) {
    // Interleave the variants so drift hits both.
    const sa = sample(() => withPf.evaluate(c.subject, c.ctx));
    const sb = sample(() => withoutPf.evaluate(c.subject, c.ctx));
    a.push(median(sa));
    p99s.push(percentile(sa, 99));
    b.push(median(sb));
  }
  const v = withPf.evaluate(c.subject, c.ctx);
  verdict = `${v.action}${v.ruleIds.length ? ` (${v.ruleIds.slice(0, 3).join(',')})` : ''}`;
  const m = median(a);
  rows.push([
    c.name,
    c.target,
    fmt(m),
    fmt(median(p99s)),
    fmt(median(b)),
    `${(median(b) / m).toFixed(1)}×`,
    verdict,
    c.budgetUs && m > c.budgetUs ? 'OVER' : 'ok',
  ]);
}
printTable('evaluate() on the default pack — medians of round medians', rows);

const redos: string[][] = [['canary (100 KiB adversarial input)', 'target', 'p50', 'max', 'fires', 'ok']];
for (const c of CANARIES) {
  const engine = canaryEngine(c.pattern, true);
  const subject: Subject = { kind: 'tool_result', tool: 'x', text: c.input, isError: false };
  const ctx = baseCtx('inspect_tool_result');
  const meds: number[] = [];
  const maxes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const s = sample(() => engine.evaluate(subject, ctx));
    meds.push(median(s));
    maxes.push(Math.max(...s));
  }
  const fires = engine.evaluate(subject, ctx).ruleIds.includes('CANARY-X');
  const m = median(meds);
  redos.push([c.id, '< 10 ms', fmt(m), fmt(Math.max(...maxes)), String(fires), m > 10_000 ? 'OVER' : 'ok']);
}
printTable('ReDoS canaries as operator rules (linear-time RE2)', redos);
