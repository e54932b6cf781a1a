import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Logger, silentLogger } from '@defenseclaw/protocol';
import { GatewayClientError } from './errors.ts';

/** An Ed25519 device identity as OpenClaw sees it (spec 10 §2.3). */
export type DeviceIdentity = {
  /** Lowercase hex SHA-256 of the raw 32-byte public key (64 chars). */
  readonly deviceId: string;
  /** The raw 32-byte public key, base64url without padding (43 chars). */
  readonly publicKey: string;
  /** The private key; never logged. */
  readonly privateKey: KeyObject;
  /** Signs the UTF-8 bytes of `payload` and returns the signature as base64url without padding. */
  sign(payload: string): string;
};

/** Options of `loadOrCreateDeviceIdentity`. */
export type LoadDeviceIdentityOptions = {
  /**
   * Receives the warnings (loose permissions) and the created/loaded notice with the device id.
   * @default silentLogger
   */
  logger?: Logger;
};

const PEM_LABEL = 'ED25519 PRIVATE KEY';
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SEED_BYTES = 32;

/**
 * Builds a device identity from a raw 32-byte Ed25519 seed.
 *
 * @example
 * const identity = deviceIdentityFromSeed(new Uint8Array(32));
 * identity.sign('v3|…');
 */
export function deviceIdentityFromSeed(seed: Uint8Array): DeviceIdentity {
  if (seed.length !== SEED_BYTES) {
    throw new GatewayClientError(
      'INVALID_ARGUMENT',
      `invalid seed length ${seed.length} (expected ${SEED_BYTES})`,
    );
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const rawPublicKey = spki.subarray(spki.length - SEED_BYTES);
  const deviceId = createHash('sha256').update(rawPublicKey).digest('hex');
  return Object.freeze({
    deviceId,
    publicKey: rawPublicKey.toString('base64url'),
    privateKey,
    sign: (payload: string) => signDevicePayload(privateKey, payload),
  });
}

/** Signs the UTF-8 bytes of a device-auth payload with Ed25519 and returns base64url without padding. */
export function signDevicePayload(privateKey: KeyObject, payload: string): string {
  return sign(null, Buffer.from(payload, 'utf8'), privateKey).toString('base64url');
}

/**
 * Loads the device key file, or creates it (dir 0700, file 0600, exclusive create) when it is missing.
 * A corrupt file is an error and is never overwritten; a group/world-readable file is tightened to 0600.
 *
 * @example
 * const identity = await loadOrCreateDeviceIdentity(join(homedir(), '.defenseclaw', 'device.key'), { logger });
 */
export async function loadOrCreateDeviceIdentity(
  path: string,
  options: LoadDeviceIdentityOptions = {},
): Promise<DeviceIdentity> {
  const logger = options.logger ?? silentLogger;
  const existing = await readKeyFile(path);
  if (existing !== undefined) return loadExisting(path, existing, logger);

  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw ioError(`cannot create the directory of device key file ${path}`, error);
  }
  const seed = randomBytes(SEED_BYTES);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (error) {
    if (errnoCode(error) === 'EEXIST') return loadRaceWinner(path, logger);
    throw ioError(`cannot create device key file ${path}`, error);
  }
  try {
    await handle.writeFile(encodeDeviceKeyPem(seed));
    await handle.sync();
  } catch (error) {
    throw ioError(`cannot write device key file ${path}`, error);
  } finally {
    await handle.close();
  }
  const identity = deviceIdentityFromSeed(seed);
  seed.fill(0);
  logger.info('device key created', { path, deviceId: identity.deviceId });
  return identity;
}

// --- internal ---

/** Encodes a 32-byte seed as the PEM text DefenseClaw (Go and TS) stores. */
export function encodeDeviceKeyPem(seed: Uint8Array): string {
  return `-----BEGIN ${PEM_LABEL}-----\n${Buffer.from(seed).toString('base64')}\n-----END ${PEM_LABEL}-----\n`;
}

/** Decodes the PEM text of a device key file into its 32-byte seed, or explains why it cannot. */
export function decodeDeviceKeyPem(
  text: string,
): { success: true; seed: Buffer } | { success: false; reason: 'pem' | 'length'; length?: number } {
  const begin = `-----BEGIN ${PEM_LABEL}-----`;
  const end = `-----END ${PEM_LABEL}-----`;
  const start = text.indexOf(begin);
  const stop = text.indexOf(end, start + begin.length);
  if (start === -1 || stop === -1) return { success: false, reason: 'pem' };
  const body = text.slice(start + begin.length, stop).replace(/\s+/g, '');
  // Go's pem.Decode refuses bodies that are not base64 as well; headers are not used for this label.
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    return { success: false, reason: 'pem' };
  }
  const seed = Buffer.from(body, 'base64');
  if (seed.length !== SEED_BYTES) return { success: false, reason: 'length', length: seed.length };
  return { success: true, seed };
}

async function readKeyFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw ioError(`cannot read device key file ${path}`, error);
  }
}

async function loadExisting(path: string, text: string, logger: Logger): Promise<DeviceIdentity> {
  const decoded = decodeDeviceKeyPem(text);
  if (!decoded.success) {
    const message =
      decoded.reason === 'pem'
        ? `gateway: invalid PEM in device key file ${path}`
        : `gateway: invalid seed length ${decoded.length} (expected ${SEED_BYTES}) in device key file ${path}`;
    throw new GatewayClientError('DEVICE_KEY_INVALID', message);
  }
  await tightenPermissions(path, logger);
  const identity = deviceIdentityFromSeed(decoded.seed);
  decoded.seed.fill(0);
  logger.debug('device key loaded', { path, deviceId: identity.deviceId });
  return identity;
}

/** Loads the file another process created first; waits briefly while the winner is still writing it. */
async function loadRaceWinner(path: string, logger: Logger): Promise<DeviceIdentity> {
  let text = '';
  for (let i = 0; i < 40; i++) {
    text = (await readKeyFile(path)) ?? '';
    if (text.includes(`-----END ${PEM_LABEL}-----`)) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return loadExisting(path, text, logger);
}

async function tightenPermissions(path: string, logger: Logger): Promise<void> {
  if (process.platform === 'win32') return;
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (error) {
    throw ioError(`cannot stat device key file ${path}`, error);
  }
  if ((mode & 0o077) === 0) return;
  logger.warn(`device key file ${path} is readable by group or others; tightening it to 0600`, {
    path,
    mode: (mode & 0o777).toString(8),
  });
  try {
    await chmod(path, 0o600);
  } catch (error) {
    throw ioError(`cannot chmod device key file ${path} to 0600`, error);
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}

function ioError(message: string, cause: unknown): GatewayClientError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new GatewayClientError('DEVICE_KEY_IO', `gateway: ${message}${detail}`, { cause });
}
