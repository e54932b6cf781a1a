// The vocabulary shared by the writer, the queries and the store: what goes in, what comes back.

/** The finding and verdict severities, lowest first. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;

/** A finding or verdict severity. */
export type Severity = (typeof SEVERITIES)[number];

/** Maps a severity to the integer stored in `severity_rank` (0 means nothing matched). */
export const SEVERITY_RANK = { none: 0, info: 1, low: 2, medium: 3, high: 4, critical: 5 } as const;

/** The producers an event can come from. */
export const EVENT_SOURCES = ['ws', 'inspect', 'proxy', 'watcher', 'api', 'sidecar'] as const;

/** One of the producers an event can come from. */
export type EventSource = (typeof EVENT_SOURCES)[number];

/** The verdict raw actions that raise an alert automatically (observe mode included). */
export const ALERTING_ACTIONS: ReadonlySet<string> = new Set(['alert', 'confirm', 'block']);

/** The reasons a record can fail to be written. */
export const DROP_REASONS = ['queue_full', 'write_error', 'shutdown'] as const;

/** One of the reasons a record can fail to be written. */
export type DropReason = (typeof DROP_REASONS)[number];

/** How much of an event payload is kept: the redacted JSON, or only its size and SHA-256. */
export type CaptureMode = 'redacted' | 'metadata';

/** An event as the sidecar hands it to the store; `payload` is serialised once, here. */
export type EventInput = {
  /** When it happened, Unix milliseconds. */
  ts: number;
  /** What happened, e.g. `tool.call`, `exec.approval`, `audit.gap`. */
  kind: string;
  /** Who produced it. */
  source: EventSource;
  /** Makes at-least-once producers idempotent (`ws:<conn_id>:<seq>`); a repeat is reported as a duplicate. */
  dedupeKey?: string | null;
  sessionKey?: string | null;
  runId?: string | null;
  agentId?: string | null;
  tool?: string | null;
  callId?: string | null;
  requestId?: string | null;
  connId?: string | null;
  seq?: number | null;
  /** A redacted one-line description; cut to 512 characters. */
  summary?: string | null;
  /** A redacted JSON value; stored when it fits `maxPayloadBytes` and capture is `redacted`. */
  payload?: unknown;
};

/** A redacted finding behind a verdict. */
export type FindingInput = {
  ruleId: string;
  category: string;
  title: string;
  severity: Severity;
  confidence?: number | null;
  target: string;
  basis: string;
  detectionOnly: boolean;
  /** Redacted evidence; cut to 120 characters. */
  snippet: string;
  /** Where the match was (JSON, e.g. `{pointer, start, end}`). */
  location: unknown;
  /** First 16 hex of the evidence HMAC. */
  fingerprint: string;
  tags: readonly string[];
};

/** A policy verdict recorded with its event (at most one per lane). */
export type VerdictInput = {
  lane: string;
  action: string;
  rawAction: string;
  mode: string;
  wouldBlock: boolean;
  /** `null` when nothing matched. */
  severity: Severity | null;
  ruleIds: readonly string[];
  reason: string;
  profile: string;
  generationId: string;
  enforced: boolean;
  /** `exec.deny`, `exec.allow`, `skills.update`, `plugin.disable`, `proxy.block`, `stream.cut`, `inspect.block` or `none`. */
  enforcement: string;
  scanMicros: number;
  errorCode?: string | null;
  findings: readonly FindingInput[];
};

/** An explicit alert, for lifecycle and watcher alerts that have no (alerting) verdict. */
export type AlertInput = {
  category: string;
  severity: Severity;
  title: string;
  lane?: string | null;
  action?: string | null;
  rawAction?: string | null;
  mode?: string | null;
  enforced?: boolean;
  /** Defaults to the event's tool. */
  tool?: string | null;
  /** Defaults to the event's session key. */
  sessionKey?: string | null;
  ruleIds?: readonly string[];
  /** Links the alert to `verdicts[verdictIndex]` of the same record. */
  verdictIndex?: number;
};

/**
 * One unit of work for the writer: an event with its verdicts, findings and alerts, committed atomically.
 * `alert` defaults to `'auto'`: one alert per verdict whose raw action is alert, confirm or block.
 */
export type AuditRecord = {
  event: EventInput;
  verdicts?: readonly VerdictInput[];
  alert?: AlertInput | 'auto' | 'none';
};

/** What a committed record got: its row ids, or the existing event id when the dedupe key was seen before. */
export type CommitReceipt = {
  eventId: number;
  verdictIds: number[];
  alertIds: number[];
  /** The dedupe key was already recorded; nothing was written. */
  duplicate: boolean;
};

/** Writer counters for health, metrics and tests. */
export type AuditStats = {
  queueDepth: number;
  queueCapacity: number;
  /** The deepest the queue has been. */
  highWater: number;
  /** Enqueued records waiting for room in a full queue. */
  waiting: number;
  /** Records committed (duplicates included, `audit.gap` events not). */
  committedRecords: number;
  /** `audit.gap` events written. */
  gapEvents: number;
  dropped: Record<DropReason, number>;
  /** Failed commit attempts (each retry counts). */
  writeErrors: number;
  /** True while commits fail and records are held for retry. */
  failing: boolean;
  /** Unix milliseconds of the last successful commit. */
  lastCommitAt?: number;
  /** Unix milliseconds of the last drop. */
  lastDropAt?: number;
  /** The last commit failure: SQLite code (or error name) and when. */
  lastError?: { code: string; at: number };
  synchronous: 'normal' | 'full';
  path: string;
};
