import type * as v from 'valibot';

// Introspection of the composed valibot schema: which keys exist under a path, and every known path.

type AnySchema = v.GenericSchema & {
  type: string;
  wrapped?: AnySchema;
  entries?: Record<string, AnySchema>;
  /** The value schema of a `v.record` (any key). */
  value?: AnySchema;
};

/** The schema node at `path`, stepping through `v.record` values for any key; undefined when unknown. */
function nodeAt(schema: v.GenericSchema, path: readonly string[]): AnySchema | undefined {
  let current: AnySchema | undefined = unwrap(schema as AnySchema);
  for (const segment of path) {
    const child: AnySchema | undefined =
      current?.type === 'record' ? current.value : current?.entries?.[segment];
    if (child === undefined) return undefined;
    current = unwrap(child);
  }
  return current;
}

function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  while (current.type === 'optional' && current.wrapped !== undefined) current = current.wrapped;
  return current;
}

/** The keys a mapping accepts at `path`, or undefined when `path` is a leaf or unknown. */
export function keysAt(schema: v.GenericSchema, path: readonly string[]): string[] | undefined {
  const current = nodeAt(schema, path);
  return current?.type === 'strict_object' && current.entries ? Object.keys(current.entries) : undefined;
}

/** Every known path, sections and leaves, dotted (`gateway`, `gateway.watchdog`, `gateway.watchdog.enabled`). */
export function allPaths(schema: v.GenericSchema): string[] {
  const out: string[] = [];
  const visit = (node: AnySchema, prefix: string[]) => {
    const unwrapped = unwrap(node);
    if (unwrapped.type !== 'strict_object' || !unwrapped.entries) return;
    for (const [key, child] of Object.entries(unwrapped.entries)) {
      const path = [...prefix, key];
      out.push(path.join('.'));
      visit(child, path);
    }
  };
  visit(schema as AnySchema, []);
  return out;
}

/** Matches path segments case-insensitively against the schema: the canonical path, or where matching stopped. */
export function matchPath(
  schema: v.GenericSchema,
  segments: readonly string[],
):
  | { success: true; path: string[]; leaf: boolean }
  | { success: false; parent: string[]; unknown: string; siblings: string[] } {
  const path: string[] = [];
  for (const segment of segments) {
    const siblings = keysAt(schema, path);
    const match = siblings?.find((key) => key === segment.toLowerCase());
    if (siblings === undefined || match === undefined) {
      return { success: false, parent: path, unknown: segment.toLowerCase(), siblings: siblings ?? [] };
    }
    path.push(match);
  }
  return { success: true, path, leaf: keysAt(schema, path) === undefined };
}

/** Every key of `input` the schema does not know, as paths (valibot's strict objects stop at the first one). */
export function unknownKeyPaths(schema: v.GenericSchema, input: unknown, prefix: string[] = []): string[][] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  // A record (e.g. `guardrail.providers`) takes any key; its values are checked like any mapping.
  if (nodeAt(schema, prefix)?.type === 'record') {
    return Object.entries(input).flatMap(([key, value]) => unknownKeyPaths(schema, value, [...prefix, key]));
  }
  const keys = keysAt(schema, prefix);
  if (keys === undefined) return [];
  const out: string[][] = [];
  for (const [key, value] of Object.entries(input)) {
    if (!keys.includes(key)) out.push([...prefix, key]);
    else out.push(...unknownKeyPaths(schema, value, [...prefix, key]));
  }
  return out;
}
