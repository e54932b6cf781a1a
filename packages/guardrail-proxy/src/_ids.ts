import { randomFillSync } from 'node:crypto';

// Identifier minting: UUIDv7 request ids and `dcblk_` block references (ULID-shaped, Crockford base32).

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Matches a block reference anywhere in a text. */
export const BLOCK_REF_PATTERN = /dcblk_[0-9A-HJKMNP-TV-Z]{26}/g;

// One CSPRNG call fills a pool that serves many ids (a call per id cost more than the rest of id minting).
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolAt = POOL_BYTES;

/** Returns `n` fresh random bytes (a copy; the pool is never handed out twice). */
function randomBytes(n: number): Buffer {
  if (poolAt + n > POOL_BYTES) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const out = Buffer.from(pool.subarray(poolAt, poolAt + n));
  poolAt += n;
  return out;
}

/** Returns a UUIDv7 (RFC 9562) for `nowMs`. */
export function uuidv7(nowMs: number): string {
  const b = randomBytes(16);
  const ms = Math.max(0, Math.floor(nowMs));
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Returns a new block reference: `dcblk_` + 26 Crockford base32 characters (48-bit time, 80 random bits). */
export function newBlockId(nowMs: number): string {
  let time = Math.max(0, Math.floor(nowMs));
  const out: string[] = new Array(26);
  for (let i = 9; i >= 0; i--) {
    out[i] = CROCKFORD[time % 32]!;
    time = Math.floor(time / 32);
  }
  const rnd = randomBytes(10);
  // 80 bits → 16 characters of 5 bits.
  let acc = 0;
  let bits = 0;
  let j = 10;
  for (const byte of rnd) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[j++] = CROCKFORD[(acc >>> bits) & 31]!;
    }
    acc &= (1 << bits) - 1;
  }
  return `dcblk_${out.join('')}`;
}
