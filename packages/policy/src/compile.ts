import { createHash } from 'node:crypto';
import type { BoundValidator, PolicyInternal, RuntimeRule } from './_compiled.ts';
import { COMMAND_CATEGORIES } from './_compiled.ts';
import { compileGlob, compileGlobSet, memoGlob } from './_glob.ts';
import { LiteralSet } from './_literal-set.ts';
import { IssueSink, MAX_ISSUES } from './_pnode.ts';
import { type ScanJob, scanJob } from './_scan.ts';
import { conditionNeeds, programGate, targetWideConjuncts } from './conditions.ts';
import { canonicalConfig, type PolicyConfigInput, resolvePolicyConfig } from './config.ts';
import { MAX_PACK_FILES, parsePackSource } from './pack-load.ts';
import type { RawExample, RawPack, RawRule } from './pack-schema.ts';
import { foldString } from './prefilter.ts';
import { REDACTED_CATEGORIES } from './redact.ts';
import { compileRegex, DEFAULT_MAX_SPAN, type Matcher } from './regex.ts';
import { deriveTargets, type ToolClassGlobs } from './targets.ts';
import type {
  CompiledPolicy,
  PackSource,
  PolicyConfig,
  PolicyIssue,
  RuleInfo,
  Subject,
  Target,
} from './types.ts';
import { TARGETS } from './types.ts';
import { parseValidatorSpec } from './validators.ts';

/** The most rules one generation may hold. */
export const MAX_RULES = 4096;

const ANCHOR_CHARS = 6;

/** Input of `compilePolicy`. */
export type CompilePolicyInput = {
  packs: readonly PackSource[];
  config?: PolicyConfigInput;
  /**
   * Whether packs marked `bundled` are loaded (`policy.bundled`); `false` keeps only operator packs.
   * @default true
   */
  bundled?: boolean;
  /**
   * Whether the `examples` of rules from `bundled` sources are run at compile time. The bundled pack ships with the
   * package and `test/default-pack.test.ts` verifies every one of its examples in CI, so a sidecar starting up may
   * pass `false` to skip that self-test (≈ ⅓ of the compile time). Operator packs' examples always run.
   * @default true
   */
  verifyBundledExamples?: boolean;
};

/** Result of `compilePolicy`: a whole generation, or every error found (never both). */
export type CompilePolicyResult =
  | { success: true; policy: CompiledPolicy; warnings: PolicyIssue[] }
  | { success: false; errors: PolicyIssue[] };

/**
 * Validates and compiles rule packs and `policy.*` config into one immutable generation, running every rule's
 * examples; returns every error found (≤ 100) and no policy when anything is wrong.
 * @example
 * const r = compilePolicy({ packs: loadBundledPacks(), config: { profile: 'strict' } });
 * if (!r.success) for (const e of r.errors) logger.error(e.message);
 */
