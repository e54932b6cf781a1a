// A byte-level Server-Sent Events parser (spec 30 §B6.1; WHATWG HTML "event stream interpretation"): `\n`, `\r\n`
// and `\r` line endings (a `\r` at a chunk end waits for the next byte), a leading BOM, comments, `event`/`data`/
// `id`/`retry` fields and multi-line data. Lines are decoded only once complete, so a code point split across chunks
// survives. Each frame (a block of lines ended by a blank line) keeps its exact original bytes.
import { Buffer } from 'node:buffer';

/** One SSE frame: the block of lines up to and including its terminating blank line. */
export type SseFrame = {
  /** The frame's exact bytes as received (a leading BOM stays with the first frame). */
  raw: Uint8Array;
  /** The `event` field, or `''` when absent (the SSE default type `message`). */
  event: string;
  /** The `data` lines joined with `\n`, or `undefined` when the frame has none (not dispatched per the SSE spec). */
  data: string | undefined;
  /** The last `id` field, when present. */
  id?: string;
  /** The last valid `retry` field in milliseconds, when present. */
  retry?: number;
};

/** The outcome of feeding bytes to the parser. */
export type SseParseResult = { success: true } | { success: false; code: 'event_too_large'; message: string };

/** Options of `createSseParser`. */
export type SseParserOptions = {
  /** Receives each complete frame, in order. */
  onFrame(frame: SseFrame): void;
  /**
   * Largest frame in bytes; a bigger one is an upstream protocol error.
   * @default 1048576
   */
  maxEventBytes?: number;
};

/** An incremental SSE parser over one byte stream. */
export type SseParser = {
  /** Feeds bytes; complete frames go to `onFrame` before it returns. */
  push(chunk: Uint8Array): SseParseResult;
  /** Ends the stream: a pending frame closed by a final `\r` is dispatched; an unterminated one is dropped. Returns its byte count. */
  end(): { droppedBytes: number };
  /** Bytes of the frame being assembled. */
  readonly pendingBytes: number;
};

/** Creates an incremental SSE parser. */
export function createSseParser(options: SseParserOptions): SseParser {
  return new Parser(options);
}

// --- internal ---

const LF = 0x0a;
const CR = 0x0d;
const OK: SseParseResult = { success: true };

class Parser implements SseParser {
  readonly #onFrame: (frame: SseFrame) => void;
  readonly #max: number;
  /** Byte slices of the frame being assembled (views into the caller's chunks, copied when kept). */
  #parts: Uint8Array[] = [];
  #size = 0;
  /** The previous byte was a CR (a following LF belongs to the same line ending). */
  #afterCr = false;
  /** The current line is empty so far (a line ending now ends the frame). */
  #lineEmpty = true;
  /** A frame ended with a CR at the very end of the input: dispatch once the next byte (or EOF) is known. */
  #crPendingFrame = false;
  #first = true;
  #failed = false;

  constructor(options: SseParserOptions) {
    this.#onFrame = options.onFrame;
    this.#max = Math.max(1, options.maxEventBytes ?? 1024 * 1024);
  }

  get pendingBytes(): number {
    return this.#size;
  }

  push(chunk: Uint8Array): SseParseResult {
    if (this.#failed) return OK;
    let start = 0;
    let i = 0;
    const n = chunk.length;
    if (this.#crPendingFrame && n > 0) {
      this.#crPendingFrame = false;
      // A CR LF pair split across chunks: the LF is the end of the frame's blank line.
      if (chunk[0] === LF) i = 1;
      this.#afterCr = false;
      this.#emit(chunk, i);
      start = i;
    }
    // Line terminators are found with native `indexOf`; bytes between them are only counted.
    let nextLf = -1;
    let nextCr = -1;
    while (i < n) {
      if (nextLf < i) {
        nextLf = chunk.indexOf(LF, i);
        if (nextLf < 0) nextLf = n;
      }
      if (nextCr < i) {
        nextCr = chunk.indexOf(CR, i);
        if (nextCr < 0) nextCr = n;
      }
      const t = Math.min(nextLf, nextCr);
      if (t > i) {
        this.#afterCr = false;
        this.#lineEmpty = false;
        i = t;
        // Check the size limit on long lines without waiting for their end.
        if (this.#size + (i - start) > this.#max) return this.#tooLarge();
        if (i >= n) break;
      }
      const b = chunk[i]!;
      if (b === LF) {
        if (this.#afterCr) {
          // The LF of a CR LF pair: the line already ended at the CR.
          this.#afterCr = false;
          i++;
          continue;
        }
        if (this.#lineEmpty) {
          this.#emit(chunk.subarray(start, i + 1), -1);
          start = i + 1;
        } else this.#lineEmpty = true;
        i++;
        continue;
      }
      // A CR.
      this.#afterCr = true;
      if (this.#lineEmpty) {
        if (i + 1 < n) {
          const end = chunk[i + 1] === LF ? i + 2 : i + 1;
          this.#afterCr = false;
          this.#emit(chunk.subarray(start, end), -1);
          start = end;
          i = end;
          continue;
        }
        // The frame ends here, but an LF may follow in the next chunk.
        this.#keep(chunk.subarray(start, i + 1));
        this.#crPendingFrame = true;
        return this.#check();
      }
      this.#lineEmpty = true;
      i++;
    }
    if (start < n) this.#keep(chunk.subarray(start, n));
    return this.#check();
  }

  end(): { droppedBytes: number } {
    if (this.#crPendingFrame) {
      this.#crPendingFrame = false;
      this.#emit(new Uint8Array(0), 0);
    }
    const dropped = this.#size;
    this.#parts = [];
    this.#size = 0;
    this.#failed = true;
    return { droppedBytes: dropped };
  }

  #check(): SseParseResult {
    return this.#size > this.#max ? this.#tooLarge() : OK;
  }

  #tooLarge(): SseParseResult {
    this.#failed = true;
    this.#parts = [];
    this.#size = 0;
    return {
      success: false,
      code: 'event_too_large',
      message: `an SSE event exceeded ${this.#max} bytes`,
    };
  }

