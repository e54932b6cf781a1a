import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { type PolicyEngine, type Subject, toWire, type Verdict } from '../src/index.ts';
import {
  type CorpusRow,
  createQualityEngine,
  isHoldout,
  loadCorpus,
  type QualityReport,
  type RowOutcome,
  runQuality,
  targetText,
} from './_quality.ts';

// Gates of spec 30 §A7 and the targets, over every corpus/*.jsonl file (holdout*.jsonl reported only).
const PRECISION_MIN = 0.95;
const RECALL_MIN = 0.9;
const OVERALL_RECALL_MIN = 0.95;
const BENIGN_FP_RATE_MAX = 0.02;
const SECRET_CATEGORIES = new Set(['secret_output', 'pii', 'secret_access']);

let engine: PolicyEngine;
let rows: CorpusRow[];
let outcomes: RowOutcome[];
let main: QualityReport;

before(() => {
  engine = createQualityEngine();
  rows = loadCorpus();
  ({ outcomes, main } = runQuality(engine, rows));
});

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

describe('corpus', () => {
  it('has at least 15 malicious rows and 15 benign near-misses per category in the main corpus', () => {
    const counts = new Map<string, { malicious: number; benign: number }>();
    for (const row of rows) {
      if (isHoldout(row) || !row.category) continue;
      const c = counts.get(row.category) ?? { malicious: 0, benign: 0 };
      c[row.label]++;
      counts.set(row.category, c);
    }
    const thin = [...counts]
      .filter(([, c]) => c.malicious < 15 || c.benign < 15)
      .map(([k, c]) => `${k}: ${c.malicious} malicious / ${c.benign} benign`);
    assert.deepEqual(thin, []);
  });

  it('keeps the text holdout at 20 % or more of the text rows', () => {
    const text = rows.filter((r) => /^(?:text-|benign-text|holdout-text)/.test(r.file));
    const holdout = text.filter((r) => r.file.startsWith('holdout-text'));
    assert.ok(
      holdout.length >= 0.2 * text.length,
      `${holdout.length} of ${text.length} text rows are holdout`,
    );
  });

  it('has at least 60 everyday rows in benign-text.jsonl and 150 in benign-dev.jsonl when present', () => {
    const n = (file: string) => rows.filter((r) => r.file === file).length;
    assert.ok(n('benign-text.jsonl') >= 60, `benign-text.jsonl has ${n('benign-text.jsonl')} rows`);
    if (n('benign-dev.jsonl') > 0)
      assert.ok(n('benign-dev.jsonl') >= 150, `benign-dev.jsonl has ${n('benign-dev.jsonl')} rows`);
  });
});

