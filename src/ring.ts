/**
 * The ring every subscriber of one bus reads: a power-of-two array of slots
 * indexed by `sequence & mask`, plus the bookkeeping that keeps `send` O(1).
 *
 * Sequence numbers count every value ever sent, so a subscriber's lag is
 * `tail - position` and never needs a scan. Each slot also counts the current
 * subscribers that have not read it yet (tokio's `rem`): the last reader
 * clears the slot, so payloads are not pinned, and the counter of the slot
 * about to be reused tells `send` in O(1) whether the slowest subscriber is a
 * full ring behind.
 *
 * Internal: {@linkcode Bus} and {@linkcode Subscriber} are the public faces.
 *
 * @module
 */

import { BusFullError } from "./errors.ts";
import type { ResolvedBusOptions } from "./options.ts";

/** `overflow` as a small integer, so the hot path compares numbers. */
export const DROP_OLDEST = 0;
export const DROP_NEWEST = 1;
export const WAIT = 2;

const POLICY_CODES = { "drop-oldest": DROP_OLDEST, "drop-newest": DROP_NEWEST, "wait": WAIT } as const;

const RESOLVED: Promise<void> = Promise.resolve();

/** The shared state of one bus. Fields are public to the bus and its subscribers only. */
export class Ring<T> {
  readonly capacity: number;
  readonly mask: number;
  readonly policy: number;
  readonly replay: boolean;
  /** Allocated on first use, so an unused bus costs no arrays. */
  slots: (T | undefined)[] = [];
  /** Per slot, how many current subscribers have yet to read it. */
  unread: number[] = [];
  /** Sequence number of the next value sent. */
  tail = 0;
  subscribers = 0;
  closed = false;
  /** Wake callbacks of subscribers parked in an await. */
  parked: (() => void)[] = [];
  #spare: (() => void)[] = [];
  #ready: Promise<void> | undefined;
  #openReady: (() => void) | undefined;

  sent = 0;
  dropped = 0;
  discarded = 0;
  blocked = 0;

  constructor(options: ResolvedBusOptions) {
    this.capacity = options.capacity;
    this.mask = options.capacity - 1;
    this.policy = POLICY_CODES[options.overflow];
    this.replay = options.replay;
    if (this.replay) this.#allocate();
  }

  /** Puts `value` in the ring and returns how many subscribers will see it. */
  write(value: T): number {
    const readers = this.subscribers;
    if (readers === 0 && !this.replay) {
      // Nobody listens and nothing is kept: the slot is already empty.
      this.tail++;
      this.sent++;
      return 0;
    }
    const i = this.tail & this.mask;
    const unread = this.unread;
    if (unread[i] !== 0 && this.policy !== DROP_OLDEST) {
      // The slot to reuse holds a value the slowest subscriber has not read.
      if (this.policy === DROP_NEWEST) {
        this.discarded++;
        return 0;
      }
      this.blocked++;
      throw new BusFullError(this.capacity);
    }
    this.slots[i] = value;
    unread[i] = readers;
    this.tail++;
    this.sent++;
    if (this.parked.length !== 0) this.#wakeParked();
    return readers;
  }

  /** Whether `write` would accept a value now without dropping one. */
  hasRoom(): boolean {
    return this.policy === DROP_OLDEST || this.closed || !(this.unread[this.tail & this.mask] > 0);
  }

  /** Resolves once `hasRoom()`; never rejects. */
  ready(): Promise<void> {
    if (this.hasRoom()) return RESOLVED;
    return this.#ready ??= new Promise((resolve) => this.#openReady = resolve);
  }

  /** Called when the last reader of slot `i` has read it or left. */
  release(i: number): void {
    if (!this.replay) this.slots[i] = undefined;
    if (this.#openReady !== undefined && i === (this.tail & this.mask)) this.#resolveReady();
  }

  /** Registers a subscriber starting at `from` and returns its position. */
  join(from: "next" | "oldest"): number {
    if (this.slots.length === 0) this.#allocate();
    this.subscribers++;
    const tail = this.tail;
    if (from === "next") return tail;
    let start = tail > this.capacity ? tail - this.capacity : 0;
    // Without replay, the oldest retained value is the oldest one some current reader still owes.
    if (!this.replay) while (start < tail && this.unread[start & this.mask] === 0) start++;
    for (let seq = start; seq < tail; seq++) this.unread[seq & this.mask]++;
    return start;
  }

  /** Unregisters a subscriber at `position`, releasing the slots it still owed. */
  leave(position: number): void {
    this.subscribers--;
    const tail = this.tail;
    const unread = this.unread;
    const oldest = tail - this.capacity;
    for (let seq = position > oldest ? position : oldest; seq < tail; seq++) {
      const i = seq & this.mask;
      if (--unread[i] === 0) this.release(i);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.parked.length !== 0) this.#wakeParked();
    if (this.#openReady !== undefined) this.#resolveReady();
  }

  #wakeParked(): void {
    // Swap lists first: a woken subscriber may park again at once.
    const woken = this.parked;
    this.parked = this.#spare;
    this.#spare = woken;
    for (let i = 0; i < woken.length; i++) woken[i]();
    woken.length = 0;
  }

  #resolveReady(): void {
    const open = this.#openReady!;
    this.#ready = this.#openReady = undefined;
    open();
  }

  #allocate(): void {
    // push keeps the arrays packed, which V8 reads fastest.
    const slots: (T | undefined)[] = [];
    const unread: number[] = [];
    for (let i = 0; i < this.capacity; i++) {
      slots.push(undefined);
      unread.push(0);
    }
    this.slots = slots;
    this.unread = unread;
  }
}
