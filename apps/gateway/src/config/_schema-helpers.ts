import * as v from 'valibot';

// Builders that give every config leaf the operator-facing messages of spec 20 §4.3 ("must be …; got …").

type Received = { received: string };

/** An integer leaf with inclusive bounds and a default. */
export function int(defaultValue: number, min: number, max: number = Number.MAX_SAFE_INTEGER) {
  return v.optional(
    v.pipe(
      v.number((i: Received) => `must be an integer; got ${i.received}`),
      v.integer((i: Received) => `must be an integer; got ${i.received}`),
      v.minValue(min, (i: Received) => `must be at least ${min}; got ${i.received}`),
      v.maxValue(max, (i: Received) => `must be at most ${max}; got ${i.received}`),
    ),
    defaultValue,
  );
}

/** A TCP port leaf (1–65535) with a default. */
export function port(defaultValue: number) {
  return int(defaultValue, 1, 65535);
}

/** A boolean leaf with a default. */
export function bool(defaultValue: boolean) {
  return v.optional(
    v.boolean((i: Received) => `must be true or false; got ${i.received}`),
    defaultValue,
  );
}

/** A reserved boolean: `false` is accepted, `true` is an error with the given reason. */
export function reservedFalse(reason: string) {
  return v.optional(
    v.pipe(
      v.boolean((i: Received) => `must be true or false; got ${i.received}`),
      v.check((value) => value === false, reason),
    ),
    false,
  );
}

/** A string leaf with a default (may be empty). */
export function str(defaultValue: string) {
  return v.optional(
    v.string((i: Received) => `must be a string; got ${i.received}`),
    defaultValue,
  );
}

/** A non-empty string leaf with a default. */
export function nonEmptyStr(defaultValue: string) {
  return v.optional(
    v.pipe(
      v.string((i: Received) => `must be a string; got ${i.received}`),
      v.nonEmpty('must not be empty'),
    ),
    defaultValue,
  );
}

/** An environment variable name leaf with a default. */
export function envName(defaultValue: string) {
  return v.optional(
    v.pipe(
      v.string((i: Received) => `must be an environment variable name; got ${i.received}`),
      v.regex(
        /^[A-Za-z_][A-Za-z0-9_]*$/,
        (i: Received) => `must be an environment variable name; got ${i.received}`,
      ),
    ),
    defaultValue,
  );
}

/** A leaf restricted to a closed list of strings. */
export function oneOf<const T extends readonly [string, ...string[]]>(options: T, defaultValue: T[number]) {
  return v.optional(
    v.picklist(options, (i: Received) => `must be one of ${options.join(', ')}; got ${i.received}`),
    defaultValue,
  );
}

/** An optional leaf restricted to a closed list of strings, without a default. */
export function maybeOneOf<const T extends readonly [string, ...string[]]>(options: T) {
  return v.optional(
    v.picklist(options, (i: Received) => `must be one of ${options.join(', ')}; got ${i.received}`),
  );
}

/** A filesystem path leaf (`~` and relative paths are resolved by the loader). */
export function pathStr(defaultValue: string) {
  return nonEmptyStr(defaultValue);
}

/** A filesystem path leaf without a default. */
export function maybePathStr() {
  return v.optional(
    v.pipe(
      v.string((i: Received) => `must be a path; got ${i.received}`),
      v.nonEmpty('must not be empty'),
    ),
  );
}

/** A list of non-empty strings with a default. */
export function strList(defaultValue: readonly string[]) {
  return v.optional(
    v.array(
      v.pipe(
        v.string((i: Received) => `must be a string; got ${i.received}`),
        v.nonEmpty('must not be empty'),
      ),
      (i: Received) => `must be a list; got ${i.received}`,
    ),
    () => [...defaultValue],
  );
}

/** A config section: a strict mapping whose keys all have defaults, so an absent section is all defaults. */
export function section<const E extends v.ObjectEntries>(entries: E) {
  return v.optional(
    v.strictObject(entries, (i: Received) => `must be a mapping; got ${i.received}`),
    {} as v.InferInput<v.StrictObjectSchema<E, undefined>>,
  );
}
