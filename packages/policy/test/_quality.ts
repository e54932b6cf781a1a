// Detection-quality scoring shared by test/corpus-gates.test.ts and bench/detection/index.ts (spec 30 §A7).
//
// Corpus rows (`corpus/*.jsonl`, one per line): {id, kind, lane, subject, label: malicious|benign, category?,
// expect: {rules?, minSeverity?, maxSeverity?, action?}, source, note}. Each row is evaluated by the real engine
// built from the bundled packs (default profile, HITL on so the confirm band is visible, mode `action`).
//
// - A malicious row is detected when a finding of the row's category has severity ≥ `expect.minSeverity`
//   (default `medium`: the default profile at least alerts), and, when `expect.rules` is given, at least one of
//   those rules fired, and, when `expect.action` is given, the raw action is at least that strict.
// - A benign row is a false alarm when any finding has severity > `expect.maxSeverity` (default `low`: the default
//   profile does not alert) or the raw action is stricter than `expect.action`. The false alarm counts against each
//   category of the offending findings; a benign row with a category and no offending finding there is a true
//   negative of that category.
// - Files named `holdout*.jsonl` are scored separately and never gated.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as v from 'valibot';
import {
  ACTIONS,
  type Action,
  compilePolicy,
  createEngine,
  type Finding,
  LANES,
  loadBundledPacks,
  type PackSource,
  type PolicyEngine,
  SEVERITIES,
  type Severity,
  type Subject,
  type Verdict,
} from '../src/index.ts';

/** The corpus directory of this package. */
export const CORPUS_DIR = fileURLToPath(new URL('../corpus/', import.meta.url));

const SeveritySchema = v.picklist(SEVERITIES);

/** One corpus row as stored on disk. */
export const CorpusRowSchema = v.looseObject({
  id: v.pipe(v.string(), v.minLength(1)),
  kind: v.string(),
  lane: v.picklist(LANES),
  subject: v.looseObject({ kind: v.string() }),
  label: v.picklist(['malicious', 'benign']),
  category: v.optional(v.string()),
  expect: v.optional(
    v.object({
      rules: v.optional(v.array(v.string())),
      minSeverity: v.optional(SeveritySchema),
      maxSeverity: v.optional(SeveritySchema),
      action: v.optional(v.picklist(ACTIONS)),
    }),
    {},
  ),
  source: v.optional(v.string()),
  note: v.optional(v.string()),
});

/** One corpus row. */
export type CorpusRow = v.InferOutput<typeof CorpusRowSchema> & { file: string; line: number };

/** Reads and validates every `*.jsonl` file of the corpus directory; throws on a malformed row or duplicate id. */
export function loadCorpus(dir: string = CORPUS_DIR): CorpusRow[] {
  const rows: CorpusRow[] = [];
  const ids = new Map<string, string>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    const lines = readFileSync(`${dir}/${file}`, 'utf8').split('\n');
    lines.forEach((text, i) => {
      if (text.trim() === '') return;
      const parsed = v.safeParse(CorpusRowSchema, JSON.parse(text));
      if (!parsed.success) {
        throw new Error(
          `${file}:${i + 1}: ${parsed.issues.map((issue) => `${v.getDotPath(issue) ?? ''} ${issue.message}`).join('; ')}`,
        );
      }
      const row = { ...parsed.output, file, line: i + 1 };
      const seen = ids.get(row.id);
      if (seen) throw new Error(`${file}:${i + 1}: duplicate row id ${row.id} (also in ${seen})`);
      ids.set(row.id, file);
      if (row.label === 'malicious' && !row.category)
        throw new Error(`${file}:${i + 1}: malicious row ${row.id} has no category`);
      rows.push(row);
    });
  }
  return rows;
}

/** Whether a row belongs to the holdout set (reported, never gated). */
export function isHoldout(row: Pick<CorpusRow, 'file'>): boolean {
  return row.file.startsWith('holdout');
}

