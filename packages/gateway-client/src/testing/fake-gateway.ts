// A fake OpenClaw gateway (2026.9.6, protocol 4) on a real WebSocket server, for tests of the client and the
// sidecar. It holds all state in memory and exposes scripting hooks (spec 10 §6).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorShape, type RequestFrame, serializeEvent, serializeResponse } from '@defenseclaw/protocol';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { GatewayClientError } from '../errors.ts';
import { type ApprovalStore, createApprovalStore } from './_fake-approvals.ts';
import { createConfigStore } from './_fake-config.ts';
import { type ConnRecord, defaultAudience, type EmitOptions, type FakeCore } from './_fake-core.ts';
import {
  createSessionRow,
  DEFAULT_SKILLS,
  defaultConfig,
  type FakeSessionRow,
  type FakeSkillEntry,
} from './_fake-data.ts';
import { invalidRequest } from './_fake-errors.ts';
import {
  classifyFirstFrame,
  evaluateConnect,
  MAX_PREAUTH_PAYLOAD_BYTES,
  type RateLimitState,
  RequestFrameSchema,
  truncateCloseReason,
} from './_fake-handshake.ts';
import { buildHelloOk, FAKE_EVENTS, FAKE_METHODS } from './_fake-hello.ts';
import { createMethodTable, runDefaultMethod } from './_fake-methods.ts';
import { validateSchema } from './_fake-schema.ts';
import { type CancelTimer, startTimer } from './_fake-timers.ts';
import { runTool } from './_fake-tool-run.ts';
import type {
  FakeApprovalHandle,
  FakeApprovalRequestInput,
  FakeConnection,
  FakeFrameSpec,
  FakePairingEntry,
  FakeReply,
  FakeRequestRecord,
  FakeSeqMode,
  FakeSkillInput,
  FakeTarget,
  FakeToolRunOptions,
  FakeToolRunResult,
} from './fake-types.ts';

/** Frames per corked write when `sendRaw` sends a burst. */
const RAW_BURST_CHUNK = 256;

/** Options of `createFakeOpenClawGateway`. */
export type FakeOpenClawGatewayOptions = {
  /** The shared gateway token; when set the fake runs in auth mode `token`, otherwise `none`. */
  token?: string;
  /** The protocol version the fake speaks. @default 4 */
  protocol?: number;
  /** The tick period, also announced as `policy.tickIntervalMs`. @default 30000 */
  tickIntervalMs?: number;
  /** The post-hello frame size limit, also announced as `policy.maxPayload`. @default 26214400 */
  maxPayload?: number;
  /** How long a connection may take to complete the handshake before it is closed with 1000. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The allowed device-signature clock skew. @default 120000 */
  skewMs?: number;
  /** How event `seq` is numbered. @default 'per-connection' */
  seqMode?: FakeSeqMode;
  /** Older servers: `session.message` only after `sessions.messages.subscribe {key}`. @default false */
  messagesRequireKeySubscribe?: boolean;
  /** Older servers: the closed `config.patch` schema has no `replacePaths`. @default false */
  legacyConfigPatch?: boolean;
  /** Lock out shared-token auth after `maxFailures` failures for `retryAfterMs` (`AUTH_RATE_LIMITED`). */
  rateLimit?: { maxFailures: number; retryAfterMs: number };
  /** The initial config file; `null` means no config file yet. @default a config with `plugins.entries` */
  initialConfig?: Record<string, unknown> | null;
  /** The config path reported by `config.get`. @default '/home/openclaw/.openclaw/openclaw.json' */
  configPath?: string;
  /** The skills listed by `skills.status`. @default a small set including bundled `1password` */
  skills?: readonly FakeSkillInput[];
  /** Existing session keys. @default ['agent:main:main'] */
  sessions?: readonly string[];
  /** Scriptable pairing store (deviceId → approval); when absent, pairing is never required. */
  pairing?: ReadonlyMap<string, FakePairingEntry> | Readonly<Record<string, FakePairingEntry>>;
  /** `features.methods` of hello-ok. @default the 12 methods the fake implements */
  methods?: readonly string[];
  /** `features.events` of hello-ok. @default every event of spec 10 §4 and a few more */
  events?: readonly string[];
  /** The port to listen on (reuse one to emulate a restarted gateway). @default 0 */
  port?: number;
};

