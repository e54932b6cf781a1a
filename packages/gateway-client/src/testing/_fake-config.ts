// The fake gateway's OpenClaw config store: a JSON "file" held in memory, read by `config.get` and written by
// `config.patch` and `skills.update` with the 2026.9.6 rules (JSON5 raw, merge-patch, baseHash, array-shrink).
import { createHmac, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ErrorShape } from '@defenseclaw/protocol';
import JSON5 from 'json5';
import { invalidRequest } from './_fake-errors.ts';

/** The redaction sentinel OpenClaw puts in place of secrets in `config.get` and `config.patch` answers. */
export const REDACTED_SENTINEL = '__OPENCLAW_REDACTED__';

const SECRET_KEYS = new Set(['token', 'password', 'apiKey']);
const BLOCKED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
// ui.prefs leaves are last-writer-wins on 2026.9.6: a hashless patch may touch them.
const HASHLESS_PREFIX = 'ui.prefs';

type Json = Record<string, unknown>;

/** The outcome of a `config.patch` against the store. */
export type ConfigPatchOutcome =
  | { success: true; noop: true; payload: Json }
  | { success: true; noop: false; payload: Json; changedPaths: string[] }
  | { success: false; error: ErrorShape };

/** The params a `config.patch` carries once the closed schema has accepted them. */
export type ConfigPatchInput = {
  raw: string;
  baseHash?: string | undefined;
  replacePaths?: readonly string[] | undefined;
  note?: string | undefined;
  /** Emulates servers older than 2026.9.x: arrays are replaced whole, with no array-shrink check. */
  legacy?: boolean | undefined;
};

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function joinPath(parent: string, key: string): string {
  return parent ? `${parent}.${key}` : key;
}

/** Applies an RFC 7386 merge patch: objects merge, `null` deletes, arrays and scalars replace whole. */
export function applyMergePatch(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Json = isPlainObject(base) ? clone(base) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (BLOCKED_KEYS.has(key)) continue;
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

/** Lists the dotted paths whose values differ, stopping where one side is not an object (OpenClaw's diff). */
export function diffConfigPaths(prev: unknown, next: unknown, prefix = ''): string[] {
  if (prev === next) return [];
  if (isPlainObject(prev) && isPlainObject(next)) {
    const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
    const paths: string[] = [];
    for (const key of keys) {
      if (prev[key] === undefined && next[key] === undefined) continue;
      paths.push(...diffConfigPaths(prev[key], next[key], joinPath(prefix, key)));
    }
    return paths;
  }
  if (Array.isArray(prev) && Array.isArray(next) && isDeepStrictEqual(prev, next)) return [];
  return [prefix || '<root>'];
}

function diffLeafPaths(prev: unknown, next: unknown, prefix = ''): string[] {
  if (isPlainObject(prev) || isPlainObject(next)) {
    const a = isPlainObject(prev) ? prev : {};
    const b = isPlainObject(next) ? next : {};
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    if (keys.length === 0) return isDeepStrictEqual(prev, next) ? [] : [prefix || '<root>'];
    return keys.flatMap((key) => diffLeafPaths(a[key], b[key], joinPath(prefix, key)));
  }
  return diffConfigPaths(prev, next, prefix);
}

function baseArrayPaths(base: unknown, path: string): string[] {
  if (Array.isArray(base)) return [path];
  if (!isPlainObject(base)) return [];
  return Object.entries(base).flatMap(([key, value]) => baseArrayPaths(value, joinPath(path, key)));
}

function preservesEntries(base: unknown[], merged: unknown[]): boolean {
  const remaining = [...merged];
  for (const entry of base) {
    const index = remaining.findIndex((candidate) => isDeepStrictEqual(candidate, entry));
    if (index === -1) return false;
    remaining.splice(index, 1);
  }
  return true;
}

/** Lists the array paths a patch would shrink (entries removed), which need `replacePaths` on 2026.9.6. */
export function destructiveArrayPaths(base: unknown, patch: unknown, merged: unknown, path = ''): string[] {
  if (!isPlainObject(patch) || !isPlainObject(base)) return [];
  const mergedObject = isPlainObject(merged) ? merged : {};
  const paths: string[] = [];
  for (const [key, patchValue] of Object.entries(patch)) {
    if (BLOCKED_KEYS.has(key)) continue;
    const childPath = joinPath(path, key);
    const baseValue = base[key];
    const mergedValue = mergedObject[key];
    if (Array.isArray(baseValue)) {
      if (!Array.isArray(patchValue)) {
        paths.push(childPath);
        continue;
      }
      if (Array.isArray(mergedValue) && !preservesEntries(baseValue, mergedValue)) {
        paths.push(childPath);
        continue;
      }
    } else if (isPlainObject(baseValue) && !isPlainObject(patchValue)) {
      paths.push(...baseArrayPaths(baseValue, childPath));
      continue;
    }
    if (isPlainObject(patchValue))
      paths.push(...destructiveArrayPaths(baseValue, patchValue, mergedValue, childPath));
  }
  return paths;
}

function hasHashlessStructure(patch: Json): boolean {
  let node: unknown = patch;
  for (const segment of HASHLESS_PREFIX.split('.')) {
    if (!isPlainObject(node)) return false;
    if (!Object.hasOwn(node, segment)) return true;
    node = node[segment];
    if (!isPlainObject(node)) return false;
  }
  return true;
}

function isHashlessPath(path: string): boolean {
  return path === HASHLESS_PREFIX || path.startsWith(`${HASHLESS_PREFIX}.`);
}

/** Replaces secret-looking string values (`token`, `password`, `apiKey`) with the redaction sentinel. */
export function redactConfig(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactConfig);
  if (!isPlainObject(value)) return value;
  const out: Json = {};
  for (const [key, child] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key) && typeof child === 'string' ? REDACTED_SENTINEL : redactConfig(child);
  }
  return out;
}

