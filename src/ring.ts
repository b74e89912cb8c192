/**
 * The ring every subscriber of one bus reads: a power-of-two array of slots
 * indexed by `position & mask`, plus the bookkeeping that keeps `send` O(1).
 *
 * Positions count every value sent, so a subscriber's lag is
 * `tail - position` and never needs a scan. They are local: every
 * {@linkcode REBASE_STEP} values, every position moves down by that step and
 * `base` moves up, so positions stay small integers that the JIT keeps
 * unboxed, however long the bus runs. A value's sequence number is
 * `base + position`.
 *
 * The ring knows where its subscribers are without visiting them: a
 * histogram counts the cursors at each position, and `floor` is the lowest
 * occupied one, the slowest cursor. A read moves one cursor between two
 * buckets, so a batch costs O(1) whatever its size. When the floor bucket
 * empties, the floor walks forward and clears the slots every cursor has now
 * read, so payloads are not pinned. `send` compares `tail - floor` with the
 * capacity to see, in O(1), whether the slowest cursor is a full ring behind.
 *
 * The arrays start at {@linkcode FIRST_SIZE} slots and double whenever a
 * write finds them full and the capacity allows more, so a ring whose
 * readers keep up stays small, and a first subscribe costs two small arrays
 * whatever the capacity. They never shrink. Only once they reach the
 * capacity does a write overwrite, drop or refuse a value.
 *
 * Cursors sit at most as many positions behind the tail as there are
 * slots, so a histogram of twice as many buckets never aliases. A cursor the ring
 * overwrote is carried along in the floor bucket (see `write`), so its
 * bucket is `max(position, tail - capacity)`.
 *
 * Internal: {@linkcode Bus} and {@linkcode Subscriber} are the public faces.
 *
 * @module
 */

import { BusFullError } from "./errors.ts";
import type { ResolvedBusOptions } from "./options.ts";
import { RingCursor } from "./ring_cursor.ts";
import type { Tap, TapFn, Tapped } from "./tap.ts";
import { Writes } from "./writes.ts";

const DROP_OLDEST = 0;
const DROP_NEWEST = 1;
const WAIT = 2;
const POLICY_CODES = { "drop-oldest": DROP_OLDEST, "drop-newest": DROP_NEWEST, "wait": WAIT } as const;

/**
 * Positions stay below 2^30 - 1, inside the small-integer range of every
 * engine (V8 with pointer compression keeps 31 bits), so no position is ever
 * a boxed double. Reaching it costs one O(subscribers) rebase.
 */
export const REBASE_LIMIT = 2 ** 30 - 1;
/** How far a rebase moves positions down: a multiple of every histogram's size, so buckets and slots keep their index. */
export const REBASE_STEP = 2 ** 29;

/**
 * Slots a ring starts with (fewer if its capacity is smaller): what a first
 * subscribe allocates, whatever the capacity. Its histogram of 16 counts is
 * 64 bytes.
 */
export const FIRST_SIZE = 8;

const RESOLVED: Promise<void> = Promise.resolve();

/** A start position for a new cursor: `"next"`, `"oldest"`, or a sequence number. */
export type Start = "next" | "oldest" | number;

/** The shared state of one bus. Fields are public to the bus, its cursors and its taps only. */
export class Ring<T> implements Tapped<T> {
  readonly capacity: number;
  /** Slots allocated, less one: they are a power of two up to `capacity`, doubled as values queue up. */
  mask = -1;
  /** Histogram buckets, less one: twice the slots. */
  countMask = -1;
  readonly replay: boolean;
  readonly policy: number;
  /** Allocated on the first subscribe (at full size at once with replay), so a bus nobody reads costs no arrays. */
  slots: (T | undefined)[] = [];
  /** Cursors per position, indexed by `position & countMask`. */
  counts: Int32Array = NO_COUNTS;
  /** Local position of the next value sent. */
  tail = 0;
  /** Position of the slowest cursor. Meaningless while there are none. */
  floor = 0;
  /** Sequence number of local position 0. */
  base = 0;
  /** Local position of the first value this bus took: nothing before it ever existed. */
  origin = 0;
  /** Cursors subscribed now (the histogram's total). */
  subscribers = 0;
  closed = false;
  /** Every subscribed cursor, each knowing its index, for the rare visits: close and rebase. */
  cursors: RingCursor<T>[] = [];
  /**
   * Cursors in the middle of a `drain`, which records its progress once per
   * batch. Anything that needs exact positions from inside a drain callback
   * (a send finding the ring full, a join) asks them to record first.
   */
  draining: RingCursor<T>[] = [];
  /** Cursors parked in an await. A cursor that ends leaves its entry behind, marked not parked. */
  #parked: RingCursor<T>[] = [];
  /** The list to park in after the next wake-up; absent while a wake-up loop uses it. */
  #spare: RingCursor<T>[] | undefined = [];
  #tap: TapFn<T> | undefined = undefined;
  taps: readonly TapFn<T>[] = [];
  /**
   * `write` does nothing after storing a value until the tail reaches this:
   * {@linkcode REBASE_LIMIT} while no tap is set and nobody is parked, else 0.
   * One comparison instead of three checks per value.
   */
  quietUntil = REBASE_LIMIT;

