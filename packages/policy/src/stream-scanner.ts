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
import { performance } from 'node:perf_hooks';
import type { PolicyInternal, RuntimeRule } from './_compiled.ts';
import type { Hit } from './_scan.ts';
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

type Spec = { start: number; value: string; hit: StreamHit };

type RuleState = {
  rule: RuntimeRule;
  pats: PatState[];
  done: boolean;
  count: number;
  distinct: Set<string> | undefined;
  best: StreamHit | undefined;
  /** Provisional accepted matches of the last scan. */
  spec: Spec[];
  /** A prefilter keyword of the rule has occurred in the text (or the rule has none / the prefilter is off). */
  keyword: boolean;
};

type PatState = {
  matcher: Matcher;
  /** Necessary literal factors (ids), or undefined. */
  anchors: Int32Array[] | undefined;
  /** Unbounded span: scanned once over the whole text at finish. */
  whole: boolean;
  /** Next start position not yet settled (absolute). */
  next: number;
};

class Scanner implements StreamTextScanner {
  readonly #policy: PolicyInternal;
  readonly #build: BuildStreamVerdict;
  readonly #step: number;
  readonly #factor: number;
  readonly #overlap: number;
  readonly #usePrefilter: boolean;
  readonly #rules: RuleState[] = [];
  readonly #marks: Uint32Array;
  #stamp = 0;
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
  #firing: StreamHit[] = [];
  #final: Verdict | undefined;