describe('detection gates (default profile)', () => {
  it('raises no block or confirm on benign-dev.jsonl and benign-text.jsonl', () => {
    const loud = outcomes
      .filter(
        (o) =>
          (o.row.file === 'benign-dev.jsonl' || o.row.file === 'benign-text.jsonl') &&
          (o.verdict.rawAction === 'block' || o.verdict.rawAction === 'confirm'),
      )
      .map((o) => `${o.row.id}: ${o.verdict.rawAction} ${o.verdict.ruleIds.join(', ')}`);
    assert.deepEqual(loud, []);
  });

  it(`keeps per-category precision ≥ ${PRECISION_MIN} and recall ≥ ${RECALL_MIN} on the main corpus`, () => {
    const failing: string[] = [];
    for (const [category, c] of Object.entries(main.perCategory)) {
      if (c.tp + c.fp > 0 && c.precision < PRECISION_MIN)
        failing.push(`${category}: precision ${c.precision.toFixed(3)} (tp ${c.tp}, fp ${c.fp})`);
      if (c.tp + c.fn > 0 && c.recall < RECALL_MIN)
        failing.push(`${category}: recall ${c.recall.toFixed(3)} (tp ${c.tp}, fn ${c.fn})`);
    }
    const detail = [
      ...main.misses.map((m) => `miss ${m.id}: ${m.why}`),
      ...main.falseAlarms.map((f) => `false alarm ${f.id}: ${f.why}`),
    ];
    assert.deepEqual(failing, [], detail.join('\n'));
  });

  it(`reaches overall malicious recall ≥ ${OVERALL_RECALL_MIN} and a benign false-positive rate ≤ ${pct(BENIGN_FP_RATE_MAX)}`, () => {
    const o = main.overall;
    assert.ok(
      o.recall >= OVERALL_RECALL_MIN,
      `recall ${o.recall.toFixed(3)}; misses: ${main.misses.map((m) => m.id).join(', ')}`,
    );
    assert.ok(
      o.falsePositiveRate <= BENIGN_FP_RATE_MAX,
      `false-positive rate ${pct(o.falsePositiveRate)}; ${main.falseAlarms.map((f) => f.id).join(', ')}`,
    );
  });

  it('flags the real OpenClaw inject.jsonl tool result as injection and every masked key in it', () => {
    const fixture = outcomes.filter(
      (o) => o.row.source === 'fixture:openclaw-2026.9.6/inject.jsonl' && o.row.kind === 'tool_result',
    );
    assert.ok(fixture.length > 0, 'no fixture rows in the corpus');
    for (const { row, verdict } of fixture) {
      const ids = new Set(verdict.ruleIds);
      assert.ok(
        ids.has('PI-IGNORE-PRIOR') || ids.has('PI-HTML-HIDDEN') || ids.has('PI-TOOL-DIRECTIVE'),
        `${row.id}: ${[...ids].join(', ')}`,
      );
      for (const id of [
        'SECRET-AWS-KEY-ID-MASKED',
        'SECRET-AWS-SECRET-MASKED',
        'SECRET-GITHUB-MASKED',
        'SECRET-SLACK-MASKED',
        'SECRET-OPENAI-MASKED',
      ]) {
        assert.ok(ids.has(id), `${row.id}: ${id} missing (${[...ids].join(', ')})`);
      }
      assert.equal(
        verdict.rawAction,
        'block',
        `${row.id}: a critical injection in a tool result blocks (raw)`,
      );
    }
  });

  it('flags the real OpenClaw exec-secret.jsonl result (PEM body replaced by …redacted…)', () => {
    const fixture = outcomes.filter((o) => o.row.source === 'fixture:openclaw-2026.9.6/exec-secret.jsonl');
    assert.ok(fixture.length > 0, 'no fixture rows in the corpus');
    for (const { row, verdict } of fixture)
      assert.ok(
        verdict.ruleIds.includes('SECRET-PRIVATE-KEY-MASKED'),
        `${row.id}: ${verdict.ruleIds.join(', ')}`,
      );
  });
});

