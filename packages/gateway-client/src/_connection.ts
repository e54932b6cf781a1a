// --- internal: per-socket and per-request records of the client; never re-exported ---

import type { EventFrame, HelloOk } from '@defenseclaw/protocol';
import type WebSocket from 'ws';
import { GatewayClientError } from './errors.ts';
import type { DeviceIdentity } from './identity.ts';

/** One socket's state, from dial to close. */
export type Conn = {
  ws: WebSocket;
  /** The attempt number within the current failure series (1 = first try). */
  attempt: number;
  device: DeviceIdentity;
  phase: 'dial' | 'challenge' | 'hello' | 'live' | 'done';
  opened: boolean;
  /** Events received between the challenge and hello-ok. */
  buffer: EventFrame[];
  lastSeq: number | undefined;
  lastFrameAt: number;
  connectId: string | undefined;
  hello: HelloOk | undefined;
  maxPayload: number;
  methodSet: Set<string> | undefined;
  warnedMethods: Set<string> | undefined;
  /** The challenge, hello, rejection-grace or watchdog timer (one at a time). */
  timer: NodeJS.Timeout | undefined;
  /** Destroys the socket when our close handshake stalls. */
  killTimer: NodeJS.Timeout | undefined;
  /** The `connect` rejection, held until the server's close brings its close code. */
  rejection: GatewayClientError | undefined;
  /** Why this socket failed (reported with `disconnected`). */
  failure: GatewayClientError | undefined;
  /** Set when we started closing the socket. */
  closing: { code: number; reason: string } | undefined;
  onClosed: (() => void)[];
  /** Settles the handshake promise; undefined once settled. */
  settle: ((error: GatewayClientError | undefined, hello?: HelloOk) => void) | undefined;
};

/** Creates the record of a socket that is being dialled. */
export function createConn(ws: WebSocket, attempt: number, device: DeviceIdentity): Conn {
  return {
    ws,
    attempt,
    device,
    phase: 'dial',
    opened: false,
    buffer: [],
    lastSeq: undefined,
    lastFrameAt: 0,
    connectId: undefined,
    hello: undefined,
    maxPayload: 0,
    methodSet: undefined,
    warnedMethods: undefined,
    timer: undefined,
    killTimer: undefined,
    rejection: undefined,
    failure: undefined,
    closing: undefined,
    onClosed: [],
    settle: undefined,
  };
}

/** A request waiting for its response. */
export class Pending {
  readonly id: string;
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: GatewayClientError) => void;
  readonly signal: AbortSignal | undefined;
  timer: NodeJS.Timeout | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;

  constructor(
    id: string,
    method: string,
    resolve: (value: unknown) => void,
    reject: (error: GatewayClientError) => void,
    signal: AbortSignal | undefined,
  ) {
    this.id = id;
    this.method = method;
    this.resolve = resolve;
    this.reject = reject;
    this.signal = signal;
  }
}

/** The `CHALLENGE_INVALID` error; its message always names `connect.challenge`. */
export function challengeInvalid(what: string): GatewayClientError {
  return new GatewayClientError(
    'CHALLENGE_INVALID',
    `expected connect.challenge as the first frame, got ${what}`,
  );
}

/** The close reason we send when a handshake fails locally. */
export function handshakeCloseReason(error: GatewayClientError): string {
  switch (error.code) {
    case 'CHALLENGE_TIMEOUT':
    case 'HELLO_TIMEOUT':
      return 'handshake timeout';
    case 'CHALLENGE_INVALID':
      return 'invalid challenge';
    case 'ABORTED':
      return 'aborted';
    default:
      return 'client closing';
  }
}

/** Wraps anything thrown during an attempt as a `GatewayClientError`. */
export function toClientError(error: unknown): GatewayClientError {
  if (error instanceof GatewayClientError) return error;
  return new GatewayClientError('SOCKET_ERROR', errorMessage(error), { cause: error });
}

/** Formats a close code and reason for messages. */
export function describeClose(code: number, reason: string): string {
  return reason === '' ? String(code) : `${code} ${reason}`;
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Tells whether a value is a plain object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Decodes a ws text message. */
export function rawToString(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