  constructor(policy: PolicyInternal, options: StreamScannerOptions, build: BuildStreamVerdict) {
    this.#policy = policy;
    this.#build = build;
    this.#step = Math.max(1, options.scanStepChars ?? 128);
    this.#overlap = Math.max(0, options.overlapChars ?? 512);
    this.#factor = 1 + this.#overlap / this.#step;
    this.#usePrefilter = options.usePrefilter ?? true;
    this.#marks = new Uint32Array(policy.rules.length);
    let whole = false;
    for (const rule of policy.byTarget.completion) {
      // A completion has no tool name: rules restricted to tools never apply (as in `applicableRules`).
      if (rule.tools || rule.patterns.length === 0) continue;
      const pats = rule.patterns.map(
        (matcher, p): PatState => ({
          matcher,
          anchors: this.#usePrefilter ? rule.anchors[p] : undefined,
          whole: !Number.isFinite(matcher.maxUnits),
          next: 0,
        }),
      );
      if (pats.some((p) => p.whole)) whole = true;
      this.#rules.push({
        rule,
        pats,
        done: false,
        count: 0,
        distinct: undefined,
        best: undefined,
        spec: [],
        keyword: !this.#usePrefilter || !rule.hasPrefilter,
      });
    }
    if (whole) this.#parts = [];
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
    for (const rs of this.#rules) {
      if (rs.done) continue;
      for (const ps of rs.pats) if (!ps.whole && ps.next < ws) ws = ps.next;
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
    const base = this.#base;
    const st = new ScanText(this.#buf);
    const literals = this.#policy.literals;
    if (++this.#stamp >= 0xffffffff) {
      this.#marks.fill(0);
      this.#stamp = 1;
    }
    const stamp = this.#stamp;
    const { present, token } = literals.apply(
      literals.match(st.text, st.buf),
      this.#usePrefilter ? this.#marks : undefined,
      stamp,
    );
    const memo = new Map<Matcher, [number, number, RegexMatch | null]>();
    for (const rs of this.#rules) {
      if (!rs.keyword && this.#marks[rs.rule.index] === stamp) rs.keyword = true;
      rs.spec = [];
      if (rs.done) continue;
      for (const ps of rs.pats) {
        if (ps.whole) continue;
        if (ps.anchors && !anchorsPresent(ps.anchors, present, token)) {
          // No match can lie wholly in the window: positions that cannot reach past it are settled.
          ps.next = Math.max(ps.next, final ? L : L - this.#reach(ps.matcher, L));
          continue;
        }
        this.#runPattern(rs, ps, st, base, L, final, memo);
        if (rs.done) break;
      }
    }
  }

  /** Characters after a start position that decide a match of `matcher` there (span + one look-ahead). */
  #reach(matcher: Matcher, at: number): number {
    // On text without surrogates UTF-16 units are characters, so the tighter character span applies.
    return (this.#lastAstral < at - matcher.maxSpan - 1 ? matcher.maxSpan : matcher.maxUnits) + 1;
  }

  #settled(rs: RuleState, m: RegexMatch, L: number, matcher: Matcher): boolean {
    const span = (this.#lastAstral < m.start ? matcher.maxSpan : matcher.maxUnits) + 1;
    if (m.start + span > L) return false;
    return rs.rule.excludes.length === 0 || m.end + EXCLUDE_CONTEXT <= L;
  }

  #runPattern(
    rs: RuleState,
    ps: PatState,
    st: ScanText,
    base: number,
    L: number,
    final: boolean,
    memo: Map<Matcher, [number, number, RegexMatch | null]>,
  ): void {
    const rule = rs.rule;
    let pos = ps.next;
    let speculative = false;
    while (pos < L) {
      const rel = execMemo(memo, ps.matcher, st, pos - base, L - base);
      if (rel === null) {
        if (!speculative) ps.next = Math.max(pos, final ? L : L - this.#reach(ps.matcher, L));
        return;
      }
      const m: RegexMatch = {
        start: rel.start + base,
        end: rel.end + base,
        valueStart: rel.valueStart + base,
        valueEnd: rel.valueEnd + base,
      };
      if (!speculative && !final && !this.#settled(rs, m, L, ps.matcher)) {
        ps.next = Math.max(pos, Math.min(m.start, L - this.#reach(ps.matcher, L)));
        speculative = true;
      }
      const ok = rel.end > rel.start && accept(st, rule, rel);
      if (!ok) {
        pos = m.start + (isHigh(st.text.charCodeAt(rel.start)) ? 2 : 1);
        if (!speculative) ps.next = pos;
        continue;
      }
      const value = st.text.slice(rel.valueStart, rel.valueEnd);
      if (speculative) {
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
      ps.next = pos;
      if (rs.count >= rule.minMatches) {
        rs.done = true;
        return;
      }
    }
    if (!speculative) ps.next = Math.max(ps.next, pos);
  }

  /** Unbounded patterns: one pass over the whole text, as the one-shot scanner does. */
  #scanWhole(L: number): void {
    const text = this.#parts!.join('');
    this.#parts = [text];
    const st = new ScanText(text);
    const memo = new Map<Matcher, [number, number, RegexMatch | null]>();
    let any = false;
    for (const rs of this.#rules) {
      if (rs.done) continue;
      for (const ps of rs.pats) {
        if (!ps.whole) continue;
        any = true;
        ps.next = 0;
        this.#runPattern(rs, ps, st, 0, L, true, memo);
        if (rs.done) break;
      }
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
    let keep = Math.min(this.#windowStart(), this.#scannedTo) - CONTEXT_CHARS;
    if (keep <= this.#base) return;
    if (keep > this.#len) keep = this.#len;
    let rel = keep - this.#base;
    if (rel > 0 && rel < this.#buf.length && isLow(this.#buf.charCodeAt(rel))) rel--;
    this.#buf = this.#buf.slice(rel);
    this.#base += rel;
  }

  /** Recomputes the rules firing so far; the verdict is rebuilt only when they change. */
  #refreshFiring(): void {
    const firing: StreamHit[] = [];
    for (const rs of this.#rules) {
      if (!rs.keyword) continue;
      const min = rs.rule.minMatches;
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
      if (hit) firing.push(hit);
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

function anchorsPresent(factors: Int32Array[], present: Uint32Array, token: number): boolean {
  for (const f of factors) {
    let found = false;
    for (const id of f) {
      if (present[id] === token) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
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
