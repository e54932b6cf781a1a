// Internal state shared by the fake gateway's parts (server, handshake, methods, tool runs, approvals),
// and the 2026.9.6 delivery rules that decide which connection receives which event.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestFrame } from '@defenseclaw/protocol';
import type { WebSocket } from 'ws';
import type { ConfigStore } from './_fake-config.ts';
import type { FakeSessionRow, FakeSkillEntry } from './_fake-data.ts';
import type { FakeConnection } from './fake-types.ts';

/** The mutable record behind one `FakeConnection`. */
export type ConnRecord = FakeConnection & {
  id: string;
  nonce: string;
  params: Record<string, unknown> | undefined;
  authenticated: boolean;
  subscribed: boolean;
  messageSubscriptions: Set<string>;
  approvalSubscriptions: Set<string>;
  role: string | undefined;
  scopes: string[];
  caps: string[];
  clientId: string | undefined;
  requests: RequestFrame[];
  sent: Array<string | Buffer>;
  open: boolean;
  closeCode: number | undefined;
  closeReason: string | undefined;
  headers: IncomingHttpHeaders;
  /** The last per-connection `seq` handed out. */
  seq: number;
  socket: WebSocket;
  /** Cancels the handshake timeout. */
  handshakeTimer: (() => void) | undefined;
  handshakeBusy: boolean;
};

/** Where an emitted event goes and how its `seq` is chosen. */
export type EmitOptions = {
  /** Explicit audience; when absent the event's delivery rule applies. */
  to?: ((conn: ConnRecord) => boolean) | undefined;
  /** A number, `'auto'` (the counter) or `'none'` (no seq key). */
  seq?: number | 'auto' | 'none' | undefined;
  /** Frame-level `stateVersion` (health and presence events). */
  stateVersion?: { presence: number; health: number } | undefined;
};

/** The part of the fake that its internal modules use. */
export type FakeCore = {
  readonly messagesRequireKeySubscribe: boolean;
  readonly legacyConfigPatch: boolean;
  readonly config: ConfigStore;
  readonly sessions: Map<string, FakeSessionRow>;
  readonly skills: FakeSkillEntry[];
  /** runId → id of the connection that started the run (via `sessions.send`). */
  readonly runStarters: Map<string, string>;
  /** Open connections that completed the handshake. */
  authenticated(): ConnRecord[];
  /** Sends an event to its audience (delivery rules unless `to` is given), assigning `seq`. */
  emit(event: string, payload: unknown, options?: EmitOptions): void;
  /** Wakes up `waitFor` predicates after a state change. */
  notify(): void;
};

const APPROVER_SCOPES = ['operator.approvals', 'operator.admin'];
const APPROVER_CAPS = ['exec-approvals', 'approvals'];

/** Whether a connection may receive exec approvals: approvals/admin scope and an approvals cap (✓ 2026.9.6). */
export function isApprover(conn: ConnRecord): boolean {
  return (
    conn.authenticated &&
    conn.open &&
    conn.scopes.some((s) => APPROVER_SCOPES.includes(s)) &&
    conn.caps.some((c) => APPROVER_CAPS.includes(c))
  );
}

function recordField(payload: unknown, key: string): unknown {
  return typeof payload === 'object' && payload !== null
    ? (payload as Record<string, unknown>)[key]
    : undefined;
}

/**
 * Returns the default audience of an event per the 2026.9.6 delivery rules, or `undefined` for a broadcast
 * to every authenticated connection.
 */
export function defaultAudience(
  core: FakeCore,
  event: string,
  payload: unknown,
): ((conn: ConnRecord) => boolean) | undefined {
  switch (event) {
    case 'session.tool':
    case 'sessions.changed':
      return (conn) => conn.subscribed;
    case 'session.message': {
      const key = recordField(payload, 'sessionKey');
      const byKey = (conn: ConnRecord) => typeof key === 'string' && conn.messageSubscriptions.has(key);
      return core.messagesRequireKeySubscribe ? byKey : (conn) => conn.subscribed || byKey(conn);
    }
    case 'session.approval': {
      const key = recordField(payload, 'sessionKey');
      return (conn) => typeof key === 'string' && conn.approvalSubscriptions.has(key);
    }
    case 'exec.approval.requested':
    case 'exec.approval.resolved':
      return isApprover;
    case 'agent': {
      if (recordField(payload, 'stream') !== 'tool') return undefined;
      // stream:"tool" goes only to the connection that started the run, and only with the tool-events cap.
      const runId = recordField(payload, 'runId');
      const starter = typeof runId === 'string' ? core.runStarters.get(runId) : undefined;
      return (conn) => conn.id === starter && conn.caps.includes('tool-events');
    }
    default:
      return undefined;
  }
}