export function compilePolicy(input: CompilePolicyInput): CompilePolicyResult {
  const sink = new IssueSink();
  const sources = (input.bundled ?? true) ? [...input.packs] : input.packs.filter((p) => !p.bundled);
  if (sources.length > MAX_PACK_FILES) {
    sink.add('E_LIMIT', {}, `${sources.length} pack files; the limit is ${MAX_PACK_FILES}`);
  }
  const resolved = resolvePolicyConfig(input.config);
  if (!resolved.success)
    for (const e of resolved.errors) sink.issues.length < MAX_ISSUES ? sink.issues.push(e) : sink.overflow++;
  // Bundled packs load first.
  const ordered = [...sources.filter((s) => s.bundled), ...sources.filter((s) => !s.bundled)];
  const packs: RawPack[] = [];
  for (const source of ordered) {
    const pack = parsePackSource(source, sink);
    if (pack) packs.push(pack);
  }
  // Duplicate ids across and within packs.
  const firstById = new Map<string, RawRule>();
  let ruleCount = 0;
  for (const pack of packs) {
    for (const rule of pack.rules) {
      ruleCount++;
      const first = firstById.get(rule.id);
      if (first) {
        sink.add(
          'E_DUP_ID',
          { file: rule.file, pos: rule.pos, ruleId: rule.id },
          `defined twice: ${first.file}:${first.pos.line}:${first.pos.col} and ${rule.file}:${rule.pos.line}:${rule.pos.col}${first.bundled && !rule.bundled ? ' (a pack cannot redefine a bundled id; use policy.overrides)' : ''}`,
        );
        rule.valid = false;
      } else firstById.set(rule.id, rule);
    }
  }
  if (ruleCount > MAX_RULES) sink.add('E_LIMIT', {}, `${ruleCount} rules in all; the limit is ${MAX_RULES}`);
  const seenNames = new Map<string, string>();
  for (const pack of packs) {
    const other = seenNames.get(pack.name);
    if (other && other !== pack.file) {
      sink.add('E_DUP_ID', { file: pack.file }, `pack name "${pack.name}" is also used by ${other}`);
    } else seenNames.set(pack.name, pack.file);
  }
  if (!resolved.success) return { success: false, errors: finish(sink) };
  const config = resolved.config;
  const classes = compileClasses(config);
  // Compile rules.
  const rules: RuntimeRule[] = [];
  for (const pack of packs) {
    for (const raw of pack.rules) {
      if (firstById.get(raw.id) !== raw) continue;
      // Bundled sources that are not self-tested here (their tests compile them eagerly) build RE2 programs lazily.
      const rule = compileRule(raw, rules.length, sink, raw.bundled && input.verifyBundledExamples === false);
      if (rule) rules.push(rule);
    }
  }
  applyOverrides(rules, config, sink);
  if (sink.hasErrors) return { success: false, errors: finish(sink) };
  // Prefilter and per-target indices.
  const entries: [string, number][] = [];
  for (const r of rules) for (const lit of r.info.prefilter ?? []) entries.push([lit, r.index]);
  // Anchor literals are cut to their first ANCHOR_CHARS chars: a prefix of a necessary literal is necessary too, and
  // short literals keep the automaton small (it is read once per character of every scanned text).
  const anchorOf = (l: string) => l.slice(0, ANCHOR_CHARS);
  const literals = new LiteralSet(
    rules.flatMap((r) => r.patterns.flatMap((p) => p.factors.flat().map(anchorOf))),
    entries,
  );
  for (const r of rules) {
    r.anchors = r.patterns.map((p) =>
      Number.isFinite(p.maxUnits) && p.factors.length > 0
        ? p.factors.map((f) => Int32Array.from(new Set(f.map((l) => literals.idOf(anchorOf(l))!))))
        : undefined,
    );
  }
  const byTarget = Object.fromEntries(TARGETS.map((t) => [t, [] as RuntimeRule[]])) as Record<
    Target,
    RuntimeRule[]
  >;
  for (const r of rules) if (r.enabled) for (const t of r.targets) byTarget[t].push(r);
  const internal: PolicyInternal = { rules, literals, byTarget, classes };
  // Examples self-test.
  const rawById = new Map<string, RawRule>();
  for (const pack of packs) for (const raw of pack.rules) rawById.set(raw.id, raw);
  const verifyBundled = input.verifyBundledExamples ?? true;
  for (const rule of rules) {
    const raw = rawById.get(rule.id)!;
    if (raw.bundled && !verifyBundled) continue;
    runExamples(internal, rule, raw, config, sink);
  }
  if (sink.hasErrors) return { success: false, errors: finish(sink) };
  const digest = digestOf(ordered, config);
  const warnings = sink.issues.filter((i) => i.severity === 'warning');
  const policy: CompiledPolicy = Object.freeze({
    generation: Object.freeze({
      id: `gen-${digest.slice(0, 12)}`,
      digest,
      loadedAt: Date.now(),
      packs: packs.map((p) => ({ name: p.name, version: p.version })),
    }),
    config,
    rules: Object.freeze(rules.map((r) => r.info)),
    warnings: Object.freeze(warnings),
    _internal: internal,
  });
  return { success: true, policy, warnings };
}

function finish(sink: IssueSink): PolicyIssue[] {
  const errors = sink.issues.filter((i) => i.severity === 'error');
  if (sink.overflow > 0 && errors.length > 0) {
    errors[errors.length - 1] = {
      ...errors[errors.length - 1]!,
      message: `${errors[errors.length - 1]!.message} (and ${sink.overflow} more issues not shown)`,
    };
  }
  return errors;
}

