import * as v from 'valibot';
import { formatIssues, isRecord } from './_schema.ts';
import { toWirePlatform } from './device-auth.ts';
import { type EventFrame, PROTOCOL_VERSION_MAX, PROTOCOL_VERSION_MIN } from './frames.ts';

/** The `client.id` we connect as; it must be one of OpenClaw's fixed client ids. */
export const CLIENT_ID = 'gateway-client';

/** The `client.mode` we connect with. */
export const CLIENT_MODE = 'backend';

/** The role we connect with. */
export const CLIENT_ROLE = 'operator';

/** The scopes we request, in the order they are sent and signed. */
export const DEFAULT_SCOPES = [
  'operator.read',
  'operator.write',
  'operator.admin',
  'operator.approvals',
] as const;

/** The caps we advertise; `exec-approvals` is what makes OpenClaw route exec approvals to us. */
export const DEFAULT_CAPS = ['tool-events', 'exec-approvals'] as const;

/** The default `policy.tickIntervalMs` when hello-ok has none. */
export const DEFAULT_TICK_INTERVAL_MS = 30_000;

/** The default `policy.maxPayload` (bytes) when hello-ok has none. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 26_214_400;

/** Validates the `connect.challenge` payload (loose; a non-empty `nonce` is required). */
export const ConnectChallengeSchema = v.looseObject({
  nonce: v.pipe(v.string(), v.minLength(1, 'nonce is empty')),
  ts: v.number(),
  capabilities: v.optional(v.array(v.string())),
});

/** The `connect.challenge` payload. */
export type ConnectChallenge = v.InferOutput<typeof ConnectChallengeSchema>;

/** Checks that an event frame is a `connect.challenge` with a usable nonce and returns its payload. */
export function parseConnectChallenge(
  frame: EventFrame,
): { success: true; output: ConnectChallenge } | { success: false; reason: string } {
  if (frame.event !== 'connect.challenge') {
    return { success: false, reason: `expected event connect.challenge, got event ${frame.event}` };
  }
  const result = v.safeParse(ConnectChallengeSchema, frame.payload);
  return result.success
    ? { success: true, output: result.output }
    : { success: false, reason: formatIssues('invalid connect.challenge payload', result.issues) };
}

const stringArray = v.array(v.string());

/** Validates the hello-ok payload (loose); `policy` defaults to 30 s ticks and a 25 MiB max payload. */
export const HelloOkSchema = v.looseObject({
  type: v.literal('hello-ok'),
  protocol: v.pipe(v.number(), v.integer()),
  server: v.optional(v.looseObject({ version: v.optional(v.string()), connId: v.optional(v.string()) })),
  features: v.optional(v.looseObject({ methods: v.optional(stringArray), events: v.optional(stringArray) })),
  auth: v.optional(v.looseObject({ role: v.optional(v.string()), scopes: v.optional(stringArray) })),
  policy: v.optional(
    v.looseObject({
      tickIntervalMs: v.optional(v.pipe(v.number(), v.minValue(1)), DEFAULT_TICK_INTERVAL_MS),
      maxPayload: v.optional(v.pipe(v.number(), v.minValue(1)), DEFAULT_MAX_PAYLOAD_BYTES),
    }),
    {},
  ),
  snapshot: v.optional(
    v.looseObject({
      sessionDefaults: v.optional(v.looseObject({ mainSessionKey: v.optional(v.string()) })),
    }),
  ),
});

/** The hello-ok payload with the fields we read typed and everything else kept. */
export type HelloOk = v.InferOutput<typeof HelloOkSchema>;

/** Validates the `res.payload` of a successful `connect` and applies the policy defaults. */
export function parseHelloOk(
  payload: unknown,
): { success: true; output: HelloOk } | { success: false; reason: string } {
  if (!isRecord(payload)) return { success: false, reason: 'hello-ok payload is not an object' };
  const result = v.safeParse(HelloOkSchema, payload);
  return result.success
    ? { success: true, output: result.output }
    : { success: false, reason: formatIssues('invalid hello-ok', result.issues) };
}

/** The `device` block of the connect params. */
export type ConnectDevice = {
  id: string;
  publicKey: string;
  signature: string;
  signedAt: number;
  nonce: string;
};

/** The exact `connect` params of spec 10 §2.2. */
export type ConnectParams = {
  minProtocol: number;
  maxProtocol: number;
  client: { id: string; version: string; platform: string; mode: string };
  role: string;
  scopes: string[];
  caps: string[];
  auth?: { token: string };
  device: ConnectDevice;
  userAgent: string;
  locale: string;
};

/** Inputs for `buildConnectParams`. */
export type ConnectParamsOptions = {
  /** Our version, sent as `client.version` and in the user agent. */
  clientVersion: string;
  /** The platform; Node's `win32` is mapped to `windows`. Sign the same (mapped) value. */
  platform: string;
  /** The gateway token; `auth` is omitted when it is empty or undefined. */
  token?: string | undefined;
  /** The signed device proof. */
  device: ConnectDevice;
  /** @default DEFAULT_SCOPES */
  scopes?: readonly string[];
  /** @default DEFAULT_CAPS */
  caps?: readonly string[];
  /** @default PROTOCOL_VERSION_MIN (3) */
  minProtocol?: number;
  /** @default PROTOCOL_VERSION_MAX (4) */
  maxProtocol?: number;
  /** @default 'en-US' */
  locale?: string;
};

/**
 * Builds the exact `connect` params (closed on the server), omitting `auth` when there is no token.
 *
 * @example
 * const params = buildConnectParams({ clientVersion: '0.1.0', platform: toWirePlatform(process.platform), token, device });
 */
export function buildConnectParams(options: ConnectParamsOptions): ConnectParams {
  const d = options.device;
  return {
    minProtocol: options.minProtocol ?? PROTOCOL_VERSION_MIN,
    maxProtocol: options.maxProtocol ?? PROTOCOL_VERSION_MAX,
    client: {
      id: CLIENT_ID,
      version: options.clientVersion,
      platform: toWirePlatform(options.platform),
      mode: CLIENT_MODE,
    },
    role: CLIENT_ROLE,
    scopes: [...(options.scopes ?? DEFAULT_SCOPES)],
    caps: [...(options.caps ?? DEFAULT_CAPS)],
    // Never `{token: ""}`: an absent `auth` is what lets auth repair take over.
    ...(options.token ? { auth: { token: options.token } } : {}),
    device: {
      id: d.id,
      publicKey: d.publicKey,
      signature: d.signature,
      signedAt: d.signedAt,
      nonce: d.nonce,
    },
    userAgent: `defenseclaw-gateway/${options.clientVersion}`,
    locale: options.locale ?? 'en-US',
  };
}

const nonEmpty = v.pipe(v.string(), v.minLength(1));

/** Mirrors the closed server-side schema of the §2.2 connect params (no unknown keys anywhere). */
export const ConnectParamsStrictSchema = v.strictObject({
  minProtocol: v.pipe(v.number(), v.integer()),
  maxProtocol: v.pipe(v.number(), v.integer()),
  client: v.strictObject({ id: nonEmpty, version: nonEmpty, platform: nonEmpty, mode: nonEmpty }),
  role: nonEmpty,
  scopes: v.array(nonEmpty),
  caps: v.array(nonEmpty),
  auth: v.optional(v.strictObject({ token: nonEmpty })),
  device: v.strictObject({
    id: nonEmpty,
    publicKey: nonEmpty,
    signature: nonEmpty,
    signedAt: v.pipe(v.number(), v.integer()),
    nonce: nonEmpty,
  }),
  userAgent: nonEmpty,
  locale: nonEmpty,
});
