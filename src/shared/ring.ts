/**
 * The shared ring: `capacity` fixed-size slots in a `SharedArrayBuffer`,
 * indexed by `sequence & mask`, and the protocol by which any thread sends
 * into it, joins it or leaves it. One `SharedRing` object is one thread's
 * view of the memory; every thread that attaches builds its own.
 *
 * **Sending** (any thread, any number of producers at once):
 *
 * 1. Encode into private memory; a value too large for a slot is refused
 *    here, before anything is claimed.
 * 2. Claim the next sequence number with one compare-and-swap on HEAD. The
 *    swap fails if another producer claimed first, if the bus closed, or if a
 *    subscriber joined (the rescan flag), so a claim is never made on stale
 *    facts. Under `"wait"` and `"drop-newest"` the producer first checks that
 *    the slot to reuse was read by every subscriber: it keeps the slowest
 *    published cursor it last saw (the Disruptor's gating sequence) and only
 *    reads every cursor again when that says the ring is full.
 * 3. Take the slot: a compare-and-swap of its mark from "holds the previous
 *    lap" to "being written". It only has to wait when the producer of the
 *    previous lap of this very slot has not finished, which needs that
 *    producer to be stopped for a whole ring of sends.
 * 4. Write the payload with plain stores, then commit with one atomic store
 *    of the mark, and wake readers if any are asleep.
 *
 * A producer stopped between 2 and 4 (preempted by the OS, or a worker
 * terminated in the middle of a send) leaves its value claimed but not yet
 * readable: readers stop at it and wait, as a Disruptor's do, while producers
 * go on claiming and writing later slots. Readers go on as soon as it
 * commits. A worker terminated inside that window never commits: readers
 * that reach its value wait there for good, even after the bus closes (the
 * value was claimed). The window is one memory copy; stop a producing worker
 * by message, not by `terminate()` in the middle of its sends.
 *
 * **Reading** a slot takes no lock: load the mark, copy the payload into
 * private memory, load the mark again. Equal marks naming the reader's
 * sequence number mean a whole, committed value; anything else is a value
 * not yet written (wait) or overwritten (a lag), and is never delivered.
 *
 * Internal: {@linkcode SharedBus} is the public face.
 *
 * @module
 */

import { BusClosedError, BusFullError } from "../errors.ts";
import { Writes } from "../writes.ts";
import { type Coder, limitCoder, type RecordAccess, recordAccess, Scratch } from "./codec.ts";
import {
  ACTIVE,
  BLOCKED,
  CLOSED_FLAG,
  COUNTERS_BYTE,
  DATA_SIGNAL,
  DISCARDED,
  DROP_NEWEST,
  DROP_OLDEST,
  DROPPED,
  endsBlock,
  ENTRY_CURSOR,
  ENTRY_STATE,
  ENTRY_WORDS,
  EPOCH,
  FREE,
  fullSequence,
  HEAD,
  headWord,
  lapDistance,
  mark,
  PRODUCERS_ASLEEP,
  READERS_ASLEEP,
  RELEASED,
  RELEASED_SLOT,
  RESCAN_FLAG,
  ROOM_SIGNAL,
  S_CAPACITY,
  S_CLOSED,
  S_ORIGIN_HIGH,
  S_ORIGIN_LOW,
  S_POLICY,
  S_RELEASE_AFTER,
  S_REPLAY,
  S_SLOT_BYTES,
  S_SUBSCRIBER_SLOTS,
  S_WAKE_BATCH,
  SLOT_HEADER,
  slotsByte,
  slotStride,
  STATUS,
  SUBSCRIBERS,
  TABLE_BYTE,
  TABLE_HIGH,
  WAIT,
} from "./layout.ts";
import { Watch } from "./liveness.ts";
import { canBlock, PARK_TIMEOUT, Sleeper, wake, wakeAll, watchSignal } from "./wake.ts";

/** {@linkcode SharedRing.look}: the slot holds the reader's value, committed. */
export const HERE = 1;
/** The value is not written yet (not sent, or claimed and being written). */
export const NOT_YET = 0;
/** A later lap overwrote the value. */
export const GONE = -1;

/**
 * A subscriber slot taken by a joiner that has not written its cursor yet:
 * everyone skips it. Never taken back, even if its worker died there: a
 * joiner that only stood still would write its cursor into the next owner's
 * slot. It costs one of `maxSubscribers`, nothing else.
 */
