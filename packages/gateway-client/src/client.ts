import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  ADVERTISED_EVENTS,
  CLOSE_CODES,
  CONNECT_DETAIL_CODES,
  DEFAULT_CAPS,
  type ErrorShape,
  type EventFrame,
  getDetailCode,
  type HelloOk,
  type Logger,
  type ParseFrameResult,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  parseConnectChallenge,
  parseFrame,
  parseHelloOk,
  type ResponseFrame,
  serializeRequest,
  silentLogger,
} from '@defenseclaw/protocol';
import WebSocket from 'ws';
import { describeToken, needsAuthRepair, TokenRepair } from './_auth-repair.ts';
import { buildSignedConnectParams } from './_connect-params.ts';
import {
  type Conn,
  challengeInvalid,
  createConn,
  describeClose,
  errorMessage,
  handshakeCloseReason,
  isRecord,
  Pending,
  rawToString,
  toClientError,
} from './_connection.ts';
import { Emitter } from './_emitter.ts';
import { type CallOptions, createHelpers, type GatewayHelpers } from './_helpers.ts';
import { resolveGatewayUrl } from './_url.ts';
import { computeBackoffDelay, DEFAULT_RECONNECT_OPTIONS, type ReconnectOptions } from './backoff.ts';
import { createConnectRejectedError, GatewayClientError } from './errors.ts';
import { type DeviceIdentity, loadOrCreateDeviceIdentity } from './identity.ts';

