/**
 * A cursor into the in-process {@linkcode Ring}: one subscriber's position,
 * with the fast paths every reading face goes through.
 *
 * Internal: {@linkcode Subscriber} is the public face.
 *
 * @module
 */

import { type Cursor, ENDED as POLL_ENDED, PENDING, READABLE } from "./cursor.ts";
import { LaggedError } from "./errors.ts";
import type { Ring } from "./ring.ts";
import { CLOSED, EMPTY } from "./signals.ts";

/*
 * States. The fast paths run only in OPEN; everything unusual is another
 * state, so each fast path checks one field. Those checks compare with the
 * literal values (0, 1): JavaScriptCore reads a module-level constant through
 * its scope on every use, which cost Bun's drain loop a quarter of its speed.
 */
const OPEN = 0;
/** In a `drain`, and nothing has happened to the cursor. */
const DRAINING = 1;
/**
 * In a `drain`, and something moved the cursor under it (its own callback
 * read it, or a send is about to overwrite its next value): the drain stops
 * after the value in hand, so nothing is delivered out of order.
 */
const INTERRUPTED = 2;
/** In a `drain`, and a rebase moved every position: the drain shifts its own and goes on. */
const REBASED = 3;
/** Not draining, but reads take the slow path: a gap waits to be reported, the bus is closed, or it is held. */
const SLOW = 4;
const ENDED = 5;

/** One subscriber's position in a {@linkcode Ring}. Fields are public to the ring only. */
export class RingCursor<T> implements Cursor<T> {
  readonly ring: Ring<T>;
  /** Local position of the next value to read. */
  at: number;
  /** The position the ring's histogram has for this cursor; a drain catches it up once per batch. */
  recorded: number;
  /** Index in `ring.cursors`. */
  index: number;
  state: number;
  /** Values lost before this cursor could read them that no read has discovered yet (a rebase or a start too old). */
  gap: number;
  onEnd: (() => void) | undefined = undefined;
  /** See {@linkcode Cursor.hold}. A held cursor is never OPEN, so only the slow path looks at this. */
  #held = false;
  #missed = 0;
  readonly #lagError: boolean;
  #parked = false;
  #wake: (() => void) | undefined = undefined;
  /** The sequence number it ended at; positions of ended cursors are not rebased. */
  #final = 0;

  constructor(ring: Ring<T>, at: number, gap: number, lagError: boolean, index: number) {
    this.ring = ring;
    this.at = this.recorded = at;
    this.gap = gap;
    this.#lagError = lagError;
    this.index = index;
    this.state = gap === 0 ? OPEN : SLOW;
  }

  /** A cursor that never joined: the one a subscriber made after its bus closed reads. */
  static ended<T>(ring: Ring<T>): RingCursor<T> {
    const cursor = new RingCursor(ring, ring.tail, 0, false, -1);
    cursor.#final = ring.sequence();
    cursor.state = ENDED;
    return cursor;
  }

  /** Where it reads next; a gap not yet discovered still lies ahead, as it would without a rebase. */
  get position(): number {
    return this.state === ENDED ? this.#final : this.ring.base + this.at - this.gap;
  }

  get missed(): number {
    return this.#missed;
  }

  get ended(): boolean {
    return this.state === ENDED;
  }

  take(): T | typeof EMPTY | typeof CLOSED {
    if (this.state !== 0 /* OPEN */) return this.#takeSlow();
    const ring = this.ring;
    const at = this.at;
    const behind = ring.tail - at;
    if (behind === 0) return EMPTY; // an open cursor is never caught up on a closed bus: it ended
    if (behind > ring.capacity) return this.#takeSlow();
    const value = ring.slots[at & ring.mask] as T;
    const next = at + 1;
    this.at = this.recorded = next;
    // The ring's `move`, in one step: an open cursor is recorded where it is, and not a full ring behind.
    const counts = ring.counts;
    const m = ring.countMask;
    counts[next & m]!++;
    if (--counts[at & m]! === 0 && at === ring.floor) ring.raiseFloor();
    return value;
  }

  hold(): void {
    this.#held = true;
    if (this.state === OPEN) this.state = SLOW;
  }

  release(): void {
    this.#held = false;
    if (this.state === SLOW) this.#rest(); // open again, unless a gap or the end keeps it slow
  }

