// Opaque paging cursors: base64url of {"v":1,"id":<last id>} (spec 20 §6.3).
import { AuditStoreError } from './errors.ts';

/** Encodes the id of the last row of a page as an opaque cursor. */
export function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ v: 1, id })).toString('base64url');
}

/** Decodes a cursor into the id to page below; throws INVALID_CURSOR on anything malformed. */
export function decodeCursor(cursor: string): number {
  let parsed: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new AuditStoreError('INVALID_CURSOR', 'audit: malformed cursor', { cause });
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    (parsed as { v?: unknown }).v !== 1 ||
    !Number.isSafeInteger((parsed as { id?: unknown }).id) ||
    ((parsed as { id: number }).id as number) < 1
  ) {
    throw new AuditStoreError('INVALID_CURSOR', 'audit: malformed cursor');
  }
  return (parsed as { id: number }).id;
}
