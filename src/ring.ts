/**
 * The ring every subscriber of one bus reads: a power-of-two array of slots
 * indexed by `sequence & mask`, plus the bookkeeping that keeps `send` O(1).
 *
 * Sequence numbers count every value ever sent, so a subscriber's lag is
 * `tail - position` and never needs a scan.
 *
 * The ring also knows where its subscribers are, without visiting them: a
 * histogram counts the subscribers at each position, and `floor` is the
 * lowest occupied one, the slowest subscriber. A read moves one subscriber
 * between two buckets, so a batch costs O(1) whatever its size. When the
 * floor bucket empties, the floor walks forward and clears the slots every
 * subscriber has now read, so payloads are not pinned. `send` compares
 * `tail - floor` with the capacity to see, in O(1), whether the slowest
 * subscriber is a full ring behind.
 *
 * Positions span at most `capacity + 1` values (`tail - capacity` to `tail`),
 * so the histogram has `2 * capacity` buckets and never aliases. A subscriber
 * the ring overwrote is carried along in the floor bucket (see `#overtake`),
 * so its bucket is `max(position, tail - capacity)`.
 *
 * Internal: {@linkcode Bus} and {@linkcode Subscriber} are the public faces.
 *
 * @module
 */

import { BusFullError } from "./errors.ts";
import type { ResolvedBusOptions } from "./options.ts";

const DROP_OLDEST = 0;
const DROP_NEWEST = 1;
const WAIT = 2;
const POLICY_CODES = { "drop-oldest": DROP_OLDEST, "drop-newest": DROP_NEWEST, "wait": WAIT } as const;

const RESOLVED: Promise<void> = Promise.resolve();

/** The shared state of one bus. Fields are public to the bus and its subscribers only. */
export class Ring<T> {
  readonly capacity: number;
  readonly mask: number;
  readonly replay: boolean;
  readonly #policy: number;
  readonly #countMask: number;
  /** Allocated on first use, so a bus nobody subscribes to costs no arrays. */
  slots: (T | undefined)[] = [];
  /** Subscribers per position, indexed by `position & (2 * capacity - 1)`. */
  #counts: number[] = [];
  /** Sequence number of the next value sent; also the count of values sent. */
  tail = 0;
  /** Position of the slowest subscriber. Meaningless while there are none. */
  floor = 0;
  subscribers = 0;
  closed = false;
  /**
   * Record callbacks of subscribers in the middle of a `drain`, which records
   * its progress once per batch. Anything that needs exact positions from
   * inside a drain callback (a send finding the ring full, a join) calls them
   * first.
   */
  draining: ((overwriting: boolean) => void)[] = [];
  /** Called with every value accepted, inside `write`; see {@linkcode Bus.tap}. */
  tap: ((value: T) => void) | undefined = undefined;
  taps: readonly ((value: T) => void)[] = [];
  /** Wake callbacks of subscribers parked in an await. */
  parked: (() => void)[] = [];
  #spare: (() => void)[] = [];
  #ready: Promise<void> | undefined;
  #openReady: (() => void) | undefined;

  dropped = 0;
  discarded = 0;
  blocked = 0;

  constructor(options: ResolvedBusOptions) {
    this.capacity = options.capacity;
    this.mask = options.capacity - 1;
    this.#policy = POLICY_CODES[options.overflow];
    this.#countMask = 2 * options.capacity - 1;
    this.replay = options.replay;
    if (this.replay) this.#allocate();
  }

