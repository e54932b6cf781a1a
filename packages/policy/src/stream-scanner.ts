// Incremental scanning of one streamed completion (spec 30 §B6.4): text arrives in deltas, each scan covers the
// text not yet settled, and the final verdict equals a one-shot `evaluate` of the whole completion.
//
// Exactness: a match found at start `s` while only `L` characters are known is *settled* once nothing after `L` can
// change it — its pattern cannot reach past `s + maxSpan` and its exclusion context (±64) is known. Settled matches
// are committed exactly as the one-shot scanner walks them (leftmost first, `pos = end` after an accepted match,
// `start + 1` after a rejected one), so `min_matches` counts and dedupe by absolute offset agree with `evaluate`.
// Unsettled matches near the end are *provisional*: they count towards the verdict so far (a stream is cut early
// rather than late) and are re-examined by the next scan. Patterns with no bounded span are scanned once over the
// whole text at `finish()` (the only case that retains the whole text).
//
// Cost: literal presence (prefilter keywords, pattern anchors) is read incrementally — each scan runs a small
// automaton over the new text plus a look-back of the longest literal, and remembers per literal the text length at
// which it was last seen — so a scan's fixed cost does not grow with the re-scanned overlap; patterns run over the
// window only where their anchors may lie in it.
import { performance } from 'node:perf_hooks';
import type { PolicyInternal, RuntimeRule } from './_compiled.ts';
import type { Hit } from './_scan.ts';
import { foldString, LiteralIndex } from './prefilter.ts';
import type { Matcher, RegexMatch } from './regex.ts';
import { ScanText } from './scan-text.ts';
import type { Verdict } from './types.ts';

/** Incremental text scanner for one streamed completion; same rules, thresholds and verdict shape as `evaluate`. */
export type StreamTextScanner = {
  /** Appends text, scans when at least `scanStepChars` characters are pending, and returns the verdict so far. */
  push(text: string): Verdict;
  /** Scans the pending text now when the O(n) budget allows (a hold-back release needs it); returns the verdict so far. */
  flush(): Verdict;
  /** Scans the remainder (whole-text rules included) and returns the final verdict; later calls return it again. */
  finish(): Verdict;
  /** Characters scanned so far, re-scanned context included (≤ (1 + overlapChars / scanStepChars) × text length). */
  readonly scannedChars: number;
  /** Characters of text the verdict so far covers (the text length at the last scan). */
  readonly scannedTo: number;
};

/** Options of `createStreamScanner`. */
export type StreamScannerOptions = {
  /**
   * Re-scanned context the O(n) budget allows per scan step (spec 30 §B6.4).
   * @default 512
   */
  overlapChars?: number;
  /**
   * Pending characters that trigger a scan.
   * @default 128
   */
  scanStepChars?: number;
  /**
   * Whether prefilter keywords gate rules (as in `evaluate`).
   * @default true
   */
  usePrefilter?: boolean;
};

/** A rule hit found in the stream: `hit` offsets are relative to `hit.text`, which starts at absolute offset `base`. */
export type StreamHit = { hit: Hit; base: number };

/** What the engine needs to build a verdict from the stream's hits. */
export type StreamVerdictInput = {
  hits: readonly StreamHit[];
  textChars: number;
  scanMicros: number;
  error?: { code: string; message: string };
};

/** Builds a verdict from stream hits (the engine's own finding and verdict code). */
export type BuildStreamVerdict = (input: StreamVerdictInput) => Verdict;

/** Creates an incremental scanner over a generation's `completion` rules. */
export function createStreamScanner(
  policy: PolicyInternal,
  options: StreamScannerOptions,
  build: BuildStreamVerdict,
): StreamTextScanner {
  return new Scanner(policy, options, build);
}

/** Returns a scanner that always answers `verdict` (e.g. the context was invalid). */
export function fixedStreamScanner(verdict: Verdict): StreamTextScanner {
  let to = 0;
  return {
    push(text: string) {
      to += text.length;
      return verdict;
    },
    flush: () => verdict,
    finish: () => verdict,
    scannedChars: 0,
    get scannedTo() {
      return to;
    },
  };
}

// --- internal ---

/** Context kept before the earliest unsettled position: exclusion look-behind (64), `\b`/`^`, snippet context. */
const CONTEXT_CHARS = 128;
/** Exclusion context each side of a match (as in the one-shot scanner). */
const EXCLUDE_CONTEXT = 64;
/** Snippet context kept with a recorded hit, each side. */
const SNIPPET_CONTEXT = 128;

