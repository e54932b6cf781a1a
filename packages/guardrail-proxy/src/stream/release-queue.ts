// The release queue (spec 30 §B6.3): frames wait in arrival order and leave as their original bytes; the queue
// counts the bytes it holds so the guard can fail closed past `max_held_bytes`.
import type { SseFrame } from './sse-parser.ts';

/** A frame waiting for release. */
export type QueuedFrame = {
  frame: SseFrame;
  /** The adapter's decoded payload (for client-visible state on release). */
  value: unknown;
  /** Arrival number of the frame in the stream. */
  seq: number;
  /** Completion text length (characters) once this frame's text is included. */
  textEnd: number;
  /** Whether the frame carries completion text (the hold-back applies to it). */
  hasText: boolean;
};

/** A FIFO of frames with byte accounting. */
export class ReleaseQueue {
  #items: (QueuedFrame | undefined)[] = [];
  #head = 0;
  #bytes = 0;
  #maxBytes = 0;

  /** Frames waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The most bytes held at once. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Appends a frame. */
  push(item: QueuedFrame): void {
    this.#items.push(item);
    this.#bytes += item.frame.raw.length;
    if (this.#bytes > this.#maxBytes) this.#maxBytes = this.#bytes;
  }

  /** The oldest frame, if any. */
  peek(): QueuedFrame | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest frame. */
  shift(): QueuedFrame | undefined {
    const item = this.#items[this.#head];
    if (!item) return undefined;
    this.#items[this.#head++] = undefined;
    this.#bytes -= item.frame.raw.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drops every waiting frame. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