  dropped = 0;
  discarded = 0;
  blocked = 0;

  /** Writes waiting for room under `"wait"`, sent in order as room opens; made on the first `write`. */
  #writes: Writes<T> | undefined;
  #ready: Promise<void> | undefined;
  #openReady: (() => void) | undefined;

  constructor(options: ResolvedBusOptions) {
    this.capacity = options.capacity;
    this.policy = POLICY_CODES[options.overflow];
    this.replay = options.replay;
    if (this.replay) this.#allocate(this.capacity); // it keeps the last `capacity` values, read or not
  }

  /** Puts `value` in the ring and returns how many subscribers will see it; `from`, the tap that sent it. */
  write(value: T, from?: Tap<T>): number {
    const tail = this.tail;
    const readers = this.subscribers;
    if (readers !== 0) {
      if (tail - this.floor > this.mask) return this.writeToFull(value, from, tail, readers);
      this.slots[tail & this.mask] = value;
    } else if (this.replay) this.slots[tail & this.mask] = value;
    this.tail = tail + 1;
    if (tail + 1 >= this.quietUntil) this.afterWrite(value, from);
    return readers;
  }

  /**
   * `write` when every slot holds a value the slowest cursor has not read,
   * apart so the fast path stays lean (on V8 a path once taken stays
   * compiled in). Below capacity the arrays double; at capacity the policy
   * decides, once any drain in progress has recorded how far it got.
   * The write path's helpers are `private`, not `#`: with `#` methods Bun's
   * overwriting send ran 10-35% slower (measured, 10 processes).
   */
  private writeToFull(value: T, from: Tap<T> | undefined, tail: number, readers: number): number {
    const policy = this.policy;
    if (this.mask + 1 !== this.capacity) this.grow();
    else if (this.draining.length === 0 || this.full(policy === DROP_OLDEST)) {
      if (policy === DROP_OLDEST) {
        // Overwrite the floor's slot: carry the cursors there one position up; they count the gap when they read.
        const counts = this.counts;
        const m = this.countMask;
        const floor = this.floor;
        counts[(floor + 1) & m]! += counts[floor & m]!;
        counts[floor & m] = 0;
        this.floor = floor + 1;
      } else if (policy === DROP_NEWEST) {
        this.discarded++;
        return 0;
      } else {
        this.blocked++;
        throw new BusFullError(this.capacity);
      }
    }
    this.slots[tail & this.mask] = value;
    this.tail = tail + 1;
    if (tail + 1 >= this.quietUntil) this.afterWrite(value, from);
    return readers;
  }

