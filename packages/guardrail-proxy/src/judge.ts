import type { Action, EvalContext, Finding, PolicyEngine, Severity, Verdict } from '@defenseclaw/policy';
import type { ProposedToolCall, StreamTextScanner } from './stream/types.ts';

// Verdict helpers shared by the request, response and stream paths: the engine surface the proxy needs, tool-call
// judging (unparseable arguments fail closed), fail modes (spec 30 §B7) and "strictest wins".

/** The policy-engine surface the proxy uses; the sidecar passes its `PolicyEngine`. */
export type ProxyEngine = Pick<PolicyEngine, 'evaluate' | 'generation'> & {
  /** Used for subjects over 1 MiB when present (same verdict, yields between windows). */
  evaluateYielding?: PolicyEngine['evaluateYielding'];
  /**
   * The incremental completion scanner (spec 30 §B6.4), scanning every `scanStepChars` pending characters
   * (`guardrail.stream.scan_step_chars`); a windowed fallback is used when absent.
   */
  streamScanner?(ctx: EvalContext, options?: { scanStepChars?: number }): StreamTextScanner;
};

/** A lane's scanner fail mode (`policy.fail_mode.<lane>`). */
export type FailMode = 'closed' | 'open';

/** Fail modes of the three proxy lanes; each defaults to `closed`. */
export type ProxyFailModes = {
  proxy_prompt?: FailMode;
  proxy_completion?: FailMode;
  proxy_tool_call?: FailMode;
};

const ACT_RANK: Record<Action, number> = { allow: 0, alert: 1, confirm: 2, block: 3 };
const SEV_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

/** Returns the strictest verdict (raw action, then severity); the first wins ties. */
export function strictest(verdicts: readonly (Verdict | undefined)[]): Verdict | undefined {
  let best: Verdict | undefined;
  for (const v of verdicts) {
    if (!v) continue;
    if (!best) {
      best = v;
      continue;
    }
    const d = ACT_RANK[v.rawAction] - ACT_RANK[best.rawAction];
    if (d > 0 || (d === 0 && sevRank(v.severity) > sevRank(best.severity))) best = v;
  }
  return best;
}

/** Whether a verdict blocks (action mode) or would block (observe). */
export function isBlocking(verdict: Verdict | undefined): boolean {
  return verdict !== undefined && verdict.rawAction === 'block';
}

/**
 * Returns a copy of `verdict` forced to block with an engine-made finding (fail closed): `action` is `block` in
 * action mode and `allow` in observe, where `wouldBlock` records it.
 */
export function forceBlock(verdict: Verdict, ruleId: string, title: string, noun: string): Verdict {
  const observe = verdict.mode !== 'action';
  const findings: Finding[] = verdict.findings.some((f) => f.ruleId === ruleId)
    ? verdict.findings.map((f) => (f.ruleId === ruleId ? { ...f, detectionOnly: false } : f))
    : [
        {
          ruleId,
          title,
          category: 'engine',
          severity: 'high',
          target:
            verdict.lane === 'proxy_prompt'
              ? 'prompt'
              : verdict.lane === 'proxy_completion'
                ? 'completion'
                : 'tool_args',
          basis: 'engine',
          tags: [],
          detectionOnly: false,
          evidence: { snippet: '', location: { start: 0, end: 0 }, fingerprint: '' },
        },
        ...verdict.findings,
      ];
  const ruleIds = verdict.ruleIds.includes(ruleId) ? [...verdict.ruleIds] : [ruleId, ...verdict.ruleIds];
  const item = `${ruleId} (${title})`;
  return {
    ...verdict,
    action: observe ? 'allow' : 'block',
    rawAction: 'block',
    wouldBlock: observe,
    severity: maxSeverity(verdict.severity, 'high'),
    findings,
    ruleIds,
    reason: `block: ${ruleId}`,
    explanation: observe
      ? `DefenseClaw flagged this ${noun} (observe mode; it would have been blocked): ${item}.`
      : `DefenseClaw blocked this ${noun}: ${item}. Choose a safer approach or ask the user.`,
    trace: [...verdict.trace, `proxy:fail-closed ${ruleId}`],
  };
}