// A patch that echoes the sentinel back keeps the stored secret (OpenClaw's restoreRedactedValues).
function restoreRedacted(merged: unknown, current: unknown): unknown {
  if (merged === REDACTED_SENTINEL && typeof current === 'string') return current;
  if (!isPlainObject(merged)) return merged;
  const currentObject = isPlainObject(current) ? current : {};
  const out: Json = {};
  for (const [key, child] of Object.entries(merged)) out[key] = restoreRedacted(child, currentObject[key]);
  return out;
}

/** Options for `createConfigStore`. */
export type ConfigStoreOptions = {
  /** The initial config object, or `null` for "no config file yet". */
  initial: Json | null;
  /** The path reported as `path` in answers. */
  path: string;
};

/** The in-memory OpenClaw config file of the fake gateway. */
export type ConfigStore = {
  /** Whether the config file exists. */
  readonly exists: boolean;
  /** The reported config path. */
  readonly path: string;
  /** The current (unredacted) config object, cloned. */
  readonly config: Json;
  /** The current file text, or `null` when the file does not exist. */
  readonly raw: string | null;
  /** The current opaque hash (`hmac-sha256:v1:…`), or `undefined` when the file does not exist. */
  readonly hash: string | undefined;
  /** Builds the `config.get` payload. */
  snapshot(): Json;
  /** Runs `config.patch` with the 2026.9.6 rules; writes on success. */
  patch(input: ConfigPatchInput): ConfigPatchOutcome;
  /** Sets one dotted path (creating parents) and writes; used by `skills.update`. */
  setAt(path: readonly string[], value: unknown): void;
  /** Replaces the whole config (tests only) and writes. */
  replace(next: Json | null): void;
};

