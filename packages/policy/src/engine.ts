import { performance } from 'node:perf_hooks';
import { internalsOf } from './_compiled.ts';
import {
  activeEntries,
  type CompiledListEntry,
  type CompiledLists,
  compileLists,
  pickWinner,
} from './_lists.ts';
import { type Hit, type ScanJob, scanJob } from './_scan.ts';
import { buildSnippet, fingerprint, maskSecrets, redactionMarker, SNIPPET_MAX } from './redact.ts';
import { createStreamScanner, fixedStreamScanner, type StreamTextScanner } from './stream-scanner.ts';
import {
  type CommandInstance,
  type DerivedTargets,
  deriveTargets,
  type Instance,
  validateSubject,
} from './targets.ts';
import type {
  Action,
  CompiledPolicy,
  EvalContext,
  Finding,
  Generation,
  Lane,
  ListEntry,
  ListSnapshot,
  Provenance,
  Severity,
  Subject,
  Target,
  Verdict,
} from './types.ts';

/** Options of `createEngine`. */
export type EngineOptions = {
  /** Per-install 32-byte secret keying evidence fingerprints. */
  evidenceKey: Uint8Array;
  /** Initial block/allow lists. */
  lists?: ListSnapshot | readonly ListEntry[];
  /**
   * Characters scanned per window.
   * @default 262144
   */
  windowChars?: number;
  /**
   * Characters each window overlaps the next (≥ every bounded pattern's max span).
   * @default 512
   */
  overlapChars?: number;
  /**
   * `evaluateYielding` yields to the event loop after this many characters.
   * @default 1048576
   */
  yieldBytes?: number;
  /**
   * Whether the literal prefilter is used (disable only to measure it; results are the same).
   * @default true
   */
  prefilter?: boolean;
};

/** A policy engine bound to one generation at a time. */
export interface PolicyEngine {
  /** Judges a subject synchronously. Never throws: failures become `ENGINE-*` findings and `verdict.error`. */
  evaluate(subject: Subject, ctx: EvalContext): Verdict;
  /** Judges a subject, yielding to the event loop between windows of large texts; same result as `evaluate`. */
  evaluateYielding(subject: Subject, ctx: EvalContext): Promise<Verdict>;
  /** Creates an incremental scanner for one streamed completion (spec 30 §B6.4); its final verdict equals `evaluate`'s. */
  streamScanner(ctx: EvalContext, options?: { scanStepChars?: number }): StreamTextScanner;
  /** Atomically replaces the generation; evaluations in flight keep the one they started with. */
  swap(policy: CompiledPolicy): void;
  /** Atomically replaces the block/allow lists. */
  setLists(snapshot: ListSnapshot | readonly ListEntry[]): void;
  /** The active generation. */
  readonly generation: Generation;
  /** Counts of the active generation. */
  readonly stats: { rules: number; packs: number };
}

const SEV_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };
const ACT_RANK: Record<Action, number> = { allow: 0, alert: 1, confirm: 2, block: 3 };
const ENGINE_TITLES: Record<string, string> = {
  'ENGINE-INVALID-INPUT': 'Malformed input could not be judged',
  'ENGINE-ERROR': 'The policy engine failed on this input',
  'ENGINE-BUDGET': 'The scan exceeded its time budget',
  'ENGINE-TOOLARGS-UNPARSEABLE': 'Tool-call arguments are not valid JSON',
  'ENGINE-CMD-UNPARSEABLE': 'Shell command could not be parsed',
  'LIST-BLOCK-TOOL': 'Tool is on the block list',
  'LIST-BLOCK-MCP': 'MCP server is on the block list',
  'LIST-BLOCK-SKILL': 'Skill is on the block list',
  'LIST-BLOCK-COMMAND': 'Command is on the block list',
  'LIST-ALLOW-TOOL': 'Tool is on the allow list',
  'LIST-ALLOW-MCP': 'MCP server is on the allow list',
  'LIST-ALLOW-SKILL': 'Skill is on the allow list',
  'LIST-ALLOW-COMMAND': 'Command is on the allow list',
};

