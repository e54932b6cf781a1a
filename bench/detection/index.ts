// Benchmark: detection quality of the bundled default policy pack over packages/policy/corpus/*.jsonl (spec 30
// §A7). Prints TP/FP/FN/TN, precision and recall per category and overall, the holdout separately, every miss and
// false alarm by row id, and writes detection/quality.json next to this file. Gates live in the policy package's
// test/corpus-gates.test.ts; this only reports.
//
//   cd bench && node --import tsx detection/index.ts
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  type Counts,
  createQualityEngine,
  loadCorpus,
  type QualityReport,
  ratio,
  runQuality,
} from '../../packages/policy/test/_quality.ts';
import { printTable } from '../_stats.ts';

const started = performance.now();
const engine = createQualityEngine();
const rows = loadCorpus();
const { outcomes, main, holdout } = runQuality(engine, rows);
const elapsedMs = performance.now() - started;

const header = ['category', 'TP', 'FP', 'FN', 'TN', 'precision', 'recall'];
const line = (name: string, c: Counts) => [
  name,
  String(c.tp),
  String(c.fp),
  String(c.fn),
  String(c.tn),
  ratio(c.precision),
  ratio(c.recall),
];

function report(title: string, r: QualityReport): void {
  const table = [
    header,
    ...Object.entries(r.perCategory).map(([k, c]) => line(k, c)),
    line('overall', r.overall),
  ];
  printTable(
    `${title}: ${r.rows} rows (${r.malicious} malicious, ${r.benign} benign); benign false-positive rate ${ratio(r.overall.falsePositiveRate)}`,
    table,
  );
  if (r.misses.length > 0) {
    process.stdout.write(`\n${title} misses (${r.misses.length}):\n`);
    for (const m of r.misses)
      process.stdout.write(`  ${m.id.padEnd(14)} ${m.file.padEnd(28)} ${m.category.padEnd(17)} ${m.why}\n`);
  }
  if (r.falseAlarms.length > 0) {
    process.stdout.write(`\n${title} false alarms (${r.falseAlarms.length}):\n`);
    for (const f of r.falseAlarms)
      process.stdout.write(
        `  ${f.id.padEnd(14)} ${f.file.padEnd(28)} ${f.categories.join(',').padEnd(17)} ${f.why}\n`,
      );
  }
}

const files = new Map<string, { rows: number; malicious: number }>();
for (const row of rows) {
  const f = files.get(row.file) ?? { rows: 0, malicious: 0 };
  f.rows++;
  if (row.label === 'malicious') f.malicious++;
  files.set(row.file, f);
}
printTable('Corpus files', [
  ['file', 'rows', 'malicious', 'benign'],
  ...[...files].map(([file, f]) => [file, String(f.rows), String(f.malicious), String(f.rows - f.malicious)]),
]);
report('Main corpus', main);
report('Holdout (not gated)', holdout);

const loud = outcomes.filter(
  (o) =>
    (o.row.file === 'benign-dev.jsonl' || o.row.file === 'benign-text.jsonl') &&
    (o.verdict.rawAction === 'block' || o.verdict.rawAction === 'confirm'),
);
process.stdout.write(
  `\nblock/confirm on benign-dev + benign-text: ${loud.length}${loud.length ? ` (${loud.map((o) => o.row.id).join(', ')})` : ''}\n`,
);
process.stdout.write(`evaluated ${rows.length} rows in ${elapsedMs.toFixed(0)} ms (compile included)\n`);

const out = fileURLToPath(new URL('./quality.json', import.meta.url));
writeFileSync(
  out,
  `${JSON.stringify(
    {
      generatedAt: new Date().toISOString(),
      rows: rows.length,
      files: Object.fromEntries(files),
      main,
      holdout,
      benignBlockOrConfirm: loud.map((o) => ({
        id: o.row.id,
        file: o.row.file,
        rawAction: o.verdict.rawAction,
        ruleIds: o.verdict.ruleIds,
      })),
    },
    null,
    2,
  )}\n`,
);
process.stdout.write(`wrote ${out}\n`);
