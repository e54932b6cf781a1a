// The exec-approval decision (spec 30 §A5.10).
import type { ExecApprovalFacts, Severity, Verdict } from './types.ts';
import { SEVERITIES } from './types.ts';

/** Gateway settings that shape the exec-approval decision. */
export type ExecApprovalConfig = {
  /** Minimum severity of an enforceable finding that denies (`gateway.approval_deny_severity`). @default 'high' */
  denySeverity: Severity;
  /** Allow-once a clean, fully parsed command (`gateway.auto_approve_safe`). @default false */
  autoApproveSafe: boolean;
};

/** Why `decideExecApproval` decided what it did. */
export type ExecApprovalReason =
  | 'empty-command'
  | 'unparseable-command'
  | 'list-block'
  | 'severity'
  | 'auto-approve-safe'
  | 'pending';

/** What the sidecar does with an exec-approval request. */
export type ExecApprovalDecision = {
  /** `deny` and `allow-once` resolve the request; `pending` sends nothing and leaves it to the human. */
  decision: 'deny' | 'allow-once' | 'pending';
  reason: ExecApprovalReason;
  /** True when the request is (or, in observe mode, would have been) denied. */
  wouldBlock: boolean;
};

/**
 * Decides an exec-approval request from its verdict and parsed command (spec 30 §A5.10): deny empty,
 * unparseable, block-listed or severe commands; allow-once clean ones when auto-approval is on; else pending.
 * In observe mode (`verdict.mode` other than `action`) a deny becomes pending with `wouldBlock: true`.
 *
 * @example
 * const d = decideExecApproval(verdict, { commandFacts, hasCommand: true }, { denySeverity: 'high', autoApproveSafe: false });
 * if (d.decision === 'deny') await client.resolveApproval(id, 'deny');
 */
export function decideExecApproval(
  verdict: Verdict,
  facts: ExecApprovalFacts,
  cfg: ExecApprovalConfig,
): ExecApprovalDecision {
  const observe = verdict.mode !== 'action';
  const deny = (reason: ExecApprovalReason): ExecApprovalDecision =>
    observe
      ? { decision: 'pending', reason, wouldBlock: true }
      : { decision: 'deny', reason, wouldBlock: true };
  const parsed = facts.commandFacts;

  // 1. Nothing to run.
  if (
    !facts.hasCommand ||
    (parsed !== undefined && parsed.raw.trim() === '' && parsed.commands.length === 0)
  ) {
    return deny('empty-command');
  }
  // 2. A command we cannot parse is not approved on trust.
  if (parsed?.status === 'failed') return deny('unparseable-command');
  // 3. Block lists, then any enforceable finding at or above the deny threshold (independent of the profile).
  const enforceable = verdict.findings.filter(
    (f) => !f.detectionOnly && !f.alreadyEnforced && !f.ruleId.startsWith('LIST-ALLOW-'),
  );
  if (enforceable.some((f) => f.ruleId.startsWith('LIST-BLOCK-'))) return deny('list-block');
  const threshold = _rank(cfg.denySeverity);
  if (enforceable.some((f) => _rank(f.severity) >= threshold)) return deny('severity');
  // 4. Auto-approve a clean, completely parsed command (never allow-always).
  if (
    cfg.autoApproveSafe &&
    verdict.rawAction === 'allow' &&
    parsed?.status === 'complete' &&
    verdict.findings.every((f) => f.severity === 'info')
  ) {
    return { decision: 'allow-once', reason: 'auto-approve-safe', wouldBlock: false };
  }
  // 5. The human decides in OpenClaw.
  return { decision: 'pending', reason: 'pending', wouldBlock: false };
}

// --- internal ---

function _rank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