/** Lanes whose verdicts the wire cannot enforce. */
const UNENFORCEABLE: ReadonlySet<Lane> = new Set(['ws_tool_call', 'ws_tool_result', 'dry_run']);

/**
 * Creates a policy engine for a compiled generation.
 * @example
 * const engine = createEngine(policy, { evidenceKey: key, lists: { entries: [] } });
 * const verdict = engine.evaluate(subject, { lane: 'exec_approval', mode: 'action', nowMs: Date.now(), meta: {} });
 */
export function createEngine(policy: CompiledPolicy, options: EngineOptions): PolicyEngine {
  return new Engine(policy, options);
}

type Built = {
  finding: Finding;
  action: Action;
  pinned: boolean;
  provenance?: Provenance;
  enforceable: boolean;
};

class Engine implements PolicyEngine {
  #policy: CompiledPolicy;
  #lists: CompiledLists;
  readonly #key: Uint8Array;
  readonly #windowChars: number;
  readonly #overlapChars: number;
  readonly #yieldBytes: number;
  readonly #usePrefilter: boolean;

  constructor(policy: CompiledPolicy, options: EngineOptions) {
    if (!options || !(options.evidenceKey instanceof Uint8Array) || options.evidenceKey.length === 0) {
      throw new TypeError('createEngine: evidenceKey (Uint8Array, 32 bytes) is required');
    }
    this.#policy = policy;
    this.#lists = compileLists(options.lists);
    this.#key = new Uint8Array(options.evidenceKey);
    this.#windowChars = Math.max(1024, options.windowChars ?? 256 * 1024);
    this.#overlapChars = Math.max(0, options.overlapChars ?? 512);
    this.#yieldBytes = Math.max(1, options.yieldBytes ?? 1024 * 1024);
    this.#usePrefilter = options.prefilter ?? true;
  }

  get generation(): Generation {
    return this.#policy.generation;
  }