/** The outcome of applying a lane's fail mode to a verdict. */
export type FailModeResult = { verdict: Verdict; failOpen?: { lane: string; reason: string } };

/**
 * Applies the fail mode to a verdict whose scan failed (`verdict.error`): closed in action mode blocks; otherwise
 * the request goes on with at least an alert, reported as a fail-open.
 */
export function applyFailMode(verdict: Verdict, failMode: FailMode, noun: string): FailModeResult {
  if (!verdict.error) return { verdict };
  const code = verdict.error.code;
  if (verdict.mode === 'action' && failMode === 'closed') {
    const title =
      verdict.findings.find((f) => f.ruleId === code)?.title ??
      'The policy engine could not judge this input';
    return { verdict: forceBlock(verdict, code, title, noun) };
  }
  const raised: Verdict =
    ACT_RANK[verdict.rawAction] >= ACT_RANK.alert
      ? verdict
      : {
          ...verdict,
          rawAction: 'alert',
          action: verdict.mode === 'action' ? 'alert' : 'allow',
          reason: `alert: ${code}`,
        };
  return { verdict: raised, failOpen: { lane: verdict.lane, reason: code } };
}

/**
 * Judges one proposed tool call on `proxy_tool_call`: JSON arguments are evaluated as a tool call; arguments that
 * do not parse are still scanned as text and then forced to block (`ENGINE-TOOLARGS-UNPARSEABLE`, fail closed).
 */
export function judgeToolCall(engine: ProxyEngine, call: ProposedToolCall, ctx: EvalContext): Verdict {
  const raw = call.arguments;
  let args: unknown;
  let parsed = true;
  if (raw.trim() === '') args = {};
  else {
    try {
      args = JSON.parse(raw);
    } catch {
      parsed = false;
      args = raw;
    }
  }
  const subject: Parameters<ProxyEngine['evaluate']>[0] = { kind: 'tool_call', tool: call.name, args };
  if (call.id !== undefined) subject.toolCallId = call.id;
  const meta = call.id !== undefined ? { ...ctx.meta, toolCallId: call.id } : ctx.meta;
  const verdict = engine.evaluate(subject, { ...ctx, lane: 'proxy_tool_call', meta });
  if (parsed) return verdict;
  return forceBlock(
    verdict,
    'ENGINE-TOOLARGS-UNPARSEABLE',
    'Tool-call arguments are not valid JSON',
    'tool call',
  );
}

/** Options of `createFallbackScanner`. */
export type FallbackScannerOptions = { stepChars: number; overlapChars: number };

/**
 * A windowed completion scanner for engines without `streamScanner`: each scan covers the pending text plus the
 * overlap, so total work stays O(n); memory holds only the overlap tail.
 */
export function createFallbackScanner(
  engine: ProxyEngine,
  ctx: EvalContext,
  options: FallbackScannerOptions,
): StreamTextScanner {
  const step = Math.max(1, options.stepChars);
  const overlap = Math.max(0, options.overlapChars);
  const lctx: EvalContext = { ...ctx, lane: 'proxy_completion' };
  let tail = '';
  let pending = '';
  let scanned = 0;
  let covered = 0;
  let best: Verdict | undefined;
  const scan = (): Verdict => {
    const text = tail + pending;
    const v = engine.evaluate({ kind: 'completion', text, toolCalls: [] }, lctx);
    scanned += text.length;
    covered += pending.length;
    best = strictest([best, v]);
    tail = text.slice(Math.max(0, text.length - overlap));
    pending = '';
    return best!;
  };
  return {
    push(text) {
      pending += text;
      if (pending.length >= step) return scan();
      return best ?? scan();
    },
    flush() {
      return pending.length > 0 || !best ? scan() : best;
    },
    finish() {
      return pending.length > 0 || !best ? scan() : best;
    },
    get scannedChars() {
      return scanned;
    },
    get scannedTo() {
      return covered;
    },
  };
}

// --- internal ---

function sevRank(s: Severity | null): number {
  return s === null ? -1 : SEV_RANK[s];
}

function maxSeverity(a: Severity | null, b: Severity): Severity {
  return sevRank(a) >= SEV_RANK[b] ? (a as Severity) : b;
}