/** The client's lifecycle state. */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Options of `createGatewayClient` (spec 10 §5). */
export type GatewayClientOptions = {
  /** The full gateway URL (`ws://127.0.0.1:18789`, no path); wins over `host`/`port`/`tls`. */
  url?: string;
  /**
   * The gateway host.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The gateway port.
   * @default 18789
   */
  port?: number;
  /**
   * Uses `wss://`; non-loopback hosts always use it.
   * @default false
   */
  tls?: boolean;
  /**
   * Skips TLS certificate checks (logged as a warning).
   * @default false
   */
  tlsSkipVerify?: boolean;
  /** The gateway token, or a getter read on every attempt; `auth` is omitted when it is empty. */
  token?: string | (() => string | undefined);
  /**
   * The device key file (PEM, raw 32-byte seed), created 0600 when missing.
   * @default '$DEFENSECLAW_HOME/device.key' or '~/.defenseclaw/device.key'
   */
  deviceKeyFile?: string;
  /** A ready device identity; wins over `deviceKeyFile` (tests and tooling). */
  identity?: DeviceIdentity;
  /** The OpenClaw config read by auth repair; see `resolveOpenClawConfigPath` for the fallbacks. */
  openclawConfigPath?: string;
  /**
   * Our version, sent as `client.version` and in the user agent.
   * @default '0.1.0'
   */
  clientVersion?: string;
  /**
   * The connect caps; `exec-approvals` is what routes exec approvals to us.
   * @default ['tool-events', 'exec-approvals']
   */
  caps?: readonly string[];
  /**
   * The default per-request timeout.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * How long to wait for `connect.challenge` after the socket opens.
   * @default 10000
   */
  challengeTimeoutMs?: number;
  /**
   * How long to wait for the `connect` response.
   * @default 15000
   */
  helloTimeoutMs?: number;
  /**
   * The WebSocket opening-handshake timeout.
   * @default 10000
   */
  dialTimeoutMs?: number;
  /**
   * Backoff settings of the reconnect loop.
   * @default { initialDelayMs: 800, multiplier: 1.7, maxDelayMs: 15000, jitterRatio: 0.2 }
   */
  reconnect?: ReconnectOptions;
  /**
   * The largest inbound frame accepted (`ws` `maxPayload`); bigger frames close the socket with 1009.
   * @default 26214400
   */
  maxInboundBytes?: number;
  /**
   * How many events may arrive between the challenge and hello-ok before the handshake fails.
   * @default 1000
   */
  handshakeBufferLimit?: number;
  /**
   * Calls `sessions.subscribe {}` after every hello-ok.
   * @default true
   */
  bootstrap?: boolean;
  /**
   * Receives the client's log lines; the token is never logged.
   * @default silentLogger
   */
  logger?: Logger;
  /**
   * The random source for backoff jitter (tests pin it).
   * @default Math.random
   */
  random?: () => number;
  /** Closes the client when aborted. */
  signal?: AbortSignal;
  /**
   * The protocol range we advertise and accept (test-only).
   * @default [3, 4]
   */
  protocolRange?: readonly [number, number];
  /**
   * The environment for the OpenClaw config lookup and the default device key path.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
};

/** Counters and connection facts for health reporting; a fresh snapshot on every read. */
export type ClientStats = {
  /** Dial attempts made. */
  attempts: number;
  /** Successful handshakes (hello-ok received). */
  connects: number;
  /** Connections lost after hello-ok. */
  disconnects: number;
  /** Requests written to the socket. */
  requestsSent: number;
  /** Responses matched to a pending request. */
  responsesReceived: number;
  /** Requests that ended with `TIMEOUT`. */
  requestTimeouts: number;
  /** Responses whose id matched no pending request (late or duplicate answers). */
  orphanResponses: number;
  /** Inbound frames of any kind. */
  framesReceived: number;
  /** Inbound event frames dispatched to listeners (the challenge excluded). */
  eventsReceived: number;
  /** Malformed JSON, binary and unknown-type frames. */
  malformedFrames: number;
  /** Inbound frames over `maxInboundBytes`. */
  oversizeFrames: number;
  /** Sequence gaps seen. */
  seqGaps: number;
  /** Failed post-connect `sessions.subscribe` calls. */
  bootstrapFailures: number;
  /** Tokens taken over from the OpenClaw config by auth repair. */
  tokenRefreshes: number;
  /** Requests waiting for a response right now. */
  pendingRequests: number;
  /** The negotiated protocol of the current connection. */
  protocol: number | undefined;
  /** `hello.server.version` of the current connection. */
  serverVersion: string | undefined;
  /** `hello.server.connId` of the current connection. */
  connId: string | undefined;
  /** The scopes granted in hello-ok (`auth.scopes`) of the current connection. */
  scopes: string[] | undefined;
  /** Epoch ms of the current connection's hello-ok. */
  connectedAt: number | undefined;
  /** The message of the last connection failure (never contains the token). */
  lastError: string | undefined;
  /** The close code of the last closed connection. */
  lastCloseCode: number | undefined;
  /** The close reason of the last closed connection. */
  lastCloseReason: string | undefined;
};

/** The payloads of the client's events. */
export type ClientEventMap = {
  /** A handshake completed; `attempt` counts attempts since the last successful one (1 = first try). */
  connected: { hello: HelloOk; protocol: number; attempt: number };
  /** A socket that had opened closed; `wasConnected` tells whether it had reached hello-ok. */
  disconnected: {
    code: number;
    reason: string;
    error?: GatewayClientError | undefined;
    wasConnected: boolean;
  };
  /** The loop waits `delayMs` before attempt number `attempt`. */
  reconnecting: { attempt: number; delayMs: number; lastError: GatewayClientError };
  /** An event's `seq` skipped numbers. */
  gap: { expected: number; received: number; missed: number; event: string };
  /** A non-fatal problem: malformed frame, oversize frame, bootstrap failure, throwing listener. */
  error: { error: GatewayClientError };
  /** Auth repair took a new token from the OpenClaw config at `source`. */
  'token-refreshed': { source: string };
  /** The gateway announced it is stopping. */
  shutdown: { reason: string | undefined; restartExpectedMs?: number | undefined };
  /** Every server event after hello-ok (buffered ones included), in order. */
  event: { name: string; payload: unknown; seq: number | undefined; frame: EventFrame };
};

/** Per-request options of `request`. */
export type RequestOptions = CallOptions;

/** A typed OpenClaw gateway client: handshake, RPC, events, reconnect, and the §3 helpers. */
export type GatewayClient = GatewayHelpers & {
  /** Runs one connection attempt and resolves with hello-ok; with `start()` running, waits for the loop instead. */
  connect(options?: { signal?: AbortSignal }): Promise<HelloOk>;
  /** Starts the background connect loop (first attempt immediate, then backoff; unlimited attempts). */
  start(): void;
  /** Stops everything: cancels timers and dials, rejects pending requests, closes the socket. */
  close(): Promise<void>;
  /** Sends one request and resolves with the response payload (`REQUEST_FAILED` on `ok:false`). */
  request<T = unknown>(method: string, params?: unknown, options?: RequestOptions): Promise<T>;
  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof ClientEventMap>(name: K, listener: (payload: ClientEventMap[K]) => void): () => void;
  /** The lifecycle state. */
  readonly state: ClientState;
  /** The hello-ok of the current connection; undefined when not connected. */
  readonly hello: HelloOk | undefined;
  /** A snapshot of the counters and connection facts. */
  readonly stats: ClientStats;
  /** The device id (sha256 hex of the public key); undefined until the identity is loaded. */
  readonly deviceId: string | undefined;
};

/**
 * Creates a gateway client; nothing happens until `connect()` or `start()`.
 *
 * @example
 * const client = createGatewayClient({ url: 'ws://127.0.0.1:18789', token: process.env.OPENCLAW_GATEWAY_TOKEN });
 * client.on('event', ({ name, payload }) => handle(name, payload));
 * client.start();
 * await client.connect(); // resolves once the loop is connected
 * const status = await client.getStatus();
 * await client.close();
 */
export function createGatewayClient(options: GatewayClientOptions = {}): GatewayClient {
  const logger = options.logger ?? silentLogger;
  const env = options.env ?? process.env;
  const url = resolveGatewayUrl(options);
  const random = options.random ?? Math.random;
  const reconnect = { ...DEFAULT_RECONNECT_OPTIONS, ...options.reconnect };
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const challengeTimeoutMs = options.challengeTimeoutMs ?? 10_000;
  const helloTimeoutMs = options.helloTimeoutMs ?? 15_000;
  const handshakeBufferLimit = options.handshakeBufferLimit ?? 1000;
  const bootstrapEnabled = options.bootstrap ?? true;
  const clientVersion = options.clientVersion ?? CLIENT_VERSION;
  const caps = options.caps ?? DEFAULT_CAPS;
  const protocolRange: readonly [number, number] = options.protocolRange ?? [
    PROTOCOL_VERSION_MIN,
    PROTOCOL_VERSION_MAX,
  ];
  const wsOptions: WebSocket.ClientOptions = {
    perMessageDeflate: false,
    maxPayload: options.maxInboundBytes ?? 26_214_400,
    handshakeTimeout: options.dialTimeoutMs ?? 10_000,
    followRedirects: false,
  };
  if (url.startsWith('wss:')) {
    wsOptions.minVersion = 'TLSv1.2';
    if (options.tlsSkipVerify === true) {
      wsOptions.rejectUnauthorized = false;
      logger.warn('TLS certificate verification is disabled for the gateway connection', { url });
    }
  }

  const emitter = new Emitter<ClientEventMap>((name, error) => {
    logger.error(`a "${String(name)}" listener threw`, { error: errorMessage(error) });
  });
  const counters = {
    attempts: 0,
    connects: 0,
    disconnects: 0,
    requestsSent: 0,
    responsesReceived: 0,
    requestTimeouts: 0,
    orphanResponses: 0,
    framesReceived: 0,
    eventsReceived: 0,
    malformedFrames: 0,
    oversizeFrames: 0,
    seqGaps: 0,
    bootstrapFailures: 0,
    tokenRefreshes: 0,
  };
  let connectedAt: number | undefined;
  let lastError: string | undefined;
  let lastCloseCode: number | undefined;
  let lastCloseReason: string | undefined;

  let state: ClientState = 'idle';
  let current: Conn | undefined;
  const sockets = new Set<Conn>();
  const pending = new Map<string, Pending>();
  let identity: DeviceIdentity | undefined = options.identity;
  let refreshedToken: string | undefined;

  // Reconnect loop state.
  let running = false;
  let failures = 0;
  let seriesAttempt = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let shutdownHintMs: number | undefined;
  let attemptInFlight: Promise<HelloOk> | undefined;
  let lastFailureKey: string | undefined;
  const tokenRepair = new TokenRepair(options.openclawConfigPath, env, logger);

  // --- identity and token ---

  const loadIdentity = async (): Promise<DeviceIdentity> => {
    if (identity !== undefined) return identity;
    const home = env.DEFENSECLAW_HOME || join(homedir(), '.defenseclaw');
    const path = options.deviceKeyFile ?? join(home, 'device.key');
    identity = await loadOrCreateDeviceIdentity(path, { logger });
    return identity;
  };

  const currentToken = (): string | undefined => {
    if (refreshedToken !== undefined) return refreshedToken;
    const value = typeof options.token === 'function' ? options.token() : options.token;
    return value === undefined || value === '' ? undefined : value;
  };

  // --- connection attempt ---

  const attemptOnce = async (signal: AbortSignal | undefined): Promise<HelloOk> => {
    counters.attempts++;
    seriesAttempt++;
    const attempt = seriesAttempt;
    const device = await loadIdentity();
    if (state === 'closed') throw new GatewayClientError('CLOSED', 'client closed');
    if (signal?.aborted) throw new GatewayClientError('ABORTED', 'connect aborted', { cause: signal.reason });
    return new Promise<HelloOk>((resolve, reject) => {
      const ws = new WebSocket(url, wsOptions);
      const conn = createConn(ws, attempt, device);
      const onAbort = (): void => {
        failHandshake(conn, new GatewayClientError('ABORTED', 'connect aborted', { cause: signal?.reason }));
      };
      conn.settle = (error, hello) => {
        conn.settle = undefined;
        signal?.removeEventListener('abort', onAbort);
        if (error !== undefined) reject(error);
        else resolve(hello as HelloOk);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      sockets.add(conn);
      current = conn;
      logger.debug('connecting to the gateway', { url, attempt, token: describeToken(currentToken()) });
      ws.on('open', () => onOpen(conn));
      ws.on('message', (data, isBinary) => onMessage(conn, data, isBinary));
      ws.on('error', (error) => onSocketError(conn, error));
      ws.on('close', (code, reason) => onSocketClose(conn, code, reason.toString()));
    });
  };

  const onOpen = (conn: Conn): void => {
    conn.opened = true;
    if (conn.phase !== 'dial') return;
    conn.phase = 'challenge';
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      failHandshake(
        conn,
        new GatewayClientError(
          'CHALLENGE_TIMEOUT',
          `no connect.challenge within ${challengeTimeoutMs} ms of opening the socket`,
        ),
      );
    }, challengeTimeoutMs);
  };

  const onMessage = (conn: Conn, data: WebSocket.RawData, isBinary: boolean): void => {
    const phase = conn.phase;
    if (phase === 'done' || conn.closing !== undefined) return;
    counters.framesReceived++;
    conn.lastFrameAt = Date.now();
    if (isBinary) {
      if (phase === 'challenge') {
        failHandshake(conn, challengeInvalid('a binary frame'));
        return;
      }
      reportMalformed('binary frame');
      return;
    }
    const parsed = parseFrame(rawToString(data));
    if (phase === 'live') {
      dispatchLive(conn, parsed);
    } else if (phase === 'challenge') {
      onChallengeFrame(conn, parsed);
    } else if (phase === 'hello') {
      onHelloPhaseFrame(conn, parsed);
    }
  };

  const dispatchLive = (conn: Conn, parsed: ParseFrameResult): void => {
    if (!parsed.success) {
      reportMalformed(parsed.reason);
      return;
    }
    switch (parsed.kind) {
      case 'event':
        dispatchEvent(conn, parsed.frame);
        return;
      case 'res':
        settleResponse(parsed.frame);
        return;
      default:
        reportMalformed(
          `unexpected ${parsed.kind === 'req' ? 'req' : `"${parsed.frame.type}"`} frame from the server`,
        );
    }
  };

  const onChallengeFrame = (conn: Conn, parsed: ParseFrameResult): void => {
    if (!parsed.success) {
      failHandshake(conn, challengeInvalid(`a malformed frame (${parsed.reason})`));
      return;
    }
    if (parsed.kind !== 'event') {
      const type = parsed.kind === 'unknown' ? parsed.frame.type : parsed.kind;
      failHandshake(conn, challengeInvalid(`a "${type}" frame`));
      return;
    }
    const challenge = parseConnectChallenge(parsed.frame);
    if (!challenge.success) {
      const what =
        parsed.frame.event === 'connect.challenge' ? challenge.reason : `event "${parsed.frame.event}"`;
      failHandshake(conn, challengeInvalid(what));
      return;
    }
    clearConnTimer(conn);
    sendConnect(conn, challenge.output.nonce);
  };

  const sendConnect = (conn: Conn, nonce: string): void => {
    const token = currentToken();
    const params = buildSignedConnectParams({
      device: conn.device,
      token,
      nonce,
      clientVersion,
      caps,
      protocolRange,
      nowMs: Date.now(),
    });
    const id = randomUUID();
    conn.connectId = id;
    conn.phase = 'hello';
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      failHandshake(
        conn,
        new GatewayClientError('HELLO_TIMEOUT', `no connect response within ${helloTimeoutMs} ms`),
      );
    }, helloTimeoutMs);
    logger.debug('sending connect', {
      attempt: conn.attempt,
      deviceId: conn.device.deviceId,
      protocolRange: `${protocolRange[0]}-${protocolRange[1]}`,
      token: describeToken(token),
    });
    conn.ws.send(serializeRequest({ type: 'req', id, method: 'connect', params }), (error) => {
      if (error)
        failHandshake(
          conn,
          new GatewayClientError('SOCKET_ERROR', `cannot send connect: ${error.message}`, { cause: error }),
        );
    });
  };

  const onHelloPhaseFrame = (conn: Conn, parsed: ParseFrameResult): void => {
    if (!parsed.success) {
      reportMalformed(parsed.reason);
      return;
    }
    if (parsed.kind === 'event') {
      if (parsed.frame.event === 'connect.challenge') return;
      if (conn.buffer.length >= handshakeBufferLimit) {
        failHandshake(
          conn,
          new GatewayClientError(
            'BUFFER_OVERFLOW',
            `more than ${handshakeBufferLimit} events arrived before hello-ok`,
          ),
          CLOSE_CODES.POLICY_VIOLATION,
          'handshake buffer overflow',
        );
        return;
      }
      conn.buffer.push(parsed.frame);
      return;
    }
    if (parsed.kind === 'res') {
      if (parsed.frame.id === conn.connectId) onConnectResponse(conn, parsed.frame);
      else settleResponse(parsed.frame);
      return;
    }
    reportMalformed(
      `unexpected ${parsed.kind === 'req' ? 'req' : `"${parsed.frame.type}"`} frame from the server`,
    );
  };

  const onConnectResponse = (conn: Conn, frame: ResponseFrame): void => {
    clearConnTimer(conn);
    if (!frame.ok) {
      const shape: ErrorShape = frame.error ?? {
        code: 'UNKNOWN',
        message: 'connect failed without an error',
      };
      conn.rejection = createConnectRejectedError(shape, { protocolRange });
      conn.buffer = [];
      if (conn.rejection.detailCode === CONNECT_DETAIL_CODES.DEVICE_AUTH_SIGNATURE_EXPIRED) {
        logger.warn(
          'the gateway says our device signature expired: check the clock on this host (±2 min allowed)',
        );
      }
      // The server closes right after the rejection; wait briefly so the error carries the close code.
      conn.timer = setTimeout(() => {
        conn.timer = undefined;
        failHandshake(conn, conn.rejection as GatewayClientError);
      }, REJECTION_CLOSE_GRACE_MS);
      return;
    }
    const parsedHello = parseHelloOk(frame.payload);
    if (!parsedHello.success) {
      failHandshake(
        conn,
        new GatewayClientError('HELLO_INVALID', `invalid hello-ok: ${parsedHello.reason}`),
        CLOSE_CODES.PROTOCOL_ERROR,
        'invalid hello-ok',
      );
      return;
    }
    const hello = withoutDeviceToken(parsedHello.output);
    if (hello.protocol < protocolRange[0] || hello.protocol > protocolRange[1]) {
      failHandshake(
        conn,
        new GatewayClientError(
          'PROTOCOL_UNSUPPORTED',
          `the gateway answered protocol ${hello.protocol}, we support ${protocolRange[0]}–${protocolRange[1]}`,
        ),
        CLOSE_CODES.PROTOCOL_ERROR,
        'protocol unsupported',
      );
      return;
    }
    goLive(conn, hello);
  };

  const goLive = (conn: Conn, hello: HelloOk): void => {
    conn.phase = 'live';
    conn.hello = hello;
    conn.maxPayload = hello.policy.maxPayload;
    conn.lastSeq = undefined;
    state = 'connected';
    failures = 0;
    const attempt = conn.attempt;
    seriesAttempt = 0;
    lastFailureKey = undefined;
    tokenRepair.reset();
    counters.connects++;
    connectedAt = Date.now();
    logger.info('connected to the gateway', {
      url,
      protocol: hello.protocol,
      serverVersion: hello.server?.version,
      connId: hello.server?.connId,
      deviceId: conn.device.deviceId,
    });
    checkHelloFeatures(hello);
    armWatchdog(conn, 2 * hello.policy.tickIntervalMs);
    const settle = conn.settle;
    conn.settle = undefined;
    emitter.emit('connected', { hello, protocol: hello.protocol, attempt });
    // The flush is synchronous with the switch to live mode: no live frame can overtake a buffered one.
    const buffered = conn.buffer;
    conn.buffer = [];
    for (let i = 0; i < buffered.length && conn.phase === 'live' && conn.closing === undefined; i++) {
      dispatchEvent(conn, buffered[i] as EventFrame);
    }
    settle?.(undefined, hello);
    if (bootstrapEnabled && conn.phase === 'live') runBootstrap(conn);
  };

  const checkHelloFeatures = (hello: HelloOk): void => {
    const events = hello.features?.events;
    if (events !== undefined) {
      const known = new Set(events);
      const missing = ADVERTISED_EVENTS.filter((name) => !known.has(name));
      if (missing.length > 0) {
        logger.warn(`the gateway does not advertise events we consume: ${missing.join(', ')}`);
      }
    }
    const scopes = hello.auth?.scopes;
    if (scopes !== undefined) {
      const lacking = ['operator.approvals', 'operator.admin'].filter((s) => !scopes.includes(s));
      if (lacking.length > 0) {
        logger.warn(
          `the gateway granted no ${lacking.join(' / ')} scope: approvals and admin helpers will fail`,
          {
            scopes,
          },
        );
      }
    }
  };

  const runBootstrap = (conn: Conn): void => {
    helpers.subscribeSessions({ timeoutMs: 5_000 }).then(
      () => logger.debug('subscribed to session events'),
      (error: unknown) => {
        counters.bootstrapFailures++;
        const wrapped =
          error instanceof GatewayClientError
            ? error
            : new GatewayClientError('REQUEST_FAILED', errorMessage(error), { cause: error });
        if (conn.phase !== 'live') return;
        logger.warn(`post-connect sessions.subscribe failed: ${wrapped.message}`);
        emitter.emit('error', { error: wrapped });
      },
    );
  };

  // --- live dispatch ---

  const dispatchEvent = (conn: Conn, frame: EventFrame): void => {
    const name = frame.event;
    if (name === 'connect.challenge') return;
    counters.eventsReceived++;
    const seq = frame.seq;
    if (seq !== undefined) trackSeq(conn, seq, name);
    if (name === 'shutdown') onShutdown(frame.payload);
    if (emitter.has('event')) emitter.emit('event', { name, payload: frame.payload, seq, frame });
  };

  const trackSeq = (conn: Conn, seq: number, name: string): void => {
    const last = conn.lastSeq;
    conn.lastSeq = seq;
    if (last === undefined || seq === last + 1) return;
    if (seq > last + 1) {
      const expected = last + 1;
      const missed = seq - expected;
      counters.seqGaps++;
      logger.warn(`sequence gap: expected ${expected}, got ${seq} (event ${name})`, { missed });
      emitter.emit('gap', { expected, received: seq, missed, event: name });
      return;
    }
    logger.debug(`sequence went back: last ${last}, got ${seq} (event ${name}); baseline reset`);
  };

  const onShutdown = (payload: unknown): void => {
    const record = isRecord(payload) ? payload : {};
    const reason = typeof record.reason === 'string' ? record.reason : undefined;
    const restartExpectedMs =
      typeof record.restartExpectedMs === 'number' && record.restartExpectedMs >= 0
        ? record.restartExpectedMs
        : undefined;
    shutdownHintMs = restartExpectedMs;
    logger.info('the gateway is shutting down', { reason, restartExpectedMs });
    emitter.emit('shutdown', restartExpectedMs === undefined ? { reason } : { reason, restartExpectedMs });
  };

  const reportMalformed = (reason: string): void => {
    counters.malformedFrames++;
    logger.warn(`ignored a malformed frame: ${reason}`);
    emitter.emit('error', { error: new GatewayClientError('MALFORMED_FRAME', `malformed frame: ${reason}`) });
  };

  // --- watchdog ---

  const armWatchdog = (conn: Conn, delayMs: number): void => {
    conn.timer = setTimeout(checkWatchdog, delayMs, conn);
  };

  const checkWatchdog = (conn: Conn): void => {
    conn.timer = undefined;
    if (conn.phase !== 'live' || conn.closing !== undefined || conn.hello === undefined) return;
    const limit = 2 * conn.hello.policy.tickIntervalMs;
    const idle = Date.now() - conn.lastFrameAt;
    if (idle < limit) {
      armWatchdog(conn, limit - idle);
      return;
    }
    const error = new GatewayClientError(
      'TICK_TIMEOUT',
      `no frame from the gateway for ${idle} ms (limit ${limit} ms)`,
      {
        closeCode: CLOSE_CODES.TICK_TIMEOUT,
        closeReason: 'tick timeout',
      },
    );
    logger.warn(error.message);
    closeConn(conn, CLOSE_CODES.TICK_TIMEOUT, 'tick timeout', error);
  };

  // --- requests ---

  const request = <T = unknown>(
    method: string,
    params?: unknown,
    callOptions: RequestOptions = {},
  ): Promise<T> => {
    const signal = callOptions.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new GatewayClientError('ABORTED', `${method}: aborted before sending`, {
          method,
          cause: signal.reason,
        }),
      );
    }
    const conn = current;
    if (conn === undefined || conn.phase !== 'live' || conn.closing !== undefined) {
      return Promise.reject(
        new GatewayClientError('NOT_CONNECTED', `${method}: not connected to the gateway (state ${state})`, {
          method,
        }),
      );
    }
    const id = randomUUID();
    let text: string;
    try {
      text = serializeRequest({ type: 'req', id, method, params });
    } catch (error) {
      return Promise.reject(
        new GatewayClientError(
          'INVALID_ARGUMENT',
          `${method}: params cannot be serialised: ${errorMessage(error)}`,
          {
            method,
            cause: error,
          },
        ),
      );
    }
    // A UTF-8 string is at most 3 bytes per UTF-16 unit, so short frames skip the byte count.
    if (text.length * 3 > conn.maxPayload) {
      const bytes = Buffer.byteLength(text);
      if (bytes > conn.maxPayload) {
        return Promise.reject(
          new GatewayClientError(
            'PAYLOAD_TOO_LARGE',
            `${method}: the request is ${bytes} bytes, over the gateway's maxPayload of ${conn.maxPayload}`,
            { method },
          ),
        );
      }
    }
    return new Promise<T>((resolve, reject) => {
      const entry = new Pending(id, method, resolve as (value: unknown) => void, reject, signal);
      pending.set(id, entry);
      entry.timer = setTimeout(onRequestTimeout, callOptions.timeoutMs ?? requestTimeoutMs, entry);
      if (signal !== undefined) {
        entry.onAbort = () => {
          if (!removePending(entry)) return;
          entry.reject(
            new GatewayClientError('ABORTED', `${method}: aborted`, { method, cause: signal.reason }),
          );
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      counters.requestsSent++;
      conn.ws.send(text, (error) => {
        if (error === undefined || error === null || !removePending(entry)) return;
        entry.reject(
          new GatewayClientError('SOCKET_ERROR', `${method}: send failed: ${error.message}`, {
            method,
            cause: error,
          }),
        );
      });
    });
  };

  const onRequestTimeout = (entry: Pending): void => {
    entry.timer = undefined;
    if (!removePending(entry)) return;
    counters.requestTimeouts++;
    entry.reject(
      new GatewayClientError('TIMEOUT', `${entry.method}: no response in time`, { method: entry.method }),
    );
  };

  const removePending = (entry: Pending): boolean => {
    if (pending.get(entry.id) !== entry) return false;
    pending.delete(entry.id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort);
    return true;
  };

  const settleResponse = (frame: ResponseFrame): void => {
    const entry = pending.get(frame.id);
    if (entry === undefined) {
      counters.orphanResponses++;
      logger.debug('response for an unknown or finished request', { id: frame.id, ok: frame.ok });
      return;
    }
    removePending(entry);
    counters.responsesReceived++;
    if (frame.ok) {
      entry.resolve(frame.payload);
      return;
    }
    const error = frame.error ?? { code: 'UNKNOWN', message: 'request failed without an error' };
    entry.reject(
      new GatewayClientError('REQUEST_FAILED', `${entry.method}: ${error.message} (${error.code})`, {
        method: entry.method,
        serverError: error,
        detailCode: getDetailCode(error),
        retryAfterMs: typeof error.retryAfterMs === 'number' ? error.retryAfterMs : undefined,
      }),
    );
  };

  const rejectAllPending = (make: (entry: Pending) => GatewayClientError): void => {
    if (pending.size === 0) return;
    const entries = [...pending.values()];
    for (const entry of entries) {
      removePending(entry);
      entry.reject(make(entry));
    }
  };

  // --- socket teardown ---

  const clearConnTimer = (conn: Conn): void => {
    if (conn.timer !== undefined) {
      clearTimeout(conn.timer);
      conn.timer = undefined;
    }
  };

  /** Fails the handshake of `conn` (if still running) and closes its socket. */
  const failHandshake = (conn: Conn, error: GatewayClientError, code = 1000, reason = ''): void => {
    if (conn.settle === undefined) return;
    clearConnTimer(conn);
    conn.buffer = [];
    conn.failure ??= error;
    conn.settle(error);
    closeConn(conn, code, reason || handshakeCloseReason(error), undefined);
  };

  /** Closes the socket of `conn` from our side; it is forcibly destroyed if the close handshake stalls. */
  const closeConn = (
    conn: Conn,
    code: number,
    reason: string,
    failure: GatewayClientError | undefined,
  ): void => {
    if (conn.phase === 'done') return;
    if (failure !== undefined) conn.failure ??= failure;
    if (conn.closing !== undefined) return;
    conn.closing = { code, reason };
    clearConnTimer(conn);
    const ws = conn.ws;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    conn.killTimer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  };

  const onSocketError = (conn: Conn, error: Error): void => {
    const code = (error as Error & { code?: string }).code;
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      counters.oversizeFrames++;
      const tooLarge = new GatewayClientError(
        'FRAME_TOO_LARGE',
        `the gateway sent a frame over maxInboundBytes (${wsOptions.maxPayload} bytes)`,
        { cause: error, closeCode: CLOSE_CODES.MESSAGE_TOO_BIG },
      );
      conn.failure ??= tooLarge;
      logger.warn(tooLarge.message);
      emitter.emit('error', { error: tooLarge });
      // ws has already sent its 1009 close frame and stopped reading; record the code as ours.
      if (conn.settle !== undefined)
        failHandshake(conn, tooLarge, CLOSE_CODES.MESSAGE_TOO_BIG, 'frame too large');
      else closeConn(conn, CLOSE_CODES.MESSAGE_TOO_BIG, 'frame too large', tooLarge);
      return;
    }
    const socketError = new GatewayClientError('SOCKET_ERROR', `gateway socket error: ${error.message}`, {
      cause: error,
    });
    conn.failure ??= socketError;
    if (conn.settle !== undefined) {
      conn.settle(socketError);
      return;
    }
    logger.debug('gateway socket error', { error: error.message });
  };

  const onSocketClose = (conn: Conn, rawCode: number, rawReason: string): void => {
    if (conn.phase === 'done') return;
    const wasLive = conn.phase === 'live';
    conn.phase = 'done';
    clearConnTimer(conn);
    if (conn.killTimer !== undefined) clearTimeout(conn.killTimer);
    sockets.delete(conn);
    if (current === conn) current = undefined;
    const code = conn.closing?.code ?? rawCode;
    const reason = conn.closing?.reason ?? rawReason;
    lastCloseCode = code;
    lastCloseReason = reason;

    let lostError: GatewayClientError | undefined;
    if (conn.settle !== undefined) {
      const failure =
        conn.rejection !== undefined
          ? createConnectRejectedError(conn.rejection.serverError as ErrorShape, {
              protocolRange,
              closeCode: rawCode,
              closeReason: rawReason,
            })
          : (conn.failure ??
            new GatewayClientError(
              'HANDSHAKE_CLOSED',
              `the gateway closed the connection during the handshake (${describeClose(rawCode, rawReason)})`,
              {
                closeCode: rawCode,
                closeReason: rawReason,
              },
            ));
      conn.failure = failure;
      conn.settle(failure);
    } else if (wasLive) {
      counters.disconnects++;
      connectedAt = undefined;
      lostError =
        conn.failure ??
        new GatewayClientError('NOT_CONNECTED', `connection lost: ${describeClose(code, reason)}`, {
          closeCode: code,
          closeReason: reason,
        });
      const cause = { code, reason };
      rejectAllPending(
        (entry) =>
          new GatewayClientError(
            'NOT_CONNECTED',
            `${entry.method}: connection lost (${describeClose(code, reason)})`,
            {
              method: entry.method,
              cause,
              closeCode: code,
              closeReason: reason,
            },
          ),
      );
      if (state === 'connected') state = running ? 'reconnecting' : 'idle';
      if (state === 'closed') logger.debug(`connection closed: ${describeClose(code, reason)}`);
      else {
        logger.warn(`connection to the gateway lost: ${describeClose(code, reason)}`);
        // The reconnect loop reports this same failure next; it was just logged, so it goes to debug.
        lastFailureKey = failureKey(lostError);
      }
    }
    if (conn.opened) {
      emitter.emit('disconnected', { code, reason, error: conn.failure, wasConnected: wasLive });
    }
    for (const callback of conn.onClosed) callback();
    if (wasLive && lostError !== undefined && running && state !== 'closed') {
      lastError = lostError.message;
      void afterFailure(lostError, code === CLOSE_CODES.AUTH_CHANGED);
    }
  };

  // --- reconnect loop ---

  /** Starts one attempt; a failure feeds the loop when it runs, and returns the client to idle otherwise. */
  const beginAttempt = (signal: AbortSignal | undefined): Promise<HelloOk> => {
    state = 'connecting';
    const attemptPromise = attemptOnce(signal);
    attemptInFlight = attemptPromise;
    attemptPromise.then(
      () => {
        if (attemptInFlight === attemptPromise) attemptInFlight = undefined;
      },
      (error: unknown) => {
        if (attemptInFlight === attemptPromise) attemptInFlight = undefined;
        if (state === 'closed') return;
        const failure = toClientError(error);
        lastError = failure.message;
        if (running) {
          void afterFailure(failure, false);
          return;
        }
        seriesAttempt = 0;
        state = 'idle';
      },
    );
    return attemptPromise;
  };

  const runAttempt = (): void => {
    if (!running || state === 'closed' || attemptInFlight !== undefined) return;
    void beginAttempt(undefined);
  };

  const afterFailure = async (error: GatewayClientError, authChanged: boolean): Promise<void> => {
    reportFailure(error);
    // A pairing-upgrade is never repaired: its message already asks the operator to approve the requestId.
    if (authChanged || needsAuthRepair(error)) await repairAuth();
    if (!running || state === 'closed') return;
    scheduleReconnect(error);
  };

  const scheduleReconnect = (error: GatewayClientError): void => {
    let delayMs = computeBackoffDelay(failures, reconnect, random);
    failures++;
    const hint = Math.max(error.retryAfterMs ?? 0, shutdownHintMs ?? 0);
    shutdownHintMs = undefined;
    if (hint > 0) delayMs = Math.max(delayMs, Math.min(hint, reconnect.maxDelayMs));
    state = 'reconnecting';
    emitter.emit('reconnecting', { attempt: seriesAttempt + 1, delayMs, lastError: error });
    if (!running) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      runAttempt();
    }, delayMs);
  };

  const reportFailure = (error: GatewayClientError): void => {
    const key = failureKey(error);
    if (key === lastFailureKey) {
      logger.debug(`gateway connection attempt failed again: ${error.message}`);
      return;
    }
    lastFailureKey = key;
    logger.warn(`gateway connection failed: ${error.message}`, {
      code: error.code,
      detailCode: error.detailCode,
      rejection: error.rejection,
      requestId: error.requestId,
    });
  };

  const repairAuth = async (): Promise<void> => {
    const fresh = await tokenRepair.read(currentToken());
    if (fresh === undefined) return;
    refreshedToken = fresh.token;
    counters.tokenRefreshes++;
    emitter.emit('token-refreshed', { source: fresh.source });
  };

  // --- public surface ---

  const noteMethod = (method: string): void => {
    const conn = current;
    const methods = conn?.hello?.features?.methods;
    if (conn === undefined || methods === undefined) return;
    conn.methodSet ??= new Set(methods);
    if (conn.methodSet.has(method)) return;
    conn.warnedMethods ??= new Set();
    if (conn.warnedMethods.has(method)) return;
    conn.warnedMethods.add(method);
    logger.warn(`the gateway does not advertise method ${method}; calling it anyway`);
  };

  const helpers = createHelpers({ request, noteMethod });

  const connect = (connectOptions: { signal?: AbortSignal } = {}): Promise<HelloOk> => {
    if (state === 'closed') return Promise.reject(new GatewayClientError('CLOSED', 'client closed'));
    const live = current;
    if (state === 'connected' && live?.hello !== undefined) return Promise.resolve(live.hello);
    if (running) return waitForConnected(connectOptions.signal);
    if (attemptInFlight !== undefined) return attemptInFlight;
    return beginAttempt(connectOptions.signal);
  };

  const waitForConnected = (signal: AbortSignal | undefined): Promise<HelloOk> =>
    new Promise<HelloOk>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new GatewayClientError('ABORTED', 'connect aborted', { cause: signal.reason }));
        return;
      }
      const cleanup = (): void => {
        offConnected();
        offClosed();
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        reject(new GatewayClientError('ABORTED', 'connect aborted', { cause: signal?.reason }));
      };
      const offConnected = emitter.on('connected', ({ hello }) => {
        cleanup();
        resolve(hello);
      });
      const offClosed = onClientClosed(() => {
        cleanup();
        reject(new GatewayClientError('CLOSED', 'client closed'));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });

  const closedListeners = new Set<() => void>();
  const onClientClosed = (callback: () => void): (() => void) => {
    closedListeners.add(callback);
    return () => closedListeners.delete(callback);
  };

  const start = (): void => {
    if (state === 'closed') throw new GatewayClientError('CLOSED', 'client closed');
    if (running) return;
    running = true;
    if (state === 'connected' || attemptInFlight !== undefined) return;
    runAttempt();
  };

  let closePromise: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closePromise !== undefined) return closePromise;
    state = 'closed';
    running = false;
    if (reconnectTimer !== undefined) {
      clearTimeout(reconnectTimer);
      reconnectTimer = undefined;
    }
    options.signal?.removeEventListener('abort', onSignalAbort);
    rejectAllPending(
      (entry) => new GatewayClientError('CLOSED', `${entry.method}: client closed`, { method: entry.method }),
    );
    for (const callback of [...closedListeners]) callback();
    closedListeners.clear();
    const waits: Promise<void>[] = [];
    for (const conn of sockets) {
      waits.push(new Promise<void>((resolve) => conn.onClosed.push(resolve)));
      if (conn.settle !== undefined) {
        clearConnTimer(conn);
        conn.buffer = [];
        conn.failure ??= new GatewayClientError('CLOSED', 'client closed during the handshake');
        conn.settle(conn.failure);
      }
      closeConn(conn, CLOSE_CODES.NORMAL, 'client closing', undefined);
    }
    closePromise = Promise.all(waits).then(() => {
      connectedAt = undefined;
      logger.debug('gateway client closed');
    });
    return closePromise;
  };

  const onSignalAbort = (): void => {
    void close();
  };
  if (options.signal !== undefined) {
    if (options.signal.aborted) void close();
    else options.signal.addEventListener('abort', onSignalAbort, { once: true });
  }

  return {
    ...helpers,
    connect,
    start,
    close,
    request,
    on: (name, listener) => emitter.on(name, listener),
    get state() {
      return state;
    },
    get hello() {
      const conn = current;
      return conn !== undefined && conn.phase === 'live' ? conn.hello : undefined;
    },
    get deviceId() {
      return identity?.deviceId;
    },
    get stats(): ClientStats {
      const hello = current?.phase === 'live' ? current.hello : undefined;
      return {
        ...counters,
        pendingRequests: pending.size,
        protocol: hello?.protocol,
        serverVersion: hello?.server?.version,
        connId: hello?.server?.connId,
        scopes: hello?.auth?.scopes === undefined ? undefined : [...hello.auth.scopes],
        connectedAt,
        lastError,
        lastCloseCode,
        lastCloseReason,
      };
    },
  };
}

// --- internal ---

const CLIENT_VERSION = '0.1.0';
const REJECTION_CLOSE_GRACE_MS = 1_000;
const CLOSE_GRACE_MS = 1_000;

/** Drops `auth.deviceToken`: we authenticate with the shared token and never keep or expose another secret. */
function withoutDeviceToken(hello: HelloOk): HelloOk {
  if (hello.auth === undefined || !('deviceToken' in hello.auth)) return hello;
  const { deviceToken: _dropped, ...auth } = hello.auth;
  return { ...hello, auth };
}

/** Identifies a failure cause, so the same one is logged once. */
function failureKey(error: GatewayClientError): string {
  return `${error.code}|${error.detailCode ?? ''}|${error.message}`;
}