/** The context a `handle` override receives. */
export type FakeRequestContext = {
  /** The connection the request came on. */
  readonly connection: FakeConnection;
  /** The request frame. */
  readonly frame: RequestFrame;
  /** The method name. */
  readonly method: string;
  /** The request params (possibly `undefined`). */
  readonly params: unknown;
  /** The gateway, for state and hooks. */
  readonly gateway: FakeOpenClawGateway;
  /** Computes the default reply (validation included) without sending it. */
  next(): FakeReply;
  /** Sends a `res` for this request right away (may be called more than once, like OpenClaw's `agent`). */
  respond(reply: FakeReply): void;
};

/** A method override: return a reply to send it, or `undefined` to send nothing (never answer). */
export type FakeMethodHandler = (
  context: FakeRequestContext,
) => FakeReply | undefined | Promise<FakeReply | undefined>;

/** A fake OpenClaw gateway listening on 127.0.0.1. */
export type FakeOpenClawGateway = {
  /** `ws://127.0.0.1:<port>` (no path). */
  readonly url: string;
  /** The listening port (kept across `restart()`). */
  readonly port: number;
  /** Whether the server is listening. */
  readonly listening: boolean;
  /** Every connection accepted since creation, in accept order (closed ones included). */
  readonly connections: readonly FakeConnection[];
  /** The connections still open. */
  readonly openConnections: readonly FakeConnection[];
  /** Every `req` frame received on any connection, in arrival order. */
  readonly requests: readonly FakeRequestRecord[];
  /** The current config object (unredacted copy). */
  readonly config: Record<string, unknown>;
  /** The current config hash, or `undefined` when there is no config file. */
  readonly configHash: string | undefined;
  /** The current shared token (`undefined` in auth mode `none`). */
  readonly token: string | undefined;
  /** Ids of approvals still waiting for a decision. */
  readonly pendingApprovals: readonly string[];
  /** Known session keys. */
  readonly sessionKeys: readonly string[];
  /** Terminates every socket, clears every timer and frees the port. */
  close(): Promise<void>;
  /** Overrides a post-hello method (`null` restores the default). */
  handle(method: string, fn: FakeMethodHandler | null): void;
  /** Sets frames to send (or actions to take) after a connect is accepted and before its hello-ok. */
  beforeHello(fn: ((connection: FakeConnection) => FakeFrameSpec[] | Promise<FakeFrameSpec[]>) | null): void;
  /** Changes hello-ok: an object is merged (an `undefined` value deletes the key), a function replaces it. */
  helloOverride(
    override: Record<string, unknown> | ((hello: Record<string, unknown>) => Record<string, unknown>) | null,
  ): void;
  /** Replaces the `connect.challenge` of new connections with these frames (`null` restores it). */
  challengeOverride(fn: ((connection: FakeConnection) => FakeFrameSpec[]) | null): void;
  /** Rejects connects (after the params check) with this error and close code until cleared with `null`. */
  rejectConnect(
    error: ErrorShape | null,
    closeCode?: number,
    options?: { times?: number; closeReason?: string },
  ): void;
  /** Sends an event: to its delivery-rule audience, or to `to` (any open connection). */
  sendEvent(
    name: string,
    payload?: unknown,
    options?: {
      to?: FakeTarget;
      seq?: number | 'auto' | 'none';
      stateVersion?: { presence: number; health: number };
    },
  ): void;
  /** Advances the seq counters by `n` so that the next event shows a gap. */
  skipSeq(n: number): void;
  /** Sends raw data (malformed JSON, binary, unknown frame types, or a burst of frames) to every open connection or `to`. */
  sendRaw(data: string | Buffer | readonly (string | Buffer)[], options?: { to?: FakeTarget }): void;
  /** Closes every open connection with a close frame. */
  closeAll(code?: number, reason?: string): void;
  /** Destroys every open connection without a close frame. */
  terminateAll(): void;
  /** Stops sending `tick` events (until `restart()`). */
  stopTicks(): void;
  /** Changes the shared token and closes authenticated connections with 4001 `gateway auth changed`. */
  rotateToken(token: string): void;
  /** Sends `shutdown`, closes every connection with 1012 `service restart` and stops listening. */
  shutdown(options?: { reason?: string; restartExpectedMs?: number }): Promise<void>;
  /** Stops (if needed) and listens again on the same port, keeping config, sessions and skills. */
  restart(): Promise<void>;
  /** Emits a realistic tool run (`session.tool` start/update/result plus `agent` frames). */
  emitToolRun(options: FakeToolRunOptions): Promise<FakeToolRunResult>;
  /**
   * Starts an exec approval; resolves with the decision, the `no-route` denial or expiry. With `silent` it is
   * only registered (no event, no auto-deny), for tests that deliver `exec.approval.requested` themselves.
   */
  requestApproval(
    request?: FakeApprovalRequestInput,
    options?: { expiresInMs?: number; silent?: boolean },
  ): FakeApprovalHandle;
  /** Replaces the config file (`null` deletes it). */
  setConfig(config: Record<string, unknown> | null): void;
  /** Adds a session (no event is sent). */
  addSession(key: string): void;
  /** Resolves with the predicate's first truthy value, re-checked on every state change. */
  waitFor<T>(
    predicate: (gateway: FakeOpenClawGateway) => T | undefined | null | false,
    options?: { timeoutMs?: number },
  ): Promise<T>;
  /** Resolves with the first recorded request of `method` (optionally on one connection). */
  waitForRequest(
    method: string,
    options?: { timeoutMs?: number; connectionId?: string; after?: number },
  ): Promise<FakeRequestRecord>;
};

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function toSkillEntry(input: FakeSkillInput): FakeSkillEntry {
  return {
    name: input.name,
    skillKey: input.skillKey ?? input.name,
    description: input.description ?? '',
    source: input.source ?? 'openclaw-bundled',
    bundled: input.bundled ?? true,
    eligible: input.eligible ?? true,
    bins: [...(input.bins ?? [])],
  };
}

