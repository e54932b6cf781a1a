// --- internal: the audit records of the skill watcher (spec 20 §8.4–§8.5, §7.1) ---
import type { AlertInput, AuditRecord, FindingInput, Severity, VerdictInput } from '@defenseclaw/audit-store';
import type { Verdict } from '@defenseclaw/policy';
import { verdictInput } from './_audit-records.ts';
import type { CollectedSkill } from './_skill-files.ts';

/** What the watcher scans: a skill (`SKILL.md`) or a native plugin (`openclaw.plugin.json`). */
export type AdmissionKind = 'skill' | 'plugin';

/** What the watcher decided about one scanned skill or plugin. */
export type AdmissionDecision =
  /** Nothing matched, or only what the profile lets pass. */
  | 'clean'
  /** Findings worth an alert, below the block threshold. */
  | 'flagged'
  /** Judged malicious and disabled in OpenClaw (or on the way: `runtime` says which). */
  | 'disabled'
  /** Judged malicious, but observe mode or `take_action: false` keeps it enabled. */
  | 'would_block'
  /** On the allow list: passed without a scan. */
  | 'allow_listed'
  /** The scan failed; it stays enabled (skill_admission fails open). */
  | 'unscanned';

/** The rule id of the finding added when a skill exceeds the scan caps. */
export const TRUNCATED_RULE_ID = 'SKILL-TRUNCATED';

/** Where an enforcement stands when its record is written. */
export type RuntimeState = 'disabled' | 'pending' | 'n/a';

/** Everything one admission record is built from. */
export type AdmissionFacts = {
  kind: AdmissionKind;
  key: string;
  keySource: 'skills.status' | 'frontmatter' | 'manifest' | 'dir';
  dir: string;
  root: string;
  collected: CollectedSkill | undefined;
  verdict: Verdict | undefined;
  decision: AdmissionDecision;
  runtime: RuntimeState;
  /** For `unscanned`: the error code (`ENGINE-BUDGET`, `EACCES`, …). */
  errorCode?: string;
  mode: 'observe' | 'action';
  takeAction: boolean;
  /** Set when a skill on the block list triggered the enforcement. */
  listBlocked: boolean;
  ts: number;
};

/** The event kind of a scan record. */
export function scanKind(kind: AdmissionKind): 'skill.scan' | 'plugin.scan' {
  return kind === 'plugin' ? 'plugin.scan' : 'skill.scan';
}

/** The dedupe key of a scan record: `skill:<key>:<hash>` (spec 20 §7.1); failed scans get their own. */
export function scanDedupeKey(facts: AdmissionFacts): string {
  const hash = facts.collected?.hash;
  // An unreadable skill has no hash: one record per key and error until it changes.
  if (hash === undefined) return `${facts.kind}:${facts.key}:unreadable:${facts.errorCode ?? 'error'}`;
  return `${facts.kind}:${facts.key}:${hash}${facts.decision === 'unscanned' ? ':unscanned' : ''}`;
}

/** The rule ids of a record, in the verdict's order, the truncation finding last. */
export function recordRuleIds(facts: AdmissionFacts): string[] {
  const ids = [...(facts.verdict?.ruleIds ?? [])];
  if (facts.collected?.truncated !== undefined && !ids.includes(TRUNCATED_RULE_ID))
    ids.push(TRUNCATED_RULE_ID);
  return ids;
}

/**
 * Builds the `skill.scan` / `plugin.scan` record: the event (paths, sizes and hash, never file content), the
 * verdict with its findings (plus the medium `SKILL-TRUNCATED` one when a cap was hit) and the watcher alert.
 */
