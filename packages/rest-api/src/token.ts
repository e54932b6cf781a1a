// Token comparison: both sides are hashed to fixed-length SHA-256 digests and compared with timingSafeEqual, so
// neither the content nor the length of the configured token leaks through response timing.
import { createHash, timingSafeEqual } from 'node:crypto';

/** Returns the SHA-256 digest of a token (the form in which tokens are compared). */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * Tells whether a presented token equals the expected one, in constant time over their SHA-256 digests.
 *
 * @example
 * tokensEqual(headerToken, process.env.DEFENSECLAW_API_TOKEN ?? ''); // false for an empty expected token
 */
export function tokensEqual(presented: string, expected: string | Buffer): boolean {
  const want =
    typeof expected === 'string' ? (expected === '' ? undefined : tokenDigest(expected)) : expected;
  if (want === undefined || want.length !== 32) return false;
  return timingSafeEqual(tokenDigest(presented), want);
}

/** A comparer that caches the digest of the configured token and re-hashes only when the token changes. */
export type TokenChecker = {
  /** Whether a token is configured at all. */
  configured(): boolean;
  /** Compares a presented token with the configured one (false when none is configured). */
  matches(presented: string): boolean;
};

/** Creates a `TokenChecker` over a token getter (the token may rotate on reload). */
export function createTokenChecker(token: () => string | undefined): TokenChecker {
  let cachedFor: string | undefined;
  let digest: Buffer | undefined;
  const current = (): Buffer | undefined => {
    const value = token();
    if (value === undefined || value === '') return undefined;
    if (value !== cachedFor) {
      cachedFor = value;
      digest = tokenDigest(value);
    }
    return digest;
  };
  return {
    configured: () => current() !== undefined,
    matches(presented) {
      const want = current();
      return want !== undefined && tokensEqual(presented, want);
    },
  };
}