  get stats(): { rules: number; packs: number } {
    return { rules: this.#policy.rules.length, packs: this.#policy.generation.packs.length };
  }

  swap(policy: CompiledPolicy): void {
    this.#policy = policy;
  }

  setLists(snapshot: ListSnapshot | readonly ListEntry[]): void {
    this.#lists = compileLists(snapshot);
  }

  evaluate(subject: Subject, ctx: EvalContext): Verdict {
    const gen = this.#run(subject, ctx);
    let r = gen.next();
    while (!r.done) r = gen.next();
    return r.value;
  }

  async evaluateYielding(subject: Subject, ctx: EvalContext): Promise<Verdict> {
    const gen = this.#run(subject, ctx);
    let pending = 0;
    let r = gen.next();
    while (!r.done) {
      pending += r.value;
      if (pending >= this.#yieldBytes) {
        pending = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      r = gen.next();
    }
    return r.value;
  }

  streamScanner(ctx: EvalContext, options?: { scanStepChars?: number }): StreamTextScanner {
    // Pin the generation for the whole stream; completions carry no tool name or command, so lists never apply.
    const policy = this.#policy;
    const subject: Subject = { kind: 'completion', text: '', toolCalls: [] };
    if (validateContext(ctx) !== undefined) return fixedStreamScanner(this.evaluate(subject, ctx));
    const tuning = {
      overlapChars: this.#overlapChars,
      usePrefilter: this.#usePrefilter,
      ...(options?.scanStepChars !== undefined ? { scanStepChars: options.scanStepChars } : {}),
    };
    return createStreamScanner(internalsOf(policy), tuning, (input) => {
      const built: Built[] = [];
      const trace = ['list:none'];
      if (input.error) {
        built.push(this.#engineFinding('ENGINE-ERROR', 'completion', 'high', true));
        trace.push('engine:error');
      } else {
        for (const { hit, base } of input.hits) {
          const b = this.#fromHit(hit);
          b.finding.evidence.location.start += base;
          b.finding.evidence.location.end += base;
          built.push(b);
        }
        trace.push(`prefilter:${this.#usePrefilter ? 'on' : 'off'}`);
      }
      const v = this.#verdict(policy, subject, ctx, built, trace, input.error, 0, input.textChars);
      v.timing.scanMicros = input.scanMicros;
      return v;
    });
  }

  *#run(subject: Subject, ctx: EvalContext): Generator<number, Verdict, void> {
    const t0 = performance.now();
    // Pin the generation and lists for the whole evaluation.
    const policy = this.#policy;
    const lists = this.#lists;
    const trace: string[] = [];
    const built: Built[] = [];
    let error: { code: string; message: string } | undefined;
    let scanned = 0;
    try {
      const invalid = validateSubject(subject) ?? validateContext(ctx);
      if (invalid) {
        error = { code: 'ENGINE-INVALID-INPUT', message: invalid };
        built.push(
          this.#engineFinding(
            'ENGINE-INVALID-INPUT',
            targetOfKind((subject as { kind?: string } | null)?.kind),
            'high',
            true,
          ),
        );
        trace.push('input:invalid');
        return this.#verdict(policy, subject, ctx, built, trace, error, t0, 0);
      }
      const internal = internalsOf(policy);
      const config = policy.config;
      const derived = deriveTargets(subject, {
        classes: internal.classes,
        approvalToolName: config.approvalToolName,
      });
      scanned = scannedChars(derived);
      trace.push(...derived.trace);
      // Step 2: lists.
      const listOutcome = this.#applyLists(subject, ctx, derived, lists, built, trace);
      if (listOutcome === 'block') {
        return this.#verdict(policy, subject, ctx, built, trace, error, t0, scanned);
      }
      for (const issue of derived.issues) {
        built.push(
          this.#engineFinding(
            issue.ruleId,
            issue.target,
            issue.ruleId === 'ENGINE-TOOLARGS-UNPARSEABLE' ? 'high' : 'medium',
            false,
            issue.pointer,
            issue.text,
          ),
        );
      }
      if (listOutcome !== 'skip-rules') {
        // Step 3: rules.
        const job: ScanJob = {
          policy: internal,
          instances: derived.instances,
          tool: derived.tool,
          options: {
            windowChars: this.#windowChars,
            overlapChars: this.#overlapChars,
            usePrefilter: this.#usePrefilter,
          },
          hits: [],
        };
        if (listOutcome instanceof Map) job.allowedCommands = listOutcome;
        const budget = ctx.budgetMs;
        const scan = scanJob(job);
        for (let r = scan.next(); !r.done; r = scan.next()) {
          if (budget !== undefined && performance.now() - t0 > budget) {
            error = { code: 'ENGINE-BUDGET', message: `scan exceeded its ${budget} ms budget` };
            built.push(this.#engineFinding('ENGINE-BUDGET', targetOfKind(subject.kind), 'high', true));
            trace.push('budget:exceeded');
            scan.return();
            break;
          }
          yield r.value;
        }
        for (const hit of job.hits) built.push(this.#fromHit(hit));
      }
      trace.push(`prefilter:${this.#usePrefilter ? 'on' : 'off'}`);
    } catch (cause) {
      error = {
        code: 'ENGINE-ERROR',
        message: cause instanceof Error ? cause.message.slice(0, 200) : 'engine failure',
      };
      built.length = 0;
      built.push(
        this.#engineFinding(
          'ENGINE-ERROR',
          targetOfKind((subject as { kind?: string } | null)?.kind),
          'high',
          true,
        ),
      );
      trace.push('engine:error');
    }
    return this.#verdict(policy, subject, ctx, built, trace, error, t0, scanned);
  }

  #applyLists(
    subject: Subject,
    ctx: EvalContext,
    derived: DerivedTargets,
    lists: CompiledLists,
    built: Built[],
    trace: string[],
  ): 'none' | 'block' | 'skip-rules' | Map<CommandInstance, Set<number>> {
    if (lists.size === 0) {
      trace.push('list:none');
      return 'none';
    }
    const active = activeEntries(lists, ctx.nowMs, ctx.connector);
    const matches: CompiledListEntry[] = [];
    const name = derived.tool;
    const isCall = subject.kind === 'tool_call' || subject.kind === 'approval';
    for (const e of active) {
      if (
        e.kind === 'mcp' &&
        subject.kind === 'tool_call' &&
        derived.mcpServer !== undefined &&
        e.glob.test(derived.mcpServer)
      )
        matches.push(e);
      else if (e.kind === 'tool' && isCall && name !== undefined && e.glob.test(name)) matches.push(e);
      else if (e.kind === 'skill') {
        if (subject.kind === 'skill' && e.glob.test(subject.skillKey)) matches.push(e);
        else if (subject.kind === 'tool_call' && e.action === 'block' && e.glob.test(subject.tool))
          matches.push(e);
      }
    }
    // Command entries match each normalised simple command.
    const commandEntries = active.filter((e) => e.kind === 'command');
    const allowed = new Map<CommandInstance, Set<number>>();
    let commandAllowHit: CompiledListEntry | undefined;
    if (commandEntries.length > 0) {
      for (const inst of derived.instances) {
        if (inst.target !== 'command') continue;
        inst.facts.commands.forEach((cmd, i) => {
          const hits = commandEntries.filter((e) => e.glob.test(cmd.text));
          const win = pickWinner(hits);
          if (!win) return;
          if (win.action === 'block') matches.push(win);
          else {
            let set = allowed.get(inst);
            if (!set) {
              set = new Set();
              allowed.set(inst, set);
            }
            set.add(i);
            commandAllowHit ??= win;
          }
        });
      }
    }
    const blocks = matches.filter((m) => m.action === 'block');
    if (blocks.length > 0) {
      const win = pickWinner(blocks)!;
      const id = `LIST-BLOCK-${win.kind.toUpperCase()}`;
      const b = this.#engineFinding(
        id,
        listTarget(subject, win),
        'high',
        false,
        undefined,
        win.pattern,
        'list',
      );
      // A list block's action is fixed (mode still applies).
      b.action = 'block';
      b.pinned = true;
      built.push(b);
      trace.push(`list:block ${win.kind}${win.connector ? ' connector' : ''}`);
      return 'block';
    }
    const allows = matches.filter((m) => m.action === 'allow');
    if (allows.length > 0) {
      const win = pickWinner(allows)!;
      // Results are still scanned: a tool allow covers calls only (spec 30 §A3.4).
      built.push(
        this.#engineFinding(
          `LIST-ALLOW-${win.kind.toUpperCase()}`,
          listTarget(subject, win),
          'info',
          true,
          undefined,
          win.pattern,
          'list',
        ),
      );
      trace.push(`list:allow ${win.kind}${win.connector ? ' connector' : ''}`);
      return 'skip-rules';
    }
    if (commandAllowHit) {
      built.push(
        this.#engineFinding(
          'LIST-ALLOW-COMMAND',
          'command',
          'info',
          true,
          undefined,
          commandAllowHit.pattern,
          'list',
        ),
      );
      trace.push('list:allow command');
      return allowed;
    }
    trace.push('list:none');
    return 'none';
  }

  #engineFinding(
    ruleId: string,
    target: Target,
    severity: Severity,
    detectionOnly: boolean,
    pointer?: string,
    value = '',
    basis: 'engine' | 'list' = 'engine',
  ): Built {
    const location: Finding['evidence']['location'] = { start: 0, end: 0 };
    if (pointer !== undefined) location.pointer = pointer;
    const finding: Finding = {
      ruleId,
      title: ENGINE_TITLES[ruleId] ?? ruleId,
      category: basis === 'list' ? 'list' : 'engine',
      severity,
      target,
      basis,
      tags: [],
      detectionOnly,
      evidence: {
        snippet: basis === 'list' ? maskSecrets(value).slice(0, SNIPPET_MAX) : '',
        location,
        fingerprint: fingerprint(this.#key, value),
      },
    };
    return { finding, action: 'allow', pinned: false, enforceable: !detectionOnly };
  }

  #fromHit(hit: Hit): Built {
    const rule = hit.rule;
    const inst = hit.inst;
    const target = inst.target;
    let severity = rule.severityByTarget[target] ?? rule.severity;
    const provenance = inst.target === 'prompt' ? inst.provenance : undefined;
    // Provenance cap: a user cannot inject into their own agent (spec 30 §A2.2).
    if (rule.injection && provenance === 'user' && SEV_RANK[severity] > SEV_RANK.medium) severity = 'medium';
    let snippet: string;
    let value: string;
    if (hit.basis === 'facts') {
      const src = hit.factText ?? hit.text;
      value = src;
      if (rule.redact) {
        const sp = src.indexOf(' ');
        snippet =
          inst.target === 'command' && sp > 0
            ? `${maskSecrets(src.slice(0, sp))} ${redactionMarker(rule.id, src.slice(sp + 1))}`
            : redactionMarker(rule.id, src);
      } else snippet = maskSecrets(src);
      if (snippet.length > SNIPPET_MAX) snippet = `${snippet.slice(0, SNIPPET_MAX - 1)}…`;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: strip control characters from evidence
      snippet = snippet.replace(/[\u0000-\u001f\u007f]/g, ' ');
    } else {
      value = hit.text.slice(hit.valueStart, hit.valueEnd);
      snippet = buildSnippet({
        text: hit.text,
        start: hit.start,
        end: hit.end,
        valueStart: hit.valueStart,
        valueEnd: hit.valueEnd,
        ruleId: rule.id,
        redact: rule.redact,
      });
    }
    const location: Finding['evidence']['location'] = { start: hit.start, end: hit.end };
    const pointer =
      inst.target === 'path' || inst.target === 'url'
        ? inst.pointer
        : 'pointer' in inst
          ? inst.pointer
          : undefined;
    if (pointer !== undefined) location.pointer = pointer;
    if (inst.target === 'prompt' && inst.messageIndex !== undefined)
      location.messageIndex = inst.messageIndex;
    const finding: Finding = {
      ruleId: rule.id,
      title: hit.obfuscated ? `${rule.title} (obfuscated)` : rule.title,
      category: rule.category,
      severity,
      target,
      basis: hit.basis,
      tags: rule.tags,
      detectionOnly: rule.detectionOnly,
      evidence: { snippet, location, fingerprint: fingerprint(this.#key, value) },
    };
    const b: Built = {
      finding,
      action: rule.action ?? 'allow',
      pinned: rule.action !== undefined,
      enforceable: !rule.detectionOnly,
    };
    if (provenance !== undefined) b.provenance = provenance;
    return b;
  }

  #verdict(
    policy: CompiledPolicy,
    subject: Subject,
    ctx: EvalContext,
    built: Built[],
    trace: string[],
    error: { code: string; message: string } | undefined,
    t0: number,
    scanned: number,
  ): Verdict {
    const config = policy.config;
    const lane: Lane = ctx && typeof ctx.lane === 'string' ? ctx.lane : 'dry_run';
    const observe = ctx?.mode !== 'action';
    const profileName = config.profileByLane[lane] ?? config.profile;
    const profile = config.profiles[profileName] ?? config.profiles.default!;
    const canConfirm = laneCanConfirm(lane, ctx);
    // Dedupe by (ruleId, target, pointer/messageIndex), keeping the earliest match.
    const byKey = new Map<string, Built>();
    for (const b of built) {
      const f = b.finding;
      const key = `${f.ruleId}\0${f.target}\0${f.evidence.location.pointer ?? ''}\0${f.evidence.location.messageIndex ?? ''}`;
      const prev = byKey.get(key);
      if (!prev || f.evidence.location.start < prev.finding.evidence.location.start) byKey.set(key, b);
    }
    const list = [...byKey.values()];
    list.sort((a, b) => {
      const s = SEV_RANK[b.finding.severity] - SEV_RANK[a.finding.severity];
      if (s !== 0) return s;
      if (a.finding.ruleId !== b.finding.ruleId) return a.finding.ruleId < b.finding.ruleId ? -1 : 1;
      return a.finding.evidence.location.start - b.finding.evidence.location.start;
    });
    // Step 5: per-finding actions.
    const traced = new Set<string>();
    let raw: Action = 'allow';
    for (const b of list) {
      const f = b.finding;
      if (!b.enforceable || f.detectionOnly || f.alreadyEnforced) {
        b.action = 'allow';
        continue;
      }
      if (!b.pinned) {
        b.action = mapSeverity(profile, f.severity, config.hitl && canConfirm);
        const t = `profile:${profileName} ${f.severity}→${b.action}`;
        if (!traced.has(t)) {
          traced.add(t);
          trace.push(t);
        }
      }
      if (ACT_RANK[b.action] > ACT_RANK[raw]) raw = b.action;
    }
    // Step 6: lane clamps.
    const listBlock = list.some((b) => b.finding.basis === 'list' && b.action === 'block');
    if (raw === 'confirm' && !canConfirm) {
      raw = lane === 'inspect_tool' ? 'block' : 'alert';
      trace.push(`clamp:${lane} confirm→${raw}`);
    }
    if (raw === 'block' && lane === 'proxy_prompt' && !listBlock) {
      const blocking = list.filter((b) => b.enforceable && b.action === 'block');
      if (
        blocking.length > 0 &&
        blocking.every((b) => b.provenance === 'user' && b.finding.severity !== 'critical')
      ) {
        raw = 'alert';
        trace.push('clamp:proxy_prompt user block→alert');
      }
    }
    // Step 7: mode, reason, explanation.
    const action: Action = observe ? 'allow' : raw;
    if (observe) trace.push('mode:observe');
    const kept = list.slice(0, 50);
    const findings = kept.map((b) => b.finding);
    const ruleIds: string[] = [];
    for (const b of list) if (!ruleIds.includes(b.finding.ruleId)) ruleIds.push(b.finding.ruleId);
    let severity: Severity | null = null;
    for (const b of list) {
      if (b.finding.ruleId.startsWith('LIST-ALLOW-')) continue;
      if (severity === null || SEV_RANK[b.finding.severity] > SEV_RANK[severity])
        severity = b.finding.severity;
    }
    const drivers = list.filter((b) => b.enforceable && ACT_RANK[b.action] > 0);
    const named = (drivers.length > 0 ? drivers : list).map((b) => b.finding);
    const uniq: Finding[] = [];
    for (const f of named) if (!uniq.some((u) => u.ruleId === f.ruleId)) uniq.push(f);
    const noun = laneNoun(lane, subject);
    const verdict: Verdict = {
      action,
      rawAction: raw,
      mode: observe ? 'observe' : 'action',
      wouldBlock: observe && raw === 'block',
      severity,
      findings,
      ruleIds,
      droppedFindings: list.length - kept.length,
      reason: buildReason(raw, uniq),
      explanation: buildExplanation(raw, observe, noun, uniq),
      lane,
      profile: profileName,
      enforceable: !UNENFORCEABLE.has(lane),
      generation: { id: policy.generation.id, digest: policy.generation.digest },
      trace,
      timing: { scanMicros: Math.round((performance.now() - t0) * 1000), scannedBytes: scanned },
      meta: { ...(ctx?.meta ?? {}) },
    };
    if (error) verdict.error = error;
    return verdict;
  }
}

