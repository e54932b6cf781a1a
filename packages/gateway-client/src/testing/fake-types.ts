// Public data types of the fake OpenClaw gateway (`@defenseclaw/gateway-client/testing`).
import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorShape, RequestFrame } from '@defenseclaw/protocol';

/** How the fake numbers event `seq`: per connection (2026.9.6), or like older servers. */
export type FakeSeqMode = 'per-connection' | 'global' | 'omit-targeted';

/** A skill definition for the fake's `skills.status`. */
export type FakeSkillInput = {
  /** The skill name (also the default `skillKey`). */
  name: string;
  /** @default name */
  skillKey?: string;
  /** @default '' */
  description?: string;
  /** @default 'openclaw-bundled' */
  source?: string;
  /** @default true */
  bundled?: boolean;
  /** @default true */
  eligible?: boolean;
  /** Binaries the skill needs (reported by `skills.bins` to nodes). @default [] */
  bins?: string[];
};

/** One WebSocket connection the fake accepted. */
export interface FakeConnection {
  /** The connection id (also `server.connId` of its hello-ok). */
  readonly id: string;
  /** The 0-based accept order. */
  readonly index: number;
  /** The nonce of the challenge sent to this connection. */
  readonly nonce: string;
  /** The headers of the upgrade request. */
  readonly headers: IncomingHttpHeaders;
  /** The `connect` params as received (even when rejected), or `undefined` before a `connect`. */
  readonly params: Record<string, unknown> | undefined;
  /** Whether hello-ok was sent. */
  readonly authenticated: boolean;
  /** Whether `sessions.subscribe` was called. */
  readonly subscribed: boolean;
  /** Session keys passed to `sessions.messages.subscribe`. */
  readonly messageSubscriptions: ReadonlySet<string>;
  /** Session keys subscribed with `includeApprovals: true`. */
  readonly approvalSubscriptions: ReadonlySet<string>;
  /** The granted role, once accepted. */
  readonly role: string | undefined;
  /** The granted scopes, once accepted. */
  readonly scopes: readonly string[];
  /** The advertised caps, once accepted. */
  readonly caps: readonly string[];
  /** Every `req` frame received, in arrival order (the `connect` included). */
  readonly requests: readonly RequestFrame[];
  /** Every frame sent to this connection, in order (text, or a Buffer for binary `sendRaw`). */
  readonly sent: readonly (string | Buffer)[];
  /** Whether the socket is still open. */
  readonly open: boolean;
  /** The close code once closed. */
  readonly closeCode: number | undefined;
  /** The close reason once closed. */
  readonly closeReason: string | undefined;
  /** Sends raw data (a string as a text frame, a Buffer as a binary frame). */
  send(data: string | Buffer): void;
  /** Closes the socket with a close frame. */
  close(code?: number, reason?: string): void;
  /** Destroys the socket without a close frame. */
  terminate(): void;
}

/** A request recorded by the fake, with the id of the connection it came on. */
export type FakeRequestRecord = RequestFrame & { readonly connectionId: string };

/** Which connections a hook targets: ids, connections, or a predicate. */
export type FakeTarget =
  | string
  | FakeConnection
  | ReadonlyArray<string | FakeConnection>
  | ((connection: FakeConnection) => boolean);

/** A frame injected by a hook: raw data, or an event (`seq` defaults to the counter). */
export type FakeFrameSpec =
  | string
  | Buffer
  | { event: string; payload?: unknown; seq?: number | 'auto' | 'none' };

/** The pairing state of one device, as the fake's scriptable pairing store holds it. */
export type FakePairingEntry = {
  /** The roles the device is approved for. */
  roles: readonly string[];
  /** The scopes the device is approved for. */
  scopes: readonly string[];
  /** The approved platform; a different claimed platform needs a metadata upgrade. */
  platform?: string | undefined;
  /** The approved device family; a different one needs a metadata upgrade. */
  deviceFamily?: string | undefined;
};

/** A reply a method handler produces: a success payload or an ErrorShape. */
export type FakeReply = { ok: true; payload?: unknown } | { ok: false; error: ErrorShape };

/** A decision an approver can send. */
export type FakeApprovalDecision = 'allow-once' | 'allow-always' | 'deny';

/** What a test passes to `requestApproval`; every field has a realistic default. */
export type FakeApprovalRequestInput = {
  /** @default a random UUID */
  id?: string;
  /** @default 'echo hello' */
  command?: string;
  /** @default 'agent:main:main' */
  sessionKey?: string;
  /** @default 'main' */
  agentId?: string;
  /** The run to correlate with `session.tool`. @default a random UUID */
  runId?: string;
  /** The tool call to correlate with `session.tool`. @default `call_<12 hex>` */
  toolCallId?: string;
  /** @default '/home/openclaw/workspace' */
  cwd?: string;
  /** @default 'gateway' */
  host?: string;
  /** @default null (gateway-host exec has no plan) */
  systemRunPlan?: Record<string, unknown> | null;
  /** @default ['allow-once', 'deny'] */
  allowedDecisions?: FakeApprovalDecision[];
  /** Extra keys merged into `request` as-is (may override the defaults). */
  extra?: Record<string, unknown>;
};

/** How an approval ended. */
export type FakeApprovalOutcome = {
  /** The approval id. */
  id: string;
  /** The decision, or `expired` when nobody answered in time (or the fake closed). */
  decision: FakeApprovalDecision | 'expired';
  /** The approver's client id, or `null` when the gateway decided itself. */
  resolvedBy: string | null;
  /** `user` (an approver answered), `no-route` (no approver connected), `expired` or `closed`. */
  reason: 'user' | 'no-route' | 'expired' | 'closed';
};

/** A promise of the outcome that also carries the approval id right away. */
export type FakeApprovalHandle = Promise<FakeApprovalOutcome> & {
  /** The approval id. */
  readonly id: string;
  /** The `exec.approval.requested` payload (to inject it by hand, e.g. with `silent`). */
  readonly payload: Record<string, unknown>;
};

/** Options of `emitToolRun`. */
export type FakeToolRunOptions = {
  /** @default 'agent:main:main' */
  sessionKey?: string;
  /** The tool name (`read`, `exec`, `write`, …). */
  tool: string;
  /** The tool arguments (`data.args` of the start phase). @default {} */
  args?: Record<string, unknown>;
  /** The result: a string becomes `{content:[{type:"text",text}], details}`; anything else is sent as is. @default '' */
  result?: unknown;
  /** Whether the tool failed. @default false */
  isError?: boolean;
  /** `result.details.exitCode` for exec-like tools. */
  exitCode?: number;
  /** @default a random UUID (or the runId of a `sessions.send` for this session) */
  runId?: string;
  /** @default `call_<12 hex>` */
  toolCallId?: string;
  /** The connection (or its id) that started the run: it gets `agent` stream "tool" instead of `session.tool`. */
  starter?: string | { id: string };
  /** Partial output: when set, an `update` phase (with `partialResult`) is sent before the result. */
  partial?: string;
  /** Human summary (`data.meta`). @default derived from the args */
  meta?: string;
  /** Ask for an exec approval before the result (an object customises the request); a denial fails the tool. */
  approval?: boolean | FakeApprovalRequestInput;
  /** Approval lifetime when `approval` is set. @default 1_800_000 */
  approvalExpiresInMs?: number;
};

/** What `emitToolRun` resolves to. */
export type FakeToolRunResult = {
  /** The run id used in every frame. */
  runId: string;
  /** The tool call id used in every frame. */
  toolCallId: string;
  /** The approval outcome when `approval` was requested. */
  approval?: FakeApprovalOutcome;
};
