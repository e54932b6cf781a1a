// A tiny closed-schema validator whose error texts match what OpenClaw's ajv-based validators print
// (`invalid <method> params: at /path: …; at root: unexpected property 'k'`), so the fake rejects params
// with the same bytes as the real server.

/** One node of a fake param schema. */
export type SchemaNode =
  | { kind: 'any' }
  | { kind: 'string'; minLength?: number; enum?: readonly string[]; const?: string }
  | { kind: 'integer'; minimum?: number }
  | { kind: 'boolean' }
  | { kind: 'array'; items?: SchemaNode; maxItems?: number }
  | { kind: 'record'; values: SchemaNode }
  | { kind: 'object'; properties: Readonly<Record<string, SchemaNode>>; required?: readonly string[] }
  | { kind: 'anyOf'; branches: readonly SchemaNode[] };

type SchemaError = { path: string; additional: boolean; message: string };

/** A non-empty string (OpenClaw's `NonEmptyString`). */
export const nonEmptyString: SchemaNode = { kind: 'string', minLength: 1 };

/** A string of any length. */
export const anyString: SchemaNode = { kind: 'string' };

/** A boolean. */
export const bool: SchemaNode = { kind: 'boolean' };

/** An integer not below `minimum`. */
export function integer(minimum?: number): SchemaNode {
  return minimum === undefined ? { kind: 'integer' } : { kind: 'integer', minimum };
}

/** A closed object (`additionalProperties: false`); `required` lists the mandatory keys. */
export function closedObject(
  properties: Readonly<Record<string, SchemaNode>>,
  required: readonly string[] = [],
): SchemaNode {
  return { kind: 'object', properties, required };
}

/** An array whose items all match `items`. */
export function arrayOf(items: SchemaNode, maxItems?: number): SchemaNode {
  return maxItems === undefined ? { kind: 'array', items } : { kind: 'array', items, maxItems };
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function check(node: SchemaNode, value: unknown, path: string, out: SchemaError[]): void {
  const push = (message: string): void => {
    out.push({ path, additional: false, message });
  };
  switch (node.kind) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') {
        push('must be string');
        return;
      }
      if (node.minLength !== undefined && value.length < node.minLength) {
        push(`must NOT have fewer than ${node.minLength} characters`);
      }
      if (node.const !== undefined && value !== node.const) push('must be equal to constant');
      if (node.enum && !node.enum.includes(value)) push('must be equal to one of the allowed values');
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        push('must be integer');
        return;
      }
      if (node.minimum !== undefined && value < node.minimum) push(`must be >= ${node.minimum}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') push('must be boolean');
      return;
    case 'array':
      if (!Array.isArray(value)) {
        push('must be array');
        return;
      }
      if (node.maxItems !== undefined && value.length > node.maxItems) {
        push(`must NOT have more than ${node.maxItems} items`);
      }
      if (node.items) {
        const items = node.items;
        value.forEach((item, i) => {
          check(items, item, `${path}/${i}`, out);
        });
      }
      return;
    case 'record':
      if (!isPlainRecord(value)) {
        push('must be object');
        return;
      }
      for (const [key, item] of Object.entries(value)) check(node.values, item, `${path}/${key}`, out);
      return;
    case 'object': {
      if (!isPlainRecord(value)) {
        push('must be object');
        return;
      }
      for (const key of node.required ?? []) {
        if (!Object.hasOwn(value, key) || value[key] === undefined) {
          push(`must have required property '${key}'`);
        }
      }
      // ajv stops the additionalProperties keyword at the first offender (the 2026.9.6 legacy
      // `{path, value}` patch reports only 'path'), so only the first unknown key is reported.
      const extra = Object.keys(value).find((key) => !Object.hasOwn(node.properties, key));
      if (extra !== undefined) {
        out.push({ path, additional: true, message: `unexpected property '${extra}'` });
      }
      for (const [key, child] of Object.entries(node.properties)) {
        if (Object.hasOwn(value, key) && value[key] !== undefined)
          check(child, value[key], `${path}/${key}`, out);
      }
      return;
    }
    case 'anyOf': {
      const collected: SchemaError[] = [];
      for (const branch of node.branches) {
        const branchErrors: SchemaError[] = [];
        check(branch, value, path, branchErrors);
        if (branchErrors.length === 0) return;
        collected.push(...branchErrors);
      }
      out.push(...collected);
      push('must match a schema in anyOf');
      return;
    }
  }
}

/** Validates `value` and returns the formatted error text, or `undefined` when it is valid. */
export function validateSchema(node: SchemaNode, value: unknown): string | undefined {
  const errors: SchemaError[] = [];
  check(node, value, '', errors);
  if (errors.length === 0) return undefined;
  const parts: string[] = [];
  for (const error of errors) {
    const text = error.additional
      ? `at ${error.path || 'root'}: ${error.message}`
      : error.path
        ? `at ${error.path}: ${error.message}`
        : error.message;
    if (!parts.includes(text)) parts.push(text);
  }
  return parts.join('; ');
}