function validateContext(ctx: EvalContext): string | undefined {
  if (!ctx || typeof ctx !== 'object') return 'context must be an object';
  if (typeof ctx.lane !== 'string') return 'ctx.lane must be a string';
  if (typeof ctx.nowMs !== 'number' || !Number.isFinite(ctx.nowMs)) return 'ctx.nowMs must be a number';
  return undefined;
}

function scannedChars(derived: DerivedTargets): number {
  let n = 0;
  for (const inst of derived.instances as Instance[]) {
    if (inst.target === 'path' || inst.target === 'url') {
      if (!inst.fromCommand) n += inst.fact.raw.length;
    } else if (inst.target === 'tool_args' && inst.asCommand) {
      // counted with the command
    } else n += inst.text.length;
  }
  return n;
}

function targetOfKind(kind: string | undefined): Target {
  switch (kind) {
    case 'tool_result':
      return 'tool_result';
    case 'approval':
      return 'command';
    case 'prompt':
      return 'prompt';
    case 'completion':
      return 'completion';
    case 'skill':
      return 'skill';
    default:
      return 'tool_args';
  }
}

function listTarget(subject: Subject, e: ListEntry): Target {
  if (e.kind === 'command') return 'command';
  return targetOfKind(subject.kind);
}

function laneCanConfirm(lane: Lane, ctx: EvalContext): boolean {
  if (lane === 'exec_approval') return true;
  if (lane === 'inspect_tool' || lane === 'dry_run') return ctx?.approvalSurface === 'native';
  return false;
}

