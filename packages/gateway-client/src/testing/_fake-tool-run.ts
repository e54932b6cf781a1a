// Realistic tool-run frames, modelled on read.jsonl, read-self.jsonl, exec-allow.jsonl, exec-deny.jsonl and
// exec-nocap.jsonl: agent lifecycle/item events for everyone, `session.tool` start/update/result for
// subscribers, `agent` stream "tool" for the run's starter instead, and an optional exec approval in between.
import { randomUUID } from 'node:crypto';
import type { ApprovalStore } from './_fake-approvals.ts';
import type { ConnRecord, FakeCore } from './_fake-core.ts';
import {
  agentIdOf,
  createSessionRow,
  type FakeSessionRow,
  flattenedSessionFields,
  sessionObject,
} from './_fake-data.ts';
import type {
  FakeApprovalOutcome,
  FakeApprovalRequestInput,
  FakeToolRunOptions,
  FakeToolRunResult,
} from './fake-types.ts';

const HEADLESS_DENIAL =
  'exec denied: Headless runs cannot wait for interactive exec approval.\n' +
  'Effective host exec policy: security=allowlist ask=on-miss askFallback=deny';

function describeArgs(tool: string, args: Record<string, unknown>): string {
  if (typeof args.command === 'string') return args.command;
  if (typeof args.path === 'string') return `${tool === 'read' ? 'from' : 'to'} ${args.path}`;
  return tool;
}

function textResult(text: string, details: Record<string, unknown>) {
  return { content: [{ type: 'text', text }], details };
}

