import { randomBytes } from 'node:crypto';
import { ConfigError } from './config-error.ts';
import { writeEnvVar } from './env-file.ts';
import { displayPath } from './paths.ts';

/** The `.env` variable holding the per-install evidence key (spec 20 §1; 30's `evidenceKey`). */
export const EVIDENCE_KEY_ENV = 'DEFENSECLAW_EVIDENCE_KEY';

/** Bytes of a generated evidence key (stored as 64 hex characters). */
export const EVIDENCE_KEY_BYTES = 32;

/** Bytes of a generated API token (stored as 64 hex characters). */
export const API_TOKEN_BYTES = 32;

/** Options of `ensureSidecarSecrets`. */
export type SidecarSecretsOptions = {
  /** The absolute path of `<data dir>/.env`. */
  envFile: string;
  /** The variable holding the REST API token (`gateway.api_token_env`). @default 'DEFENSECLAW_API_TOKEN' */
  apiTokenEnv?: string;
  /** The environment, already merged with `.env`; generated values are set in it too. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Random source, for tests. @default crypto.randomBytes */
  random?: (bytes: number) => Buffer;
};

/** The secrets the sidecar runs with. */
export type SidecarSecrets = {
  /** The 32-byte evidence key handed to the policy engine. */
  evidenceKey: Uint8Array;
  /** The REST API token; undefined when none was set and saving a new one failed. */
  apiToken: string | undefined;
  /** Variables generated into `.env` on this run (names only). */
  generated: string[];
  /** Non-fatal problems for the log (never containing a value). */
  warnings: string[];
};

/**
 * Reads the evidence key and API token from the environment, generating each one that is absent into `.env`
 * (temp file + rename, 0600, other lines kept), as the first `run` does on a fresh machine (spec 20 §1, §4.2).
 * A failed write leaves an in-memory evidence key (fingerprints then do not correlate across restarts) and no
 * API token, each with a warning.
 *
 * @throws ConfigError when `DEFENSECLAW_EVIDENCE_KEY` is set but is not 64 hex characters.
 * @example
 * ```ts
 * const { evidenceKey } = ensureSidecarSecrets({ envFile: join(dataDir, '.env') });
 * ```
 */
export function ensureSidecarSecrets(options: SidecarSecretsOptions): SidecarSecrets {
  const env = options.env ?? process.env;
  const random = options.random ?? randomBytes;
  const apiTokenEnv = options.apiTokenEnv ?? 'DEFENSECLAW_API_TOKEN';
  const shown = displayPath(options.envFile);
  const generated: string[] = [];
  const warnings: string[] = [];

  const save = (key: string, value: string): boolean => {
    try {
      writeEnvVar(options.envFile, key, value);
      generated.push(key);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      warnings.push(`cannot save a generated ${key} to ${shown}: ${code}`);
      return false;
    }
  };

  let evidenceKey: Uint8Array;
  const existingKey = nonEmpty(env[EVIDENCE_KEY_ENV]);
  if (existingKey !== undefined) {
    if (!/^[0-9a-fA-F]{64}$/.test(existingKey)) {
      throw new ConfigError(shown, [
        {
          source: EVIDENCE_KEY_ENV,
          message: `must be ${EVIDENCE_KEY_BYTES * 2} hex characters (${EVIDENCE_KEY_BYTES} bytes); remove it to generate a new one`,
        },
      ]);
    }
    evidenceKey = new Uint8Array(Buffer.from(existingKey, 'hex'));
  } else {
    const bytes = random(EVIDENCE_KEY_BYTES);
    evidenceKey = new Uint8Array(bytes);
    const hex = bytes.toString('hex');
    if (save(EVIDENCE_KEY_ENV, hex)) env[EVIDENCE_KEY_ENV] = hex;
    else
      warnings.push('using an in-memory evidence key: finding fingerprints will not match across restarts');
  }

  let apiToken = nonEmpty(env[apiTokenEnv]);
  if (apiToken === undefined) {
    const token = random(API_TOKEN_BYTES).toString('hex');
    if (save(apiTokenEnv, token)) {
      env[apiTokenEnv] = token;
      apiToken = token;
    }
  }
  return { evidenceKey, apiToken, generated, warnings };
}

/** The result of `ensureMasterKey`: the key (undefined when none could be set), whether it was generated now. */
export type MasterKeyResult = { value: string | undefined; generated: boolean; warnings: string[] };

/**
 * Returns the guardrail proxy's master key (`sk-dc-` + 64 hex, spec 30 §B2) from `$<name>`, generating one into
 * `.env` when it is unset, like the API token. A failed write leaves no key: the proxy then answers 401 and its
 * health entry says why.
 */
export function ensureMasterKey(options: {
  envFile: string;
  name: string;
  env?: NodeJS.ProcessEnv;
  random?: (bytes: number) => Buffer;
}): MasterKeyResult {
  const env = options.env ?? process.env;
  const existing = nonEmpty(env[options.name]);
  if (existing !== undefined) return { value: existing, generated: false, warnings: [] };
  const value = `sk-dc-${(options.random ?? randomBytes)(32).toString('hex')}`;
  try {
    writeEnvVar(options.envFile, options.name, value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return {
      value: undefined,
      generated: false,
      warnings: [`cannot save a generated ${options.name} to ${displayPath(options.envFile)}: ${code}`],
    };
  }
  env[options.name] = value;
  return { value, generated: true, warnings: [] };
}

// --- internal ---

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