/** Maps a severity through a profile (spec 30 §A3.2); the confirm band falls through to alert when not confirmable. */
export function mapSeverity(
  profile: { block: Severity; confirm?: Severity; alert?: Severity },
  severity: Severity,
  confirmable: boolean,
): Action {
  const s = SEV_RANK[severity];
  if (s >= SEV_RANK[profile.block] || severity === 'critical') return 'block';
  if (profile.confirm !== undefined && s >= SEV_RANK[profile.confirm])
    return confirmable ? 'confirm' : 'alert';
  if (profile.alert !== undefined && s >= SEV_RANK[profile.alert]) return 'alert';
  return 'allow';
}

function laneNoun(lane: Lane, subject: Subject): string {
  switch (lane) {
    case 'inspect_tool':
    case 'ws_tool_call':
    case 'proxy_tool_call':
      return 'tool call';
    case 'inspect_tool_result':
    case 'ws_tool_result':
      return 'tool result';
    case 'exec_approval':
      return 'command';
    case 'proxy_prompt':
      return 'request';
    case 'proxy_completion':
      return 'response';
    case 'skill_admission':
      return 'skill';
    default:
      switch ((subject as { kind?: string } | null)?.kind) {
        case 'tool_result':
          return 'tool result';
        case 'approval':
          return 'command';
        case 'prompt':
          return 'request';
        case 'completion':
          return 'response';
        case 'skill':
          return 'skill';
        default:
          return 'tool call';
      }
  }
}

