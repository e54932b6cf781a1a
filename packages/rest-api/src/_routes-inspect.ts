// Pre-execution inspect hooks (spec 20 §6.4): validate → subject → evaluate → commit → answer, within a budget.
import { performance } from 'node:perf_hooks';
import type { AlertInput, AuditRecord, CommitReceipt, VerdictInput } from '@defenseclaw/audit-store';
import { type EvalContext, type Lane, toWire, type Verdict } from '@defenseclaw/policy';
import type { ApiContext } from './_context.ts';
import { readBody } from './_http.ts';
import { INSPECT_ROUTES, type InspectRoute } from './_inspect-subjects.ts';
import { createInspectLimiter } from './_limits.ts';
import type { PolicySettings } from './deps.ts';
import { RestApiError } from './errors.ts';

/** Fail modes when `policy.fail_mode.<lane>` is unset (spec 30 §B7). */
export const DEFAULT_FAIL_MODES: Readonly<Partial<Record<Lane, 'open' | 'closed'>>> = {
  inspect_tool: 'closed',
  inspect_tool_result: 'open',
  proxy_prompt: 'closed',
  proxy_completion: 'closed',
};

/** Registers the four `/api/v1/inspect/*` routes. */
export function registerInspectRoutes(api: ApiContext): void {
  const limiter = createInspectLimiter({
    maxInFlight: api.maxInspectInFlight,
    rateLimit: api.rateLimit,
    now: () => performance.now(),
  });
  for (const spec of INSPECT_ROUTES) {
    api.route('POST', spec.path, 'write', async (c) => {
      const t0 = performance.now();
      limiter.acquire(c.get('peer'), c.get('peerLoopback'));
      try {
        const body = await readBody(c, spec.schema);
        const input = spec.build(body as never);
        const settings = api.deps.policy.settings();
        const requestId = c.get('requestId');
        const ctx: EvalContext = {
          lane: spec.lane,
          mode: settings.mode,
          nowMs: api.now(),
          meta: { ...input.meta, requestId },
        };
        if (settings.budgetMs !== undefined) ctx.budgetMs = settings.budgetMs;
        if (input.approvalSurface !== undefined) ctx.approvalSurface = input.approvalSurface;
        const size = Number(c.req.header('content-length') ?? 0);
        const computed = await evaluate(api, input.subject, ctx, size > (settings.yieldBytes ?? 1024 * 1024));
        const decided = applyFailMode(computed, spec, settings);
        api.metrics?.eventsTotal.inc({ kind: spec.kind, source: 'inspect' });
        api.metrics?.recordVerdict(decided.verdict);
        if (decided.failMode !== undefined) {
          api.metrics?.inspectFailModeTotal.inc({
            route: spec.path,
            code: computed.error?.code ?? 'ENGINE-ERROR',
          });
        }
        const verdict = decided.verdict;
        const enforced = verdict.mode === 'action' && verdict.action === 'block';
        const record: AuditRecord = {
          event: { ...input.event(verdict.findings), ts: api.now(), requestId },
          verdicts: [verdictRow(verdict, enforced)],
          alert: decided.alert ?? 'auto',
        };
        let receipt: CommitReceipt;
        try {
          receipt = await within(api.commit(record), api.commitTimeoutMs());
        } catch (error) {
          api.log.warn(`inspect: verdict not committed on ${spec.lane}; answering 503`, {
            code: (error as { code?: unknown }).code ?? 'TIMEOUT',
          });
          throw new RestApiError('audit_unavailable', 'the verdict could not be recorded; fail closed', {
            details: { action: verdict.action, raw_action: verdict.rawAction },
            headers: { 'Retry-After': '1' },
            cause: error,
          });
        }
        if (enforced) api.metrics?.enforcementsTotal.inc({ kind: 'inspect.block', outcome: 'answered' });
        return c.json({
          ...toWire(verdict),
          verdict_id: receipt.verdictIds[0] ?? null,
          event_id: receipt.eventId,
          committed: true,
          elapsed_ms: Math.round((performance.now() - t0) * 1000) / 1000,
        });
      } finally {
        limiter.release();
        api.metrics?.inspectDurationSeconds.observe({ route: spec.path }, (performance.now() - t0) / 1000);
      }
    });
  }
}

// --- internal ---