  /** What a write may have to do once stored: rebase positions, call the tap, wake parked cursors. */
  private afterWrite(value: T, from: Tap<T> | undefined): void {
    if (this.tail >= REBASE_LIMIT) this.#rebase();
    if (this.#tap !== undefined) this.#tap(value, from);
    if (this.#parked.length !== 0) this.#wakeParked();
  }

  /** The function a write calls with each value (several taps are installed as one); see `tap.ts`. */
  set tap(tap: TapFn<T> | undefined) {
    this.#tap = tap;
    this.#beQuiet();
  }

  /** Adds a cursor to the wake-up list of the next write. */
  park(cursor: RingCursor<T>): void {
    this.#parked.push(cursor);
    this.quietUntil = 0;
  }

  #beQuiet(): void {
    this.quietUntil = this.#tap === undefined && this.#parked.length === 0 ? REBASE_LIMIT : 0;
  }

  /** The queue of writes that wait for room. */
  get writes(): Writes<T> {
    return this.#writes ??= new Writes({
      send: (value, from) => this.write(value, from),
      hasRoom: () => this.#hasRawRoom(),
      drained: () => this.#afterWrites(),
    });
  }

  /** Whether `write` would take a value now without dropping one, with no earlier write waiting. */
  hasRoom(): boolean {
    return this.#writes?.pending !== true && this.#hasRawRoom();
  }

  /** Resolves once `hasRoom()`; never rejects. */
  ready(): Promise<void> {
    if (this.hasRoom()) return RESOLVED;
    return this.#ready ??= new Promise((resolve) => this.#openReady = resolve);
  }

  /** Registers a cursor starting at `from`. `from` as a number has been checked against `sequence()`. */
  join(from: Start, lagError: boolean): RingCursor<T> {
    if (this.mask === -1) this.#allocate(Math.min(this.capacity, FIRST_SIZE));
    this.recordDrains(false);
    let start = this.tail;
    let gap = 0;
    if (from === "oldest") start = this.#oldestRetained();
    else if (typeof from === "number") {
      const wanted = from - this.base;
      const oldest = this.#oldestRetained();
      if (wanted >= oldest) start = wanted;
      else {
        start = oldest;
        gap = oldest - wanted;
      }
    }
    if (this.subscribers === 0 || start < this.floor) this.floor = start;
    this.subscribers++;
    this.counts[start & this.countMask]!++;
    const cursor = new RingCursor(this, start, gap, lagError, this.cursors.length);
    this.cursors.push(cursor);
    return cursor;
  }

  /**
   * Test hook behind `startSequenceAt`: the next value sent on this unused
   * ring gets number `sequence`, and a rebase comes after at most `headroom`
   * more.
   */
  startAt(sequence: number, headroom: number): void {
    if (this.tail !== 0 || this.base !== 0 || this.subscribers !== 0) {
      throw new Error("startSequenceAt needs a bus that has never been used");
    }
    const local = Math.min(sequence, REBASE_LIMIT - headroom);
    this.base = sequence - local;
    this.tail = this.floor = this.origin = local;
  }

  /** The sequence number the next value sent will get. */
  sequence(): number {
    return this.base + this.tail;
  }

  /** Records that a cursor read from `from` up to (not including) `to`. */
  move(from: number, to: number): void {
    const oldest = this.tail - this.capacity;
    if (from < oldest) from = oldest;
    if (to <= from) return; // still in the floor bucket it was carried into
    const counts = this.counts;
    const m = this.countMask;
    counts[to & m]!++;
    if (--counts[from & m]! === 0 && from === this.floor) this.raiseFloor();
  }

  /** Unregisters `cursor`, whose recorded position is `at`. */
  leave(cursor: RingCursor<T>, at: number): void {
    const oldest = this.tail - this.capacity;
    if (at < oldest) at = oldest;
    this.subscribers--;
    const cursors = this.cursors;
    const last = cursors.pop()!;
    if (last !== cursor) {
      cursors[cursor.index] = last;
      last.index = cursor.index;
    }
    if (--this.counts[at & this.countMask]! === 0 && at === this.floor) this.raiseFloor();
  }

  /**
   * Closes the ring: cursors with nothing left end now, the others once they
   * read their last value; waiting writes fail and `ready` opens. Parked
   * cursors (all caught up) end first, in the order they parked.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Ending wakes subscribers, which runs user code: work from fixed lists.
    const cursors = this.cursors.slice();
    for (const cursor of cursors) if (cursor.at !== this.tail) cursor.closing();
    const woken = this.#takeParked();
    for (let i = 0; i < woken.length; i++) {
      const cursor = woken[i]!;
      if (cursor.at === this.tail) cursor.end();
      else cursor.wake();
    }
    this.#returnParked(woken);
    for (const cursor of cursors) if (cursor.at === this.tail) cursor.end();
    this.#writes?.close();
    if (this.#openReady !== undefined) this.#resolveReady();
  }

  /** The floor's bucket emptied: walk up to the next cursor, releasing what all have read. */
  raiseFloor(): void {
    const counts = this.counts;
    const m = this.countMask;
    const tail = this.tail;
    let floor = this.floor;
    while (floor < tail && counts[floor & m] === 0) {
      if (!this.replay) this.slots[floor & this.mask] = undefined;
      floor++;
    }
    this.floor = floor;
    const writes = this.#writes;
    if (writes !== undefined && writes.pending) {
      if (this.#hasRawRoom()) writes.roomOpened();
    } else if (this.#openReady !== undefined && this.#hasRawRoom()) this.#resolveReady();
  }

  /** Where a `from: "oldest"` cursor starts: with replay the last `capacity` values, else the slowest cursor. */
  #oldestRetained(): number {
    if (this.replay) return Math.max(this.tail - this.capacity, this.origin);
    return this.subscribers === 0 ? this.tail : this.floor;
  }

  #hasRawRoom(): boolean {
    return this.policy !== WAIT || this.closed || this.subscribers === 0 || !this.full(false);
  }

  /** After waiting writes went out: open `ready` if room is left. */
  #afterWrites(): void {
    if (this.#openReady !== undefined && this.hasRoom()) this.#resolveReady();
  }

  /**
   * Whether the slot the next write reuses holds the slowest cursor's next
   * value. `overwriting`: the write will reuse it anyway.
   */
  private full(overwriting: boolean): boolean {
    if (this.tail - this.floor !== this.capacity) return false;
    this.recordDrains(overwriting); // a drain in progress may be further along than its record
    return this.tail - this.floor === this.capacity;
  }

  private recordDrains(overwriting: boolean): void {
    const draining = this.draining;
    for (let i = 0; i < draining.length; i++) draining[i]!.recordMidDrain(overwriting);
  }

  /** Moves every position down by {@linkcode REBASE_STEP}; see the module doc. */
  #rebase(): void {
    const step = REBASE_STEP;
    this.tail -= step;
    this.base += step;
    const oldest = this.tail - this.capacity;
    this.floor = this.subscribers === 0 ? this.tail : this.floor - step;
    this.origin = Math.max(this.origin - step, oldest);
    const cursors = this.cursors;
    for (let i = 0; i < cursors.length; i++) cursors[i]!.rebase(step, oldest);
  }

  /** Wakes parked cursors in the order they parked. */
  #wakeParked(): void {
    const woken = this.#takeParked();
    for (let i = 0; i < woken.length; i++) woken[i]!.wake();
    this.#returnParked(woken);
  }

  /**
   * Swaps in an empty parked list and returns the old one: a woken
   * subscriber may park again at once, and a wake-up may send, which starts
   * a nested wake-up loop on the new list.
   */
  #takeParked(): RingCursor<T>[] {
    const woken = this.#parked;
    this.#parked = this.#spare ?? [];
    this.#spare = undefined;
    this.#beQuiet();
    return woken;
  }

  #returnParked(woken: RingCursor<T>[]): void {
    woken.length = 0;
    this.#spare = woken;
  }

  #resolveReady(): void {
    const open = this.#openReady!;
    this.#ready = this.#openReady = undefined;
    open();
  }

  #allocate(size: number): void {
    this.mask = size - 1;
    this.countMask = 2 * size - 1;
    this.slots = emptySlots(size);
    this.counts = size <= FIRST_SIZE ? slabCounts(2 * size) : new Int32Array(2 * size);
  }

  /**
   * Doubles the arrays, copying the values from the floor up and the
   * histogram's buckets from the floor to the tail: every cursor is there,
   * as none was ever lapped below the capacity. A drain in progress keeps
   * reading the old slots, which still hold every value of its batch.
   */
  private grow(): void {
    const { slots, counts, mask, countMask, floor, tail } = this;
    this.#allocate(2 * (mask + 1));
    for (let at = floor; at < tail; at++) this.slots[at & this.mask] = slots[at & mask];
    for (let at = floor; at <= tail; at++) this.counts[at & this.countMask] = counts[at & countMask]!;
  }
}

