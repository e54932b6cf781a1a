// A first-in-first-out list with O(1) amortised removal from the front (Array#splice(0, n) copies the
// whole tail, which a 10,000-record queue drained 256 at a time would pay on every batch).

/** A FIFO of items; removal from the front is amortised O(1). */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items are held. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends an item at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** Returns the item `index` places from the front without removing it. */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }

  /** Returns (without removing) the first `n` items. */
  peek(n: number): T[] {
    return this.#items.slice(this.#head, this.#head + n) as T[];
  }

  /** Removes and returns the first `n` items. */
  take(n: number): T[] {
    const out = this.peek(n);
    for (let i = 0; i < out.length; i++) this.#items[this.#head + i] = undefined;
    this.#head += out.length;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Removes and returns every item. */
  drain(): T[] {
    return this.take(this.length);
  }
}
