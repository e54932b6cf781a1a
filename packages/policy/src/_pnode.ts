// A positioned, plain-YAML tree: the pack loader converts the `yaml` document AST into this (rejecting anchors,
// aliases, tags and merge keys) and every schema check works on it, so each issue knows its file:line:col.
import { isAlias, isMap, isScalar, isSeq, type LineCounter, type Node, parseDocument } from 'yaml';
import type { PolicyIssue, PolicyIssueCode } from './types.ts';

/** A 1-based source position. */
export type Pos = { line: number; col: number };

/** A positioned YAML node. */
export type PNode =
  | { kind: 'map'; pos: Pos; entries: { key: string; keyPos: Pos; value: PNode }[] }
  | { kind: 'seq'; pos: Pos; items: PNode[] }
  | { kind: 'scalar'; pos: Pos; value: string | number | boolean | null; text: string };

/** The maximum number of issues collected per compile. */
export const MAX_ISSUES = 100;

/** Collects issues with `file:line:col rule X:` prefixes. */
export class IssueSink {
  readonly issues: PolicyIssue[] = [];
  /** Counts issues beyond the cap. */
  overflow = 0;

  /** Adds one issue. */
  add(
    code: PolicyIssueCode,
    where: { file?: string; pos?: Pos; ruleId?: string; field?: string },
    text: string,
    severity: 'error' | 'warning' = 'error',
  ): void {
    if (this.issues.length >= MAX_ISSUES) {
      this.overflow++;
      return;
    }
    let prefix = where.file ?? '';
    if (where.pos) prefix += `:${where.pos.line}:${where.pos.col}`;
    const subject = where.ruleId
      ? ` rule ${where.ruleId}${where.field ? ` ${where.field}` : ''}`
      : where.field
        ? ` ${where.field}`
        : '';
    const head = `${prefix}${subject}`;
    const message = head ? `${head}: ${text}` : text;
    const issue: PolicyIssue = { code, message, severity };
    if (where.file !== undefined) issue.file = where.file;
    if (where.pos) {
      issue.line = where.pos.line;
      issue.col = where.pos.col;
    }
    if (where.ruleId !== undefined) issue.ruleId = where.ruleId;
    this.issues.push(issue);
  }

  /** Whether any error (not warning) was recorded. */
  get hasErrors(): boolean {
    return this.overflow > 0 || this.issues.some((i) => i.severity === 'error');
  }
}

/** Parses one YAML document into a positioned tree, reporting YAML-level problems as `E_YAML`. */
export function parseYamlTree(
  file: string,
  text: string,
  sink: IssueSink,
  lineCounter: LineCounter,
): PNode | undefined {
  const doc = parseDocument(text, {
    uniqueKeys: true,
    merge: false,
    lineCounter,
    prettyErrors: false,
    version: '1.2',
  });
  const posOf = (offset: number | undefined): Pos => {
    const p = lineCounter.linePos(offset ?? 0);
    return { line: p.line, col: p.col };
  };
  let bad = false;
  for (const e of doc.errors) {
    bad = true;
    const msg =
      e.code === 'DUPLICATE_KEY'
        ? 'duplicate key'
        : e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    sink.add('E_YAML', { file, pos: posOf(e.pos[0]) }, msg);
  }
  for (const w of doc.warnings) {
    bad = true;
    const msg = w.code === 'TAG_RESOLVE_FAILED' ? 'custom tags are not allowed' : w.message.split('\n')[0]!;
    sink.add('E_YAML', { file, pos: posOf(w.pos[0]) }, msg);
  }
  if (bad) return undefined;
  const convert = (node: Node | null | undefined, fallback: number): PNode | undefined => {
    if (node === null || node === undefined) {
      return { kind: 'scalar', pos: posOf(fallback), value: null, text: '' };
    }
    const pos = posOf(node.range?.[0]);
    if (isAlias(node)) {
      sink.add('E_YAML', { file, pos }, 'aliases are not allowed');
      return undefined;
    }
    if ((node as { anchor?: string }).anchor) {
      sink.add('E_YAML', { file, pos }, 'anchors are not allowed');
      return undefined;
    }
    if ((node as { tag?: string }).tag && hasExplicitTag(text, node.range?.[0])) {
      sink.add('E_YAML', { file, pos }, 'custom tags are not allowed');
      return undefined;
    }
    if (isMap(node)) {
      const entries: { key: string; keyPos: Pos; value: PNode }[] = [];
      let ok = true;
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const keyPos = posOf(keyNode?.range?.[0] ?? node.range?.[0]);
        if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
          sink.add('E_YAML', { file, pos: keyPos }, 'mapping keys must be plain scalars');
          ok = false;
          continue;
        }
        const key = String(keyNode.value);
        if (key === '<<') {
          sink.add('E_YAML', { file, pos: keyPos }, 'merge keys (<<) are not allowed');
          ok = false;
          continue;
        }
        const value = convert(pair.value as Node | null, keyNode.range?.[2] ?? 0);
        if (!value) {
          ok = false;
          continue;
        }
        entries.push({ key, keyPos, value });
      }
      return ok ? { kind: 'map', pos, entries } : undefined;
    }
    if (isSeq(node)) {
      const items: PNode[] = [];
      let ok = true;
      for (const item of node.items) {
        const value = convert(item as Node | null, node.range?.[0] ?? 0);
        if (!value) ok = false;
        else items.push(value);
      }
      return ok ? { kind: 'seq', pos, items } : undefined;
    }
    if (isScalar(node)) {
      const v = node.value;
      const quoted =
        node.type === 'QUOTE_DOUBLE' ||
        node.type === 'QUOTE_SINGLE' ||
        node.type === 'BLOCK_LITERAL' ||
        node.type === 'BLOCK_FOLDED';
      const sourceText = typeof node.source === 'string' && !quoted ? node.source : String(v ?? '');
      if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        return { kind: 'scalar', pos, value: v, text: typeof v === 'string' ? v : sourceText };
      }
      return { kind: 'scalar', pos, value: String(v), text: sourceText };
    }
    sink.add('E_YAML', { file, pos }, 'unsupported YAML node');
    return undefined;
  };
  return convert(doc.contents as Node | null, 0);
}

function hasExplicitTag(text: string, offset: number | undefined): boolean {
  // `yaml` sets `tag` on explicitly tagged nodes; the `!` sits just before the node's range.
  if (offset === undefined) return true;
  const before = text.slice(Math.max(0, offset - 200), offset);
  return /![^\s]*\s*$/.test(before);
}

/** Returns the closest candidate within edit distance 2 (or a prefix match), for "did you mean" hints. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  if (best) return best;
  const lower = word.toLowerCase();
  const prefix = candidates.find((c) => c.startsWith(lower) || lower.startsWith(c));
  if (prefix) return prefix;
  // A long shared prefix (e.g. "hosts" → "host_in").
  let bestShared = 3;
  for (const c of candidates) {
    let n = 0;
    while (n < c.length && n < lower.length && c[n] === lower[n]) n++;
    if (n > bestShared) {
      best = c;
      bestShared = n;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