function digestOf(sources: readonly PackSource[], config: PolicyConfig): string {
  const h = createHash('sha256');
  const sorted = [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const s of sorted) {
    h.update(`${s.bundled ? 'bundled' : 'operator'}\0${s.path}\0${s.text.length}\0`);
    h.update(s.text);
    h.update('\0');
  }
  h.update(canonicalConfig(config));
  return h.digest('hex');
}

function compileClasses(config: PolicyConfig): ToolClassGlobs {
  const c = config.toolClasses;
  return {
    shell: memoGlob(compileGlobSet(c.shell, 'name')),
    read: memoGlob(compileGlobSet(c.read, 'name')),
    write: memoGlob(compileGlobSet(c.write, 'name')),
    delete: memoGlob(compileGlobSet(c.delete, 'name')),
    fetch: memoGlob(compileGlobSet(c.fetch, 'name')),
    message: memoGlob(compileGlobSet(c.message, 'name')),
  };
}

function compilePatterns(
  raw: RawRule,
  list: RawRule['patterns'],
  field: string,
  sink: IssueSink,
  lazy: boolean,
): { matchers: Matcher[]; ok: boolean; unbounded: boolean } {
  const matchers: Matcher[] = [];
  let ok = true;
  let unbounded = false;
  list.forEach((p, i) => {
    const where = { file: raw.file, pos: p.pos, ruleId: raw.id, field: `${field}[${i}]` };
    const r = compileRegex(p.value, { maxSpan: DEFAULT_MAX_SPAN, lazy });
    if (!r.success) {
      sink.add(p.value.length > 2048 ? 'E_LIMIT' : 'E_REGEX', where, r.message);
      ok = false;
      return;
    }
    if (r.unbounded && field === 'patterns') {
      const span = r.matcher.maxSpan;
      const text = Number.isFinite(span)
        ? `max span ${span} exceeds ${DEFAULT_MAX_SPAN}; bound the repetitions`
        : `unbounded repetition; max span must be ≤ ${DEFAULT_MAX_SPAN} (use {0,N} instead of * / + / {n,})`;
      sink.add('E_REGEX_UNBOUNDED', where, text, raw.bundled ? 'error' : 'warning');
      if (raw.bundled) ok = false;
      unbounded = true;
    }
    matchers.push(r.matcher);
  });
  return { matchers, ok, unbounded };
}

function compileRule(raw: RawRule, index: number, sink: IssueSink, lazy: boolean): RuntimeRule | undefined {
  const pats = compilePatterns(raw, raw.patterns, 'patterns', sink, lazy);
  const excl = compilePatterns(raw, raw.excludePatterns, 'exclude_patterns', sink, lazy);
  const validators: BoundValidator[] = [];
  let ok = raw.valid && pats.ok && excl.ok;
  raw.validators.forEach((v, i) => {
    const parsed = parseValidatorSpec(v.value);
    if (!parsed.success) {
      sink.add(
        'E_ENUM',
        { file: raw.file, pos: v.pos, ruleId: raw.id, field: `validators[${i}]` },
        parsed.message,
      );
      ok = false;
      return;
    }
    const bound: BoundValidator = { name: parsed.name, fn: parsed.fn };
    if (parsed.arg !== undefined) bound.arg = parsed.arg;
    validators.push(bound);
  });
  if (!ok) return undefined;
  const info: RuleInfo = {
    id: raw.id,
    title: raw.title,
    category: raw.category,
    severity: raw.severity,
    severityByTarget: { ...raw.severityByTarget },
    targets: [...raw.targets],
    patterns: raw.patterns.map((p) => p.value),
    hasConditions: raw.conditions !== undefined,
    validators: raw.validators.map((v) => v.value),
    minMatches: raw.minMatches,
    detectionOnly: raw.detectionOnly,
    enabled: raw.enabled,
    tags: [...raw.tags],
    references: [...raw.references],
    pack: raw.pack,
    file: raw.file,
    line: raw.pos.line,
    unbounded: pats.unbounded,
  };
  if (raw.tools) info.tools = [...raw.tools];
  if (raw.prefilter) info.prefilter = raw.prefilter.map((p) => p.value);
  if (raw.action) info.action = raw.action;
  if (raw.description !== undefined) info.description = raw.description;
  const rule: RuntimeRule = {
    index,
    info,
    id: raw.id,
    title: raw.title,
    category: raw.category,
    severity: raw.severity,
    severityByTarget: { ...raw.severityByTarget },
    targets: new Set(raw.targets),
    targetsCommand: raw.targets.includes('command'),
    patterns: pats.matchers,
    anchors: [],
    excludes: excl.matchers,
    validators,
    minMatches: raw.minMatches,
    detectionOnly: raw.detectionOnly,
    enabled: raw.enabled,
    tags: [...raw.tags],
    hasPrefilter: raw.prefilter !== undefined,
    unbounded: pats.unbounded,
    redact: REDACTED_CATEGORIES.has(raw.category),
    injection: raw.category === 'prompt_injection',
    commandCategory: COMMAND_CATEGORIES.has(raw.category),
  };
  if (raw.tools) {
    // Tool names repeat from call to call: the answers are memoised.
    rule.tools = memoGlob(compileGlobSet(raw.tools, 'name'));
    rule.writtenTools = rule.tools;
  }
  if (raw.conditions) {
    rule.cond = raw.conditions;
    rule.condNeeds = conditionNeeds(raw.conditions);
    const gate = programGate(raw.conditions);
    if (gate) rule.condGate = gate;
    const targetWide = targetWideConjuncts(raw.conditions);
    if (targetWide.length > 0) rule.condTargetWide = targetWide;
  }
  if (raw.action) rule.action = raw.action;
  return rule;
}

