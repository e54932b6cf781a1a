import { hash, timingSafeEqual } from 'node:crypto';
import { type HeaderRecord, headerValue } from './headers.ts';

// Master-key authentication (spec 30 §B2): `Authorization: Bearer <key>` or `x-api-key: <key>`, compared as SHA-256
// digests in constant time. The key itself is kept only as its digest.

/** The master key format: `sk-dc-` + 64 hex. */
export const MASTER_KEY_PATTERN = /^sk-dc-[0-9a-f]{64}$/i;

/** A master-key verifier that holds only the key's digest. */
export type MasterKeyCheck = {
  /** Whether the request carries the master key in either accepted header. */
  verify(headers: HeaderRecord): boolean;
};

/** Creates a verifier for a master key (the caller checks the format first). */
export function createMasterKeyCheck(masterKey: string): MasterKeyCheck {
  const expected = digest(masterKey);
  return {
    verify(headers) {
      const candidates: string[] = [];
      const auth = headerValue(headers, 'authorization');
      if (auth !== undefined) {
        const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
        if (m) candidates.push(m[1]!);
      }
      const apiKey = headerValue(headers, 'x-api-key');
      if (apiKey !== undefined) candidates.push(apiKey.trim());
      let ok = false;
      // Compare every candidate so timing does not reveal which header carried the key.
      for (const c of candidates) if (timingSafeEqual(digest(c), expected)) ok = true;
      return ok;
    },
  };
}

function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}
