import { Buffer } from 'node:buffer';

const STEP = 64;

/**
 * A target text prepared for matching: its UTF-8 bytes (converted once, shared by every pattern) and offset
 * conversion between UTF-16 code units and bytes.
 */
export class ScanText {
  /** The text as given. */
  readonly text: string;
  /** Its UTF-8 encoding (lone surrogates become U+FFFD, 3 bytes). */
  readonly buf: Buffer;
  /** Whether every code unit is ASCII (byte offsets equal UTF-16 offsets). */
  readonly ascii: boolean;
  #table: Int32Array | undefined;
  /** Per matcher, its last exec on this text (`[from, to, result]`): rules sharing a pattern share the scan. */
  execMemo: Map<object, [number, number, unknown]> | undefined;

  /** Prepares `text` for matching. */
  constructor(text: string) {
    this.text = text;
    this.buf = Buffer.from(text, 'utf8');
    this.ascii = this.buf.length === text.length;
  }

  /** Returns the byte offset of UTF-16 offset `u` (a `u` inside a surrogate pair maps to the pair's start). */
  toByte(u: number): number {
    if (this.ascii) return u;
    if (u <= 0) return 0;
    if (u >= this.text.length) return this.buf.length;
    const table = this.#ensureTable();
    let i = (u / STEP) | 0;
    let b = table[i]!;
    i *= STEP;
    const t = this.text;
    if (i > 0 && isLow(t.charCodeAt(i)) && isHigh(t.charCodeAt(i - 1))) i--;
    while (i < u) {
      const c = t.charCodeAt(i);
      if (c < 0x80) b += 1;
      else if (c < 0x800) b += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length && isLow(t.charCodeAt(i + 1))) {
        if (i + 1 >= u) return b;
        b += 4;
        i++;
      } else b += 3;
      i++;
    }
    return b;
  }

  /** Returns the UTF-16 offset of byte offset `b` (a byte inside a character maps to the character's start). */
  toUtf16(b: number): number {
    if (this.ascii) return b;
    if (b <= 0) return 0;
    if (b >= this.buf.length) return this.text.length;
    const table = this.#ensureTable();
    let lo = 0;
    let hi = table.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (table[mid]! <= b) lo = mid;
      else hi = mid - 1;
    }
    let i = lo * STEP;
    let cur = table[lo]!;
    const t = this.text;
    if (i > 0 && isLow(t.charCodeAt(i)) && isHigh(t.charCodeAt(i - 1))) i--;
    while (i < t.length) {
      const c = t.charCodeAt(i);
      let len: number;
      let units = 1;
      if (c < 0x80) len = 1;
      else if (c < 0x800) len = 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length && isLow(t.charCodeAt(i + 1))) {
        len = 4;
        units = 2;
      } else len = 3;
      if (cur + len > b) return i;
      cur += len;
      i += units;
    }
    return t.length;
  }

  #ensureTable(): Int32Array {
    if (this.#table) return this.#table;
    const t = this.text;
    const table = new Int32Array(Math.floor(t.length / STEP) + 1);
    let b = 0;
    let i = 0;
    while (i < t.length) {
      if (i % STEP === 0) table[i / STEP] = b;
      const c = t.charCodeAt(i);
      if (c < 0x80) b += 1;
      else if (c < 0x800) b += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < t.length && isLow(t.charCodeAt(i + 1))) {
        b += 4;
        i++;
        // The table entry for the low surrogate's index points at the pair's start + 4 only if it is a step.
        if (i % STEP === 0) table[i / STEP] = b - 4;
      } else b += 3;
      i++;
    }
    this.#table = table;
    return table;
  }
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Returns `text` prepared for matching (a `ScanText` is returned as is). */
export function prepareText(text: string | ScanText): ScanText {
  return typeof text === 'string' ? new ScanText(text) : text;
}
