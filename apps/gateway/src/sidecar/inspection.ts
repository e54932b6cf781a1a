import type { AuditRecord, AuditStore, CommitReceipt } from '@defenseclaw/audit-store';
import {
  type CommandFacts,
  decideExecApproval,
  type EvalContext,
  type Lane,
  type PolicyEngine,
  parseCommand,
  type Severity,
  type Subject,
  type Verdict,
} from '@defenseclaw/policy';
import {
  type ApprovalDecision,
  type ApprovalRequest,
  createNormalizer,
  type Logger,
  type NormalizedRecord,
  type Normalizer,
  silentLogger,
} from '@defenseclaw/protocol';
import type { Config } from '../config/schema.ts';
import {
  type ApprovalDecisionRecord,
  auditRecord,
  type CaptureSettings,
  eventInput,
  verdictInput,
  type WireMeta,
} from './_audit-records.ts';

/** How long an `exec.approval.resolve` may take before it counts as failed. */
export const RESOLVE_TIMEOUT_MS = 10_000;

/** How long a pending approval without `expiresAtMs` is counted (OpenClaw's own default lifetime). */
export const DEFAULT_APPROVAL_TTL_MS = 30 * 60_000;

/** The most pending approvals tracked for health (the oldest is forgotten first). */
export const MAX_PENDING_APPROVALS = 10_000;

/** The settings of the live lanes, taken from config (`policy.*`, `gateway.*`, `audit.*`). */
export type InspectionSettings = CaptureSettings & {
  /** `policy.mode`; anything but `action` records only. */
  mode: 'observe' | 'action';
  /** `gateway.approval_deny_severity`. */
  approvalDenySeverity: Severity;
  /** `gateway.auto_approve_safe`. */
  autoApproveSafe: boolean;
  /** `policy.fail_mode.exec_approval`: what an approval whose scan failed gets. @default 'closed' */
  approvalFailMode?: 'closed' | 'open';
  /** `policy.scan.budget_ms`, handed to the engine per evaluation. */
  budgetMs?: number;
  /** Queued records after which tool events are committed inline (`audit.batch_max`). @default 256 */
  inlineCommitDepth: number;
};

/** Reads the lane settings from the sidecar config. */
export function inspectionSettings(config: Config): InspectionSettings {
  return {
    mode: config.policy.mode,
    capture: config.audit.capture,
    maxPayloadBytes: config.audit.max_payload_bytes,
    approvalDenySeverity: config.gateway.approval_deny_severity,
    autoApproveSafe: config.gateway.auto_approve_safe,
    approvalFailMode: config.policy.fail_mode.exec_approval ?? 'closed',
    budgetMs: config.policy.scan.budget_ms,
    inlineCommitDepth: config.audit.batch_max,
  };
}

/** What the pipeline needs to answer approvals: the gateway client's `resolveApproval`. */
export type ApprovalResolver = {
  resolveApproval(
    id: string,
    decision: ApprovalDecision,
    options?: { request?: { readonly allowedDecisions: readonly string[] }; timeoutMs?: number },
  ): Promise<unknown>;
};

/** Timing of one committed record, for the commit hook. */
export type CommitInfo = {
  /** The audit event kind (`tool.call`, `tool.result`, `exec.approval`, `enforcement.failed`). */
  kind: string;
  /** The receipt of the store. */
  receipt: CommitReceipt;
  /** `performance.now()` when the verdict was ready (before the record was queued). */
  verdictAt: number;
  /** `performance.now()` when the commit was observed. */
  committedAt: number;
};

/** Options of `createInspectionPipeline`. */
export type InspectionPipelineOptions = {
  /** The policy engine (its generation may be swapped underneath). */
  engine: PolicyEngine;
  /** The audit store every record is committed to. */
  store: AuditStore;
  /** The lane settings; `setSettings` replaces them. */
  settings: InspectionSettings;
  /** Answers approvals; without one, decisions are recorded but never sent (benchmarks). */
  resolver?: ApprovalResolver;
  /** Masks secrets in summaries and payloads before they reach the store. */
  mask: (text: string) => string;
  /** Receives verdict and enforcement lines (never evidence). @default silentLogger */
  logger?: Logger;
  /** The normaliser fed by `push`. @default createNormalizer() */
  normalizer?: Normalizer;
  /** Called with each record before it is judged (the sidecar logs it). */
  onRecord?: (record: NormalizedRecord) => void;
  /** Called after each commit (benchmarks measure verdict-to-commit latency with it). */
  onCommit?: (info: CommitInfo) => void;
  /** Clock for `ctx.nowMs` and lifecycle timestamps. @default Date.now */
  now?: () => number;
};

