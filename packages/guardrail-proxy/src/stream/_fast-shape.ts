// Allocation-free shape predicates for the per-frame hot path. Each adapter's valibot schema stays the contract: a
// predicate built here mirrors it and only ever *accepts* what the schema accepts (a test checks this on random
// frames), so a frame it rejects is handed to valibot, which decides.

/** A shape predicate. */
export type Shape = (x: unknown) => boolean;

/** A string. */
export const str: Shape = (x) => typeof x === 'string';

/** A number (JSON never yields NaN). */
export const num: Shape = (x) => typeof x === 'number' && !Number.isNaN(x);

/** Anything. */
export const any: Shape = () => true;

/** Absent or `shape`. */
export function opt(shape: Shape): Shape {
  return (x) => x === undefined || shape(x);
}

/** Absent, null or `shape`. */
export function nullish(shape: Shape): Shape {
  return (x) => x === undefined || x === null || shape(x);
}

/** An array whose every item is `shape`. */
export function arr(shape: Shape): Shape {
  return (x) => {
    if (!Array.isArray(x)) return false;
    for (let i = 0; i < x.length; i++) if (!shape(x[i])) return false;
    return true;
  };
}

/** A plain object whose listed keys have their shapes (unknown keys pass, as in `v.looseObject`). */
export function loose(fields: Record<string, Shape>): Shape {
  const keys = Object.keys(fields);
  const shapes = keys.map((k) => fields[k]!);
  return (x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
    const o = x as Record<string, unknown>;
    for (let i = 0; i < keys.length; i++) if (!shapes[i]!(o[keys[i]!])) return false;
    return true;
  };
}
