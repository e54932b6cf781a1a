import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  type CompiledPolicy,
  compilePolicy,
  createEngine,
  type EvalContext,
  loadBundledPacks,
  type PolicyEngine,
  type Verdict,
} from '../src/index.ts';
import { KEY, rng } from './_fixtures.ts';

function compileBundled(extra: { path: string; text: string }[] = []): CompiledPolicy {
  const r = compilePolicy({
    packs: [...loadBundledPacks(), ...extra.map((p) => ({ ...p, bundled: false }))],
  });
  if (!r.success) assert.fail(r.errors.map((e) => e.message).join('\n'));
  return r.policy;
}

const engine = createEngine(compileBundled(), { evidenceKey: KEY });
const cctx = (over: Partial<EvalContext> = {}): EvalContext => ({
  lane: 'proxy_completion',
  mode: 'action',
  nowMs: 1_700_000_000_000,
  meta: { requestId: 'r1' },
  ...over,
});

function oneShot(e: PolicyEngine, text: string, ctx = cctx()): Verdict {
  return e.evaluate({ kind: 'completion', text, toolCalls: [] }, ctx);
}

/** Streams `text` in deltas cut at the given points; returns the final verdict and the scanner. */
function streamed(e: PolicyEngine, text: string, cuts: number[], ctx = cctx()) {
  const s = e.streamScanner(ctx);
  let at = 0;
  for (const c of [...cuts, text.length]) {
    s.push(text.slice(at, c));
    at = c;
  }
  const v = s.finish();
  return { v, s };
}

function randomCuts(len: number, r: () => number, maxDelta: number): number[] {
  const cuts: number[] = [];
  let at = 0;
  while (at < len) {
    at += 1 + Math.floor(r() * maxDelta);
    if (at < len) cuts.push(at);
  }
  return cuts;
}

/** Every text in the policy corpus (completion, tool result, prompt messages, skill files, tool args). */
function corpusTexts(): { id: string; text: string }[] {
  const dir = new URL('../corpus/', import.meta.url);
  const out: { id: string; text: string }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.jsonl'))) {
    for (const line of readFileSync(new URL(file, dir), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const row = JSON.parse(line) as { id: string; subject: Record<string, unknown> };
      const s = row.subject;
      const texts: string[] = [];
      if (typeof s.text === 'string') texts.push(s.text);
      if (typeof s.commandText === 'string') texts.push(s.commandText);
      if (Array.isArray(s.messages)) for (const m of s.messages as { text: string }[]) texts.push(m.text);
      if (Array.isArray(s.files)) for (const f of s.files as { text: string }[]) texts.push(f.text);
      if (s.args !== undefined) texts.push(JSON.stringify(s.args));
      texts.forEach((text, i) => {
        if (typeof text === 'string' && text.length > 0) out.push({ id: `${row.id}#${i}`, text });
      });
    }
  }
  return out;
}