  /** Puts `value` in the ring and returns how many subscribers will see it. */
  write(value: T): number {
    const readers = this.subscribers;
    const tail = this.tail;
    if (readers === 0) {
      // Nobody listens: keep the value only for replay.
      if (this.replay) this.slots[tail & this.mask] = value;
      this.tail = tail + 1;
      if (this.tap !== undefined) this.tap(value);
      return 0;
    }
    if (tail - this.floor === this.capacity && this.#full(this.#policy === DROP_OLDEST)) {
      if (this.#policy === DROP_OLDEST) this.#overtake();
      else if (this.#policy === DROP_NEWEST) {
        this.discarded++;
        return 0;
      } else {
        this.blocked++;
        throw new BusFullError(this.capacity);
      }
    }
    this.slots[tail & this.mask] = value;
    this.tail = tail + 1;
    if (this.tap !== undefined) this.tap(value);
    if (this.parked.length !== 0) this.#wakeParked();
    return readers;
  }

  /** Whether `write` would accept a value now without dropping one. */
  hasRoom(): boolean {
    return this.#policy !== WAIT || this.closed || this.subscribers === 0 || !this.#full(false);
  }

  /** Resolves once `hasRoom()`; never rejects. */
  ready(): Promise<void> {
    if (this.hasRoom()) return RESOLVED;
    return this.#ready ??= new Promise((resolve) => this.#openReady = resolve);
  }

  /** Registers a subscriber starting at `from` and returns its position. */
  join(from: "next" | "oldest"): number {
    if (this.#counts.length === 0) this.#allocate();
    this.#recordDrains(false);
    const tail = this.tail;
    let start = tail;
    if (from === "oldest") {
      if (this.replay) start = tail > this.capacity ? tail - this.capacity : 0;
      else if (this.subscribers !== 0) start = this.floor;
    }
    if (this.subscribers === 0 || start < this.floor) this.floor = start;
    this.subscribers++;
    this.#counts[start & this.#countMask]++;
    return start;
  }

  /** Records that a subscriber read from `from` up to (not including) `to`. */
  move(from: number, to: number): void {
    const oldest = this.tail - this.capacity;
    if (from < oldest) from = oldest;
    if (to <= from) return; // still in the floor bucket it was carried into
    const counts = this.#counts;
    const m = this.#countMask;
    counts[to & m]++;
    if (--counts[from & m] === 0 && from === this.floor) this.#raiseFloor();
  }

  /** Unregisters a subscriber whose recorded position is `at`. */
  leave(at: number): void {
    const oldest = this.tail - this.capacity;
    if (at < oldest) at = oldest;
    this.subscribers--;
    if (--this.#counts[at & this.#countMask] === 0 && at === this.floor) this.#raiseFloor();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.parked.length !== 0) this.#wakeParked();
    if (this.#openReady !== undefined) this.#resolveReady();
  }

  /** The floor's bucket emptied: walk up to the next subscriber, releasing what all have read. */
  #raiseFloor(): void {
    const counts = this.#counts;
    const m = this.#countMask;
    const tail = this.tail;
    let floor = this.floor;
    while (floor < tail && counts[floor & m] === 0) {
      if (!this.replay) this.slots[floor & this.mask] = undefined;
      floor++;
    }
    this.floor = floor;
    if (this.#openReady !== undefined && this.hasRoom()) this.#resolveReady();
  }

  /** Overwriting the floor's slot: carry the subscribers there one position up; they count the gap when they read. */
  #overtake(): void {
    const counts = this.#counts;
    const m = this.#countMask;
    const floor = this.floor;
    counts[(floor + 1) & m] += counts[floor & m];
    counts[floor & m] = 0;
    this.floor = floor + 1;
  }

  /**
   * Whether the slot the next write reuses holds the slowest subscriber's
   * next value. `overwriting`: the write will reuse it anyway.
   */
  #full(overwriting: boolean): boolean {
    if (this.tail - this.floor !== this.capacity) return false;
    this.#recordDrains(overwriting); // a drain in progress may be further along than its record
    return this.tail - this.floor === this.capacity;
  }

  #recordDrains(overwriting: boolean): void {
    const draining = this.draining;
    for (let i = 0; i < draining.length; i++) draining[i](overwriting);
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
    const counts: number[] = [];
    for (let i = 0; i < this.capacity; i++) slots.push(undefined);
    for (let i = 0; i < 2 * this.capacity; i++) counts.push(0);
    this.slots = slots;
    this.#counts = counts;
  }
}
