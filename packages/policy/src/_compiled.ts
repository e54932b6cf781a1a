// Internal shapes of a compiled generation (never re-exported).
import type { Glob } from './_glob.ts';
import type { LiteralSet } from './_literal-set.ts';
import type { Condition, ConditionNeeds } from './conditions.ts';
import type { Matcher } from './regex.ts';
import type { ToolClassGlobs } from './targets.ts';
import type { Action, CompiledPolicy, RuleInfo, Severity, Target } from './types.ts';

/** A validator bound to its argument. */
export type BoundValidator = { name: string; fn: (match: string, arg?: number) => boolean; arg?: number };

/** A rule ready to run. */
export type RuntimeRule = {
  index: number;
  info: RuleInfo;
  id: string;
  title: string;
  category: string;
  severity: Severity;
  severityByTarget: Partial<Record<Target, Severity>>;
  targets: ReadonlySet<Target>;
  targetsCommand: boolean;
  /** Effective tools globs (after overrides). */
  tools?: Glob;
  /** Tools globs as written (used by the example harness). */
  writtenTools?: Glob;
  patterns: Matcher[];
  /** Per pattern: its necessary factors as literal ids in `PolicyInternal.literals` (undefined: always full scan). */
  anchors: (Int32Array[] | undefined)[];
  excludes: Matcher[];
  cond?: Condition;
  condNeeds?: ConditionNeeds;
  /** Programs a satisfying simple command must run (see `programGate`). */
  condGate?: Glob;
  /** Conjuncts of `cond` that do not read the simple command (see `targetWideConjuncts`). */
  condTargetWide?: Condition[];
  validators: BoundValidator[];
  minMatches: number;
  action?: Action;
  detectionOnly: boolean;
  enabled: boolean;
  tags: string[];
  hasPrefilter: boolean;
  /** Some pattern's span exceeds the overlap: it is scanned over the whole text, not per window. */
  unbounded: boolean;
  redact: boolean;
  injection: boolean;
  commandCategory: boolean;
};

/** Engine internals of a compiled generation. */
export type PolicyInternal = {
  rules: RuntimeRule[];
  /** Prefilter literals (→ rules) and every necessary literal of every bounded pattern, in one automaton. */
  literals: LiteralSet;
  /** Enabled rules per target. */
  byTarget: Record<Target, RuntimeRule[]>;
  classes: ToolClassGlobs;
};

/** Categories a command allow-list entry exempts (spec 30 §A3.4). */
export const COMMAND_CATEGORIES: ReadonlySet<string> = new Set([
  'destructive',
  'download_exec',
  'reverse_shell',
  'secret_access',
  'exfiltration',
  'metadata_ssrf',
  'persistence',
  'privilege',
  'agent_tamper',
]);

/** Returns the internals of a compiled policy. */
export function internalsOf(policy: CompiledPolicy): PolicyInternal {
  return policy._internal as PolicyInternal;
}