function idList(findings: readonly Finding[], withTitles: boolean): string {
  const shown = findings.slice(0, 5).map((f) => (withTitles ? `${f.ruleId} (${f.title})` : f.ruleId));
  const more = findings.length - shown.length;
  const sep = withTitles ? '; ' : ', ';
  return more > 0 ? `${shown.join(sep)}${sep}and ${more} more` : shown.join(sep);
}

function buildReason(raw: Action, findings: readonly Finding[]): string {
  return findings.length === 0 ? raw : `${raw}: ${idList(findings, false)}`;
}

function buildExplanation(raw: Action, observe: boolean, noun: string, findings: readonly Finding[]): string {
  if (findings.length === 0 || raw === 'allow') {
    return findings.length === 0
      ? `DefenseClaw allowed this ${noun}.`
      : `DefenseClaw allowed this ${noun}: ${idList(findings, true)}.`;
  }
  const items = idList(findings, true);
  if (observe) {
    const would = raw === 'block' ? 'blocked' : raw === 'confirm' ? 'held for confirmation' : 'flagged';
    return `DefenseClaw flagged this ${noun} (observe mode; it would have been ${would}): ${items}.`;
  }
  switch (raw) {
    case 'block':
      return `DefenseClaw blocked this ${noun}: ${items}. Choose a safer approach or ask the user.`;
    case 'confirm':
      return `DefenseClaw is holding this ${noun} for human confirmation: ${items}.`;
    default:
      return `DefenseClaw flagged this ${noun}: ${items}.`;
  }
}