function applyOverrides(rules: RuntimeRule[], config: PolicyConfig, sink: IssueSink): void {
  config.overrides.forEach((o, i) => {
    const glob = compileGlob(o.rule, 'name');
    let hits = 0;
    for (const r of rules) {
      if (!glob.test(r.id)) continue;
      hits++;
      if (o.enabled !== undefined) r.enabled = r.info.enabled = o.enabled;
      if (o.severity !== undefined) {
        r.severity = r.info.severity = o.severity;
        // An explicit severity override wins over the per-target table.
        r.severityByTarget = {};
        r.info.severityByTarget = {};
      }
      if (o.action !== undefined) r.action = r.info.action = o.action;
      if (o.detectionOnly !== undefined) r.detectionOnly = r.info.detectionOnly = o.detectionOnly;
      if (o.tools !== undefined) {
        r.tools = memoGlob(compileGlobSet(o.tools, 'name'));
        r.info.tools = [...o.tools];
      }
    }
    if (hits === 0) {
      sink.add('E_OVERRIDE', {}, `config policy.overrides[${i}]: no rule matches "${o.rule}"`);
      sink.issues[sink.issues.length - 1]!.file = 'config';
    }
  });
}

// --- examples ---

const TARGET_ORDER: readonly Target[] = [
  'command',
  'path',
  'url',
  'tool_args',
  'tool_result',
  'prompt',
  'completion',
  'skill',
];

