// Test-only access to a store's connection and the SQL its queries ran; never re-exported.
import type Database from 'better-sqlite3';

/** What tests may reach behind a store. */
export type StoreInternals = {
  db: Database.Database;
  /** Every query statement run so far, with the parameters of its last run (for EXPLAIN QUERY PLAN). */
  statements: Map<string, Record<string, unknown>>;
};

const internals = new WeakMap<object, StoreInternals>();

/** Registers a store's internals. */
export function setInternals(store: object, value: StoreInternals): void {
  internals.set(store, value);
}

/** Returns a store's internals; throws for an object that is not a store. */
export function getInternals(store: object): StoreInternals {
  const value = internals.get(store);
  if (value === undefined) throw new Error('not an audit store');
  return value;
}