describe('engine.streamScanner', () => {
  it('ends with the rule ids, action and severity of a one-shot evaluate, for corpus texts split at random points', () => {
    const texts = corpusTexts();
    assert.ok(texts.length > 500, 'the corpus is loaded');
    const r = rng(42);
    let firing = 0;
    for (const { id, text } of texts) {
      const want = oneShot(engine, text);
      if (want.ruleIds.length > 0) firing++;
      for (let round = 0; round < 3; round++) {
        const cuts = randomCuts(text.length, r, round === 0 ? 3 : round === 1 ? 40 : 300);
        const { v } = streamed(engine, text, cuts);
        assert.deepEqual(v.ruleIds, want.ruleIds, `${id} (cuts ${cuts.join(',')})`);
        assert.equal(v.action, want.action, id);
        assert.equal(v.severity, want.severity, id);
        assert.equal(v.reason, want.reason, id);
      }
    }
    assert.ok(firing > 50, `many corpus texts fire completion rules (${firing})`);
  });

  it('keeps the verdict shape of evaluate (lane, meta, generation, redacted evidence at absolute offsets)', () => {
    const prefix = 'Sure, here is the config you asked for. '.repeat(20);
    const text = `${prefix}AWS_ACCESS_KEY_ID=AKIATIKH7PMK4IY755EQ\nthanks`;
    const want = oneShot(engine, text);
    const { v } = streamed(engine, text, randomCuts(text.length, rng(1), 7));
    assert.equal(v.lane, 'proxy_completion');
    assert.equal(v.mode, 'action');
    assert.equal(v.action, 'block');
    assert.deepEqual(v.meta, { requestId: 'r1' });
    assert.deepEqual(v.generation, want.generation);
    assert.equal(v.explanation, want.explanation);
    assert.equal(v.timing.scannedBytes, text.length);
    const f = v.findings.find((x) => x.ruleId === 'SECRET-AWS-KEY-ID')!;
    const g = want.findings.find((x) => x.ruleId === 'SECRET-AWS-KEY-ID')!;
    assert.deepEqual(f.evidence.location, g.evidence.location);
    assert.equal(f.evidence.fingerprint, g.evidence.fingerprint);
    assert.equal(f.evidence.snippet, g.evidence.snippet);
    assert.ok(!f.evidence.snippet.includes('TIKH7PMK4IY755EQ'), 'the key is redacted');
  });

  it('reports a secret in the verdict so far once 17 characters follow it, before finish', () => {
    const key = 'AKIATIKH7PMK4IY755EQ';
    const text = `${'Lorem ipsum dolor sit amet. '.repeat(30)}${key} and then some more words here`;
    const s = engine.streamScanner(cctx());
    const end = text.indexOf(key) + key.length;
    let v: Verdict | undefined;
    for (let i = 0; i < end + 17; i += 5) {
      v = s.push(text.slice(i, Math.min(i + 5, end + 17)));
    }
    v = s.flush();
    assert.equal(s.scannedTo, end + 17);
    assert.equal(v.action, 'block');
    assert.ok(v.ruleIds.includes('SECRET-AWS-KEY-ID'), 'v.ruleIds.includes(SECRET-AWS-KEY-ID)');
  });

  it('counts min_matches across deltas and windows (PII-EMAIL-BULK needs 10 distinct addresses)', () => {
    const filler = 'Some words in between the addresses to spread them out over many windows. ';
    let nine = '';
    for (let i = 0; i < 9; i++) nine += `${filler.repeat(3)}user${i}@mail${i}.example.org `;
    const ten = `${nine}${filler}user9@mail9.example.org done`;
    for (const [text, fires] of [
      [nine, false],
      [ten, true],
    ] as const) {
      const want = oneShot(engine, text);
      assert.equal(want.ruleIds.includes('PII-EMAIL-BULK'), fires);
      const { v } = streamed(engine, text, randomCuts(text.length, rng(3), 9));
      assert.deepEqual(v.ruleIds, want.ruleIds);
    }
  });

  it('survives surrogate pairs split across deltas and astral text', () => {
    const text = `😀 emoji 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 text ${'𝔞'.repeat(300)} key AKIATIKH7PMK4IY755EQ 😀 call +1 415-555-0142 now ${'😀'.repeat(200)}`;
    const want = oneShot(engine, text);
    assert.ok(want.ruleIds.includes('SECRET-AWS-KEY-ID'), 'want.ruleIds.includes(SECRET-AWS-KEY-ID)');
    for (let seed = 0; seed < 20; seed++) {
      const { v } = streamed(engine, text, randomCuts(text.length, rng(seed), 5));
      assert.deepEqual(v.ruleIds, want.ruleIds);
      const f = v.findings.find((x) => x.ruleId === 'SECRET-AWS-KEY-ID')!;
      assert.equal(f.evidence.location.start, text.indexOf('AKIATIKH7PMK4IY755EQ'));
    }
  });

  it('scans O(n): scannedChars ≤ 5 × length for 1 MiB streamed in 5-character deltas, with flushes', () => {
    const para =
      'The deployment finished without errors. Logs are in /var/log/app, contact ops@example.com or call ' +
      '+1 415-555-0100 if anything looks off; see https://docs.example.com/guide?x=1 for details. ';
    let text = '';
    while (text.length < 1024 * 1024) text += para;
    const s = engine.streamScanner(cctx());
    for (let i = 0; i < text.length; i += 5) {
      s.push(text.slice(i, i + 5));
      if (i % 40 === 0) s.flush();
    }
    const v = s.finish();
    assert.ok(s.scannedChars <= 5 * text.length, `${s.scannedChars} ≤ ${5 * text.length}`);
    assert.ok(s.scannedChars >= text.length, 'every character is scanned');
    assert.deepEqual(v.ruleIds, oneShot(engine, text).ruleIds);
  });

  it('reruns whole-text (unbounded) operator rules at finish and bounded long-span rules exactly', () => {
    const pack = `pack: { name: op, version: 1.0.0, description: Operator rules }
rules:
  - id: OP-WHOLE
    title: Begin and end markers anywhere
    category: test
    severity: critical
    targets: [completion]
    prefilter: [zzbegin]
    patterns: ['(?s)ZZBEGIN.*ZZEND']
    examples:
      match: ['ZZBEGIN x ZZEND']
      no_match: ['ZZEND x ZZBEGIN']
  - id: OP-LONG
    title: Markers up to 600 apart
    category: test
    severity: high
    targets: [completion]
    prefilter: [qqstart]
    patterns: ['QQSTART[a-z ]{0,600}QQSTOP']
    examples:
      match: ['QQSTART abc QQSTOP']
      no_match: ['QQSTOP abc QQSTART']
`;
    const e = createEngine(compileBundled([{ path: 'op.yaml', text: pack }]), { evidenceKey: KEY });
    const mid = 'words and more words '.repeat(200);
    const long = `QQSTART ${'ab '.repeat(190)}QQSTOP`;
    for (const text of [
      `ZZBEGIN ${mid} ZZEND`,
      `ZZEND ${mid} ZZBEGIN`,
      `${mid}${long}${mid}`,
      `${mid}QQSTART ${'ab '.repeat(210)}QQSTOP`,
    ]) {
      const want = oneShot(e, text);
      const { v } = streamed(e, text, randomCuts(text.length, rng(5), 20));
      assert.deepEqual(v.ruleIds, want.ruleIds, text.slice(0, 40));
    }
    assert.ok(oneShot(e, `ZZBEGIN ${mid} ZZEND`).ruleIds.includes('OP-WHOLE'));
    assert.ok(oneShot(e, `${mid}${long}${mid}`).ruleIds.includes('OP-LONG'));
  });

  it('scans every scan_step characters (128 by default, configurable)', () => {
    for (const [step, want] of [
      [undefined, 128],
      [16, 16],
    ] as const) {
      const s = engine.streamScanner(cctx(), step === undefined ? undefined : { scanStepChars: step });
      let firstScan = -1;
      for (let i = 1; i <= 200 && firstScan < 0; i++) {
        s.push('a');
        if (s.scannedTo > 0) firstScan = i;
      }
      assert.equal(firstScan, want);
    }
  });

  it('applies observe mode like evaluate (allow with wouldBlock)', () => {
    const text = 'here: ghp_nRhazcFrm7RPy6PItx5FYjGA68itVhhtCxvP ok';
    const { v } = streamed(engine, text, [10, 20, 30], cctx({ mode: 'observe' }));
    assert.equal(v.action, 'allow');
    assert.equal(v.rawAction, 'block');
    assert.equal(v.wouldBlock, true);
  });

  it('answers ENGINE-INVALID-INPUT for an invalid context, as evaluate does', () => {
    const bad = { lane: 'proxy_completion', mode: 'action', meta: {} } as unknown as EvalContext;
    const s = engine.streamScanner(bad);
    assert.deepEqual(s.push('hello').ruleIds, ['ENGINE-INVALID-INPUT']);
    assert.deepEqual(s.finish().ruleIds, ['ENGINE-INVALID-INPUT']);
  });

  it('returns the same verdict object while nothing changes, and the final verdict after finish', () => {
    const s = engine.streamScanner(cctx());
    const a = s.push('Hello there, this is a perfectly ordinary answer. '.repeat(5));
    const b = s.push('More ordinary words. '.repeat(10));
    assert.equal(a, b);
    const f = s.finish();
    assert.equal(s.push('AKIATIKH7PMK4IY755EQ '), f);
    assert.equal(s.finish(), f);
  });
});
