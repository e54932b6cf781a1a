import * as v from 'valibot';

// --- internal helpers shared by the schema files; never re-exported ---

/** Accepts `T`, `null` or a missing key, and outputs `T | undefined` (servers send `null` for "not set"). */
export const maybe = <TSchema extends v.GenericSchema>(schema: TSchema) =>
  v.pipe(
    v.nullish(schema),
    v.transform((value): v.InferOutput<TSchema> | undefined => value ?? undefined),
  );

/** A non-negative integer. */
export const uint = v.pipe(v.number(), v.integer(), v.minValue(0));

/** Turns valibot issues into one short human-readable reason. */
export function formatIssues(prefix: string, issues: readonly v.BaseIssue<unknown>[]): string {
  const parts = issues.slice(0, 3).map((issue) => {
    const path = v.getDotPath(issue);
    return `at ${path ?? 'root'}: ${issue.message}`;
  });
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : '';
  return `${prefix}: ${parts.join('; ')}${more}`;
}

/** Tells whether a value is a plain (non-array, non-null) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