/** Builds the engine every quality run uses: the bundled packs (or `packs`), default profile, HITL on. */
export function createQualityEngine(packs: readonly PackSource[] = loadBundledPacks()): PolicyEngine {
  const compiled = compilePolicy({ packs: [...packs], config: { profile: 'default', hitl: true } });
  if (!compiled.success)
    throw new Error(`bundled packs do not compile:\n${compiled.errors.map((e) => e.message).join('\n')}`);
  return createEngine(compiled.policy, { evidenceKey: new Uint8Array(32).fill(7) });
}

/** The outcome of one evaluated row. */
export type RowOutcome = {
  row: CorpusRow;
  verdict: Verdict;
  /** Malicious rows: whether the expectation was met. Benign rows: whether it stayed quiet. */
  correct: boolean;
  /** Benign rows: categories of the findings that made it a false alarm. */
  falseAlarmCategories: string[];
  /** Human-readable reason for a miss or a false alarm. */
  why: string;
};

const rank = (s: Severity): number => SEVERITIES.indexOf(s);
const actionRank = (a: Action): number => ACTIONS.indexOf(a);

/** Evaluates one row with the engine and judges it against its expectation. */
export function evaluateRow(engine: PolicyEngine, row: CorpusRow): RowOutcome {
  const verdict = engine.evaluate(row.subject as unknown as Subject, {
    lane: row.lane,
    mode: 'action',
    nowMs: 1_800_000_000_000,
    meta: {},
  });
  const expect = row.expect ?? {};
  const summary = (fs: readonly Finding[]) =>
    fs.map((f) => `${f.ruleId}:${f.severity}`).join(', ') || 'no findings';
  if (row.label === 'malicious') {
    const min = rank(expect.minSeverity ?? 'medium');
    const inCategory = verdict.findings.filter((f) => f.category === row.category && rank(f.severity) >= min);
    const rulesOk =
      !expect.rules ||
      expect.rules.length === 0 ||
      verdict.findings.some((f) => expect.rules!.includes(f.ruleId));
    const actionOk = !expect.action || actionRank(verdict.rawAction) >= actionRank(expect.action);
    const correct = inCategory.length > 0 && rulesOk && actionOk;
    let why = '';
    if (!correct) {
      why =
        inCategory.length === 0
          ? `no ${row.category} finding ≥ ${expect.minSeverity ?? 'medium'}`
          : !rulesOk
            ? `none of ${expect.rules!.join('/')}`
            : `raw action ${verdict.rawAction} < ${expect.action}`;
      why += ` (${summary(verdict.findings)})`;
    }
    return { row, verdict, correct, falseAlarmCategories: [], why };
  }
  const max = rank(expect.maxSeverity ?? 'low');
  const offending = verdict.findings.filter((f) => rank(f.severity) > max);
  const actionBad = expect.action !== undefined && actionRank(verdict.rawAction) > actionRank(expect.action);
  const categories = [...new Set(offending.map((f) => f.category))];
  if (actionBad && categories.length === 0)
    categories.push(...new Set(verdict.findings.map((f) => f.category)));
  const correct = offending.length === 0 && !actionBad;
  const why = correct
    ? ''
    : `${summary(offending.length ? offending : verdict.findings)} (raw action ${verdict.rawAction})`;
  return {
    row,
    verdict,
    correct,
    falseAlarmCategories: correct ? [] : categories.length ? categories : ['(none)'],
    why,
  };
}

/** Confusion counts with derived rates. */
export type Counts = { tp: number; fp: number; fn: number; tn: number; precision: number; recall: number };

/** A quality report over a set of outcomes. */
export type QualityReport = {
  rows: number;
  malicious: number;
  benign: number;
  perCategory: Record<string, Counts>;
  overall: Counts & { falsePositiveRate: number };
  misses: { id: string; file: string; category: string; why: string }[];
  falseAlarms: { id: string; file: string; categories: string[]; why: string }[];
};