  takeHeld(): T | typeof EMPTY | typeof CLOSED {
    if (!this.#held) return this.take();
    // Lifted for this one read, not passed down: an argument to #takeSlow cost the inlined fast path 7-11% on Node.
    this.#held = false;
    try {
      return this.#takeSlow();
    } finally {
      this.#held = true;
      if (this.state === OPEN) this.state = SLOW;
    }
  }

  drain(fn: (value: T) => void, max: number): number {
    const state = this.state;
    const ring = this.ring;
    let nested = false;
    if (state !== OPEN) {
      if (state === ENDED) return 0;
      if (state !== SLOW) {
        nested = true; // drained from its own drain callback: that drain stops after this one
        this.state = INTERRUPTED;
      }
    }
    let at = this.at;
    if (this.gap !== 0 || ring.tail - at > ring.capacity) at = this.#discoverGap();
    const behind = ring.tail - at;
    let start = at;
    let end = at + (behind < max ? behind : max);
    this.state = DRAINING;
    ring.draining.push(this);
    try {
      const { slots, mask } = ring; // if fn sends enough to grow the ring, these old arrays still hold the batch
      while (at < end) {
        const value = slots[at & mask] as T;
        this.at = ++at;
        fn(value);
        if (this.state !== 1 /* DRAINING */) {
          if (this.state !== REBASED) break; // fn closed or read this cursor, or a send overwrites what is next
          const shift = at - this.at;
          at -= shift;
          start -= shift;
          end -= shift;
          this.state = DRAINING;
        }
      }
    } finally {
      ring.draining.pop();
      if (this.state !== ENDED) {
        // Once per batch, even if fn threw: the value it threw on counts as read.
        this.#record();
        if (ring.closed && this.at === ring.tail) this.end(); // nested or not: it read its last value
        else if (nested) this.state = INTERRUPTED;
        else this.#rest();
      }
    }
    return at - start;
  }

  poll(): number {
    if (this.state === ENDED) return POLL_ENDED;
    return this.ring.tail !== this.at || this.gap !== 0 ? READABLE : PENDING;
  }

  park(wake: () => void): void {
    if (this.state === ENDED) return;
    this.#wake = wake;
    if (this.#parked) return;
    this.#parked = true;
    this.ring.park(this);
  }

  watchEnd(): void {} // the ring's close ends caught-up cursors itself

  close(): void {
    this.end();
  }

  /** Called by the ring's wake-up loop; a cursor that ended since it parked has nobody to wake. */
  wake(): void {
    if (!this.#parked) return;
    this.#parked = false;
    const wake = this.#wake!;
    this.#wake = undefined;
    wake();
  }

  /** Leaves the ring, once; then tells whoever waits. */
  end(): void {
    if (this.state === ENDED) return;
    const ring = this.ring;
    this.#final = this.position;
    this.state = ENDED;
    ring.leave(this, this.recorded);
    const wake = this.#parked ? this.#wake : undefined;
    this.#parked = false;
    this.#wake = undefined;
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
    wake?.();
  }

  /** The bus closed with values left for this cursor: it ends when it reads the last. */
  closing(): void {
    if (this.state === OPEN) this.state = SLOW;
  }

  /**
   * Called by the ring, mid-drain, when it needs exact positions;
   * `overwriting` says a write is about to reuse the slot `tail - capacity`.
   */
  recordMidDrain(overwriting: boolean): void {
    const state = this.state;
    if (state === ENDED) return;
    this.#record();
    if (overwriting && (state === DRAINING || state === REBASED) && this.ring.tail - this.at >= this.ring.capacity) {
      this.state = INTERRUPTED;
    }
  }

  /**
   * Moves this cursor down by `step`; `oldest` is the oldest position held
   * afterwards. A cursor the ring lapped is brought up to `oldest`, its gap
   * kept for its next read to discover, exactly as if nothing had moved.
   */
  rebase(step: number, oldest: number): void {
    let at = this.at - step;
    this.recorded -= step;
    if (at < oldest) {
      this.gap += oldest - at;
      at = this.recorded = oldest;
      if (this.state === OPEN) this.state = SLOW;
      else if (this.state === DRAINING || this.state === REBASED) this.state = INTERRUPTED;
    } else if (this.state === DRAINING) this.state = REBASED;
    this.at = at;
  }

  #takeSlow(): T | typeof EMPTY | typeof CLOSED {
    if (this.#held) return EMPTY;
    const state = this.state;
    if (state === ENDED) return CLOSED;
    const draining = state !== SLOW && state !== OPEN;
    if (draining) this.state = INTERRUPTED; // read from its own drain callback: that drain stops after this value
    const ring = this.ring;
    let at = this.at;
    if (this.gap !== 0 || ring.tail - at > ring.capacity) at = this.#discoverGap();
    if (at === ring.tail) {
      if (ring.closed) {
        this.end();
        return CLOSED;
      }
      if (!draining) this.#rest();
      return EMPTY;
    }
    const value = ring.slots[at & ring.mask] as T;
    this.at = ++at;
    this.#record();
    if (ring.closed && at === ring.tail) this.end();
    else if (!draining) this.#rest();
    return value;
  }

  /**
   * Counts the values lost since the last read (overwritten, or owed from a
   * rebase or a start too old), moves past them, and reports them under
   * `lag: "error"`. Returns the new position.
   */
  #discoverGap(): number {
    const ring = this.ring;
    const oldest = ring.tail - ring.capacity;
    let missed = this.gap;
    let at = this.at;
    if (at < oldest) {
      missed += oldest - at;
      at = this.recorded = oldest; // where the ring carried it
    }
    this.gap = 0;
    this.at = at;
    this.#missed += missed;
    ring.dropped += missed;
    if (this.#lagError) {
      if (this.state === SLOW) this.#rest();
      throw new LaggedError(missed);
    }
    return at;
  }

  /** Tells the ring how far this cursor has read. */
  #record(): void {
    this.ring.move(this.recorded, this.at);
    this.recorded = this.at;
  }

  /** The state of a cursor at rest (not draining, not ended). */
  #rest(): void {
    this.state = this.gap !== 0 || this.ring.closed || this.#held ? SLOW : OPEN;
  }
}
