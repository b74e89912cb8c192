/**
 * One reader's position in a shared ring: the {@linkcode Cursor} a
 * {@linkcode Subscriber} reads a {@linkcode SharedBus} through.
 *
 * The reader keeps its full position in private memory and publishes it
 * (modulo 2^32) in its subscriber slot after each read, or once per batch in
 * `drain`, for producers to gate on. A read looks at the slot's mark: it
 * never takes a lock, and reads HEAD (the line every producer writes) once
 * per `drain` batch, and in `take` only when the slot has nothing for it, to
 * tell a value not sent yet from one claimed but not yet written, a lag from
 * the end of a closed bus.
 *
 * Internal: {@linkcode SharedBus.subscribe} is the public face.
 *
 * @module
 */

import { type Cursor, ENDED, PENDING, READABLE } from "../cursor.ts";
import { LaggedError } from "../errors.ts";
import { CLOSED, EMPTY } from "../signals.ts";
import { GONE, HERE, type Membership, NOT_YET, type SharedRing } from "./ring.ts";

const OPEN = 0;
/** A `drain` is in progress; a read, drain or close from its callback moves it on, which stops that drain. */
const DRAINING = 1;
const DONE = 2;

/** A cursor into a {@linkcode SharedRing}; see the module doc. */
export class SharedCursor<T> implements Cursor<T> {
  readonly #ring: SharedRing<T>;
  readonly #lagError: boolean;
  #index = -1;
  #state = 0;
  #position: number;
  /** Values owed as missed that no read has discovered yet: a numbered start older than what is retained. */
  #gap = 0;
  #missed = 0;
  #mode: number;
  #parked = false;
  /** See {@linkcode Cursor.hold}. */
  #held = false;
  #wake: (() => void) | undefined;
  onEnd: (() => void) | undefined;
  /** Called by the ring's wake-up, or early by `park` itself. */
  #woken = (): void => {
    if (!this.#parked) return;
    this.#parked = false;
    const wake = this.#wake!;
    this.#wake = undefined;
    wake();
  };
  /** Publishes the position mid-drain, for a local send or join that needs it exact. */
  #record = (): void => {
    if (this.#mode !== DONE) this.#publish();
  };

  /** Joins `ring`; on a closed bus the cursor has ended from the start. */
  constructor(ring: SharedRing<T>, from: "next" | "oldest" | number, lag: "skip" | "error") {
    this.#ring = ring;
    this.#lagError = lag === "error";
    if (ring.closed) {
      this.#mode = DONE;
      this.#position = ring.tail();
      return;
    }
    const { index, state, position, gap } = ring.join(from);
    this.#index = index;
    this.#state = state;
    this.#position = position;
    this.#gap = gap;
    this.#mode = OPEN;
    ring.cursors.add(this);
  }

  get position(): number {
    return this.#position - this.#gap; // it moves past a gap only when a read discovers it
  }

  /** Where it reads next, past any gap not discovered yet: what the ring compares with its tail at close. */
  get at(): number {
    return this.#position;
  }

  get missed(): number {
    return this.#missed;
  }

  get ended(): boolean {
    return this.#mode === DONE;
  }