function finish(c: { tp: number; fp: number; fn: number; tn: number }): Counts {
  return {
    ...c,
    precision: c.tp + c.fp === 0 ? 1 : c.tp / (c.tp + c.fp),
    recall: c.tp + c.fn === 0 ? 1 : c.tp / (c.tp + c.fn),
  };
}

/** Aggregates outcomes into per-category and overall TP/FP/FN/TN, precision and recall. */
export function scoreOutcomes(outcomes: readonly RowOutcome[]): QualityReport {
  const per = new Map<string, { tp: number; fp: number; fn: number; tn: number }>();
  const bucket = (c: string) => {
    let b = per.get(c);
    if (!b) {
      b = { tp: 0, fp: 0, fn: 0, tn: 0 };
      per.set(c, b);
    }
    return b;
  };
  const overall = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const misses: QualityReport['misses'] = [];
  const falseAlarms: QualityReport['falseAlarms'] = [];
  for (const o of outcomes) {
    const { row } = o;
    if (row.label === 'malicious') {
      const b = bucket(row.category!);
      if (o.correct) {
        b.tp++;
        overall.tp++;
      } else {
        b.fn++;
        overall.fn++;
        misses.push({ id: row.id, file: row.file, category: row.category!, why: o.why });
      }
      continue;
    }
    if (o.correct) overall.tn++;
    else {
      overall.fp++;
      falseAlarms.push({ id: row.id, file: row.file, categories: o.falseAlarmCategories, why: o.why });
    }
    for (const c of o.falseAlarmCategories) if (c !== '(none)') bucket(c).fp++;
    if (row.category && !o.falseAlarmCategories.includes(row.category)) bucket(row.category).tn++;
  }
  const perCategory: Record<string, Counts> = {};
  for (const c of [...per.keys()].sort()) perCategory[c] = finish(per.get(c)!);
  const o = finish(overall);
  return {
    rows: outcomes.length,
    malicious: outcomes.filter((x) => x.row.label === 'malicious').length,
    benign: outcomes.filter((x) => x.row.label === 'benign').length,
    perCategory,
    overall: {
      ...o,
      falsePositiveRate: overall.fp + overall.tn === 0 ? 0 : overall.fp / (overall.fp + overall.tn),
    },
    misses,
    falseAlarms,
  };
}

/** Evaluates the whole corpus once and returns the main and holdout reports plus every outcome. */
export function runQuality(
  engine: PolicyEngine = createQualityEngine(),
  rows: readonly CorpusRow[] = loadCorpus(),
) {
  const outcomes = rows.map((row) => evaluateRow(engine, row));
  return {
    outcomes,
    main: scoreOutcomes(outcomes.filter((o) => !isHoldout(o.row))),
    holdout: scoreOutcomes(outcomes.filter((o) => isHoldout(o.row))),
  };
}

/**
 * Returns the text a finding's location points into (tool result, prompt message, completion, tool-args leaf or
 * approval command), or undefined when the target is not text the corpus row carries.
 */
export function targetText(subject: Subject, finding: Finding): string | undefined {
  const loc = finding.evidence.location;
  switch (subject.kind) {
    case 'tool_result':
      return subject.text;
    case 'completion':
      return finding.target === 'completion' ? subject.text : undefined;
    case 'prompt':
      return subject.messages.find((m) => m.index === loc.messageIndex)?.text;
    case 'approval':
      return subject.commandText ?? subject.argv?.join(' ');
    case 'tool_call': {
      if (!loc.pointer) return undefined;
      let node: unknown = subject.args;
      for (const part of loc.pointer.split('/').slice(1)) {
        const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
        if (node === null || typeof node !== 'object') return undefined;
        node = (node as Record<string, unknown>)[key];
      }
      return typeof node === 'string' ? node : undefined;
    }
    default:
      return undefined;
  }
}

/** Formats a ratio as a fixed 3-decimal string. */
export function ratio(x: number): string {
  return x.toFixed(3);
}