async function evaluate(
  api: ApiContext,
  subject: Parameters<ApiContext['deps']['policy']['engine']['evaluate']>[0],
  ctx: EvalContext,
  yielding: boolean,
): Promise<Verdict> {
  const { engine } = api.deps.policy;
  try {
    return yielding ? await engine.evaluateYielding(subject, ctx) : engine.evaluate(subject, ctx);
  } catch (error) {
    // The engine promises never to throw; if it does anyway, the lane's fail mode decides, as for ENGINE-ERROR.
    api.log.error(`policy: evaluation threw on ${ctx.lane}`, {
      error: error instanceof Error ? error.name : 'unknown',
    });
    const generation = engine.generation;
    return {
      action: 'allow',
      rawAction: 'allow',
      mode: ctx.mode === 'action' ? 'action' : 'observe',
      wouldBlock: false,
      severity: null,
      findings: [],
      ruleIds: [],
      droppedFindings: 0,
      reason: 'allow: ENGINE-ERROR',
      explanation: 'The policy engine failed on this input.',
      lane: ctx.lane,
      profile: '',
      enforceable: true,
      generation: { id: generation.id, digest: generation.digest },
      trace: ['engine:threw'],
      timing: { scanMicros: 0, scannedBytes: 0 },
      error: { code: 'ENGINE-ERROR', message: 'evaluation threw' },
      meta: ctx.meta,
    };
  }
}

/**
 * Applies `policy.fail_mode.<lane>` to a verdict whose scan failed (spec 30 §B7): closed blocks (in observe mode:
 * would block), open keeps the computed action and raises a `scan_error` alert. Observe mode never blocks.
 */
function applyFailMode(
  verdict: Verdict,
  spec: InspectRoute,
  settings: PolicySettings,
): { verdict: Verdict; failMode?: 'open' | 'closed'; alert?: AlertInput } {
  if (verdict.error === undefined) return { verdict };
  const code = verdict.error.code;
  const configured = settings.failMode?.[spec.lane] ?? DEFAULT_FAIL_MODES[spec.lane] ?? 'closed';
  // Tool results always fail open (spec 30 §B7): their hook cannot undo a call that already ran.
  const mode = spec.lane === 'inspect_tool_result' ? 'open' : configured;
  if (mode === 'closed') {
    const acting = verdict.mode === 'action';
    return {
      failMode: 'closed',
      verdict: {
        ...verdict,
        action: acting ? 'block' : 'allow',
        rawAction: 'block',
        wouldBlock: !acting,
        reason: `block: ${code} (fail closed)`,
        explanation: `DefenseClaw ${acting ? 'blocked' : 'would block'} this ${spec.noun}: the policy scan failed (${code}) and this check fails closed. Retry, or ask the user.`,
        trace: [...verdict.trace, `fail_mode:closed ${code}`],
      },
    };
  }
  return {
    failMode: 'open',
    verdict: { ...verdict, trace: [...verdict.trace, `fail_mode:open ${code}`] },
    alert: {
      category: 'scan_error',
      severity: 'high',
      title: `Policy scan failed on ${spec.lane} (${code}); allowed (fail open)`,
      lane: spec.lane,
      action: verdict.action,
      rawAction: verdict.rawAction,
      mode: verdict.mode,
      enforced: false,
      ruleIds: verdict.ruleIds,
      verdictIndex: 0,
    },
  };
}

function verdictRow(verdict: Verdict, enforced: boolean): VerdictInput {
  const row: VerdictInput = {
    lane: verdict.lane,
    action: verdict.action,
    rawAction: verdict.rawAction,
    mode: verdict.mode,
    wouldBlock: verdict.wouldBlock,
    severity: verdict.severity,
    ruleIds: verdict.ruleIds,
    reason: verdict.reason,
    profile: verdict.profile,
    generationId: verdict.generation.id,
    enforced,
    enforcement: enforced ? 'inspect.block' : 'none',
    scanMicros: Math.round(verdict.timing.scanMicros),
    findings: verdict.findings.map((f) => ({
      ruleId: f.ruleId,
      category: f.category,
      title: f.title,
      severity: f.severity,
      ...(f.confidence !== undefined ? { confidence: f.confidence } : {}),
      target: f.target,
      basis: f.basis,
      detectionOnly: f.detectionOnly,
      snippet: f.evidence.snippet,
      location: f.evidence.location,
      fingerprint: f.evidence.fingerprint,
      tags: f.tags,
    })),
  };
  if (verdict.error !== undefined) row.errorCode = verdict.error.code;
  return row;
}

/** Resolves with the promise's value, or rejects after `ms` (the commit may still land later). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('commit budget exceeded')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