export function admissionRecord(facts: AdmissionFacts, mask: (text: string) => string): AuditRecord {
  const noun = facts.kind;
  const collected = facts.collected;
  const ruleIds = recordRuleIds(facts);
  const files = collected?.files ?? [];
  const summary = mask(
    `${noun} ${facts.key} ${facts.decision.replace('_', ' ')}${facts.runtime === 'pending' ? ' (pending: OpenClaw disconnected)' : ''}${
      collected === undefined ? '' : ` (${files.length} files, ${collected.scannedBytes} bytes)`
    }${ruleIds.length > 0 ? `: ${ruleIds.slice(0, 5).join(', ')}${ruleIds.length > 5 ? ` +${ruleIds.length - 5}` : ''}` : ''}`,
  );
  const payload: Record<string, unknown> = {
    target_type: noun,
    [noun === 'plugin' ? 'plugin_name' : 'skill_key']: facts.key,
    key_source: facts.keySource,
    dir: facts.dir,
    root: facts.root,
    decision: facts.decision,
    runtime: facts.runtime,
    mode: facts.mode,
    take_action: facts.takeAction,
  };
  if (facts.listBlocked) payload.list = 'block';
  if (facts.errorCode !== undefined) payload.error = facts.errorCode;
  if (collected !== undefined) {
    payload.content_sha256 = collected.hash;
    payload.scanned_bytes = collected.scannedBytes;
    payload.files = files.map((file) => ({
      path: file.path,
      bytes: file.bytes,
      ...(file.cut ? { cut: true } : {}),
    }));
    payload.skipped = collected.skipped;
    if (collected.truncated !== undefined) {
      payload.truncated = {
        reasons: collected.truncated.reasons,
        files_cut: collected.truncated.filesCut,
        files_omitted: collected.truncated.filesOmitted,
      };
    }
  }
  const record: AuditRecord = {
    event: {
      ts: facts.ts,
      kind: scanKind(facts.kind),
      source: 'watcher',
      dedupeKey: scanDedupeKey(facts),
      summary,
      payload,
    },
  };
  const row = facts.verdict === undefined ? undefined : verdictRow(facts, ruleIds);
  if (row !== undefined) record.verdicts = [row];
  record.alert = admissionAlert(facts, ruleIds, row) ?? 'none';
  return record;
}

/** Builds the `enforcement.failed` record of a disable that never reached OpenClaw (high alert). */
export function enforcementFailedRecord(
  target: { kind: AdmissionKind; key: string },
  failure: { attempts: number; code: string; message: string },
  ts: number,
  mask: (text: string) => string,
): AuditRecord {
  const method = target.kind === 'plugin' ? 'config.patch (plugin disable)' : 'skills.update';
  return {
    event: {
      ts,
      kind: 'enforcement.failed',
      source: 'watcher',
      summary: mask(
        `${method} disable ${target.kind} ${target.key} failed after ${failure.attempts} attempt(s): ${failure.code}`,
      ),
      payload: {
        target_type: target.kind,
        target_name: target.key,
        method,
        attempts: failure.attempts,
        error: failure.code,
        message: mask(failure.message),
      },
    },
    alert: {
      category: 'watcher',
      severity: 'high',
      title: mask(`${target.kind} ${target.key} could not be disabled: ${failure.code}`),
      lane: 'skill_admission',
      enforced: false,
    },
  };
}

/** Builds the `enforce.change` record of a disable delivered later (queued) or repeated after a restart. */
export function enforceChangeRecord(
  target: { kind: AdmissionKind; key: string },
  why: string,
  ts: number,
  mask: (text: string) => string,
): AuditRecord {
  return {
    event: {
      ts,
      kind: 'enforce.change',
      source: 'watcher',
      summary: mask(`${target.kind} ${target.key} disabled in OpenClaw (${why})`),
      payload: {
        target_type: target.kind,
        target_name: target.key,
        enabled: false,
        reason: why,
        by: 'watcher',
      },
    },
    alert: 'none',
  };
}

// --- internal ---

const SEVERITY_ORDER: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];
const ACTION_ORDER = ['allow', 'alert', 'confirm', 'block'] as const;

function maxSeverity(a: Severity | null, b: Severity): Severity {
  if (a === null) return b;
  return SEVERITY_ORDER.indexOf(a) >= SEVERITY_ORDER.indexOf(b) ? a : b;
}