/** Emits one tool run and resolves when its last frame has been sent. */
export async function runTool(
  core: FakeCore,
  approvals: ApprovalStore,
  options: FakeToolRunOptions,
): Promise<FakeToolRunResult> {
  const sessionKey = options.sessionKey ?? 'agent:main:main';
  let row: FakeSessionRow | undefined = core.sessions.get(sessionKey);
  if (!row) {
    row = createSessionRow(sessionKey);
    core.sessions.set(sessionKey, row);
  }
  const agentId = agentIdOf(sessionKey);
  const runId = options.runId ?? row.lastRunId ?? randomUUID();
  const toolCallId = options.toolCallId ?? `call_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const args = options.args ?? {};
  const meta = options.meta ?? describeArgs(options.tool, args);
  const commandBearing = options.tool === 'exec';
  const title = `${options.tool[0]?.toUpperCase() ?? ''}${options.tool.slice(1)} ${meta}`;
  if (options.starter !== undefined) {
    core.runStarters.set(runId, typeof options.starter === 'string' ? options.starter : options.starter.id);
  }
  const starterId = core.runStarters.get(runId);
  const startedAt = Date.now();
  row.status = 'running';
  row.lastRunId = runId;
  row.updatedAt = startedAt;

  let runSeq = 0;
  // Agent and tool payloads share the run's one seq counter.
  const agentPayload = (stream: string, data: Record<string, unknown>) => {
    runSeq += 1;
    return { runId, stream, data, sessionKey, agentId, seq: runSeq, ts: Date.now(), isHeartbeat: false };
  };
  const agent = (stream: string, data: Record<string, unknown>) => {
    core.emit('agent', agentPayload(stream, data));
  };
  const toolEvent = (data: Record<string, unknown>) => {
    const current = row as FakeSessionRow;
    const payload = {
      ...agentPayload('tool', data),
      session: sessionObject(current),
      ...flattenedSessionFields(current),
    };
    // The starter gets agent stream "tool" instead of session.tool (✓ read-self.jsonl).
    core.emit('session.tool', payload, {
      to: (conn: ConnRecord) => conn.subscribed && conn.id !== starterId,
    });
    core.emit('agent', payload);
  };
  const sessionsChanged = (extra: Record<string, unknown>) => {
    const current = row as FakeSessionRow;
    core.emit('sessions.changed', {
      sessionKey,
      agentId,
      ...extra,
      ts: Date.now(),
      ...flattenedSessionFields(current),
      session: sessionObject(current),
    });
  };

  agent('lifecycle', { phase: 'start', startedAt });
  sessionsChanged({ phase: 'start', runId });
  const itemBase = { itemId: `tool:${toolCallId}`, toolCallId, name: options.tool, kind: 'tool' };
  agent('item', { ...itemBase, phase: 'start', title, status: 'running', meta, commandBearing, startedAt });
  toolEvent({ phase: 'start', name: options.tool, toolCallId, args });

  let isError = options.isError ?? false;
  let result: unknown =
    typeof options.result === 'string' || options.result === undefined
      ? textResult(
          options.result ?? '',
          commandBearing
            ? {
                exitCode: options.exitCode ?? (isError ? 1 : 0),
                exitSignal: null,
                exitReason: 'exit',
                durationMs: 12,
                aggregated: options.result ?? '',
                cwd: '/home/openclaw/workspace',
              }
            : { kind: 'text', content: options.result ?? '' },
        )
      : options.result;
  let approvalOutcome: FakeApprovalOutcome | undefined;

  if (options.approval) {
    const input: FakeApprovalRequestInput = {
      command: typeof args.command === 'string' ? args.command : meta,
      sessionKey,
      agentId,
      runId,
      toolCallId,
      ...(typeof options.approval === 'object' ? options.approval : {}),
    };
    const handle = approvals.request(input, {
      expiresInMs: options.approvalExpiresInMs ?? 1_800_000,
      silent: false,
    });
    const routed = approvals.pendingIds().includes(handle.id);
    if (routed) agent('lifecycle', { phase: 'waiting-approval', approvalId: handle.id, toolCallId });
    approvalOutcome = await handle;
    if (routed) agent('lifecycle', { phase: 'approval-resolved', approvalId: handle.id, toolCallId });
    const command = String(input.command ?? '');
    if (approvalOutcome.reason === 'no-route') {
      isError = true;
      const error = HEADLESS_DENIAL;
      result = textResult(JSON.stringify({ status: 'error', tool: options.tool, error }, null, 2), {
        tool: options.tool,
        error,
      });
    } else if (approvalOutcome.decision === 'deny' || approvalOutcome.decision === 'expired') {
      isError = true;
      const why = approvalOutcome.decision === 'deny' ? 'user-denied' : 'approval-expired';
      const text = `Exec denied (gateway id=${handle.id}, ${why}): ${command}`;
      result = textResult(text, {
        exitCode: null,
        durationMs: 0,
        aggregated: text,
        timedOut: false,
        cwd: '/home/openclaw/workspace',
      });
    }
  }

  if (options.partial !== undefined && !(approvalOutcome && isError)) {
    toolEvent({
      phase: 'update',
      name: options.tool,
      toolCallId,
      partialResult: textResult(options.partial, {
        status: 'running',
        pid: 4242,
        cwd: '/home/openclaw/workspace',
        tail: options.partial,
      }),
    });
    agent('item', { ...itemBase, phase: 'update', title, meta, commandBearing });
  }

  toolEvent({ phase: 'result', name: options.tool, toolCallId, meta, isError, commandBearing, result });
  const errorText = isError ? firstText(result) : undefined;
  agent('item', {
    ...itemBase,
    phase: 'end',
    title,
    status: isError ? 'failed' : 'completed',
    meta,
    commandBearing,
    startedAt,
    endedAt: Date.now(),
    ...(errorText !== undefined ? { error: errorText } : {}),
  });
  agent('lifecycle', { phase: 'end', stopReason: 'stop', aborted: false, startedAt, endedAt: Date.now() });
  row.status = 'done';
  row.updatedAt = Date.now();
  sessionsChanged({ phase: 'end', runId });
  core.notify();
  return approvalOutcome ? { runId, toolCallId, approval: approvalOutcome } : { runId, toolCallId };
}

function firstText(result: unknown): string | undefined {
  const content = (result as { content?: Array<{ text?: unknown }> } | undefined)?.content;
  const text = Array.isArray(content) ? content[0]?.text : undefined;
  return typeof text === 'string' ? text : undefined;
}
