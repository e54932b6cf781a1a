// Shared builders for the audit-store tests: records, verdicts, findings and temp dirs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type {
  AuditRecord,
  AuditStore,
  AuditStoreOptions,
  FindingInput,
  Severity,
  VerdictInput,
} from '../src/index.ts';
import { openAuditStore } from '../src/index.ts';

/** Creates a temp dir removed after the test, even when it fails. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dc-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store closed after the test. */
export function openStore(t: TestContext, options: Partial<AuditStoreOptions> = {}): AuditStore {
  const store = openAuditStore({ path: ':memory:', ...options });
  t.after(async () => {
    await store.close({ drainTimeoutMs: 100 }).catch(() => {});
  });
  return store;
}

export function finding(overrides: Partial<FindingInput> = {}): FindingInput {
  return {
    ruleId: 'CMD-DESTRUCTIVE-RM',
    category: 'destructive',
    title: 'Recursive delete of the home directory',
    severity: 'critical',
    confidence: 0.9,
    target: 'command',
    basis: 'facts',
    detectionOnly: false,
    snippet: 'rm -rf ~',
    location: { start: 0, end: 8 },
    fingerprint: '0123456789abcdef',
    tags: ['shell'],
    ...overrides,
  };
}

export function verdict(overrides: Partial<VerdictInput> = {}): VerdictInput {
  const rawAction = overrides.rawAction ?? 'allow';
  return {
    lane: 'ws_tool_call',
    action: rawAction,
    rawAction,
    mode: 'action',
    wouldBlock: rawAction === 'block',
    severity: null,
    ruleIds: [],
    reason: 'no rule matched',
    profile: 'default',
    generationId: 'gen-1',
    enforced: false,
    enforcement: 'none',
    scanMicros: 42,
    findings: [],
    ...overrides,
  };
}

/** A verdict with one finding at the given severity and raw action. */
export function alerting(
  rawAction: string,
  severity: Severity = 'high',
  overrides: Partial<VerdictInput> = {},
) {
  const f = finding({ severity, ruleId: `RULE-${severity.toUpperCase()}`, title: `a ${severity} finding` });
  return verdict({
    rawAction,
    action: rawAction,
    severity,
    ruleIds: [f.ruleId],
    findings: [f],
    ...overrides,
  });
}

let seq = 0;

/** A plain tool.call record. */
export function record(
  overrides: Partial<AuditRecord['event']> = {},
  extra: Partial<AuditRecord> = {},
): AuditRecord {
  seq++;
  return {
    event: {
      ts: 1_700_000_000_000 + seq,
      kind: 'tool.call',
      source: 'ws',
      tool: 'exec',
      sessionKey: 's1',
      ...overrides,
    },
    ...extra,
  };
}

/** Counts rows of a table through a second read-only view of the same connection. */
export function count(db: { prepare(sql: string): { get(): unknown } }, table: string, where = '1'): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get() as { n: number }).n;
}