// The verdict as recorded: the engine's, with what the watcher added (truncation) and did (enforcement).
function verdictRow(facts: AdmissionFacts, ruleIds: string[]): VerdictInput {
  const verdict = facts.verdict!;
  const enforced = facts.decision === 'disabled';
  const enforcement = enforced ? (facts.kind === 'plugin' ? 'plugin.disable' : 'skills.update') : 'none';
  let rawAction: string = verdict.rawAction;
  const truncated = facts.collected?.truncated;
  if (truncated !== undefined && facts.decision !== 'allow_listed' && rawAction === 'allow')
    rawAction = 'alert';
  let action: string;
  let wouldBlock: boolean;
  if (facts.decision === 'disabled') {
    // Also in observe mode when the block list asked for it: the operator's list entry is an order.
    action = 'block';
    wouldBlock = false;
  } else if (facts.mode !== 'action') {
    action = 'allow';
    wouldBlock = rawAction === 'block';
  } else if (rawAction === 'block') {
    // Action mode, but `take_action: false`: judged a block, alerted, left enabled.
    action = 'alert';
    wouldBlock = true;
  } else {
    action = rawAction;
    wouldBlock = false;
  }
  const reasonIds =
    ruleIds.slice(0, 5).join(', ') + (ruleIds.length > 5 ? ` and ${ruleIds.length - 5} more` : '');
  const reason =
    action === verdict.action && rawAction === verdict.rawAction
      ? verdict.reason
      : `${action}${action !== rawAction ? ` (${rawAction})` : ''}: ${reasonIds}`;
  const row = verdictInput(verdict, { enforced, enforcement }, { action, rawAction, wouldBlock, reason });
  if (truncated !== undefined) {
    const finding: FindingInput = {
      ruleId: TRUNCATED_RULE_ID,
      category: 'skill.truncated',
      title: `${facts.kind === 'plugin' ? 'Plugin' : 'Skill'} exceeds the scan caps; only part of it was scanned`,
      severity: 'medium',
      target: 'skill',
      basis: 'engine',
      detectionOnly: false,
      snippet: `truncated: ${truncated.reasons.join(', ')}; ${truncated.filesCut} file(s) cut, ${truncated.filesOmitted} omitted`,
      location: {},
      fingerprint: '',
      tags: ['skill.truncated'],
    };
    row.findings = [...row.findings, finding];
    row.severity = maxSeverity(row.severity, 'medium');
    row.ruleIds = ruleIds;
  }
  return row;
}

function admissionAlert(
  facts: AdmissionFacts,
  ruleIds: string[],
  row: VerdictInput | undefined,
): AlertInput | undefined {
  const ids = ruleIds.slice(0, 5).join(', ') + (ruleIds.length > 5 ? ` +${ruleIds.length - 5}` : '');
  const base = {
    category: 'watcher',
    lane: 'skill_admission',
    ...(row === undefined ? {} : { verdictIndex: 0 }),
  };
  switch (facts.decision) {
    case 'disabled':
      return {
        ...base,
        severity: 'high',
        title: `${facts.kind} ${facts.key} disabled: ${ids}`,
        enforced: true,
      };
    case 'would_block':
      return {
        ...base,
        severity: 'high',
        title: `${facts.kind} ${facts.key} would be disabled (${facts.mode === 'action' ? 'take_action: false' : 'observe mode'}): ${ids}`,
        enforced: false,
      };
    case 'flagged': {
      const rawAction = row?.rawAction ?? 'alert';
      if (!(ACTION_ORDER as readonly string[]).includes(rawAction) || rawAction === 'allow') return undefined;
      return {
        ...base,
        severity: row?.severity ?? 'medium',
        title: `${facts.kind} ${facts.key} flagged: ${ids}`,
        enforced: false,
      };
    }
    case 'unscanned':
      return {
        ...base,
        severity: 'high',
        title: `${facts.kind} ${facts.key} left enabled unscanned: ${facts.errorCode ?? 'scan error'}`,
        enforced: false,
      };
    default:
      return undefined;
  }
}