const CLAIMED = 4;
/**
 * A subscriber slot being set up, its cursor written: producers gate on it
 * already, but it is not closed until it is ACTIVE, and it is released only
 * after {@linkcode JOIN_GRACE} (a worker terminated in the middle of a join).
 */
const JOINING = 5;

/**
 * Milliseconds a joiner must hold the ring unmoved before it is released,
 * if `releaseAfter` is shorter. A join is a few atomic operations, so one
 * stuck this long has lost its thread; the grace keeps a live joiner from
 * being released, and joining again, over and over while the ring is full
 * under a small `releaseAfter`.
 */
const JOIN_GRACE = 2000;

const RESOLVED: Promise<void> = Promise.resolve();
const ONE = BigInt(1);

/** What a join got: the subscriber slot, its state word, the first position to read, and values owed as missed. */
export interface Membership {
  index: number;
  state: number;
  position: number;
  gap: number;
}

/** What the ring needs of this thread's cursors: where they are, and how to end them when the bus closes. */
export interface LocalCursor {
  readonly at: number;
  poll(): number;
  close(): void;
}

/** One thread's view of a shared ring. Fields are for {@linkcode SharedCursor} and {@linkcode SharedBus} only. */
export class SharedRing<T> {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly floats: Float64Array;
  readonly bytes: Uint8Array;
  readonly counters: BigInt64Array;
  readonly capacity: number;
  readonly mask: number;
  readonly slotBytes: number;
  readonly subscriberSlots: number;
  readonly policy: number;
  readonly replay: boolean;
  /** Sends between wake-ups of readers asleep on other threads (the `wakeBatch` option). */
  readonly wakeBatch: number;
  /** Sends of this task under `wakeBatch` that found readers asleep since they were last woken. */
  #unwoken = 0;
  /** This task has woken sleeping readers once already; a microtask clears it. */
  #inTask = false;
  /** The first sequence number this bus gave out (0 but for the test hook). */
  readonly origin: number;
  readonly coder: Coder<T>;
  readonly #fields: readonly string[] | undefined;
  readonly #slotsByte: number;
  readonly #stride: number;
  readonly #tableWord = TABLE_BYTE >> 2;
  /** Where reads copy byte payloads before validating and decoding them. */
  readonly #copy = new Scratch();
  /** Set by {@linkcode observe}: whether the bus was closed at that tail. */
  observedClosed = false;
  /** Set by {@linkcode look}: an f64 record read, or the length of the bytes copied. */
  #record: Record<string, number> | undefined;
  #length = 0;
  /** A record's fields, read before claiming so no user code runs while a slot is held. */
  #fieldValues: Float64Array;
  readonly #records: RecordAccess | undefined;

  /** The slowest published cursor this thread last saw; a lower bound on every subscriber's position. */
  #floor = -Infinity;
  readonly #watch: Watch;

  /**
   * Record callbacks of this thread's cursors in the middle of a drain,
   * which publish once per batch: a send from a drain callback calls them
   * first, so it sees the values already handed over as read.
   */
  draining: (() => void)[] = [];
  #recording = false;
  /** This thread's open cursors, for close. */
  readonly cursors: Set<LocalCursor> = new Set();
  /** A watch for a close made on another thread is pending; see {@linkcode SharedRing.watchClose}. */
  #watchingClose = false;
  /** Wake callbacks of this thread's parked cursors. */
  parked: (() => void)[] = [];
  #spare: (() => void)[] | undefined = [];
  readonly readers: Sleeper;
  readonly #producers: Sleeper;
  /** This thread's writes waiting for room under `"wait"`, sent in order as room opens; made on the first `write`. */
  #writes: Writes<T> | undefined;
  /** What {@linkcode ready} gives while there is no room or a write of this thread waits. */
  #ready: Promise<void> | undefined;
  #openReady: (() => void) | undefined;
  /** What the write queue waits on while there is no room, whatever waits. */
  #room: Promise<void> | undefined;
  #openRoom: (() => void) | undefined;

