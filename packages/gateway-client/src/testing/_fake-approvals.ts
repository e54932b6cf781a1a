// The fake gateway's exec-approval store: routes `exec.approval.requested` to approver connections,
// auto-denies when nobody can approve (✓ exec-nocap.jsonl), resolves via `exec.approval.resolve` and expires.
import { randomUUID } from 'node:crypto';
import { type ConnRecord, type FakeCore, isApprover } from './_fake-core.ts';
import { type CancelTimer, startTimer } from './_fake-timers.ts';
import type {
  FakeApprovalDecision,
  FakeApprovalHandle,
  FakeApprovalOutcome,
  FakeApprovalRequestInput,
} from './fake-types.ts';

/** The decisions `exec.approval.resolve` accepts. */
export const FAKE_APPROVAL_DECISIONS: readonly FakeApprovalDecision[] = [
  'allow-once',
  'allow-always',
  'deny',
];

type Pending = {
  id: string;
  request: Record<string, unknown>;
  createdAtMs: number;
  expiresAtMs: number;
  cancelTimer: CancelTimer | undefined;
  finish(outcome: FakeApprovalOutcome): void;
};

/** The approval store of one fake gateway. */
export type ApprovalStore = {
  /** Starts an approval and returns the pending outcome. */
  request(
    input: FakeApprovalRequestInput,
    options: { expiresInMs: number; silent: boolean },
  ): FakeApprovalHandle;
  /** Looks an id up, exactly or by unique prefix. */
  find(id: string): string | undefined;
  /** Resolves a pending approval on behalf of a connection. */
  resolve(id: string, decision: FakeApprovalDecision, by: ConnRecord): void;
  /** Ids of pending approvals. */
  pendingIds(): string[];
  /** Expires everything and clears every timer. */
  closeAll(): void;
};

/** Builds the `request` object of `exec.approval.requested` in the 2026.9.6 shape. */
function buildRequest(input: FakeApprovalRequestInput): Record<string, unknown> {
  const sessionKey = input.sessionKey ?? 'agent:main:main';
  const command = input.command ?? 'echo hello';
  const allowed = input.allowedDecisions ?? ['allow-once', 'deny'];
  return {
    command,
    systemRunBinding: null,
    systemRunPlan: input.systemRunPlan ?? null,
    cwd: input.cwd ?? '/home/openclaw/workspace',
    nodeId: null,
    host: input.host ?? 'gateway',
    security: 'allowlist',
    ask: 'on-miss',
    warningText: null,
    scope: null,
    commandAnalysis: { commandCount: 1, nestedCommandCount: 0, riskKinds: [], warningLines: [] },
    unavailableDecisions: FAKE_APPROVAL_DECISIONS.filter((d) => !allowed.includes(d)),
    allowedDecisions: [...allowed],
    agentId: input.agentId ?? 'main',
    resolvedPath: `/usr/bin/${command.trim().split(/\s+/)[0] ?? 'sh'}`,
    sessionKey,
    sessionId: null,
    runId: input.runId ?? randomUUID(),
    toolCallId: input.toolCallId ?? `call_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    turnSourceChannel: 'webchat',
    turnSourceTo: sessionKey,
    turnSourceAccountId: null,
    turnSourceThreadId: null,
    cronExecutionSource: null,
    cronOperationBinding: null,
    ...input.extra,
  };
}

/** Creates the approval store. */
export function createApprovalStore(core: FakeCore): ApprovalStore {
  const pending = new Map<string, Pending>();

  const sessionApproval = (p: Pending, terminal?: { reason: string; decision: string }) => {
    const request = p.request;
    const approval: Record<string, unknown> = {
      id: p.id,
      presentation: {
        commandText: request.command,
        commandPreview: null,
        warningText: request.warningText ?? null,
        host: request.host,
        nodeId: request.nodeId ?? null,
        agentId: request.agentId,
        allowedDecisions: request.allowedDecisions,
      },
      urlPath: `/approve/${p.id}`,
      createdAtMs: p.createdAtMs,
      expiresAtMs: p.expiresAtMs,
    };
    const now = Date.now();
    if (terminal)
      Object.assign(approval, { resolvedAtMs: now, reason: terminal.reason, decision: terminal.decision });
    core.emit('session.approval', {
      sessionKey: request.sessionKey,
      sourceSessionKey: request.sessionKey,
      updatedAtMs: now,
      phase: terminal ? 'terminal' : 'pending',
      approval,
    });
  };

  const settle = (p: Pending, outcome: FakeApprovalOutcome) => {
    if (!pending.delete(p.id)) return;
    p.cancelTimer?.();
    p.finish(outcome);
    core.notify();
  };

  return {
    request(input, { expiresInMs, silent }) {
      const id = input.id ?? randomUUID();
      const createdAtMs = Date.now();
      let finish!: (outcome: FakeApprovalOutcome) => void;
      const promise = new Promise<FakeApprovalOutcome>((resolve) => {
        finish = resolve;
      });
      const p: Pending = {
        id,
        request: buildRequest(input),
        createdAtMs,
        expiresAtMs: createdAtMs + expiresInMs,
        cancelTimer: undefined,
        finish,
      };
      const payload = {
        approvalKind: 'exec',
        id,
        request: p.request,
        createdAtMs,
        expiresAtMs: p.expiresAtMs,
      };
      pending.set(id, p);
      if (!silent) sessionApproval(p);
      if (!silent && !core.authenticated().some(isApprover)) {
        // ✓ 2026.9.6: with no approver route the approval is denied at once (reason no-route).
        sessionApproval(p, { reason: 'no-route', decision: 'deny' });
        settle(p, { id, decision: 'deny', resolvedBy: null, reason: 'no-route' });
      } else {
        if (!silent) core.emit('exec.approval.requested', payload);
        p.cancelTimer = startTimer(() => {
          sessionApproval(p, { reason: 'expired', decision: 'deny' });
          settle(p, { id, decision: 'expired', resolvedBy: null, reason: 'expired' });
        }, expiresInMs);
      }
      return Object.assign(promise, { id, payload });
    },
    find(id) {
      if (pending.has(id)) return id;
      const matches = [...pending.keys()].filter((key) => key.startsWith(id));
      return id.length >= 8 && matches.length === 1 ? matches[0] : undefined;
    },
    resolve(id, decision, by) {
      const p = pending.get(id);
      if (!p) return;
      const resolvedBy = by.clientId ?? 'gateway-client';
      sessionApproval(p, { reason: 'user', decision });
      core.emit('exec.approval.resolved', { id, decision, resolvedBy, ts: Date.now(), request: p.request });
      settle(p, { id, decision, resolvedBy, reason: 'user' });
    },
    pendingIds() {
      return [...pending.keys()];
    },
    closeAll() {
      for (const p of [...pending.values()])
        settle(p, { id: p.id, decision: 'expired', resolvedBy: null, reason: 'closed' });
    },
  };
}