/** Counters of the live lanes (reported in the `gateway` health entry). */
export type InspectionStats = {
  /** Records judged (tool calls, tool results, approvals). */
  events: number;
  /** Verdicts by computed action (`raw_action`, so observe mode still counts what it would have done). */
  verdictsByAction: { allow: number; alert: number; confirm: number; block: number };
  /** Verdicts that would have blocked in action mode. */
  wouldBlock: number;
  /** Approval decisions by outcome. */
  decisions: { deny: number; 'allow-once': number; pending: number };
  /** Deny resolutions sent to OpenClaw. */
  denials: number;
  /** Allow-once resolutions sent to OpenClaw. */
  autoApprovals: number;
  /** Approvals left for a human that have not been resolved or expired yet. */
  approvalsPending: number;
  /** Denies sent although their audit record could not be committed. */
  unrecordedEnforcements: number;
  /** Allow-once decisions withheld because their record could not be committed. */
  withheldApprovals: number;
  /** `exec.approval.resolve` calls that failed. */
  resolveFailures: number;
  /** Records committed. */
  committed: number;
  /** Records the store refused or could not write (dropped, counted by reason in the store). */
  commitFailures: number;
  /** Tool events committed inline because a batch worth of records was waiting (backpressure). */
  inlineCommits: number;
  /** Evaluations that threw (handled by the lane's fail mode). */
  engineErrors: number;
};

/** The live inspection lanes: normaliser records → subject → verdict → audit record → enforcement. */
export type InspectionPipeline = {
  /** Feeds one gateway event; returns the record it produced, if any. Never blocks on I/O. */
  push(event: { name: string; payload: unknown; seq?: number | undefined }, connId?: string): void;
  /** Judges and records one normalised record. */
  inspect(record: NormalizedRecord, wire?: WireMeta): void;
  /** Replaces the lane settings (hot reload). */
  setSettings(settings: InspectionSettings): void;
  /** Live counters. */
  readonly stats: Readonly<InspectionStats>;
  /** Resolves once every commit and resolution started so far has settled (or `timeoutMs` passed). */
  idle(timeoutMs?: number): Promise<boolean>;
  /** Stops sending resolutions; later decisions are still recorded while the store is open. */
  close(): void;
};

/**
 * Creates the sidecar's inspection pipeline for the WebSocket lanes (spec 30 §0): a tool call is judged on
 * `ws_tool_call`, a tool result on `ws_tool_result` (both recorded with `enforced:false`), an exec approval on
 * `exec_approval` and decided by `decideExecApproval`. Every record is committed to the audit store; a deny is
 * sent after its commit (or anyway, counted, when the commit fails), an allow-once only after a commit. Nothing
 * on the event path awaits I/O.
 *
 * @example
 * ```ts
 * const pipeline = createInspectionPipeline({ engine, store, settings, resolver: client, mask });
 * client.on('event', (event) => pipeline.push(event, connId));
 * ```
 */