  constructor(buffer: SharedArrayBuffer, coder: Coder<T>) {
    this.buffer = buffer;
    const words = this.words = new Int32Array(buffer);
    this.floats = new Float64Array(buffer);
    this.bytes = new Uint8Array(buffer);
    this.counters = new BigInt64Array(buffer, COUNTERS_BYTE, 4);
    this.capacity = words[S_CAPACITY]!;
    this.mask = this.capacity - 1;
    this.slotBytes = words[S_SLOT_BYTES]!;
    this.subscriberSlots = words[S_SUBSCRIBER_SLOTS]!;
    this.policy = words[S_POLICY]!;
    this.replay = words[S_REPLAY] === 1;
    this.wakeBatch = Math.max(1, words[S_WAKE_BATCH]!);
    this.origin = (words[S_ORIGIN_HIGH]! * 2 ** 32) + (words[S_ORIGIN_LOW]! >>> 0);
    const releaseAfter = words[S_RELEASE_AFTER]!;
    this.#watch = new Watch(releaseAfter < 0 ? Infinity : releaseAfter);
    this.coder = coder;
    this.#fields = coder.fields;
    this.#fieldValues = new Float64Array(coder.fields?.length ?? 0);
    this.#records = coder.fields === undefined ? undefined : recordAccess(coder.fields);
    limitCoder(coder, this.slotBytes);
    const geometry = { capacity: this.capacity, slotBytes: this.slotBytes, subscriberSlots: this.subscriberSlots };
    this.#slotsByte = slotsByte(geometry);
    this.#stride = slotStride(this.slotBytes);
    this.readers = new Sleeper(words, READERS_ASLEEP, DATA_SIGNAL, () => this.wakeParked());
    const roomTimeout = Math.max(1, Math.min(PARK_TIMEOUT, releaseAfter < 0 ? PARK_TIMEOUT : releaseAfter / 4));
    this.#producers = new Sleeper(words, PRODUCERS_ASLEEP, ROOM_SIGNAL, () => this.#lookForRoom(), roomTimeout);
  }

  /** The next sequence number to be claimed: the count of values sent. */
  tail(): number {
    const epoch = Atomics.load(this.words, EPOCH);
    return fullSequence(Atomics.load(this.words, HEAD), epoch);
  }

  /** Like {@linkcode tail}, and sets {@linkcode observedClosed} from the same load of HEAD. */
  observe(): number {
    const epoch = Atomics.load(this.words, EPOCH);
    const head = Atomics.load(this.words, HEAD);
    this.observedClosed = (head & CLOSED_FLAG) !== 0;
    return fullSequence(head, epoch);
  }

  get closed(): boolean {
    return Atomics.load(this.words, S_CLOSED) !== 0;
  }

  get subscribers(): number {
    return Atomics.load(this.words, SUBSCRIBERS);
  }

  /**
   * Sends `value`; returns how many subscribers there were, or 0 if
   * `"drop-newest"` discarded it. `counted`: a full ring under `"wait"`
   * counts in `blocked` (a write that finds another thread took the room
   * first does not: it waits).
   */
  send(value: T, counted = true): number {
    const fields = this.#fields;
    let bytes: Uint8Array | undefined;
    if (fields === undefined) {
      bytes = this.coder.encode(value);
      if (bytes.length > this.slotBytes) {
        throw new RangeError(
          `Value too large: it encodes to ${bytes.length} bytes, and this bus's slots hold ${this.slotBytes} (maxBytes)`,
        );
      }
    } else {
      this.#records!.write(value, this.#fieldValues);
    }
    const sequence = this.#claim(counted);
    if (sequence < 0) return 0;
    const readers = this.words[SUBSCRIBERS]!; // a count for the caller, not a fact anything depends on
    this.#write(sequence, bytes);
    return readers;
  }

