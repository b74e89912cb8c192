/**
 * The "limit": a minimal power-of-two broadcast ring, the practical ceiling
 * for any broadcast channel in JavaScript. It is a yardstick, not a
 * competitor: it has no overflow policy, no per-slot reader count (a value
 * stays pinned until it is overwritten), no closing, no lag reporting and no
 * input checks. One ring, read three ways:
 *
 * - `limit.sync`: {@linkcode LimitReader.drain}, synchronously;
 * - `limit.async`: await {@linkcode LimitReader.arrival} only when caught
 *   up, then `drain`, so one promise per batch;
 * - `limit.iterator`: `for await`, one promise per value;
 * - `limit.tryRecv`: {@linkcode LimitReader.tryRecv}, one value per call, the
 *   yardstick for any one-value-per-call API (a batch drain is out of its
 *   reach: it keeps its position in a local for the whole batch).
 *
 * The classes are self-contained (they name nothing outside themselves), so
 * `fresh` in `_subjects.ts` can compile private copies: a ring whose
 * positions run past 2^31 turns them into doubles, and the engine would
 * remember that for every ring built from the same class.
 *
 * @module
 */

/** A ring of `capacity` (a power of two) slots indexed by `sequence & mask`. */
export class LimitRing<T> {
  readonly slots: (T | undefined)[] = [];
  readonly mask: number;
  /** Sequence number of the next value sent. */
  tail = 0;
  #parked: (() => void)[] = [];

  /** `start`: the sequence number of the first value sent, to run a ring as if that many had gone through it. */
  constructor(capacity: number, start = 0) {
    this.mask = capacity - 1;
    this.tail = start;
    for (let i = 0; i < capacity; i++) this.slots.push(undefined);
  }

  send(value: T): void {
    this.slots[this.tail & this.mask] = value;
    this.tail++;
    if (this.#parked.length !== 0) this.#wake();
  }

  park(wake: () => void): void {
    this.#parked.push(wake);
  }

  #wake(): void {
    const woken = this.#parked;
    this.#parked = [];
    for (let i = 0; i < woken.length; i++) woken[i]();
  }
}

/** One reader's cursor into a {@linkcode LimitRing}. */
export class LimitReader<T> implements AsyncIterableIterator<T> {
  #ring: LimitRing<T>;
  #position: number;

  constructor(ring: LimitRing<T>) {
    this.#ring = ring;
    this.#position = ring.tail;
  }

  get caughtUp(): boolean {
    return this.#position === this.#ring.tail;
  }

  /** Hands every available value to `fn`; a reader a full ring behind skips to the oldest value held. */
  drain(fn: (value: T) => void): void {
    const { slots, mask, tail } = this.#ring;
    let position = this.#position;
    if (tail - position > mask) position = tail - mask - 1;
    while (position < tail) fn(slots[position++ & mask] as T);
    this.#position = position;
  }

  /**
   * The next value, or `undefined` when caught up (benchmarks never send
   * `undefined`): the lap check and the position's load and store on every
   * call, which is what a one-value-per-call API cannot avoid.
   */
  tryRecv(): T | undefined {
    const ring = this.#ring;
    const tail = ring.tail;
    let position = this.#position;
    if (position === tail) return undefined;
    if (tail - position > ring.mask) position = tail - ring.mask - 1;
    this.#position = position + 1;
    return ring.slots[position & ring.mask];
  }

  /** Resolves when the next value is sent. Call it only when caught up. */
  arrival(): Promise<void> {
    return new Promise((resolve) => this.#ring.park(resolve));
  }

  /** One promise per value, as an async iterator must. */
  next(): Promise<IteratorResult<T>> {
    if (!this.caughtUp) return Promise.resolve({ value: this.#take(), done: false });
    return new Promise((resolve) => this.#ring.park(() => resolve({ value: this.#take(), done: false })));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #take(): T {
    const { slots, mask, tail } = this.#ring;
    if (tail - this.#position > mask) this.#position = tail - mask - 1;
    return slots[this.#position++ & mask] as T;
  }
}