const COMPLETION_INSTANCE = { target: 'completion', text: '' } as unknown as Hit['inst'];

/** Anchor literals are read by this prefix (a prefix of a necessary literal is necessary too). */
const ANCHOR_PREFIX_CHARS = 8;

/**
 * What every stream over one generation shares: the scanned rules, one automaton over their prefilter keywords and
 * anchor literals, and which literal stands for what.
 */
type Plan = {
  rules: RuntimeRule[];
  /** Every pattern of the scanned rules, rule by rule (per-stream state is one `next` position each). */
  pats: PlanPat[];
  /** Per scanned rule: its patterns are `pats[patFrom[r], patFrom[r + 1])`. */
  patFrom: Int32Array;
  /** Per local literal: the scanned rules (positions in `rules`) it is a prefilter keyword of. */
  keywordOf: (number[] | undefined)[];
  /** Per local literal: the factor slots it is an alternative of. */
  slotsOf: (number[] | undefined)[];
  slots: number;
  index: LiteralIndex | undefined;
  /** Characters re-read before new text so a literal spanning the boundary is found (longest literal − 1). */
  lookback: number;
  whole: boolean;
};

/** One pattern of a scanned rule. */
type PlanPat = {
  /** The rule's position in `Plan.rules`. */
  rule: number;
  matcher: Matcher;
  /** One slot per necessary factor, or undefined (the pattern always runs). */
  anchors: Int32Array | undefined;
  /** Unbounded span: scanned once over the whole text at finish. */
  whole: boolean;
};

const plans = new WeakMap<PolicyInternal, Plan>();

function planOf(policy: PolicyInternal): Plan {
  let plan = plans.get(policy);
  if (plan) return plan;
  const rules: RuntimeRule[] = [];
  let whole = false;
  for (const rule of policy.byTarget.completion) {
    // A completion has no tool name: rules restricted to tools never apply (as in `applicableRules`).
    if (rule.tools || rule.patterns.length === 0) continue;
    rules.push(rule);
    for (const matcher of rule.patterns) if (!Number.isFinite(matcher.maxUnits)) whole = true;
  }
  // Only patterns the one-shot scanner anchors are skipped by literal absence; the others always run. A factor with
  // an empty alternative can match anywhere, so its pattern is never skipped either.
  const anchoredFactors = (rule: RuntimeRule, p: number): string[][] | undefined => {
    const matcher = rule.patterns[p]!;
    if (rule.anchors[p] === undefined || matcher.factors.length === 0) return undefined;
    const out = matcher.factors.map((factor) =>
      factor.map((l) => foldString(l.slice(0, ANCHOR_PREFIX_CHARS))),
    );
    return out.every((factor) => factor.length > 0 && factor.every((l) => l.length > 0)) ? out : undefined;
  };
  const strings = new Set<string>();
  for (const rule of rules) {
    for (const kw of rule.info.prefilter ?? []) if (foldString(kw).length > 0) strings.add(foldString(kw));
    rule.patterns.forEach((_, p) => {
      for (const factor of anchoredFactors(rule, p) ?? []) for (const l of factor) strings.add(l);
    });
  }
  const index = strings.size > 0 ? new LiteralIndex(strings) : undefined;
  const size = index?.size ?? 0;
  const idOf = (literal: string): number => index!.idOf(literal)!;
  const keywordOf: (number[] | undefined)[] = new Array(size).fill(undefined);
  const slotsOf: (number[] | undefined)[] = new Array(size).fill(undefined);
  let slots = 0;
  let longest = 0;
  for (const l of strings) if (l.length > longest) longest = l.length;
  const pats: PlanPat[] = [];
  const patFrom = new Int32Array(rules.length + 1);
  rules.forEach((rule, r) => {
    patFrom[r] = pats.length;
    for (const kw of rule.info.prefilter ?? []) {
      const folded = foldString(kw);
      if (folded.length === 0) continue;
      const id = idOf(folded);
      const list = keywordOf[id] ?? [];
      keywordOf[id] = list;
      if (!list.includes(r)) list.push(r);
    }
    rule.patterns.forEach((matcher, p) => {
      const fs = anchoredFactors(rule, p);
      const anchors =
        fs === undefined
          ? undefined
          : Int32Array.from(fs, (factor) => {
              const slot = slots++;
              for (const l of factor) {
                const id = idOf(l);
                const list = slotsOf[id] ?? [];
                slotsOf[id] = list;
                if (!list.includes(slot)) list.push(slot);
              }
              return slot;
            });
      pats.push({ rule: r, matcher, anchors, whole: !Number.isFinite(matcher.maxUnits) });
    });
  });
  patFrom[rules.length] = pats.length;
  plan = {
    rules,
    pats,
    patFrom,
    keywordOf,
    slotsOf,
    slots,
    index,
    lookback: Math.max(0, longest - 1),
    whole,
  };
  plans.set(policy, plan);
  return plan;
}