  /** Claims the next sequence number, or returns -1 if `"drop-newest"` discards the value. */
  #claim(counted: boolean): number {
    const words = this.words;
    for (;;) {
      const epoch = Atomics.load(words, EPOCH);
      // A plain read (an atomic one costs 7-11 ns on V8): it is at least as new as the EPOCH just read, which
      // ordered it, and a stale value can only fail the compare-and-swap below, or look less full than it is.
      const head = words[HEAD]!;
      if ((head & CLOSED_FLAG) !== 0) throw new BusClosedError();
      const sequence = fullSequence(head, epoch);
      if (this.policy !== DROP_OLDEST) {
        if ((head & RESCAN_FLAG) !== 0) this.#floor = -Infinity; // someone joined: look at every cursor again
        if (sequence - this.#floor >= this.capacity && this.#full(sequence)) {
          if (this.policy === DROP_NEWEST) {
            Atomics.add(this.counters, DISCARDED, ONE);
            return -1;
          }
          if (counted) Atomics.add(this.counters, BLOCKED, ONE);
          throw new BusFullError(this.capacity);
        }
      }
      // Succeeds only if nobody claimed, closed or joined since `head` was read; it also clears the rescan flag.
      if (Atomics.compareExchange(words, HEAD, head, headWord(sequence + 1)) === head) {
        if (endsBlock(sequence)) Atomics.add(words, EPOCH, 1);
        return sequence;
      }
    }
  }

  /** Writes and commits the value of `sequence`, then wakes readers. */
  #write(sequence: number, bytes: Uint8Array | undefined): void {
    const words = this.words;
    const at = this.#slotsByte + (sequence & this.mask) * this.#stride;
    const markIndex = at >> 2;
    const previous = mark(sequence - this.capacity);
    const writing = mark(sequence) | 1;
    if (Atomics.compareExchange(words, markIndex, previous, writing) !== previous) {
      this.#takeSlot(markIndex, previous, writing);
    }
    const floats = this.floats;
    floats[(at >> 3) + 1] = sequence;
    const fields = this.#fields;
    if (fields === undefined) {
      this.bytes.set(bytes!, at + SLOT_HEADER);
      words[markIndex + 1] = bytes!.length;
    } else {
      const values = this.#fieldValues;
      const base = (at >> 3) + 2;
      for (let i = 0; i < values.length; i++) floats[base + i] = values[i]!;
    }
    Atomics.store(words, markIndex, mark(sequence));
    if (this.parked.length !== 0) this.wakeParked();
    if (this.wakeBatch === 1) wake(words, READERS_ASLEEP, DATA_SIGNAL);
    else this.#wakeLater();
  }

  /**
   * Under `wakeBatch`: the first send of a task that finds readers asleep
   * wakes them at once (a producer that sends a value per task pays no
   * latency); later sends of the same task wake them once per `wakeBatch`,
   * and the task's end wakes them for the rest.
   */
  #wakeLater(): void {
    if (Atomics.load(this.words, READERS_ASLEEP) === 0) return;
    if (!this.#inTask) {
      this.#inTask = true;
      queueMicrotask(this.#endTask);
      wake(this.words, READERS_ASLEEP, DATA_SIGNAL);
    } else if (++this.#unwoken >= this.wakeBatch) {
      this.#unwoken = 0;
      wake(this.words, READERS_ASLEEP, DATA_SIGNAL);
    }
  }

  #endTask = (): void => {
    this.#inTask = false;
    if (this.#unwoken === 0) return;
    this.#unwoken = 0;
    wake(this.words, READERS_ASLEEP, DATA_SIGNAL);
  };

  /** The previous lap of this slot is still being written by a stopped producer: wait for it to commit. */
  #takeSlot(markIndex: number, previous: number, writing: number): void {
    const words = this.words;
    const block = canBlock();
    for (let spins = 1;; spins++) {
      const seen = Atomics.compareExchange(words, markIndex, previous, writing);
      if (seen === previous) return;
      if (block && spins % 64 === 0) Atomics.wait(words, markIndex, seen, 1);
    }
  }

  /**
   * Whether sending `sequence` would overwrite a value a subscriber has not
   * read. Publishes this thread's drains in progress, reads every cursor,
   * and releases subscribers presumed dead (see `liveness.ts`).
   */
  #full(sequence: number): boolean {
    if (this.draining.length !== 0) this.#recordDrains();
    const floor = this.#floor = this.floorAt(sequence, true);
    if (sequence - floor < this.capacity) {
      this.#watch.clear();
      return false;
    }
    if (this.#watch.releaseAfter === Infinity || !this.#releaseStale(sequence)) return true;
    return sequence - (this.#floor = this.floorAt(sequence, true)) >= this.capacity;
  }

  /** Publishes this thread's drains in progress; a publish that opens room must not start it again. */
  #recordDrains(): void {
    if (this.#recording) return;
    this.#recording = true;
    try {
      const draining = this.draining;
      for (let i = 0; i < draining.length; i++) draining[i]!();
    } finally {
      this.#recording = false;
    }
  }

  /**
   * The position of the slowest subscriber, read from every published
   * cursor, as seen from `sequence` (the tail); `sequence` if there is none.
   * A cursor more than a ring behind counts as a ring behind. `gating`:
   * for a producer, which must also respect subscribers still joining.
   */
  floorAt(sequence: number, gating: boolean): number {
    const words = this.words;
    const high = Atomics.load(words, TABLE_HIGH);
    const low32 = sequence | 0;
    let behindMost = 0;
    for (let i = 0, entry = this.#tableWord; i < high; i++, entry += ENTRY_WORDS) {
      const state = Atomics.load(words, entry + ENTRY_STATE) & STATUS;
      if (state !== ACTIVE && (state !== JOINING || !gating)) continue;
      const behind = (low32 - Atomics.load(words, entry + ENTRY_CURSOR)) | 0;
      if (behind > behindMost) behindMost = behind > this.capacity ? this.capacity : behind;
    }
    return sequence - behindMost;
  }

  /** Releases the subscribers that hold the ring full and have not moved for `releaseAfter`; says if any was. */
  #releaseStale(sequence: number): boolean {
    const words = this.words;
    const now = performance.now();
    const high = Atomics.load(words, TABLE_HIGH);
    const low32 = sequence | 0;
    let released = false;
    for (let i = 0, entry = this.#tableWord; i < high; i++, entry += ENTRY_WORDS) {
      const state = Atomics.load(words, entry + ENTRY_STATE);
      const status = state & STATUS;
      if (status !== ACTIVE && status !== JOINING) continue;
      const cursor = Atomics.load(words, entry + ENTRY_CURSOR);
      if (((low32 - cursor) | 0) < this.capacity) continue; // not holding the ring
      const after = status === ACTIVE ? this.#watch.releaseAfter : Math.max(this.#watch.releaseAfter, JOIN_GRACE);
      if (!this.#watch.stale(i, state, cursor, now, after)) continue;
      if (Atomics.compareExchange(words, entry + ENTRY_STATE, state, (state & ~STATUS) | RELEASED_SLOT) === state) {
        // A joiner uncounts itself when it finds it was released (see `join`).
        if (status === ACTIVE) Atomics.sub(words, SUBSCRIBERS, 1);
        Atomics.add(this.counters, RELEASED, ONE);
        released = true;
      }
    }
    return released;
  }

  /** The queue of this thread's writes that wait for room. */
  get writes(): Writes<T> {
    return this.#writes ??= new Writes({
      send: (value) => this.send(value, false),
      hasRoom: () => this.#hasRawRoom(),
      drained: () => this.#afterWrites(),
      whenRoom: () => this.#whenRoom(),
    });
  }

  /** Whether `send` would go ahead without losing anything now, with no write of this thread waiting. */
  hasRoom(): boolean {
    return this.#writes?.pending !== true && this.#hasRawRoom();
  }

  /** Resolves once `hasRoom()`; never rejects. */
  ready(): Promise<void> {
    if (this.hasRoom()) return RESOLVED;
    let ready = this.#ready;
    if (ready === undefined) {
      ready = this.#ready = new Promise((resolve) => this.#openReady = resolve);
      this.#lookForRoom(); // may open it at once (a drain in progress, published)
    }
    return ready;
  }

  /** Resolves when room may have opened, whether or not a write waits: what the write queue waits on. */
  #whenRoom(): Promise<void> {
    let room = this.#room;
    if (room === undefined) {
      room = this.#room = new Promise((resolve) => this.#openRoom = resolve);
      this.#lookForRoom();
    }
    return room;
  }

  #hasRawRoom(): boolean {
    if (this.policy !== WAIT) return true;
    const tail = this.observe();
    return this.observedClosed || !this.#full(tail);
  }

  /** A local read or leave moved a cursor: a local producer or write waiting for room may go on. */
  moved(): void {
    if (this.#openReady !== undefined || this.#openRoom !== undefined) this.#roomMayHaveOpened();
  }

  /** Called when something starts to wait for room, and on each wake-up of the producers' sleeper. */
  #lookForRoom(): void {
    if (this.#openReady === undefined && this.#openRoom === undefined) return;
    this.#producers.want();
    this.#roomMayHaveOpened();
  }

  /**
   * Opens what waits, if there is room: the write queue's wait, and `ready`
   * unless a write waits (it opens once the writes are out, in
   * {@linkcode #afterWrites}). The room check may publish a drain in
   * progress, which calls back here: each opens once.
   */
  #roomMayHaveOpened(): void {
    if (!this.#hasRawRoom()) return;
    const openRoom = this.#openRoom;
    if (openRoom !== undefined) {
      this.#room = this.#openRoom = undefined;
      openRoom();
    }
    if (this.#writes?.pending !== true) this.#resolveReady();
    this.#stopIfIdle();
  }

  /** After waiting writes went out: open `ready` if room is left. */
  #afterWrites(): void {
    if (this.#openReady !== undefined && this.hasRoom()) this.#resolveReady();
    this.#stopIfIdle();
  }

  /** The producers' sleeper runs only while `ready` or a write waits for room. */
  #stopIfIdle(): void {
    if (this.#openReady === undefined && this.#openRoom === undefined) this.#producers.rest();
  }

  #resolveReady(): void {
    const open = this.#openReady;
    if (open === undefined) return;
    this.#ready = this.#openReady = undefined;
    open();
  }

  /**
   * Registers a subscriber. `from` is `"next"`, `"oldest"`, or a sequence
   * number; values already gone before a numbered start are owed as `gap`.
   * `exact` joins at `from` as it is: a released subscriber that was alive
   * after all, which finds any overwritten value itself.
   */
  join(from: "next" | "oldest" | number, exact = false): Membership {
    const words = this.words;
    const index = this.#takeEntry();
    const entry = this.#tableWord + index * ENTRY_WORDS;
    const generation = Atomics.load(words, entry + ENTRY_STATE) & ~STATUS;
    const state = generation | ACTIVE;
    this.#recordDrains();
    let tail = this.tail();
    let position = tail;
    let gap = 0;
    if (exact) position = from as number;
    else if (from !== "next") {
      const oldest = this.replay
        ? Math.max(this.origin, tail - this.capacity)
        : Atomics.load(words, SUBSCRIBERS) === 0
        ? tail
        : this.floorAt(tail, false);
      position = oldest;
      if (typeof from === "number") {
        if (from >= oldest) position = from;
        else gap = oldest - from;
      }
    }
    // JOINING from here: producers gate on it already, and only a release after JOIN_GRACE touches it.
    Atomics.store(words, entry + ENTRY_CURSOR, position | 0);
    Atomics.store(words, entry + ENTRY_STATE, generation | JOINING);
    // Under the gated policies, make every producer read the cursors again before its next claim. Claims made
    // before that are below the tail it returns and overwrite at most `tail - 1 - capacity`; none after passes us.
    if (this.policy !== DROP_OLDEST) tail = this.#flagRescan();
    if (from === "next" && !exact) position = tail;
    else if (position < tail - this.capacity) {
      // Overwritten before the join took hold: a numbered start owes them, "oldest" starts later.
      if (typeof from === "number" && !exact) gap += tail - this.capacity - position;
      position = tail - this.capacity;
    }
    // Released while joining (see below), the slot may be another joiner's by now: leave its cursor alone.
    if (Atomics.load(words, entry + ENTRY_STATE) !== (generation | JOINING)) return this.join(from, exact);
    Atomics.store(words, entry + ENTRY_CURSOR, position | 0);
    // Counted once its position is final: a thread that sees it in `subscriberCount` knows it sees every value
    // sent after. Counted before it is ACTIVE, as whatever ends an ACTIVE subscriber uncounts it.
    Atomics.add(words, SUBSCRIBERS, 1);
    if (Atomics.compareExchange(words, entry + ENTRY_STATE, generation | JOINING, state) !== (generation | JOINING)) {
      // Released while joining: this thread stood still for JOIN_GRACE in the middle. Join again, in a fresh slot.
      // A thread that dies between the count and this exchange leaves the count one too high; nothing else.
      Atomics.sub(words, SUBSCRIBERS, 1);
      return this.join(from, exact);
    }
    return { index, state, position, gap };
  }

  /** Sets the rescan flag on HEAD and returns the tail it was set at. */
  #flagRescan(): number {
    const words = this.words;
    for (;;) {
      const epoch = Atomics.load(words, EPOCH);
      const head = Atomics.load(words, HEAD);
      const tail = fullSequence(head, epoch);
      if ((head & CLOSED_FLAG) !== 0) return tail;
      if (Atomics.compareExchange(words, HEAD, head, head | RESCAN_FLAG) === head) return tail;
    }
  }

  /** Takes a free subscriber slot, or failing that one released long ago. */
  #takeEntry(): number {
    const words = this.words;
    for (const wanted of [FREE, RELEASED_SLOT]) {
      for (let i = 0, entry = this.#tableWord; i < this.subscriberSlots; i++, entry += ENTRY_WORDS) {
        const state = Atomics.load(words, entry + ENTRY_STATE);
        if ((state & STATUS) !== wanted) continue;
        const claimed = ((((state >>> 3) + 1) & 0x1fffffff) << 3) | CLAIMED;
        if (Atomics.compareExchange(words, entry + ENTRY_STATE, state, claimed) !== state) continue;
        for (let high = Atomics.load(words, TABLE_HIGH); high < i + 1; high = Atomics.load(words, TABLE_HIGH)) {
          Atomics.compareExchange(words, TABLE_HIGH, high, i + 1);
        }
        return i;
      }
    }
    throw new RangeError(
      `Too many subscribers: all ${this.subscriberSlots} subscriber slots are in use; raise maxSubscribers`,
    );
  }

  /** Publishes a subscriber's position; returns false if a producer released it. */
  publish(index: number, state: number, position: number): boolean {
    const words = this.words;
    const entry = this.#tableWord + index * ENTRY_WORDS;
    // A released slot may be another subscriber's by now: never write its cursor. (Released, taken and joined in
    // the instant between this look and the store, it still would be, until that owner publishes again.)
    if (Atomics.load(words, entry + ENTRY_STATE) !== state) return false;
    Atomics.store(words, entry + ENTRY_CURSOR, position | 0);
    wake(words, PRODUCERS_ASLEEP, ROOM_SIGNAL);
    if (this.#openReady !== undefined || this.#openRoom !== undefined) this.moved();
    return Atomics.load(words, entry + ENTRY_STATE) === state;
  }

  /** Unregisters a subscriber, or acknowledges its release. */
  leave(index: number, state: number): void {
    const words = this.words;
    const entry = this.#tableWord + index * ENTRY_WORDS;
    const free = (state & ~STATUS) | FREE;
    if (Atomics.compareExchange(words, entry + ENTRY_STATE, state, free) === state) {
      Atomics.sub(words, SUBSCRIBERS, 1);
    } else Atomics.compareExchange(words, entry + ENTRY_STATE, (state & ~STATUS) | RELEASED_SLOT, free);
    wake(words, PRODUCERS_ASLEEP, ROOM_SIGNAL);
    this.moved();
  }

  /** Adds a discovered gap to the bus-wide count. */
  countDropped(missed: number): void {
    Atomics.add(this.counters, DROPPED, BigInt(missed));
  }

  /**
   * Closes the ring for every thread. Idempotent. Cursors that have read
   * everything end now: this thread's directly, other threads' by freeing
   * their subscriber slots (they end for themselves when they next look);
   * the others end as they read their last value.
   */
  close(): void {
    const words = this.words;
    let tail: number;
    for (;;) {
      const epoch = Atomics.load(words, EPOCH);
      const head = Atomics.load(words, HEAD);
      if ((head & CLOSED_FLAG) !== 0) return;
      if (Atomics.compareExchange(words, HEAD, head, head | CLOSED_FLAG) === head) {
        tail = fullSequence(head, epoch);
        break;
      }
    }
    Atomics.store(words, S_CLOSED, 1);
    // Ending runs user code (wake-ups): the list is fixed first.
    const done = [...this.cursors].filter((cursor) => cursor.at === tail);
    for (const cursor of done) cursor.close();
    this.#freeCaughtUp(tail);
    wakeAll(words, DATA_SIGNAL);
    wakeAll(words, ROOM_SIGNAL);
    if (this.parked.length !== 0) this.wakeParked();
    this.#writes?.close();
    const openRoom = this.#openRoom;
    this.#room = this.#openRoom = undefined;
    openRoom?.();
    this.#resolveReady();
    this.#producers.stop();
  }

  /** Frees the slots of other threads' subscribers that have read everything, as the bus closes at `tail`. */
  #freeCaughtUp(tail: number): void {
    const words = this.words;
    const high = Atomics.load(words, TABLE_HIGH);
    for (let i = 0, entry = this.#tableWord; i < high; i++, entry += ENTRY_WORDS) {
      const state = Atomics.load(words, entry + ENTRY_STATE);
      if ((state & STATUS) !== ACTIVE || Atomics.load(words, entry + ENTRY_CURSOR) !== (tail | 0)) continue;
      if (Atomics.compareExchange(words, entry + ENTRY_STATE, state, (state & ~STATUS) | FREE) === state) {
        Atomics.sub(words, SUBSCRIBERS, 1);
      }
    }
  }

  /**
   * Where the value `position` stands, from its slot's mark alone: {@linkcode HERE},
   * {@linkcode NOT_YET} or {@linkcode GONE}. Cheap: no copy.
   */
  peek(position: number): number {
    const at = this.#slotsByte + (position & this.mask) * this.#stride;
    const slotMark = Atomics.load(this.words, at >> 2);
    const distance = lapDistance(slotMark, position);
    if (distance > 0) return GONE;
    return distance === 0 && (slotMark & 1) === 0 ? HERE : NOT_YET;
  }

  /**
   * Reads the value `position`: copies its payload into private memory
   * between two loads of the mark, and keeps it only if both name
   * `position`, committed. Returns {@linkcode HERE} (then call
   * {@linkcode decoded}), {@linkcode NOT_YET} or {@linkcode GONE}.
   */
  look(position: number): number {
    const words = this.words;
    const at = this.#slotsByte + (position & this.mask) * this.#stride;
    const markIndex = at >> 2;
    const before = Atomics.load(words, markIndex);
    const distance = lapDistance(before, position);
    if (distance !== 0 || (before & 1) !== 0) return distance > 0 ? GONE : NOT_YET;
    const fields = this.#fields;
    const floats = this.floats;
    if (fields !== undefined) this.#record = this.#records!.read(floats, (at >> 3) + 2);
    else {
      let length = words[markIndex + 1]!;
      if (length < 0 || length > this.slotBytes) length = 0; // torn: the second load of the mark says so
      const copy = this.#copy.reserve(length);
      const from = at + SLOT_HEADER;
      // Short payloads copy faster by hand than through a subarray view.
      if (length <= 64) { for (let i = 0; i < length; i++) copy[i] = this.bytes[from + i]!; }
      else copy.set(this.bytes.subarray(from, from + length));
      this.#length = length;
    }
    // The full number rules out a reader 2^31 values behind whose mark matched by wrapping.
    if (Atomics.load(words, markIndex) !== before || floats[(at >> 3) + 1] !== position) return GONE;
    return HERE;
  }

  /** The value the last {@linkcode look} that returned {@linkcode HERE} copied, decoded. May throw (a user codec). */
  decoded(): T {
    if (this.#fields !== undefined) return this.#record as T;
    return this.coder.decode(this.#copy.bytes.subarray(0, this.#length));
  }

  /**
   * Ends this thread's caught-up cursors when another thread closes the bus,
   * for a `sub.closed` someone awaits: a close always bumps DATA_SIGNAL. It
   * watches while this thread has cursors, and does not keep the thread
   * alive, as an awaited promise does not. Where `Atomics.waitAsync` is
   * missing, the end is noticed at the next read, or the next first look at
   * a subscriber's `closed` on this thread.
   */
  watchClose(): void {
    if (this.#watchingClose) return;
    this.#watchingClose = true;
    this.#watchClose();
  }

  #watchClose = (): void => {
    const words = this.words;
    const seen = Atomics.load(words, DATA_SIGNAL); // before the look at S_CLOSED, which a close sets before it bumps
    if (this.closed) {
      this.#watchingClose = false;
      for (const cursor of [...this.cursors]) cursor.poll(); // ends those with nothing left
      return;
    }
    if (this.cursors.size === 0 || !watchSignal(words, DATA_SIGNAL, seen, this.#watchClose)) {
      this.#watchingClose = false;
    }
  };

  /** Wakes this thread's parked cursors. */
  wakeParked(): void {
    // Swap in an empty list first: a woken cursor may park again at once. A woken cursor's user code may also send,
    // which wakes again in a nested loop: the spare is out while this loop walks `woken`, so that one takes a new list.
    const woken = this.parked;
    this.parked = this.#spare ?? [];
    this.#spare = undefined;
    this.readers.rest(); // nothing is parked now; a cursor that parks again wants the sleeper again
    for (let i = 0; i < woken.length; i++) woken[i]!();
    woken.length = 0;
    this.#spare = woken;
  }
}
