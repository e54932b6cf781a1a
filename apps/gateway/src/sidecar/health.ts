/** States a subsystem can be in (spec 20 §5.1). */
export const HEALTH_STATES = [
  'starting',
  'running',
  'healthy',
  'reconnecting',
  'error',
  'stopped',
  'disabled',
] as const;

/** One subsystem state. */
export type HealthState = (typeof HEALTH_STATES)[number];

/** The subsystem keys of `GET /health`; keys may be added, never removed. */
export const SUBSYSTEMS = [
  'gateway',
  'watcher',
  'guardrail',
  'api',
  'telemetry',
  'splunk',
  'sandbox',
  'audit',
  'policy',
] as const;

/** A subsystem key. */
export type Subsystem = (typeof SUBSYSTEMS)[number];

/** One entry of the health map as served on the wire. */
export type HealthEntry = {
  state: HealthState;
  /** ISO-8601 time of the last state transition. */
  since: string;
  last_error?: string;
  details?: Record<string, unknown>;
};

/** The full health map, one entry per subsystem. */
export type HealthSnapshot = Record<Subsystem, HealthEntry>;

/** Options of `HealthRegistry.set`. */
export type HealthUpdate = {
  /** Why the subsystem is degraded; kept only in `reconnecting`, `error` and `stopped`. */
  lastError?: string | undefined;
  /** Detail fields merged into the entry's details (`undefined` values delete a field). */
  details?: Record<string, unknown>;
};

/** Holds the state of every subsystem for `GET /health` and `status`. */
export type HealthRegistry = {
  /** Sets a subsystem's state; `since` changes only when the state does. */
  set(key: Subsystem, state: HealthState, update?: HealthUpdate): void;
  /** Merges detail fields without touching state or `since`. */
  patch(key: Subsystem, details: Record<string, unknown>): void;
  /** Returns a copy of one entry. */
  get(key: Subsystem): HealthEntry;
  /** Returns a copy of the whole map, keys in `SUBSYSTEMS` order. */
  snapshot(): HealthSnapshot;
  /** Lists the subsystems in `error` or `stopped` (a disabled one is fine), for `?strict=1`. */
  failing(): Subsystem[];
};

/**
 * Creates a health registry with every subsystem `starting`.
 *
 * @example
 * ```ts
 * const health = createHealthRegistry();
 * health.set('sandbox', 'disabled', { details: { reason: 'not supported in this build' } });
 * ```
 */
export function createHealthRegistry(options: { now?: () => Date } = {}): HealthRegistry {
  const now = options.now ?? (() => new Date());
  const entries = new Map<Subsystem, HealthEntry>();
  const startedAt = now().toISOString();
  for (const key of SUBSYSTEMS) entries.set(key, { state: 'starting', since: startedAt });

  const mergeDetails = (entry: HealthEntry, details: Record<string, unknown>) => {
    const merged: Record<string, unknown> = { ...entry.details };
    for (const [k, value] of Object.entries(details)) {
      if (value === undefined) delete merged[k];
      else merged[k] = value;
    }
    if (Object.keys(merged).length > 0) entry.details = merged;
    else delete entry.details;
  };

  const entry = (key: Subsystem) => {
    const found = entries.get(key);
    if (found === undefined) throw new TypeError(`unknown subsystem ${JSON.stringify(key)}`);
    return found;
  };

  return {
    set(key, state, update = {}) {
      const current = entry(key);
      if (current.state !== state) {
        current.state = state;
        current.since = now().toISOString();
      }
      if (state === 'reconnecting' || state === 'error' || state === 'stopped') {
        if (update.lastError !== undefined) current.last_error = update.lastError;
        else if (state === 'stopped') delete current.last_error;
      } else {
        delete current.last_error;
      }
      if (update.details !== undefined) mergeDetails(current, update.details);
    },
    patch(key, details) {
      mergeDetails(entry(key), details);
    },
    get(key) {
      return ordered(entry(key));
    },
    snapshot() {
      const out = {} as HealthSnapshot;
      for (const key of SUBSYSTEMS) out[key] = ordered(entry(key));
      return out;
    },
    failing() {
      return SUBSYSTEMS.filter((key) => {
        const state = entry(key).state;
        return state === 'error' || state === 'stopped';
      });
    },
  };
}

// --- internal ---

// A deep copy with the wire key order `state, since, last_error, details`.
function ordered(entry: HealthEntry): HealthEntry {
  const out: HealthEntry = { state: entry.state, since: entry.since };
  if (entry.last_error !== undefined) out.last_error = entry.last_error;
  if (entry.details !== undefined) out.details = structuredClone(entry.details);
  return out;
}
