// Redaction of what inspect routes store: spans the engine matched as secrets or PII are replaced first (the
// pattern masker only knows token formats), then token formats are masked, then long text is cut.
import { type Finding, maskSecrets, REDACTED_CATEGORIES } from '@defenseclaw/policy';

/** A redacted span: where (offsets, and the JSON pointer or message index it sits in), and which rule found it. */
export type Span = { start: number; end: number; ruleId: string; pointer?: string; messageIndex?: number };

/** Object keys whose string values are always replaced, whatever they look like. */
const SECRET_KEY_RE =
  /token|secret|passw(?:or)?d|api[-_]?key|authorization|credential|private[-_]?key|cookie/i;

/** The deepest nesting of arguments that is copied into a payload. */
const MAX_DEPTH = 16;

/** Returns the spans of secret/PII findings on `target`. */
export function secretSpans(findings: readonly Finding[], target: Finding['target']): Span[] {
  const spans: Span[] = [];
  for (const f of findings) {
    if (f.target !== target || !REDACTED_CATEGORIES.has(f.category)) continue;
    const loc = f.evidence.location;
    if (loc.end <= loc.start) continue;
    const span: Span = { start: loc.start, end: loc.end, ruleId: f.ruleId };
    if (loc.pointer !== undefined) span.pointer = loc.pointer;
    if (loc.messageIndex !== undefined) span.messageIndex = loc.messageIndex;
    spans.push(span);
  }
  return spans;
}

/** Replaces spans (rightmost first, overlaps merged) with `[REDACTED:<rule> len=<n>]`, then masks token formats. */
export function redactText(text: string, spans: readonly Span[]): string {
  let out = text;
  if (spans.length > 0) {
    const sorted = spans.filter((s) => s.end <= text.length).sort((a, b) => b.start - a.start);
    let floor = Number.POSITIVE_INFINITY;
    for (const span of sorted) {
      const end = Math.min(span.end, floor);
      if (end <= span.start) continue;
      out = `${out.slice(0, span.start)}[REDACTED:${span.ruleId} len=${end - span.start}]${out.slice(end)}`;
      floor = span.start;
    }
  }
  return maskSecrets(out);
}

/** Redacts every string leaf of tool arguments (secret-named keys wholesale), keyed by JSON pointer. */
export function redactArgs(value: unknown, findings: readonly Finding[]): unknown {
  const spans = secretSpans(findings, 'tool_args');
  const walk = (node: unknown, pointer: string, depth: number): unknown => {
    if (typeof node === 'string') {
      return redactText(
        node,
        spans.filter((s) => (s.pointer ?? '') === pointer),
      );
    }
    if (typeof node !== 'object' || node === null) return node;
    if (depth >= MAX_DEPTH) return '[…]';
    if (Array.isArray(node)) return node.map((item, i) => walk(item, `${pointer}/${i}`, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      out[key] =
        SECRET_KEY_RE.test(key) && typeof child === 'string' && child !== ''
          ? '[REDACTED]'
          : walk(child, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, depth + 1);
    }
    return out;
  };
  return walk(value, '', 0);
}

/** Cuts text to at most `max` characters, saying so. */
export function cut(text: string, max: number): { text: string; cut: boolean } {
  return text.length <= max ? { text, cut: false } : { text: text.slice(0, max), cut: true };
}

/** Squeezes whitespace so a value fits on one summary line. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Cuts a summary line to `max` characters with an ellipsis. */
export function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