type Spec = { start: number; value: string; hit: StreamHit };

/** The shared empty list of provisional matches (replaced, never pushed to). */
const NO_SPEC: Spec[] = [];

/** The shared empty list of firing hits (replaced, never pushed to). */
const NO_HITS: StreamHit[] = [];

/** Per-stream state of one scanned rule. */
type RuleState = {
  done: boolean;
  count: number;
  distinct: Set<string> | undefined;
  best: StreamHit | undefined;
  /** Provisional accepted matches of the last scan. */
  spec: Spec[];
  /** A prefilter keyword of the rule has occurred in the text (or the rule has none / the prefilter is off). */
  keyword: boolean;
};

class Scanner implements StreamTextScanner {
  readonly #build: BuildStreamVerdict;
  readonly #step: number;
  readonly #factor: number;
  readonly #overlap: number;
  readonly #usePrefilter: boolean;
  readonly #plan: Plan;
  readonly #rules: RuleState[] = [];
  /** Per factor slot: the text length at the scan that last saw one of its literals (−1: never), see `#anchored`. */
  readonly #seen: Float64Array;
  /** Per plan pattern: the next start position not yet settled (absolute). */
  readonly #next: Float64Array;
  /** Scratch: the plan patterns to run in this scan. */
  readonly #run: number[] = [];
  /** Scratch: per matcher, its last exec in this scan (rules sharing a pattern share the scan). */
  readonly #memo = new Map<Matcher, [number, number, RegexMatch | null]>();
  /** Retained text: absolute [#base, #len). */
  #buf = '';
  #base = 0;
  #len = 0;
  #pending = 0;
  /** Absolute index of the last surrogate code unit seen (−1: none). */
  #lastAstral = -1;
  /** The whole text, kept only when a whole-text pattern applies. */
  #parts: string[] | undefined;
  #scanned = 0;
  #scannedTo = 0;
  #micros = 0;
  #error: { code: string; message: string } | undefined;
  #verdict: Verdict | undefined;
  #firing: StreamHit[] = NO_HITS;
  #final: Verdict | undefined;

