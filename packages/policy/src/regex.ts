import RE2 from 're2';
import { analyzeRegex } from './_regex-syntax.ts';
import { prepareText, type ScanText } from './scan-text.ts';

/** The largest pattern source accepted, in characters. */
export const MAX_PATTERN_CHARS = 2048;

/** The default max match span (the engine's `overlapChars`). */
export const DEFAULT_MAX_SPAN = 512;

/** One match, in UTF-16 offsets; `value*` is capture group 1 when it participated, else the whole match. */
export type RegexMatch = { start: number; end: number; valueStart: number; valueEnd: number };

/** A compiled linear-time pattern. */
export interface Matcher {
  /** The pattern as written. */
  readonly source: string;
  /** RE2 flags derived from leading inline flags (`i`, `s`). */
  readonly flags: string;
  /** Max match span in characters; `Infinity` when unbounded. */
  readonly maxSpan: number;
  /** Max match span in UTF-16 units; `Infinity` when unbounded. */
  readonly maxUnits: number;
  /** Necessary literal factors (folded ASCII): every match contains a string of each factor. */
  readonly factors: readonly (readonly string[])[];
  /** Whether the pattern has a capture group 1 (the value). */
  readonly hasValueGroup: boolean;
  /**
   * Returns the leftmost match starting at or after UTF-16 offset `from` and ending by `to` (default: the end), or
   * null. Text before `from` still counts as context for `^` and `\b`.
   */
  exec(text: string | ScanText, from?: number, to?: number): RegexMatch | null;
}

/** The result of compiling a pattern. */
export type CompileRegexResult =
  | { success: true; matcher: Matcher; unbounded: boolean }
  | { success: false; message: string; unbounded?: false };

/** Options of `compileRegex`. */
export type CompileRegexOptions = {
  /**
   * Max match span allowed; a longer or unbounded span returns `unbounded: true` (the caller decides whether that
   * is an error).
   * @default 512
   */
  maxSpan?: number;
  /**
   * Defers building the RE2 program to the first `exec` (only for sources already known to compile, e.g. the
   * bundled pack, which its tests compile eagerly): RE2 compilation is most of a cold `compilePolicy`.
   * @default false
   */
  lazy?: boolean;
};

/** Compiles an RE2-syntax pattern (inline `(?i)`/`(?s)` only; no lookaround or backreferences). */
export function compileRegex(source: string, options: CompileRegexOptions = {}): CompileRegexResult {
  if (typeof source !== 'string' || source.length === 0) return { success: false, message: 'empty pattern' };
  if (source.length > MAX_PATTERN_CHARS) {
    return {
      success: false,
      message: `pattern is ${source.length} chars; the limit is ${MAX_PATTERN_CHARS}`,
    };
  }
  const limit = options.maxSpan ?? DEFAULT_MAX_SPAN;
  // Matchers are immutable (exec sets `lastIndex` before every synchronous call): identical sources share one,
  // across rules and generations (hot reload recompiles, the same pattern in two rules).
  const cached = matcherCache.get(source);
  if (cached) {
    if (!options.lazy) {
      // A lazily built matcher is checked by RE2 now.
      const message = cached.build();
      if (message !== undefined) return { success: false, message: `invalid RE2 pattern: ${message}` };
    }
    return { success: true, matcher: cached, unbounded: !(cached.maxSpan <= limit) };
  }
  const syntax = analyzeRegex(source);
  if (!syntax.success) return { success: false, message: `invalid RE2 pattern: ${syntax.message}` };
  const { info } = syntax;
  const reFlags = `g${info.flags}${info.groups > 0 ? 'd' : ''}`;
  let re: RE2 | string = info.body;
  if (!options.lazy) {
    try {
      re = new RE2(info.body, reFlags);
    } catch (error) {
      return { success: false, message: `invalid RE2 pattern: ${(error as Error).message}` };
    }
  }
  const matcher = new Re2Matcher(
    source,
    info.flags,
    info.maxSpan,
    info.maxUnits,
    info.factors,
    info.groups > 0,
    re,
    reFlags,
    info.body,
  );
  if (matcherCache.size >= MATCHER_CACHE_MAX) matcherCache.clear();
  matcherCache.set(source, matcher);
  return { success: true, matcher, unbounded: !(info.maxSpan <= limit) };
}

/**
 * Returns a matcher's pattern as one member of an `RE2.Set` (inline flags scoped to it), or undefined for a matcher
 * not made by `compileRegex`.
 */
export function setSourceOf(matcher: Matcher): string | undefined {
  return matcher instanceof Re2Matcher ? matcher.setSource : undefined;
}

const MATCHER_CACHE_MAX = 8192;
const matcherCache = new Map<string, Re2Matcher>();

class Re2Matcher implements Matcher {
  readonly source: string;
  readonly flags: string;
  readonly maxSpan: number;
  readonly maxUnits: number;
  readonly factors: readonly (readonly string[])[];
  readonly hasValueGroup: boolean;
  /** The RE2 program, or its body until the first `exec` (lazy). */
  #re: RE2 | string;
  readonly #reFlags: string;
  /** The body with its inline flags scoped to it, for combining with other patterns in one `RE2.Set`. */
  readonly setSource: string;

  constructor(
    source: string,
    flags: string,
    maxSpan: number,
    maxUnits: number,
    factors: readonly (readonly string[])[],
    hasValueGroup: boolean,
    re: RE2 | string,
    reFlags: string,
    body: string,
  ) {
    this.source = source;
    this.flags = flags;
    this.maxSpan = maxSpan;
    this.maxUnits = maxUnits;
    this.factors = factors;
    this.hasValueGroup = hasValueGroup;
    this.#re = re;
    this.#reFlags = reFlags;
    this.setSource = flags === '' ? body : `(?${flags}:${body})`;
  }

  /** Builds the RE2 program if it was deferred; returns RE2's error message, or undefined. */
  build(): string | undefined {
    if (typeof this.#re !== 'string') return undefined;
    try {
      this.#re = new RE2(this.#re, this.#reFlags);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  exec(input: string | ScanText, from = 0, to?: number): RegexMatch | null {
    const text = prepareText(input);
    const total = text.buf.length;
    const fromByte = text.toByte(from);
    const toByte = to === undefined || to >= text.text.length ? total : text.toByte(to);
    if (fromByte > toByte) return null;
    const buf = toByte === total ? text.buf : text.buf.subarray(0, toByte);
    if (typeof this.#re === 'string') this.#re = new RE2(this.#re, this.#reFlags);
    const re = this.#re;
    re.lastIndex = fromByte;
    const m = re.exec(buf) as (RegExpExecArray & { indices?: [number, number][] }) | null;
    if (m === null) return null;
    const startByte = m.index;
    const endByte = startByte + (m[0] as unknown as Uint8Array).length;
    let vs = startByte;
    let ve = endByte;
    if (this.hasValueGroup && m.indices) {
      const g = m.indices[1];
      if (g) {
        vs = g[0];
        ve = g[1];
      }
    }
    if (text.ascii) return { start: startByte, end: endByte, valueStart: vs, valueEnd: ve };
    return {
      start: text.toUtf16(startByte),
      end: text.toUtf16(endByte),
      valueStart: text.toUtf16(vs),
      valueEnd: text.toUtf16(ve),
    };
  }
}