  #keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    // Copy: the caller may reuse its chunk buffer.
    this.#parts.push(Uint8Array.prototype.slice.call(bytes));
    this.#size += bytes.length;
  }

  /** Completes the frame with `tail` (or, when `upTo >= 0`, with `chunk[0, upTo)`) and dispatches it. */
  #emit(tailOrChunk: Uint8Array, upTo: number): void {
    const tail = upTo >= 0 ? tailOrChunk.subarray(0, upTo) : tailOrChunk;
    let raw: Uint8Array;
    if (this.#parts.length === 0) raw = Uint8Array.prototype.slice.call(tail);
    else {
      raw = new Uint8Array(this.#size + tail.length);
      let at = 0;
      for (const p of this.#parts) {
        raw.set(p, at);
        at += p.length;
      }
      raw.set(tail, at);
      this.#parts = [];
    }
    this.#size = 0;
    this.#lineEmpty = true;
    const frame = parseFrame(raw, this.#first);
    this.#first = false;
    this.#onFrame(frame);
  }
}

/** Parses the fields of one complete frame. */
function parseFrame(raw: Uint8Array, first: boolean): SseFrame {
  let i = 0;
  if (first && raw.length >= 3 && raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) i = 3;
  const frame: SseFrame = { raw, event: '', data: undefined };
  // Field values are decoded by Node's native UTF-8 slicer (same replacement of malformed bytes as TextDecoder);
  // field names are compared as bytes.
  const bytes = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let data: string | undefined;
  let lines = 0;
  const n = raw.length;
  while (i < n) {
    let j = i;
    while (j < n && raw[j] !== LF && raw[j] !== CR) j++;
    if (j > i && raw[i] !== 0x3a /* ':' comment */) {
      let colon = i;
      while (colon < j && raw[colon] !== 0x3a) colon++;
      let vs = colon < j ? colon + 1 : j;
      if (vs < j && raw[vs] === 0x20) vs++;
      switch (fieldOf(raw, i, colon)) {
        case FIELD_DATA: {
          const value = bytes.toString('utf8', vs, j);
          data = lines++ === 0 ? value : `${data}\n${value}`;
          break;
        }
        case FIELD_EVENT:
          frame.event = bytes.toString('utf8', vs, j);
          break;
        case FIELD_ID: {
          const value = bytes.toString('utf8', vs, j);
          if (!value.includes('\0')) frame.id = value;
          break;
        }
        case FIELD_RETRY: {
          const value = bytes.toString('utf8', vs, j);
          if (/^[0-9]+$/.test(value)) frame.retry = Number(value);
          break;
        }
        default:
          // Unknown fields are ignored (SSE spec).
          break;
      }
    }
    // Skip the line ending (CR LF counts once).
    if (j < n && raw[j] === CR && j + 1 < n && raw[j + 1] === LF) j += 2;
    else j++;
    i = j;
  }
  if (data !== undefined) frame.data = data;
  return frame;
}

const FIELD_OTHER = 0;
const FIELD_DATA = 1;
const FIELD_EVENT = 2;
const FIELD_ID = 3;
const FIELD_RETRY = 4;

/** Classifies the field name `raw[from, to)` (exact, case-sensitive, as the SSE spec compares them). */
function fieldOf(raw: Uint8Array, from: number, to: number): number {
  switch (to - from) {
    case 2:
      return raw[from] === 0x69 && raw[from + 1] === 0x64 ? FIELD_ID : FIELD_OTHER;
    case 4:
      return raw[from] === 0x64 && raw[from + 1] === 0x61 && raw[from + 2] === 0x74 && raw[from + 3] === 0x61
        ? FIELD_DATA
        : FIELD_OTHER;
    case 5:
      if (
        raw[from] === 0x65 &&
        raw[from + 1] === 0x76 &&
        raw[from + 2] === 0x65 &&
        raw[from + 3] === 0x6e &&
        raw[from + 4] === 0x74
      )
        return FIELD_EVENT;
      return raw[from] === 0x72 &&
        raw[from + 1] === 0x65 &&
        raw[from + 2] === 0x74 &&
        raw[from + 3] === 0x72 &&
        raw[from + 4] === 0x79
        ? FIELD_RETRY
        : FIELD_OTHER;
    default:
      return FIELD_OTHER;
  }
}