/** The histogram of a ring nobody has joined yet: one shared empty array, as a typed array per bus cost `new Bus()` 4x. */
const NO_COUNTS = new Int32Array(0);

/**
 * Histograms up to {@linkcode FIRST_SIZE} slots are views into a shared
 * slab, 64 first histograms' worth (4 KiB). Deno gives every typed array its
 * own backing store, which costs 1.3-2.7 us whatever its size, while a view
 * into an existing buffer costs 20-40 ns on every runtime. A slab is freed
 * once all its rings have grown or are gone; until then one ring may keep
 * its 4 KiB alive.
 */
const SLAB_BYTES = 64 * 8 * FIRST_SIZE;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

function slabCounts(length: number): Int32Array {
  if (slabUsed + 4 * length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const counts = new Int32Array(slab, slabUsed, length);
  slabUsed += 4 * length;
  return counts;
}

/** Empty slot arrays of the small sizes, copied rather than built: a copy costs a third of filling one. */
const TEMPLATES: (undefined[] | undefined)[] = [];
const LARGEST_TEMPLATE = 2 ** 12;

/**
 * An array of `size` undefined slots, packed (filled in order), which
 * engines read fastest: an array made with holes stays holey.
 */
function emptySlots(size: number): undefined[] {
  const exponent = Math.log2(size);
  const template = TEMPLATES[exponent];
  if (template !== undefined) return template.slice();
  const slots: undefined[] = [];
  for (let i = 0; i < size; i++) slots.push(undefined);
  if (size <= LARGEST_TEMPLATE) TEMPLATES[exponent] = slots.slice();
  return slots;
}
