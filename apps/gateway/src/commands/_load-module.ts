import { fileURLToPath } from 'node:url';

/**
 * Loads one of this workspace's TypeScript modules on demand: a file URL (`new URL('./x.ts', import.meta.url)`) or
 * an `@defenseclaw/*` package. Under the bin's in-thread CommonJS hook, tsx compiles every module to CommonJS and
 * `require` is in scope; Node 20's own `import()` cannot load a `.ts` file there (only tsx's off-thread ESM hooks
 * can), so this uses `require`. Everywhere else (the ESM hooks, tests) it is a plain `import()`. Packages that are
 * not ours keep using `import()` directly: Node loads them natively either way.
 */
export function loadModule<T>(specifier: URL | `@defenseclaw/${string}`): Promise<T> {
  if (typeof require === 'function') {
    // Deferred like import(): a module that throws while loading rejects the promise instead of throwing here.
    return Promise.resolve().then(
      () => require(typeof specifier === 'string' ? specifier : fileURLToPath(specifier)) as T,
    );
  }
  return import(typeof specifier === 'string' ? specifier : specifier.href) as Promise<T>;
}