/** Creates the config store of one fake gateway. */
export function createConfigStore(options: ConfigStoreOptions): ConfigStore {
  const hmacKey = randomBytes(32);
  let current: Json | null = options.initial === null ? null : clone(options.initial);
  let raw: string | null = null;
  let hash: string | undefined;

  const write = (next: Json | null) => {
    current = next;
    raw = next === null ? null : `${JSON.stringify(next, null, 2)}\n`;
    hash =
      raw === null
        ? undefined
        : `hmac-sha256:v1:${createHmac('sha256', hmacKey).update(raw).digest('base64url')}`;
  };
  write(current);

  const redactedRaw = () => (current === null ? null : `${JSON.stringify(redactConfig(current), null, 2)}\n`);

  return {
    get exists() {
      return current !== null;
    },
    get path() {
      return options.path;
    },
    get config() {
      return clone(current ?? {});
    },
    get raw() {
      return raw;
    },
    get hash() {
      return hash;
    },
    snapshot() {
      const redacted = redactConfig(current ?? {});
      const payload: Json = {
        path: options.path,
        includedPaths: [],
        exists: current !== null,
        raw: redactedRaw(),
        parsed: redacted,
        sourceConfig: redacted,
        resolved: redacted,
        valid: true,
        config: redacted,
      };
      if (hash !== undefined) payload.hash = hash;
      payload.issues = [];
      payload.warnings = [];
      payload.legacyIssues = [];
      return payload;
    },
    patch(input) {
      const exists = current !== null;
      const base = current ?? {};
      const baseHash = input.baseHash?.trim() ? input.baseHash.trim() : undefined;
      if (baseHash !== undefined && exists && baseHash !== hash) {
        return {
          success: false,
          error: invalidRequest('config changed since last load; re-run config.get and retry'),
        };
      }
      let parsed: unknown;
      try {
        parsed = JSON5.parse(input.raw);
      } catch (error) {
        return { success: false, error: invalidRequest(String(error)) };
      }
      if (!isPlainObject(parsed)) {
        return { success: false, error: invalidRequest('config.patch raw must be an object') };
      }
      // OpenClaw demands a baseHash once the file exists; without a file there is nothing to race against.
      const hashless = baseHash === undefined && exists;
      if (hashless && !hasHashlessStructure(parsed)) {
        return {
          success: false,
          error: invalidRequest('config base hash required; re-run config.get and retry'),
        };
      }
      const merged = restoreRedacted(applyMergePatch(base, parsed), base) as Json;
      const replacePaths = new Set(input.replacePaths ?? []);
      const unconfirmed = input.legacy
        ? []
        : destructiveArrayPaths(base, parsed, merged).filter((p) => !replacePaths.has(p));
      if (unconfirmed.length > 0) {
        return {
          success: false,
          error: invalidRequest(
            `config.patch would remove entries from array path(s): ${unconfirmed.join(', ')}. ` +
              'Pass replacePaths with the exact path(s) when this is intentional, or use config.apply for full-config replacement.',
          ),
        };
      }
      const leafPaths = diffLeafPaths(base, merged);
      if (hashless && !leafPaths.every(isHashlessPath)) {
        const guarded = leafPaths.filter((p) => !isHashlessPath(p));
        return {
          success: false,
          error: invalidRequest(
            `config base hash required for ${guarded.join(', ')}; re-run config.get and retry with baseHash`,
          ),
        };
      }
      const changedPaths = diffConfigPaths(base, merged);
      if (changedPaths.length === 0) {
        return {
          success: true,
          noop: true,
          payload: { ok: true, noop: true, path: options.path, config: redactConfig(base) as Json },
        };
      }
      write(merged);
      const sentinelPayload: Json = { kind: 'config-patch', status: 'ok', ts: Date.now() };
      if (input.note !== undefined) sentinelPayload.message = input.note;
      sentinelPayload.doctorHint =
        'Recommended follow-up: run openclaw doctor --non-interactive in a terminal or approvals-capable OpenClaw surface.';
      sentinelPayload.stats = { mode: 'config.patch', root: options.path, requiresRestart: false };
      return {
        success: true,
        noop: false,
        changedPaths,
        payload: {
          ok: true,
          path: options.path,
          hash,
          config: redactConfig(merged) as Json,
          changedPaths,
          sentinel: { persisted: true, payload: sentinelPayload },
        },
      };
    },
    setAt(path, value) {
      const next = clone(current ?? {});
      let node: Json = next;
      path.forEach((segment, index) => {
        if (index === path.length - 1) {
          node[segment] = clone(value);
          return;
        }
        const child = node[segment];
        if (!isPlainObject(child)) node[segment] = {};
        node = node[segment] as Json;
      });
      write(next);
    },
    replace(next) {
      write(next === null ? null : clone(next));
    },
  };
}