  constructor(policy: PolicyInternal, options: StreamScannerOptions, build: BuildStreamVerdict) {
    this.#build = build;
    this.#step = Math.max(1, options.scanStepChars ?? 128);
    this.#overlap = Math.max(0, options.overlapChars ?? 512);
    this.#factor = 1 + this.#overlap / this.#step;
    this.#usePrefilter = options.usePrefilter ?? true;
    const plan = planOf(policy);
    this.#plan = plan;
    this.#seen = new Float64Array(plan.slots).fill(-1);
    this.#next = new Float64Array(plan.pats.length);
    for (const rule of plan.rules) {
      this.#rules.push({
        done: false,
        count: 0,
        distinct: undefined,
        best: undefined,
        spec: NO_SPEC,
        keyword: !this.#usePrefilter || !rule.hasPrefilter,
      });
    }
    if (plan.whole) this.#parts = [];
  }

  get scannedChars(): number {
    return this.#scanned;
  }

  get scannedTo(): number {
    return this.#scannedTo;
  }

  push(text: string): Verdict {
    if (this.#final) return this.#final;
    if (typeof text === 'string' && text.length > 0) {
      for (let i = text.length - 1; i >= 0; i--) {
        const c = text.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdfff) {
          this.#lastAstral = this.#len + i;
          break;
        }
      }
      this.#buf += text;
      this.#len += text.length;
      this.#pending += text.length;
      this.#parts?.push(text);
      if (this.#pending >= this.#step) this.#scan(false);
    }
    return this.#current();
  }

  flush(): Verdict {
    if (this.#final) return this.#final;
    if (this.#pending > 0) {
      const cost = this.#len - Math.min(this.#windowStart(), this.#scannedTo);
      // Keep one overlap (at most the text so far) in reserve so the scan at finish still fits the bound.
      const reserve = Math.min(this.#overlap, this.#len);
      if (this.#scanned + cost + reserve <= this.#factor * this.#len) this.#scan(false);
    }
    return this.#current();
  }

  finish(): Verdict {
    if (this.#final) return this.#final;
    this.#scan(true);
    this.#verdict = undefined;
    this.#final = this.#current();
    this.#buf = '';
    this.#parts = undefined;
    return this.#final;
  }

  #current(): Verdict {
    if (!this.#verdict) {
      this.#verdict = this.#build({
        hits: this.#firing,
        textChars: this.#len,
        scanMicros: Math.round(this.#micros),
        ...(this.#error ? { error: this.#error } : {}),
      });
    }
    return this.#verdict;
  }

  #windowStart(): number {
    let ws = this.#len;
    const pats = this.#plan.pats;
    const next = this.#next;
    const rules = this.#rules;
    for (let i = 0; i < pats.length; i++) {
      const pat = pats[i]!;
      if (!pat.whole && next[i]! < ws && !rules[pat.rule]!.done) ws = next[i]!;
    }
    return ws;
  }

  #scan(final: boolean): void {
    const t0 = performance.now();
    const L = this.#len;
    // New text is always read (prefilter keywords); settled text only where a pattern may still match.
    const ws = Math.min(this.#windowStart(), this.#scannedTo);
    try {
      if (this.#error === undefined && (ws < L || final)) this.#scanWindow(L, final);
      if (final && this.#error === undefined && this.#parts) this.#scanWhole(L);
    } catch (cause) {
      this.#error = {
        code: 'ENGINE-ERROR',
        message: cause instanceof Error ? cause.message.slice(0, 200) : 'engine failure',
      };
    }
    this.#scanned += L - ws;
    this.#scannedTo = L;
    this.#pending = 0;
    this.#trim();
    this.#micros += (performance.now() - t0) * 1000;
    this.#refreshFiring();
  }

  #scanWindow(L: number, final: boolean): void {
    this.#readLiterals(L);
    // Patterns whose anchors cannot lie in the window are settled without running; the rest run over a UTF-8 copy
    // of the window from the earliest unsettled start (plus context), made only when some pattern has to run.
    const run = this.#run;
    const pats = this.#plan.pats;
    const next = this.#next;
    const rules = this.#rules;
    const prefilter = this.#usePrefilter;
    for (const rs of rules) if (rs.spec.length > 0) rs.spec = NO_SPEC;
    let from = L;
    for (let i = 0; i < pats.length; i++) {
      const pat = pats[i]!;
      if (pat.whole || rules[pat.rule]!.done) continue;
      if (prefilter && pat.anchors && !this.#anchored(pat.anchors, next[i]!)) {
        next[i] = Math.max(next[i]!, final ? L : L - this.#reach(pat.matcher, L));
        continue;
      }
      run.push(i);
      if (next[i]! < from) from = next[i]!;
    }
    if (run.length === 0) return;
    let rel = Math.max(0, from - CONTEXT_CHARS - this.#base);
    if (rel > 0 && isLow(this.#buf.charCodeAt(rel))) rel--;
    const base = this.#base + rel;
    const st = new ScanText(rel === 0 ? this.#buf : this.#buf.slice(rel));
    const memo = this.#memo;
    memo.clear();
    for (const i of run) {
      // A rule settles (`done`) as soon as it reaches its threshold: its other patterns need not run.
      if (!rules[pats[i]!.rule]!.done) this.#runPattern(i, st, base, L, final, memo);
    }
    run.length = 0;
  }

  /**
   * Reads the text new since the last scan (plus a look-back, so literals spanning the boundary are found) for
   * prefilter keywords, which switch their rules on for good, and anchor literals, whose last sighting it records.
   */
  #readLiterals(L: number): void {
    const plan = this.#plan;
    if (!plan.index || !this.#usePrefilter) return;
    const from = Math.max(this.#base, this.#scannedTo - plan.lookback);
    if (from >= L) return;
    let rel = from - this.#base;
    // Start on a whole code point (a low surrogate alone would fold differently).
    if (rel > 0 && isLow(this.#buf.charCodeAt(rel))) rel--;
    const found = plan.index.presence(rel === 0 ? this.#buf : this.#buf.slice(rel));
    const seen = this.#seen;
    for (const id of found) {
      const slots = plan.slotsOf[id];
      if (slots) for (const slot of slots) seen[slot] = L;
      const rules = plan.keywordOf[id];
      if (rules) for (const r of rules) this.#rules[r]!.keyword = true;
    }
  }

  /**
   * Whether every factor has a literal seen where a match starting at `from` or later could contain it. A literal is
   * found by the scan at whose text length `L` its occurrence ends, so an occurrence starting at `s ≥ from` was seen
   * at some `L > s ≥ from`: a factor whose literals were all last seen at `L ≤ from` cannot occur there.
   */
  #anchored(slots: Int32Array, from: number): boolean {
    const seen = this.#seen;
    for (let i = 0; i < slots.length; i++) if (seen[slots[i]!]! <= from) return false;
    return true;
  }

  /** Characters after a start position that decide a match of `matcher` there (span + one look-ahead). */
  #reach(matcher: Matcher, at: number): number {
    // On text without surrogates UTF-16 units are characters, so the tighter character span applies.
    return (this.#lastAstral < at - matcher.maxSpan - 1 ? matcher.maxSpan : matcher.maxUnits) + 1;
  }

  #settled(rule: RuntimeRule, m: RegexMatch, L: number, matcher: Matcher): boolean {
    const span = (this.#lastAstral < m.start ? matcher.maxSpan : matcher.maxUnits) + 1;
    if (m.start + span > L) return false;
    return rule.excludes.length === 0 || m.end + EXCLUDE_CONTEXT <= L;
  }

  #runPattern(
    i: number,
    st: ScanText,
    base: number,
    L: number,
    final: boolean,
    memo: Map<Matcher, [number, number, RegexMatch | null]>,
  ): void {
    const pat = this.#plan.pats[i]!;
    const matcher = pat.matcher;
    const rule = this.#plan.rules[pat.rule]!;
    const rs = this.#rules[pat.rule]!;
    const next = this.#next;
    let pos = next[i]!;
    let speculative = false;
    while (pos < L) {
      const rel = execMemo(memo, matcher, st, pos - base, L - base);
      if (rel === null) {
        if (!speculative) next[i] = Math.max(pos, final ? L : L - this.#reach(matcher, L));
        return;
      }
      const m: RegexMatch = {
        start: rel.start + base,
        end: rel.end + base,
        valueStart: rel.valueStart + base,
        valueEnd: rel.valueEnd + base,
      };
      if (!speculative && !final && !this.#settled(rule, m, L, matcher)) {
        next[i] = Math.max(pos, Math.min(m.start, L - this.#reach(matcher, L)));
        speculative = true;
      }
      const ok = rel.end > rel.start && accept(st, rule, rel);
      if (!ok) {
        pos = m.start + (isHigh(st.text.charCodeAt(rel.start)) ? 2 : 1);
        if (!speculative) next[i] = pos;
        continue;
      }
      const value = st.text.slice(rel.valueStart, rel.valueEnd);
      if (speculative) {
        if (rs.spec === NO_SPEC) rs.spec = [];
        rs.spec.push({ start: m.start, value, hit: this.#hit(rule, st, base, rel) });
        if (rule.minMatches <= 1) return;
        pos = m.end;
        continue;
      }
      if (!rs.best || m.start < rs.best.base + rs.best.hit.start) rs.best = this.#hit(rule, st, base, rel);
      if (rule.minMatches <= 1) rs.count = 1;
      else {
        rs.distinct ??= new Set();
        rs.distinct.add(value);
        rs.count = rs.distinct.size;
      }
      pos = m.end;
      next[i] = pos;
      if (rs.count >= rule.minMatches) {
        rs.done = true;
        return;
      }
    }
    if (!speculative) next[i] = Math.max(next[i]!, pos);
  }

  /** Unbounded patterns: one pass over the whole text, as the one-shot scanner does. */
  #scanWhole(L: number): void {
    const text = this.#parts!.join('');
    this.#parts = [text];
    const st = new ScanText(text);
    const memo = new Map<Matcher, [number, number, RegexMatch | null]>();
    const pats = this.#plan.pats;
    let any = false;
    for (let i = 0; i < pats.length; i++) {
      const pat = pats[i]!;
      if (!pat.whole || this.#rules[pat.rule]!.done) continue;
      any = true;
      this.#next[i] = 0;
      this.#runPattern(i, st, 0, L, true, memo);
    }
    if (any) this.#scanned += L;
  }

  #hit(rule: RuntimeRule, st: ScanText, base: number, m: RegexMatch): StreamHit {
    let from = Math.max(0, m.start - SNIPPET_CONTEXT);
    if (from > 0 && isLow(st.text.charCodeAt(from))) from--;
    const to = Math.min(st.text.length, m.end + SNIPPET_CONTEXT);
    const text = st.text.slice(from, to);
    const hit: Hit = {
      rule,
      inst: COMPLETION_INSTANCE,
      basis: 'pattern',
      text,
      start: m.start - from,
      end: m.end - from,
      valueStart: m.valueStart - from,
      valueEnd: m.valueEnd - from,
      obfuscated: false,
    };
    return { hit, base: base + from };
  }

  /** Drops retained text no future scan can need. */
  #trim(): void {
    // The next scan reads literals from `#scannedTo − lookback`.
    let keep = Math.min(
      this.#windowStart() - CONTEXT_CHARS,
      this.#scannedTo - Math.max(CONTEXT_CHARS, this.#plan.lookback),
    );
    if (keep <= this.#base) return;
    if (keep > this.#len) keep = this.#len;
    let rel = keep - this.#base;
    if (rel > 0 && rel < this.#buf.length && isLow(this.#buf.charCodeAt(rel))) rel--;
    this.#buf = this.#buf.slice(rel);
    this.#base += rel;
  }

  /** Recomputes the rules firing so far; the verdict is rebuilt only when they change. */
  #refreshFiring(): void {
    let firing: StreamHit[] = NO_HITS;
    const rules = this.#plan.rules;
    for (let r = 0; r < rules.length; r++) {
      const rs = this.#rules[r]!;
      if (!rs.keyword) continue;
      const min = rules[r]!.minMatches;
      let hit: StreamHit | undefined;
      if (rs.best && rs.count >= min) hit = rs.best;
      else if (rs.spec.length > 0) {
        let extra = 0;
        const seen = new Set<string>();
        for (const s of rs.spec) {
          if (min <= 1 || (!rs.distinct?.has(s.value) && !seen.has(s.value))) {
            seen.add(s.value);
            extra++;
          }
        }
        if (rs.count + extra >= Math.max(1, min)) {
          hit = rs.best;
          const first = rs.spec[0]!;
          if (!hit || first.start < hit.base + hit.hit.start) hit = first.hit;
        }
      }
      if (hit) {
        if (firing === NO_HITS) firing = [];
        firing.push(hit);
      }
    }
    const prev = this.#firing;
    let same = prev.length === firing.length && this.#verdict !== undefined;
    for (let i = 0; same && i < firing.length; i++) if (prev[i] !== firing[i]) same = false;
    if (!same) {
      this.#firing = firing;
      this.#verdict = undefined;
    }
  }
}

function execMemo(
  memo: Map<Matcher, [number, number, RegexMatch | null]>,
  matcher: Matcher,
  st: ScanText,
  from: number,
  to: number,
): RegexMatch | null {
  const last = memo.get(matcher);
  if (last && last[0] === from && last[1] === to) return last[2];
  const m = matcher.exec(st, from, to);
  memo.set(matcher, [from, to, m]);
  return m;
}

/** Validators and exclusions, as the one-shot scanner applies them (offsets relative to `st`). */
function accept(st: ScanText, rule: RuntimeRule, m: RegexMatch): boolean {
  if (rule.validators.length > 0) {
    const value = st.text.slice(m.valueStart, m.valueEnd);
    for (const v of rule.validators) {
      let ok: boolean;
      try {
        ok = v.fn(value, v.arg);
      } catch {
        ok = false;
      }
      if (!ok) return false;
    }
  }
  if (rule.excludes.length > 0) {
    const lo = Math.max(0, m.start - EXCLUDE_CONTEXT);
    const hi = Math.min(st.text.length, m.end + EXCLUDE_CONTEXT);
    for (const ex of rule.excludes) if (ex.exec(st, lo, hi) !== null) return false;
  }
  return true;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