/**
 * Starts a fake OpenClaw gateway on 127.0.0.1 (port 0 unless `port` is given) that behaves like 2026.9.6.
 *
 * @example
 * const fake = await createFakeOpenClawGateway({ token: 'test-token' });
 * try {
 *   // connect a client to fake.url …
 *   await fake.waitForRequest('sessions.subscribe');
 *   await fake.emitToolRun({ tool: 'read', args: { path: 'notes.txt' }, result: 'hello' });
 * } finally {
 *   await fake.close();
 * }
 */
export async function createFakeOpenClawGateway(
  options: FakeOpenClawGatewayOptions = {},
): Promise<FakeOpenClawGateway> {
  const protocol = options.protocol ?? 4;
  const tickIntervalMs = options.tickIntervalMs ?? 30_000;
  const maxPayload = options.maxPayload ?? 26_214_400;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const skewMs = options.skewMs ?? 120_000;
  const seqMode = options.seqMode ?? 'per-connection';
  const methods = options.methods ?? FAKE_METHODS;
  const events = options.events ?? FAKE_EVENTS;
  const pairing =
    options.pairing === undefined
      ? undefined
      : options.pairing instanceof Map
        ? (options.pairing as ReadonlyMap<string, FakePairingEntry>)
        : new Map(Object.entries(options.pairing as Record<string, FakePairingEntry>));
  const startedAt = Date.now();

  let token = options.token;
  const config = createConfigStore({
    initial: options.initialConfig === undefined ? defaultConfig(token) : options.initialConfig,
    path: options.configPath ?? '/home/openclaw/.openclaw/openclaw.json',
  });
  const sessions = new Map<string, FakeSessionRow>();
  for (const key of options.sessions ?? ['agent:main:main']) sessions.set(key, createSessionRow(key));
  const skills = (options.skills ?? DEFAULT_SKILLS).map((s) => toSkillEntry(s));
  const runStarters = new Map<string, string>();
  const rateLimitState: RateLimitState = { failures: 0, lockedUntil: 0 };

  const connections: ConnRecord[] = [];
  const requests: FakeRequestRecord[] = [];
  const handlers = new Map<string, FakeMethodHandler>();
  const waiters = new Set<() => boolean>();
  let beforeHelloHook: ((connection: FakeConnection) => FakeFrameSpec[] | Promise<FakeFrameSpec[]>) | null =
    null;
  let helloPatch:
    | Record<string, unknown>
    | ((hello: Record<string, unknown>) => Record<string, unknown>)
    | null = null;
  let challengeHook: ((connection: FakeConnection) => FakeFrameSpec[]) | null = null;
  let rejectHook: { error: ErrorShape; closeCode: number; closeReason: string; times: number } | null = null;
  let globalSeq = 0;
  let cancelTicks: CancelTimer | undefined;
  let closed = false;

  let server: Server | undefined;
  let wss: WebSocketServer | undefined;
  let port = options.port ?? 0;

  const openConns = () => connections.filter((c) => c.open);
  const authenticated = () => connections.filter((c) => c.open && c.authenticated);

  const notify = () => {
    for (const check of [...waiters]) check();
  };

  const sendText = (conn: ConnRecord, text: string) => {
    conn.sent.push(text);
    if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(text);
  };

  const sendReply = (conn: ConnRecord, id: string, reply: FakeReply) => {
    const frame = reply.ok
      ? { type: 'res' as const, id, ok: true, payload: reply.payload }
      : { type: 'res' as const, id, ok: false, error: reply.error };
    sendText(conn, serializeResponse(frame));
  };

  const sendEventTo = (
    conn: ConnRecord,
    event: string,
    payload: unknown,
    seq: number | undefined,
    stateVersion?: EmitOptions['stateVersion'],
  ) => {
    const frame: Record<string, unknown> = { type: 'event', event, payload };
    if (seq !== undefined) frame.seq = seq;
    if (stateVersion !== undefined) frame.stateVersion = stateVersion;
    sendText(conn, serializeEvent(frame as Parameters<typeof serializeEvent>[0]));
  };

  const pickSeq = (conn: ConnRecord, spec: number | 'auto' | 'none', targeted: boolean, global: number) => {
    if (typeof spec === 'number') return spec;
    if (spec === 'none') return undefined;
    if (seqMode === 'per-connection') return ++conn.seq;
    if (targeted) return undefined;
    return seqMode === 'global' ? global : ++conn.seq;
  };

  const core: FakeCore = {
    messagesRequireKeySubscribe: options.messagesRequireKeySubscribe ?? false,
    legacyConfigPatch: options.legacyConfigPatch ?? false,
    config,
    sessions,
    skills,
    runStarters,
    authenticated,
    emit(event, payload, emitOptions = {}) {
      const audience = emitOptions.to ?? defaultAudience(core, event, payload);
      const targeted = audience !== undefined;
      const spec = emitOptions.seq ?? 'auto';
      const recipients = authenticated().filter((c) => audience === undefined || audience(c));
      const global = seqMode === 'global' && !targeted && spec === 'auto' ? ++globalSeq : 0;
      for (const conn of recipients) {
        sendEventTo(conn, event, payload, pickSeq(conn, spec, targeted, global), emitOptions.stateVersion);
      }
    },
    notify,
  };
  const approvals: ApprovalStore = createApprovalStore(core);
  const table = createMethodTable({ core, approvals, startedAt });

  const resolveTarget = (target: FakeTarget): ((conn: ConnRecord) => boolean) => {
    if (typeof target === 'function') return target;
    const list = Array.isArray(target) ? target : [target];
    const ids = new Set(list.map((t) => (typeof t === 'string' ? t : (t as FakeConnection).id)));
    return (conn) => ids.has(conn.id);
  };

  const sendSpecs = (conn: ConnRecord, specs: readonly FakeFrameSpec[], defaultSeq: 'auto' | 'none') => {
    for (const spec of specs) {
      if (typeof spec === 'string') sendText(conn, spec);
      else if (Buffer.isBuffer(spec)) {
        conn.sent.push(spec);
        if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(spec);
      } else {
        const seqSpec = spec.seq ?? defaultSeq;
        const seq = typeof seqSpec === 'number' ? seqSpec : seqSpec === 'none' ? undefined : ++conn.seq;
        sendEventTo(conn, spec.event, spec.payload, seq);
      }
    }
  };

  const applyHelloPatch = (hello: Record<string, unknown>): Record<string, unknown> => {
    if (helloPatch === null) return hello;
    if (typeof helloPatch === 'function') return helloPatch(hello);
    const merged: Record<string, unknown> = { ...hello, ...helloPatch };
    for (const [key, value] of Object.entries(helloPatch)) if (value === undefined) delete merged[key];
    return merged;
  };

  const recordRequest = (conn: ConnRecord, frame: RequestFrame) => {
    conn.requests.push(frame);
    requests.push({ ...frame, connectionId: conn.id });
  };

  const closeConn = (conn: ConnRecord, code: number, reason = '') => {
    if (conn.socket.readyState === conn.socket.OPEN || conn.socket.readyState === conn.socket.CONNECTING) {
      conn.socket.close(code, reason);
    }
  };

  const handleConnect = async (conn: ConnRecord, frame: RequestFrame, params: Record<string, unknown>) => {
    if (rejectHook) {
      const hook = rejectHook;
      hook.times -= 1;
      if (hook.times <= 0) rejectHook = null;
      sendReply(conn, frame.id, { ok: false, error: hook.error });
      closeConn(conn, hook.closeCode, hook.closeReason);
      return;
    }
    const decision = evaluateConnect(params, {
      nonce: conn.nonce,
      headers: conn.headers,
      protocol,
      token,
      skewMs,
      pairing,
      rateLimit: options.rateLimit,
      rateLimitState,
      now: Date.now(),
    });
    if (decision.kind === 'reject') {
      sendReply(conn, frame.id, { ok: false, error: decision.error });
      closeConn(conn, decision.closeCode, decision.closeReason);
      return;
    }
    conn.role = decision.role;
    conn.scopes = decision.scopes;
    conn.caps = decision.caps;
    conn.clientId = (params.client as { id?: string }).id;
    if (beforeHelloHook) {
      const specs = await beforeHelloHook(conn);
      if (!conn.open) return;
      sendSpecs(conn, specs, 'auto');
    }
    if (!conn.open) return;
    conn.handshakeTimer?.();
    conn.handshakeTimer = undefined;
    const hello = applyHelloPatch(
      buildHelloOk({
        protocol,
        connId: conn.id,
        port,
        methods,
        events,
        authMode: decision.authMethod,
        role: decision.role,
        scopes: decision.scopes,
        tickIntervalMs,
        maxPayload,
        configPath: config.path,
        configHash: config.hash,
        uptimeMs: Date.now() - startedAt,
        mainSessionKey: 'agent:main:main',
      }),
    );
    conn.authenticated = true;
    sendReply(conn, frame.id, { ok: true, payload: hello });
    notify();
  };

  const dispatch = async (conn: ConnRecord, frame: RequestFrame) => {
    const override = handlers.get(frame.method);
    if (!override) {
      sendReply(conn, frame.id, runDefaultMethod(table, conn, frame.method, frame.params));
      return;
    }
    let reply: FakeReply | undefined;
    try {
      reply = await override({
        connection: conn,
        frame,
        method: frame.method,
        params: frame.params,
        gateway,
        next: () => runDefaultMethod(table, conn, frame.method, frame.params),
        respond: (r) => sendReply(conn, frame.id, r),
      });
    } catch (error) {
      reply = { ok: false, error: { code: 'UNAVAILABLE', message: String(error) } };
    }
    if (reply !== undefined && conn.open) sendReply(conn, frame.id, reply);
  };

  const onMessage = (conn: ConnRecord, data: RawData) => {
    const buf = toBuffer(data);
    if (!conn.authenticated) {
      if (conn.handshakeBusy) return;
      if (buf.length > MAX_PREAUTH_PAYLOAD_BYTES) {
        closeConn(conn, 1009);
        return;
      }
      const first = classifyFirstFrame(buf.toString('utf8'));
      switch (first.kind) {
        case 'not-json':
          closeConn(conn, 1000);
          return;
        case 'not-request':
          closeConn(conn, 1008, 'invalid request frame');
          return;
        case 'not-connect': {
          recordRequest(conn, first.frame);
          const message = 'invalid handshake: first request must be connect';
          sendReply(conn, first.frame.id, { ok: false, error: invalidRequest(message) });
          closeConn(conn, 1008, message);
          notify();
          return;
        }
        case 'bad-params':
          recordRequest(conn, first.frame);
          conn.params = first.frame.params as Record<string, unknown> | undefined;
          sendReply(conn, first.frame.id, { ok: false, error: invalidRequest(first.message) });
          closeConn(conn, 1008, truncateCloseReason(first.message));
          notify();
          return;
        case 'connect':
          recordRequest(conn, first.frame);
          conn.params = first.params;
          conn.handshakeBusy = true;
          notify();
          void handleConnect(conn, first.frame, first.params)
            .catch((error: unknown) => {
              // A throwing beforeHello hook is a test bug: make it visible on the wire instead of hanging.
              closeConn(conn, 1011, truncateCloseReason(`fake gateway hook failed: ${String(error)}`));
            })
            .finally(() => {
              conn.handshakeBusy = false;
            });
          return;
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8'));
    } catch {
      return; // 2026.9.6 logs and ignores unparseable frames after the handshake.
    }
    const problem = validateSchema(RequestFrameSchema, parsed);
    if (problem !== undefined) {
      const rawId = (parsed as { id?: unknown } | null)?.id;
      sendReply(conn, typeof rawId === 'string' ? rawId : 'invalid', {
        ok: false,
        error: invalidRequest(`invalid request frame: ${problem}`),
      });
      return;
    }
    const frame = parsed as RequestFrame;
    recordRequest(conn, frame);
    notify();
    void dispatch(conn, frame);
  };

  const onConnection = (socket: WebSocket, req: IncomingMessage) => {
    if (closed) {
      socket.terminate();
      return;
    }
    const conn = {
      id: randomUUID(),
      index: connections.length,
      nonce: randomUUID(),
      headers: req.headers,
      params: undefined,
      authenticated: false,
      subscribed: false,
      messageSubscriptions: new Set<string>(),
      approvalSubscriptions: new Set<string>(),
      role: undefined,
      scopes: [],
      caps: [],
      clientId: undefined,
      requests: [],
      sent: [],
      open: true,
      closeCode: undefined,
      closeReason: undefined,
      seq: 0,
      socket,
      handshakeTimer: undefined,
      handshakeBusy: false,
      send(data: string | Buffer) {
        if (typeof data === 'string') sendText(conn, data);
        else sendSpecs(conn, [data], 'none');
      },
      close(code?: number, reason?: string) {
        closeConn(conn, code ?? 1000, reason ?? '');
      },
      terminate() {
        socket.terminate();
      },
    } as unknown as ConnRecord;
    connections.push(conn);
    socket.on('error', () => {
      // Oversize frames and resets surface here; the close event records the outcome.
    });
    socket.on('message', (data) => onMessage(conn, data));
    socket.on('close', (code, reason) => {
      conn.open = false;
      conn.closeCode = code;
      conn.closeReason = reason.toString('utf8');
      conn.handshakeTimer?.();
      conn.handshakeTimer = undefined;
      notify();
    });
    if (challengeHook) sendSpecs(conn, challengeHook(conn), 'none');
    else {
      sendEventTo(
        conn,
        'connect.challenge',
        {
          nonce: conn.nonce,
          ts: Date.now(),
          capabilities: ['model-catalog-snapshot'],
        },
        undefined,
      );
    }
    conn.handshakeTimer = startTimer(() => {
      conn.handshakeTimer = undefined;
      if (!conn.authenticated) closeConn(conn, 1000);
    }, handshakeTimeoutMs);
    notify();
  };

  const startTicks = () => {
    cancelTicks?.();
    cancelTicks = startTimer(() => core.emit('tick', { ts: Date.now() }), tickIntervalMs, true);
  };

  const listen = async () => {
    const httpServer = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' });
      res.end('Upgrade Required');
    });
    const socketServer = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });
    httpServer.on('upgrade', (req, socket, head) => {
      socketServer.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
    });
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, '127.0.0.1', () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
    port = (httpServer.address() as AddressInfo).port;
    server = httpServer;
    wss = socketServer;
    startTicks();
  };

  const stop = async (graceful: boolean) => {
    cancelTicks?.();
    cancelTicks = undefined;
    const open = openConns();
    for (const conn of connections) {
      conn.handshakeTimer?.();
      conn.handshakeTimer = undefined;
    }
    if (graceful) {
      // Wait for every client to answer the close frame so that the 1012 really reaches it.
      await Promise.all(
        open.map(
          (conn) =>
            new Promise<void>((resolve) => {
              if (conn.socket.readyState === conn.socket.CLOSED) return resolve();
              conn.socket.once('close', () => resolve());
            }),
        ),
      );
    } else {
      for (const conn of open) conn.socket.terminate();
    }
    const httpServer = server;
    const socketServer = wss;
    server = undefined;
    wss = undefined;
    socketServer?.close();
    if (httpServer) {
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    }
  };

  const gateway: FakeOpenClawGateway = {
    get url() {
      return `ws://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    get listening() {
      return server?.listening ?? false;
    },
    get connections() {
      return [...connections];
    },
    get openConnections() {
      return openConns();
    },
    get requests() {
      return [...requests];
    },
    get config() {
      return config.config;
    },
    get configHash() {
      return config.hash;
    },
    get token() {
      return token;
    },
    get pendingApprovals() {
      return approvals.pendingIds();
    },
    get sessionKeys() {
      return [...sessions.keys()];
    },
    async close() {
      if (closed) return;
      closed = true;
      approvals.closeAll();
      await stop(false);
      for (const check of [...waiters]) check();
    },
    handle(method, fn) {
      if (method === 'connect') {
        throw new GatewayClientError(
          'INVALID_ARGUMENT',
          'handle() overrides post-hello methods; use rejectConnect, beforeHello or helloOverride for connect',
        );
      }
      if (fn === null) handlers.delete(method);
      else handlers.set(method, fn);
    },
    beforeHello(fn) {
      beforeHelloHook = fn;
    },
    helloOverride(override) {
      helloPatch = override;
    },
    challengeOverride(fn) {
      challengeHook = fn;
    },
    rejectConnect(error, closeCode = 1008, rejectOptions = {}) {
      rejectHook =
        error === null
          ? null
          : {
              error,
              closeCode,
              closeReason: truncateCloseReason(rejectOptions.closeReason ?? error.message),
              times: rejectOptions.times ?? Number.POSITIVE_INFINITY,
            };
    },
    sendEvent(name, payload, eventOptions = {}) {
      if (eventOptions.to === undefined) {
        core.emit(name, payload, { seq: eventOptions.seq, stateVersion: eventOptions.stateVersion });
        return;
      }
      const match = resolveTarget(eventOptions.to);
      const spec = eventOptions.seq ?? 'auto';
      for (const conn of openConns().filter(match)) {
        sendEventTo(conn, name, payload, pickSeq(conn, spec, true, 0), eventOptions.stateVersion);
      }
    },
    skipSeq(n) {
      globalSeq += n;
      for (const conn of openConns()) conn.seq += n;
    },
    sendRaw(data, rawOptions = {}) {
      const match = rawOptions.to === undefined ? () => true : resolveTarget(rawOptions.to);
      const frames: readonly (string | Buffer)[] = Array.isArray(data) ? data : [data as string | Buffer];
      for (const conn of openConns().filter(match)) {
        // A burst is written in corked chunks, as a busy server flushes its queue: many frames per
        // syscall instead of one each.
        const tcp = (conn.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
        for (let start = 0; start < frames.length; start += RAW_BURST_CHUNK) {
          tcp?.cork();
          sendSpecs(conn, frames.slice(start, start + RAW_BURST_CHUNK), 'none');
          tcp?.uncork();
        }
      }
    },
    closeAll(code = 1000, reason = '') {
      for (const conn of openConns()) closeConn(conn, code, reason);
    },
    terminateAll() {
      for (const conn of openConns()) conn.socket.terminate();
    },
    stopTicks() {
      cancelTicks?.();
      cancelTicks = undefined;
    },
    rotateToken(next) {
      token = next;
      config.setAt(['gateway', 'auth'], { mode: 'token', token: next });
      for (const conn of authenticated()) closeConn(conn, 4001, 'gateway auth changed');
    },
    async shutdown(shutdownOptions = {}) {
      const payload: Record<string, unknown> = { reason: shutdownOptions.reason ?? 'gateway stopping' };
      if (shutdownOptions.restartExpectedMs !== undefined)
        payload.restartExpectedMs = shutdownOptions.restartExpectedMs;
      core.emit('shutdown', payload);
      for (const conn of openConns()) closeConn(conn, 1012, 'service restart');
      await stop(true);
    },
    async restart() {
      if (closed) throw new GatewayClientError('CLOSED', 'the fake gateway is closed');
      if (server) await stop(false);
      await listen();
    },
    emitToolRun(runOptions) {
      return runTool(core, approvals, runOptions);
    },
    requestApproval(request = {}, approvalOptions = {}) {
      return approvals.request(request, {
        expiresInMs: approvalOptions.expiresInMs ?? 1_800_000,
        silent: approvalOptions.silent ?? false,
      });
    },
    setConfig(next) {
      config.replace(next);
    },
    addSession(key) {
      if (!sessions.has(key)) sessions.set(key, createSessionRow(key));
    },
    waitFor(predicate, waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 2_000;
      return new Promise((resolve, reject) => {
        let cancel: CancelTimer | undefined;
        const check = (): boolean => {
          let value: ReturnType<typeof predicate>;
          try {
            value = predicate(gateway);
          } catch (error) {
            waiters.delete(check);
            cancel?.();
            reject(error);
            return true;
          }
          if (value === undefined || value === null || value === false) {
            if (closed) {
              waiters.delete(check);
              cancel?.();
              reject(new GatewayClientError('CLOSED', 'the fake gateway was closed while waiting'));
              return true;
            }
            return false;
          }
          waiters.delete(check);
          cancel?.();
          resolve(value);
          return true;
        };
        if (check()) return;
        waiters.add(check);
        cancel = startTimer(() => {
          waiters.delete(check);
          reject(new GatewayClientError('TIMEOUT', `waitFor timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      });
    },
    waitForRequest(method, waitOptions = {}) {
      const after = waitOptions.after ?? 0;
      return gateway.waitFor(
        () =>
          requests
            .slice(after)
            .find(
              (r) =>
                r.method === method &&
                (waitOptions.connectionId === undefined || r.connectionId === waitOptions.connectionId),
            ),
        { timeoutMs: waitOptions.timeoutMs ?? 2_000 },
      );
    },
  };

  await listen();
  return gateway;
}
