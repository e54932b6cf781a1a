import type { Action } from '@defenseclaw/policy';

// Bounded LRU maps with a TTL (spec 30 §B3.3/§B3.4): the seen-cache of scanned prompt messages and the registry of
// issued block references. A Map keeps insertion order, so re-inserting on read makes it an LRU.

/** A size-bounded LRU map whose entries expire after a TTL. */
export type TtlLru<V> = {
  /** Returns a live entry and marks it recently used. */
  get(key: string): V | undefined;
  /** Inserts or replaces an entry, evicting the least recently used beyond capacity. */
  set(key: string, value: V): void;
  /** Removes an entry. */
  delete(key: string): void;
  /** Drops every entry. */
  clear(): void;
  /** The number of entries held (expired ones included until touched). */
  readonly size: number;
};

/** Options of `createTtlLru`. */
export type TtlLruOptions = {
  /** Most entries kept; `0` keeps none. */
  capacity: number;
  /** Lifetime of an entry in milliseconds. */
  ttlMs: number;
  /** The wall clock. @default Date.now */
  now?: () => number;
};

/** Creates a TTL-bounded LRU map. */
export function createTtlLru<V>(options: TtlLruOptions): TtlLru<V> {
  const capacity = Math.max(0, Math.floor(options.capacity));
  const ttlMs = options.ttlMs;
  const now = options.now ?? Date.now;
  const map = new Map<string, { value: V; expiresAt: number }>();
  return {
    get(key) {
      const entry = map.get(key);
      if (!entry) return undefined;
      map.delete(key);
      if (entry.expiresAt <= now()) return undefined;
      map.set(key, entry);
      return entry.value;
    },
    set(key, value) {
      if (capacity === 0) return;
      map.delete(key);
      map.set(key, { value, expiresAt: now() + ttlMs });
      while (map.size > capacity) {
        const oldest = map.keys().next().value as string;
        map.delete(oldest);
      }
    },
    delete(key) {
      map.delete(key);
    },
    clear() {
      map.clear();
    },
    get size() {
      return map.size;
    },
  };
}

/** What the seen-cache remembers about one scanned prompt message (never its text). */
export type SeenEntry = {
  /** The message's own raw action under the generation of the key. */
  rawAction: Action;
  /** Whether a later assistant turn carried the reference of the block it caused. */
  acknowledged: boolean;
};

/** What the proxy remembers about one issued block reference. */
export type BlockRefEntry = {
  /** Generation-independent content hashes of the prompt messages the block covered. */
  covered: ReadonlySet<string>;
  ruleIds: readonly string[];
  issuedAt: number;
};

/** A day, the TTL of both caches. */
export const DAY_MS = 24 * 60 * 60 * 1000;

/** How many block references are remembered. */
export const BLOCK_REF_CAPACITY = 10_000;