  take(): T | typeof EMPTY | typeof CLOSED {
    return this.#held ? EMPTY : this.takeHeld();
  }

  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
  }

  takeHeld(): T | typeof EMPTY | typeof CLOSED {
    const mode = this.#mode;
    if (mode !== OPEN) {
      if (mode === DONE) return CLOSED;
      this.#mode = OPEN; // read from its own drain callback: that drain stops after this value
    }
    const ring = this.#ring;
    if (this.#gap !== 0) this.#discoverGap();
    for (;;) {
      const position = this.#position;
      const found = ring.look(position);
      if (found === HERE) {
        this.#position = position + 1;
        this.#publish();
        try {
          return ring.decoded(); // if a user codec throws, the value still counts as read
        } finally {
          this.#endIfDone();
        }
      }
      if (found === NOT_YET) {
        const tail = ring.observe();
        if (tail - position <= ring.capacity) {
          if (position < tail || !ring.observedClosed) return EMPTY;
          this.#end();
          return CLOSED;
        }
      }
      this.#discoverGap();
    }
  }

  drain(fn: (value: T) => void, max: number): number {
    if (this.#mode === DONE) return 0;
    const ring = this.#ring;
    let position = this.#position;
    let tail = ring.observe();
    if (this.#gap !== 0 || tail - position > ring.capacity) {
      position = this.#discoverGap();
      tail = ring.observe();
    }
    const end = position + Math.min(tail - position, max);
    let handed = 0;
    let raced = false;
    this.#mode = DRAINING;
    ring.draining.push(this.#record);
    try {
      while (position < end) {
        const found = ring.look(position);
        if (found !== HERE) {
          // Not written yet (another thread's producer is mid-send), or overwritten: by a send from fn
          // (the next read counts the gap), or by another thread since the tail was read.
          raced = found === GONE && handed === 0;
          break;
        }
        this.#position = ++position;
        handed++;
        fn(ring.decoded());
        if (this.#mode !== DRAINING) break; // fn closed or read this cursor
      }
    } finally {
      ring.draining.pop();
      if (this.#mode !== DONE) {
        this.#mode = OPEN; // nested or not: a drain of this cursor that called it sees it moved on, and stops
        this.#publish(); // once per batch, even if fn threw: the value it threw on counts as read
        this.#endIfDone(); // nested or not: it read its last value
      }
    }
    return raced ? this.drain(fn, max) : handed;
  }

  poll(): number {
    if (this.#mode === DONE) return ENDED;
    const ring = this.#ring;
    const position = this.#position;
    if (this.#gap !== 0 || ring.peek(position) !== NOT_YET) return READABLE; // a value, or a gap to report
    const tail = ring.observe();
    if (position < tail || !ring.observedClosed) return tail - position > ring.capacity ? READABLE : PENDING;
    this.#end();
    return ENDED;
  }

  park(wake: () => void): void {
    if (this.#mode === DONE) return;
    const ring = this.#ring;
    this.#wake = wake;
    if (!this.#parked) {
      this.#parked = true;
      ring.parked.push(this.#woken);
    }
    ring.readers.want();
    // Counted as asleep first, then one more look, so a value committed meanwhile cannot be missed (see wake.ts).
    if (this.poll() === PENDING || !this.#parked) return;
    this.#unpark();
    const early = this.#wake!;
    this.#wake = undefined;
    queueMicrotask(early);
  }

  watchEnd(): void {
    this.#ring.watchClose(); // called only while the cursor has not ended
  }

  close(): void {
    this.#end();
  }

  /**
   * Counts the values lost since the last read (overwritten, or owed by a
   * numbered start), moves past them, and reports them under `lag: "error"`.
   * Returns the new position.
   */
  #discoverGap(): number {
    const ring = this.#ring;
    let missed = this.#gap;
    this.#gap = 0;
    const oldest = ring.tail() - ring.capacity;
    if (this.#position < oldest) {
      missed += oldest - this.#position;
      this.#position = oldest;
    }
    if (missed !== 0) {
      this.#publish(); // a read, even one that only reports what a numbered start owes: a released cursor joins again
      this.#missed += missed;
      ring.countDropped(missed);
      if (this.#lagError) throw new LaggedError(missed);
    }
    return this.#position;
  }

  /** On a closed bus, a cursor ends as it reads its last value. */
  #endIfDone(): void {
    const ring = this.#ring;
    if (ring.closed && this.#mode !== DONE && this.#position === ring.tail()) this.#end();
  }

  /**
   * Tells producers how far this cursor has read; joins again if one
   * released it as presumed dead. If every subscriber slot is taken, it reads
   * on without holding producers (what is overwritten first counts as
   * missed, as for any lapped reader) and tries again at its next publish.
   */
  #publish(): void {
    const ring = this.#ring;
    if (ring.publish(this.#index, this.#state, this.#position) || ring.closed) return;
    ring.leave(this.#index, this.#state);
    let joined: Membership;
    try {
      joined = ring.join(this.#position, true);
    } catch (error) {
      if (error instanceof RangeError) return; // no free slot; the stale index and state are never written to
      throw error;
    }
    this.#index = joined.index;
    this.#state = joined.state;
  }

  #unpark(): void {
    this.#parked = false;
    const parked = this.#ring.parked;
    const at = parked.indexOf(this.#woken);
    if (at !== -1) parked.splice(at, 1);
    if (parked.length === 0) this.#ring.readers.rest();
  }

  /** Ends the cursor, once: leaves the ring, then calls `onEnd` and the parked wake. */
  #end(): void {
    if (this.#mode === DONE) return;
    this.#mode = DONE;
    const ring = this.#ring;
    ring.leave(this.#index, this.#state);
    ring.cursors.delete(this);
    let wake: (() => void) | undefined;
    if (this.#parked) {
      this.#unpark();
      wake = this.#wake;
      this.#wake = undefined;
    }
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    onEnd?.();
    wake?.();
  }
}