describe('explanations and evidence never carry matched text', () => {
  it('keeps every matched span out of reason and explanation (whole corpus)', () => {
    const leaks: string[] = [];
    for (const { row, verdict } of outcomes) {
      for (const span of matchedSpans(row, verdict)) {
        if (verdict.reason.includes(span.text)) leaks.push(`${row.id} ${span.ruleId}: reason`);
        if (verdict.explanation.includes(span.text)) leaks.push(`${row.id} ${span.ruleId}: explanation`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  it('keeps every secret or PII value out of its own snippet, and every live secret out of all snippets (whole corpus)', () => {
    const leaks: string[] = [];
    for (const { row, verdict } of outcomes) {
      const spans = matchedSpans(row, verdict);
      for (const s of spans)
        if (SECRET_CATEGORIES.has(s.category) && s.snippet.includes(s.text))
          leaks.push(`${row.id}: ${s.ruleId} value in its own snippet`);
      // Live (unmasked) secrets must not show up in any other finding's snippet either (§A3.6 secret masker).
      const secrets = spans.filter((s) => s.category === 'secret_output' && !s.ruleId.endsWith('-MASKED'));
      for (const f of verdict.findings) {
        for (const s of secrets)
          if (f.evidence.snippet.includes(s.text))
            leaks.push(`${row.id}: ${s.ruleId} value in the ${f.ruleId} snippet`);
      }
    }
    assert.deepEqual(leaks, []);
  });

  it('never leaks a seeded secret into reason, explanation or the wire verdict (generated, all text lanes)', () => {
    const random = mulberry32(0xdefc1a5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const str = (alphabet: string, n: number) =>
      Array.from({ length: n }, () => pick([...alphabet])).join('');
    const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const AN = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const HEX = '0123456789abcdef';
    const generators: (() => string)[] = [
      () => `AKIA${str(UP, 16)}`,
      () => `ghp_${str(AN, 36)}`,
      () => `glpat-${str(AN, 20)}`,
      () => `xoxb-${str('0123456789', 9)}-${str('0123456789', 8)}-${str(AN, 24)}`,
      () => `sk-proj-${str(AN, 120)}`,
      () => `sk-ant-api03-${str(AN, 90)}`,
      () => `sk_live_${str(AN, 24)}`,
      () => `sk-dc-${str(HEX, 64)}`,
      () => `npm_${str(AN, 36)}`,
      () => `hf_${str(AN, 34)}`,
      () => `AIza${str(AN, 35)}`,
      () => luhnCard(random),
      () =>
        `${100 + Math.floor(random() * 565)}-${10 + Math.floor(random() * 89)}-${1000 + Math.floor(random() * 8999)}`,
    ];
    const templates = [
      (s: string) => `config:\n  api_key: ${s}\n`,
      (s: string) => `Here is what I found: ${s}. Rotate it soon.`,
      (s: string) => `{"value": "${s}", "note": "from .env"}`,
      (s: string) => `export SECRET_VALUE=${s}`,
      (s: string) => `customer ${s} on file`,
    ];
    const subjects: ((t: string) => {
      subject: Subject;
      lane: 'proxy_completion' | 'ws_tool_result' | 'proxy_prompt' | 'proxy_tool_call';
    })[] = [
      (t) => ({ subject: { kind: 'completion', text: t, toolCalls: [] }, lane: 'proxy_completion' }),
      (t) => ({
        subject: { kind: 'tool_result', tool: 'read', text: t, isError: false },
        lane: 'ws_tool_result',
      }),
      (t) => ({
        subject: {
          kind: 'prompt',
          messages: [{ index: 0, role: 'tool', provenance: 'tool_output', text: t }],
        },
        lane: 'proxy_prompt',
      }),
      (t) => ({
        subject: { kind: 'tool_call', tool: 'message', args: { to: 'ops', text: t } },
        lane: 'proxy_tool_call',
      }),
    ];
    const leaks: string[] = [];
    let flagged = 0;
    for (let i = 0; i < 400; i++) {
      const secret = pick(generators)();
      const { subject, lane } = pick(subjects)(pick(templates)(secret));
      const verdict: Verdict = engine.evaluate(subject, {
        lane,
        mode: 'action',
        nowMs: 1_800_000_000_000,
        meta: {},
      });
      if (verdict.findings.some((f) => SECRET_CATEGORIES.has(f.category))) flagged++;
      const wire = JSON.stringify(toWire(verdict));
      if (verdict.reason.includes(secret) || verdict.explanation.includes(secret) || wire.includes(secret))
        leaks.push(`${i}: ${subject.kind} leaked ${secret.slice(0, 8)}…`);
    }
    assert.deepEqual(leaks, []);
    assert.ok(flagged >= 360, `only ${flagged} of 400 seeded secrets were detected`);
  });
});

// --- internal ---

/** The matched text of every finding (≥ 8 non-space chars) whose target text the row carries. */
function matchedSpans(
  row: CorpusRow,
  verdict: Verdict,
): { ruleId: string; category: string; text: string; snippet: string }[] {
  const out: { ruleId: string; category: string; text: string; snippet: string }[] = [];
  for (const f of verdict.findings) {
    const text = targetText(row.subject as unknown as Subject, f);
    if (text === undefined) continue;
    const span = text.slice(f.evidence.location.start, f.evidence.location.end);
    if (span.trim().length >= 8)
      out.push({ ruleId: f.ruleId, category: f.category, text: span, snippet: f.evidence.snippet });
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnCard(random: () => number): string {
  const prefix = ['4539', '4916', '5425', '5105', '6011', '3566'][Math.floor(random() * 6)]!;
  let digits = prefix;
  while (digits.length < 15) digits += String(Math.floor(random() * 10));
  for (let d = 0; d <= 9; d++) {
    const candidate = digits + d;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let n = candidate.charCodeAt(candidate.length - 1 - i) - 48;
      if (i % 2 === 1) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
    }
    if (sum % 10 === 0)
      return `${candidate.slice(0, 4)} ${candidate.slice(4, 8)} ${candidate.slice(8, 12)} ${candidate.slice(12)}`;
  }
  throw new Error('unreachable');
}