export function createInspectionPipeline(options: InspectionPipelineOptions): InspectionPipeline {
  const { engine, store, mask } = options;
  const log = options.logger ?? silentLogger;
  const normalizer = options.normalizer ?? createNormalizer();
  const now = options.now ?? Date.now;
  let settings = options.settings;
  let closed = false;
  // Approvals left to a human: id → expiry (epoch ms), pruned on `exec.approval.resolved` and on expiry.
  const pending = new Map<string, number>();
  const leavePending = (record: ApprovalRequest) => {
    pending.set(record.id, record.expiresAtMs ?? now() + DEFAULT_APPROVAL_TTL_MS);
    // A resolved broadcast missed while disconnected must not grow the map forever.
    if (pending.size > MAX_PENDING_APPROVALS) pending.delete(pending.keys().next().value as string);
    stats.approvalsPending = pending.size;
  };
  const stats: InspectionStats = {
    events: 0,
    verdictsByAction: { allow: 0, alert: 0, confirm: 0, block: 0 },
    wouldBlock: 0,
    decisions: { deny: 0, 'allow-once': 0, pending: 0 },
    denials: 0,
    autoApprovals: 0,
    approvalsPending: 0,
    unrecordedEnforcements: 0,
    withheldApprovals: 0,
    resolveFailures: 0,
    committed: 0,
    commitFailures: 0,
    inlineCommits: 0,
    engineErrors: 0,
  };

  // Outstanding commits and resolutions, for idle(); a counter rather than a set keeps the hot path cheap.
  let outstanding = 0;
  let idleWaiters: (() => void)[] = [];
  const settled = () => {
    outstanding -= 1;
    if (outstanding === 0 && idleWaiters.length > 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const wake of waiters) wake();
    }
  };
  const track = <T>(promise: Promise<T>): Promise<T> => {
    outstanding += 1;
    void promise.then(settled, settled);
    return promise;
  };

  const committedOk = (record: AuditRecord, receipt: CommitReceipt, verdictAt: number) => {
    stats.committed += 1;
    options.onCommit?.({ kind: record.event.kind, receipt, verdictAt, committedAt: performance.now() });
    return receipt;
  };
  const commitFailed = (record: AuditRecord, error: unknown) => {
    stats.commitFailures += 1;
    noteCommitFailure(record.event.kind, error);
    return undefined;
  };

  // Records queued by this pipeline and not settled yet (the store's queue depth, as far as we feed it).
  let queued = 0;
  const queuedSettled = () => {
    queued -= 1;
  };

  // Queues a record; the returned promise never rejects (failures are counted and logged here).
  const commitQueued = (record: AuditRecord, verdictAt: number): Promise<CommitReceipt | undefined> => {
    queued += 1;
    const promise = store.enqueue(record);
    promise.then(queuedSettled, queuedSettled);
    return track(
      promise.then(
        (receipt) => committedOk(record, receipt, verdictAt),
        (error: unknown) => commitFailed(record, error),
      ),
    );
  };

  // Commits a record now, after everything queued before it (the store keeps arrival order); undefined on failure.
  const commitNow = (record: AuditRecord, verdictAt: number): CommitReceipt | undefined => {
    try {
      return committedOk(record, store.writeNow(record), verdictAt);
    } catch (error) {
      return commitFailed(record, error);
    }
  };

  // The event path's backpressure (the gateway client cannot pause): once a batch worth of records waits, the next
  // record is committed inline together with them, so a burst is throttled at the socket instead of piling up in
  // the queue. While commits fail, records stay queued for the store's own retry and accounting.
  const commitEvent = (record: AuditRecord, verdictAt: number) => {
    if (queued >= settings.inlineCommitDepth && !store.stats.failing) {
      stats.inlineCommits += 1;
      commitNow(record, verdictAt);
    } else {
      void commitQueued(record, verdictAt);
    }
  };

  // The store logs drops itself (counts only); here we only keep a rate-limited trace per kind.
  let lastCommitWarnAt = 0;
  let suppressed = 0;
  const noteCommitFailure = (kind: string, error: unknown) => {
    const t = now();
    if (t - lastCommitWarnAt < 10_000) {
      suppressed += 1;
      return;
    }
    log.warn(`audit: a ${kind} record was not written`, {
      error: errorCode(error),
      ...(suppressed > 0 ? { suppressed } : {}),
    });
    suppressed = 0;
    lastCommitWarnAt = t;
  };

  const evaluate = (subject: Subject, lane: Lane, record: NormalizedRecord): Verdict | undefined => {
    const ctx: EvalContext = {
      lane,
      mode: settings.mode,
      nowMs: now(),
      meta: metaOf(record),
    };
    if (settings.budgetMs !== undefined) ctx.budgetMs = settings.budgetMs;
    try {
      return engine.evaluate(subject, ctx);
    } catch (error) {
      stats.engineErrors += 1;
      log.error(`policy: evaluation failed on ${lane}`, { error: errorCode(error), id: record.id });
      return undefined;
    }
  };

  const count = (verdict: Verdict | undefined) => {
    stats.events += 1;
    if (verdict === undefined) return;
    stats.verdictsByAction[verdict.rawAction] += 1;
    if (verdict.wouldBlock) stats.wouldBlock += 1;
  };

  const inspectTool = (record: Exclude<NormalizedRecord, ApprovalRequest>, wire: WireMeta) => {
    const lane: Lane = record.kind === 'tool_call' ? 'ws_tool_call' : 'ws_tool_result';
    const subject: Subject =
      record.kind === 'tool_call'
        ? { kind: 'tool_call', tool: record.tool, args: record.args, toolCallId: record.id }
        : {
            kind: 'tool_result',
            tool: record.tool,
            text: record.resultText,
            isError: record.isError,
            toolCallId: record.id,
            ...(record.exitCode === undefined ? {} : { exitCode: record.exitCode }),
          };
    const verdict = evaluate(subject, lane, record);
    count(verdict);
    const verdictAt = performance.now();
    const event = eventInput(record, wire, settings, mask, undefined, verdict?.findings);
    const row =
      verdict === undefined ? undefined : verdictInput(verdict, { enforced: false, enforcement: 'none' });
    // ws lanes fail open (spec 30 §B7): a scan that threw is recorded without a verdict, with an alert.
    commitEvent(
      row === undefined ? { event, alert: scanErrorAlert(lane) } : auditRecord(event, row),
      verdictAt,
    );
    if (verdict !== undefined && verdict.rawAction !== 'allow') {
      const level = verdict.rawAction === 'block' ? 'warn' : 'info';
      log[level](
        `${verdictWord(verdict)} ${record.kind === 'tool_call' ? 'tool call' : 'tool result'} ${word(record.tool)} id=${word(record.id)} rules=${verdict.ruleIds.join(',') || '-'} severity=${verdict.severity ?? 'none'} enforced=false`,
      );
    }
  };

  const inspectApproval = (record: ApprovalRequest, wire: WireMeta) => {
    const subject: Subject = {
      kind: 'approval',
      approvalId: record.id,
      commandVariants: record.commandVariants,
    };
    if (record.command !== '') subject.commandText = record.command;
    if (record.argv !== undefined) subject.argv = record.argv;
    if (record.cwd !== undefined) subject.cwd = record.cwd;
    if (record.host !== undefined) subject.host = record.host;
    if (record.expiresAtMs !== undefined) subject.expiresAtMs = record.expiresAtMs;
    const verdict = evaluate(subject, 'exec_approval', record);
    count(verdict);
    const decision = decideApproval(record, verdict);
    const verdictAt = performance.now();
    stats.decisions[decision.decision] += 1;

    const enforcing = decision.decision !== 'pending';
    const event = eventInput(record, wire, settings, mask, decision);
    let row: ReturnType<typeof verdictInput> | undefined;
    if (verdict !== undefined) {
      // The lane's decision is what happened: a deny (or a would-be deny in observe mode) is recorded as a block,
      // so it raises an alert even where the profile alone said `alert`.
      const blocks = decision.decision === 'deny' || decision.wouldBlock;
      row = verdictInput(
        verdict,
        {
          enforced: enforcing,
          enforcement:
            decision.decision === 'deny'
              ? 'exec.deny'
              : decision.decision === 'allow-once'
                ? 'exec.allow'
                : 'none',
        },
        {
          ...(blocks
            ? { rawAction: 'block', action: decision.decision === 'deny' ? 'block' : verdict.action }
            : {}),
          wouldBlock: verdict.wouldBlock || decision.wouldBlock,
          reason: `exec ${decision.decision} (${decision.reason}); ${verdict.reason}`,
        },
      );
    }
    // Must commit before acting: written now (after whatever is queued), so a failing disk cannot hold a deny.
    const receipt = commitNow(
      row === undefined ? { event, alert: scanErrorAlert('exec_approval') } : auditRecord(event, row),
      verdictAt,
    );

    if (enforcing || verdict === undefined || verdict.rawAction !== 'allow' || decision.wouldBlock) {
      const level = decision.decision === 'deny' || decision.wouldBlock ? 'warn' : 'info';
      log[level](
        `${verdict === undefined ? 'error' : verdictWord(verdict)} exec id=${word(record.id)} rules=${verdict?.ruleIds.join(',') || '-'} severity=${verdict?.severity ?? 'none'} decision=${decision.decision} reason=${decision.reason}${decision.wouldBlock && !enforcing ? ' would_block=true' : ''}`,
      );
    }
    if (decision.decision === 'pending') {
      leavePending(record);
      return;
    }
    const sendDecision = decision.decision;
    if (receipt === undefined) {
      if (sendDecision === 'allow-once') {
        // An auto-approval is an act we could not record: leave it to a human instead (spec 20 §7.2).
        stats.withheldApprovals += 1;
        log.warn(
          `auto-approval withheld: its audit record could not be written; left pending id=${word(record.id)}`,
        );
        leavePending(record);
        return;
      }
      // Safety before bookkeeping: the deny goes out anyway and is counted.
      stats.unrecordedEnforcements += 1;
      log.error(`deny sent without an audit record (unrecorded enforcement) id=${word(record.id)}`);
    }
    // Never awaited on the event path: the answer can come after the run has ended.
    void track(resolve(record, sendDecision));
  };

  const decideApproval = (record: ApprovalRequest, verdict: Verdict | undefined): ApprovalDecisionRecord => {
    const cfg = { denySeverity: settings.approvalDenySeverity, autoApproveSafe: settings.autoApproveSafe };
    if (record.failClosed) {
      // Nothing to judge: decideExecApproval's empty-command path denies (pending + would_block in observe).
      if (verdict !== undefined) return decideExecApproval(verdict, { hasCommand: false }, cfg);
      return settings.mode === 'action'
        ? { decision: 'deny', reason: 'empty-command', wouldBlock: true }
        : { decision: 'pending', reason: 'empty-command', wouldBlock: true };
    }
    if (verdict === undefined || verdict.error !== undefined) {
      // A failed scan follows policy.fail_mode.exec_approval (spec 30 §B7): closed denies (pending with
      // would_block in observe mode), open leaves it to a human; either way it is alerted.
      if ((settings.approvalFailMode ?? 'closed') === 'open') {
        return { decision: 'pending', reason: 'scan-error', wouldBlock: false };
      }
      return settings.mode === 'action'
        ? { decision: 'deny', reason: 'scan-error', wouldBlock: true }
        : { decision: 'pending', reason: 'scan-error', wouldBlock: true };
    }
    const facts: CommandFacts = parseCommand(
      record.command === '' && record.argv !== undefined ? { argv: record.argv } : { text: record.command },
    );
    return decideExecApproval(verdict, { commandFacts: facts, hasCommand: true }, cfg);
  };

  const resolve = async (record: ApprovalRequest, decision: 'deny' | 'allow-once') => {
    if (closed || options.resolver === undefined) return;
    try {
      await options.resolver.resolveApproval(record.id, decision, {
        request: record,
        timeoutMs: RESOLVE_TIMEOUT_MS,
      });
      if (decision === 'deny') stats.denials += 1;
      else stats.autoApprovals += 1;
    } catch (error) {
      stats.resolveFailures += 1;
      const code = errorCode(error);
      const message = errorMessage(error);
      log.error(`exec.approval.resolve ${decision} failed id=${word(record.id)}`, { error: code, message });
      void commitQueued(
        {
          event: {
            ts: now(),
            kind: 'enforcement.failed',
            source: 'sidecar',
            requestId: record.id,
            tool: 'exec',
            ...(record.sessionKey ? { sessionKey: record.sessionKey } : {}),
            ...(record.runId ? { runId: record.runId } : {}),
            ...(record.agentId ? { agentId: record.agentId } : {}),
            ...(record.toolCallId ? { callId: record.toolCallId } : {}),
            summary: `exec.approval.resolve ${decision} failed: ${code}`,
            payload: { approval_id: record.id, decision, error: code, message },
          },
          alert: {
            severity: 'high',
            category: 'enforcement',
            title: `Exec approval ${decision} could not be delivered to OpenClaw`,
          },
        },
        performance.now(),
      );
    }
  };

  const inspect = (record: NormalizedRecord, wire: WireMeta = {}) => {
    options.onRecord?.(record);
    if (pending.size > 0) prune(pending, now(), stats);
    if (record.kind === 'approval_request') inspectApproval(record, wire);
    else inspectTool(record, wire);
  };

  return {
    push(event, connId) {
      if (event.name === 'exec.approval.resolved') {
        const id = (event.payload as { id?: unknown } | null)?.id;
        if (typeof id === 'string' && pending.delete(id)) stats.approvalsPending = pending.size;
        return;
      }
      const record = normalizer.push(event.name, event.payload);
      if (record !== undefined) inspect(record, { connId, seq: event.seq });
    },
    inspect,
    setSettings(next) {
      settings = next;
    },
    stats,
    async idle(timeoutMs = 5000) {
      if (outstanding === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      const done = await Promise.race([
        new Promise<true>((wake) => idleWaiters.push(() => wake(true))),
        new Promise<false>((wake) => {
          timer = setTimeout(() => wake(false), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      return done;
    },
    close() {
      closed = true;
    },
  };
}

// --- internal ---

function metaOf(record: NormalizedRecord): EvalContext['meta'] {
  const meta: EvalContext['meta'] = {};
  if (record.sessionKey) meta.sessionKey = record.sessionKey;
  if (record.runId) meta.runId = record.runId;
  if (record.agentId) meta.agentId = record.agentId;
  const toolCallId = record.kind === 'approval_request' ? record.toolCallId : record.id;
  if (toolCallId) meta.toolCallId = toolCallId;
  return meta;
}

function prune(pending: Map<string, number>, nowMs: number, stats: InspectionStats) {
  for (const [id, expiresAt] of pending) if (expiresAt <= nowMs) pending.delete(id);
  stats.approvalsPending = pending.size;
}

function verdictWord(verdict: Verdict): string {
  return verdict.mode === 'action' ? verdict.rawAction : `${verdict.rawAction} (observe)`;
}

function scanErrorAlert(lane: Lane) {
  return { severity: 'high' as const, category: 'scan_error', title: `Policy scan failed on ${lane}`, lane };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return error instanceof Error ? error.message : String(error);
}

function word(value: string): string {
  return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
}
