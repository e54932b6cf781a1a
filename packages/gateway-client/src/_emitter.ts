// --- internal: a tiny typed listener registry; never re-exported ---

type Listener<T> = (payload: T) => void;

/** A typed listener registry whose emit path allocates nothing and survives throwing listeners. */
export class Emitter<TMap extends Record<string, unknown>> {
  // Copy-on-write arrays: `emit` iterates a stable snapshot without copying.
  readonly #listeners = new Map<keyof TMap, Listener<never>[]>();
  readonly #onListenerError: (name: keyof TMap, error: unknown) => void;

  constructor(onListenerError: (name: keyof TMap, error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener and returns a function that removes it. */
  on<K extends keyof TMap>(name: K, listener: Listener<TMap[K]>): () => void {
    const current = this.#listeners.get(name) ?? [];
    this.#listeners.set(name, [...current, listener as Listener<never>]);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const list = this.#listeners.get(name);
      if (list === undefined) return;
      const index = list.indexOf(listener as Listener<never>);
      if (index === -1) return;
      const next = list.slice();
      next.splice(index, 1);
      if (next.length === 0) this.#listeners.delete(name);
      else this.#listeners.set(name, next);
    };
  }

  /** Tells whether anyone listens for `name` (lets callers skip building payloads). */
  has(name: keyof TMap): boolean {
    return this.#listeners.has(name);
  }

  /** Calls every listener of `name` in registration order; a throwing listener is reported, not fatal. */
  emit<K extends keyof TMap>(name: K, payload: TMap[K]): void {
    const list = this.#listeners.get(name) as Listener<TMap[K]>[] | undefined;
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      try {
        (list[i] as Listener<TMap[K]>)(payload);
      } catch (error) {
        this.#onListenerError(name, error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