function firstLiteral(globs: readonly string[] | undefined): string | undefined {
  return globs?.find((g) => !/[*?[{\\]/.test(g));
}

/** Builds the harness subject for one example on one target (see README "How examples are evaluated"). */
export function exampleSubject(
  rule: RuntimeRule,
  target: Target,
  text: string,
  tool: string | undefined,
  config: PolicyConfig,
): Subject {
  const toolsOk = (name: string) => !rule.writtenTools || rule.writtenTools.test(name);
  const literal = firstLiteral(rule.info.tools);
  const pick = (preferred: string) => tool ?? (toolsOk(preferred) ? preferred : (literal ?? preferred));
  switch (target) {
    case 'command': {
      if (!tool && toolsOk(config.approvalToolName))
        return { kind: 'approval', approvalId: 'example', commandText: text };
      return {
        kind: 'tool_call',
        tool: pick(config.toolClasses.shell[0] ?? 'exec'),
        args: { command: text },
      };
    }
    case 'path': {
      const access = rule.condNeeds?.access ?? new Set();
      const cls =
        access.size === 0 || access.has('read') || access.has('unknown')
          ? config.toolClasses.read
          : access.has('write')
            ? config.toolClasses.write
            : access.has('delete')
              ? config.toolClasses.delete
              : config.toolClasses.read;
      return { kind: 'tool_call', tool: pick(firstLiteral(cls) ?? 'read'), args: { path: text } };
    }
    case 'url':
      return {
        kind: 'tool_call',
        tool: pick(firstLiteral(config.toolClasses.fetch) ?? 'web_fetch'),
        args: { url: text },
      };
    case 'tool_args':
      return { kind: 'tool_call', tool: tool ?? literal ?? 'example', args: { text } };
    case 'tool_result':
      return { kind: 'tool_result', tool: tool ?? literal ?? 'example', text, isError: false };
    case 'prompt':
      return { kind: 'prompt', messages: [{ index: 0, role: 'tool', provenance: 'tool_output', text }] };
    case 'completion':
      return { kind: 'completion', text, toolCalls: [] };
    case 'skill':
      return { kind: 'skill', skillKey: 'example', files: [{ path: 'SKILL.md', text }] };
  }
}

function toolOf(subject: Subject, config: PolicyConfig): string | undefined {
  if (subject.kind === 'tool_call' || subject.kind === 'tool_result') return subject.tool;
  if (subject.kind === 'approval') return config.approvalToolName;
  return undefined;
}

/** Returns whether `rule` alone fires on `subject` (prefilter, patterns, conditions, validators, min_matches). */
export function ruleFires(
  internal: PolicyInternal,
  rule: RuntimeRule,
  subject: Subject,
  config: PolicyConfig,
): boolean {
  const derived = deriveTargets(subject, {
    classes: internal.classes,
    approvalToolName: config.approvalToolName,
  });
  const job: ScanJob = {
    policy: internal,
    instances: derived.instances,
    tool: toolOf(subject, config),
    options: { windowChars: 256 * 1024, overlapChars: 512, usePrefilter: true },
    only: rule,
    hits: [],
  };
  const gen = scanJob(job);
  while (!gen.next().done) {
    // drain
  }
  return job.hits.length > 0;
}

function runExamples(
  internal: PolicyInternal,
  rule: RuntimeRule,
  raw: RawRule,
  config: PolicyConfig,
  sink: IssueSink,
): void {
  const where = (pos: RawExample['pos'] | undefined, field: string) => ({
    file: raw.file,
    pos: pos ?? raw.pos,
    ruleId: raw.id,
    field,
  });
  if (raw.bundled && (raw.examples.match.length < 2 || raw.examples.noMatch.length < 2)) {
    sink.add(
      'E_EXAMPLE',
      where(raw.examples.pos, 'examples'),
      `bundled rules need at least 2 match and 2 no_match examples (have ${raw.examples.match.length} + ${raw.examples.noMatch.length})`,
    );
  }
  const literals = rule.info.prefilter?.map(foldString);
  // A string example runs on the first facts target of the rule (command, else path, else url) and on every text
  // target; the object form names one target.
  const factsTarget = (['command', 'path', 'url'] as const).find((t) => rule.targets.has(t));
  const tryTargets = (ex: RawExample): Target[] => {
    if (ex.target) return [ex.target];
    return TARGET_ORDER.filter(
      (t) => rule.targets.has(t) && (t === factsTarget || (t !== 'command' && t !== 'path' && t !== 'url')),
    );
  };
  raw.examples.match.forEach((ex, i) => {
    const field = `examples.match[${i}]`;
    if (ex.target && !rule.targets.has(ex.target)) {
      sink.add('E_EXAMPLE', where(ex.pos, field), `target "${ex.target}" is not one of the rule's targets`);
      return;
    }
    if (literals) {
      const folded = foldString(ex.text);
      if (!literals.some((l) => folded.includes(l))) {
        sink.add('E_EXAMPLE', where(ex.pos, field), 'contains none of the prefilter literals');
        return;
      }
    }
    const fired = tryTargets(ex).some((t) =>
      ruleFires(internal, rule, exampleSubject(rule, t, ex.text, ex.tool, config), config),
    );
    if (!fired) sink.add('E_EXAMPLE', where(ex.pos, field), 'did not match');
  });
  raw.examples.noMatch.forEach((ex, i) => {
    const field = `examples.no_match[${i}]`;
    if (ex.target && !rule.targets.has(ex.target)) {
      sink.add('E_EXAMPLE', where(ex.pos, field), `target "${ex.target}" is not one of the rule's targets`);
      return;
    }
    const firedOn = tryTargets(ex).find((t) =>
      ruleFires(internal, rule, exampleSubject(rule, t, ex.text, ex.tool, config), config),
    );
    if (firedOn) sink.add('E_EXAMPLE', where(ex.pos, field), `matched (as ${firedOn})`);
  });
}
