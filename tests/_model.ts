/**
 * A reference model of a bus for the model-based property test: the list of
 * every value the bus accepted, plus one cursor per subscriber. No ring, no
 * counters of readers, no cleverness: each rule of the contract is a line or
 * two over that list, so it can be checked by reading it.
 *
 * The model knows nothing of `src/`. Values are numbers; every answer is an
 * {@linkcode Outcome}, a plain object that `assert.deepEqual` compares with
 * what the real bus did. Sequence numbers are the model's own, from 0; the
 * test adds the real bus's start.
 *
 * User code may run inside the bus: a drain callback, and the `then` getter
 * of a value that `recv()` resolves with. The model runs it at the same
 * point ({@linkcode BusModel.onRecv}), so the order in which parked readers
 * are served is part of the model: subscribers are woken in the order they
 * parked, each settles its parked reads first come, first served, and
 * whatever the user code reads queues behind.
 *
 * @module
 */

import type { BusStats } from "../mod.ts";

export type Overflow = "drop-oldest" | "drop-newest" | "wait";
/** Where a subscriber starts: as named, or a sequence number. */
export type From = "next" | "oldest" | number;
export type Lag = "skip" | "error";
/** The reads that may wait: `wait()`, `recv()` and `read()`. */
export type AsyncRead = "wait" | "recv" | "read";

/** What one call gave back: a result, or the name of the error it threw (with `missed` for a `LaggedError`). */
export type Outcome = { readonly ok: unknown } | { readonly error: string; readonly missed?: number };

/** Stands for the `EMPTY` and `CLOSED` symbols of `tryRecv()`. */
export const EMPTY = "EMPTY";
export const CLOSED = "CLOSED";

export interface ModelOptions {
  /** As given to `new Bus`; the model rounds it up itself. */
  capacity: number;
  overflow: Overflow;
  replay: boolean;
}

/** One subscriber: where it reads next, and what it has been told. */
export interface ModelSubscriber {
  readonly lag: Lag;
  /** Sequence number of the next value it reads. */
  position: number;
  /** Values gone before it could read them (a start too old) that no read has discovered yet. */
  gap: number;
  missed: number;
  /** Unsubscribed, or the bus closed with nothing left for it. */
  ended: boolean;
  /** Parked `wait`/`recv`/`read` calls, oldest first, by operation id. */
  readonly parked: { id: number; kind: AsyncRead }[];
  /** Its parked reads are being settled now. */
  settling: boolean;
}

/** A read that found a gap. */
class Lagged {
  constructor(readonly missed: number) {}
}

export class BusModel {
  readonly capacity: number;
  readonly overflow: Overflow;
  readonly replay: boolean;
  /** Every value the bus accepted; its index is its sequence number. */
  readonly log: number[] = [];
  readonly subscribers: ModelSubscriber[] = [];
  closed = false;
  dropped = 0;
  discarded = 0;
  blocked = 0;
  /** How each `wait`/`recv`/`read`/`ready`/`write` operation settled, by id. Absent while pending. */
  readonly settled: Map<number, Outcome> = new Map();
  /** Called as `recv()` resolves with a value: the user code a `then` getter runs. */
  onRecv: (value: number) => void = () => {};
  /** Subscribers with parked reads, in the order they parked: the order a send wakes them. */
  #parkedOrder: ModelSubscriber[] = [];
  #readyProbes: number[] = [];
  /** `write()` calls waiting for room, in order. */
  #writes: { id: number; value: number }[] = [];
  #operations = 0;

  constructor(options: ModelOptions) {
    let capacity = 1;
    while (capacity < options.capacity) capacity *= 2;
    this.capacity = capacity;
    this.overflow = options.overflow;
    this.replay = options.replay;
  }

  /** The sequence number of the next value sent. */
  get tail(): number {
    return this.log.length;
  }

  /** The oldest value the ring can still hold: the last `capacity` sent. */
  get oldest(): number {
    return Math.max(0, this.tail - this.capacity);
  }

  get current(): ModelSubscriber[] {
    return this.subscribers.filter((sub) => !sub.ended);
  }

  /** The slot `send` would reuse holds a value some current subscriber has not read. */
  get full(): boolean {
    const reused = this.tail - this.capacity;
    return reused >= 0 && this.current.some((sub) => sub.position <= reused);
  }

  /** Whether `bus.ready` is resolved: always, except under `"wait"` with no room or a write waiting. */
  get ready(): boolean {
    return this.overflow !== "wait" || this.closed || (!this.full && this.#writes.length === 0);
  }

  stats(): BusStats {
    return {
      capacity: this.capacity,
      subscribers: this.current.length,
      sent: this.log.length,
      dropped: this.dropped,
      discarded: this.discarded,
      blocked: this.blocked,
    };
  }

  /**
   * Whether the bus may still reference the value with sequence number `seq`.
   * The ring holds the last `capacity` values at most; without replay, only
   * those some current subscriber has yet to read.
   */
  mayHold(seq: number): boolean {
    if (seq < this.oldest || seq >= this.tail) return false;
    return this.replay || this.current.some((sub) => sub.position <= seq);
  }

  /** The values of writes still waiting for room: the bus holds them too. */
  waitingWrites(): number[] {
    return this.#writes.map(({ value }) => value);
  }

  send(value: number): Outcome {
    if (this.closed) return { error: "BusClosedError" };
    if (this.full && this.overflow === "drop-newest") {
      this.discarded++;
      return { ok: 0 };
    }
    if (this.full && this.overflow === "wait") {
      this.blocked++;
      return { error: "BusFullError" };
    }
    this.log.push(value);
    const readers = this.current.length;
    this.#wakeParked();
    return { ok: readers };
  }

  /** `bus.write(value)`: sends now if nothing waits and there is room, else waits its turn. Returns its id. */
  write(value: number): number {
    const id = this.#operations++;
    if (this.closed) this.settled.set(id, { error: "BusClosedError" });
    else if (this.#writes.length === 0 && !(this.overflow === "wait" && this.full)) {
      this.settled.set(id, this.send(value));
    } else this.#writes.push({ id, value });
    return id;
  }

  /**
   * Sends waiting writes as room allows. The bus does it in a microtask once
   * room opens; the test calls this where those microtasks run.
   */
  flushWrites(): void {
    while (this.#writes.length !== 0 && !this.closed && !this.full) {
      const { id, value } = this.#writes.shift()!;
      this.settled.set(id, this.send(value));
    }
    this.#probeReady();
  }

  /** Adds a subscriber; after `close()` it has already ended. A numeric start is checked by the caller. */
  subscribe(from: From, lag: Lag): void {
    const sub: ModelSubscriber = {
      lag,
      position: this.tail,
      gap: 0,
      missed: 0,
      ended: this.closed,
      parked: [],
      settling: false,
    };
    if (!this.closed && from !== "next") {
      const oldest = this.#oldestRetained();
      if (from === "oldest") sub.position = oldest;
      else if (from >= oldest) sub.position = from;
      else {
        sub.position = oldest;
        sub.gap = oldest - from;
      }
    }
    this.subscribers.push(sub);
    this.#probeReady();
  }

  /** With replay, the last `capacity` values; without, the oldest value a current subscriber still has to read. */
  #oldestRetained(): number {
    if (this.replay) return this.oldest;
    const owed = this.current.map((sub) => Math.max(sub.position, this.oldest));
    return owed.length === 0 ? this.tail : Math.min(...owed);
  }

  tryRecv(index: number): Outcome {
    const sub = this.subscribers[index];
    // A parked read is first in line; it only parks when nothing is there.
    const got = sub.parked.length !== 0 ? EMPTY : this.#take(sub);
    this.#probeReady();
    return got instanceof Lagged ? { error: "LaggedError", missed: got.missed } : { ok: got };
  }

  /**
   * `drain(fn, max)`. `fn` is called with each value and may call this model
   * back (send, read, close); if it throws, the outcome is the name of its
   * error. A batch is the values there when `drain` was called, up to `max`;
   * it stops early if `fn` read or closed this subscriber, or sent enough to
   * overwrite its next value.
   */
  drain(index: number, fn: (value: number) => void, max: number): Outcome {
    const sub = this.subscribers[index];
    const outcome = this.#drain(sub, fn, max);
    this.#probeReady();
    return outcome;
  }

  #drain(sub: ModelSubscriber, fn: (value: number) => void, max: number): Outcome {
    if (sub.ended || sub.parked.length !== 0) return { ok: 0 };
    const gap = this.#discoverGap(sub);
    if (gap !== undefined) return { error: "LaggedError", missed: gap.missed };
    const count = Math.min(this.tail - sub.position, max);
    for (let n = 1; n <= count; n++) {
      // Taken before fn runs: a value fn throws on counts as read, and the room it frees opens `bus.ready`.
      const next = ++sub.position;
      this.#probeReady();
      try {
        fn(this.log[next - 1]);
      } catch (error) {
        this.#endIfDone(sub); // the value fn threw on counts as read
        return { error: (error as Error).name };
      }
      if (sub.ended || sub.position !== next || next < this.oldest) {
        this.#endIfDone(sub);
        return { ok: n };
      }
    }
    this.#endIfDone(sub);
    return { ok: count };
  }

  /** Starts a `wait()`, `recv()` or `read()` and returns its operation id; see {@linkcode settled}. */
  read(index: number, kind: AsyncRead): number {
    const id = this.#operations++;
    const sub = this.subscribers[index];
    sub.parked.push({ id, kind });
    if (sub.parked.length === 1) this.#settle(sub);
    this.#probeReady();
    return id;
  }

  /** Reads `bus.ready` and returns its operation id; it settles with `{ ok: undefined }` once there is room. */
  readyProbe(): number {
    const id = this.#operations++;
    this.#readyProbes.push(id);
    this.#probeReady();
    return id;
  }

  /** `sub.close()`, `[Symbol.dispose]()`, `cancel()` or `releaseLock()`. */
  unsubscribe(index: number): void {
    const sub = this.subscribers[index];
    sub.ended = true;
    this.#settle(sub);
    this.#probeReady();
  }

  /**
   * Subscribers with nothing left end now, the parked ones (all caught up)
   * first, in the order they parked; the others end when they read their
   * last value. Waiting writes fail.
   */
  close(): void {
    this.closed = true;
    for (const { id } of this.#writes.splice(0)) this.settled.set(id, { error: "BusClosedError" });
    const parked = this.#parkedOrder;
    this.#parkedOrder = [];
    for (const sub of parked) {
      if (sub.position === this.tail) sub.ended = true;
      this.#settle(sub);
    }
    for (const sub of this.subscribers) {
      if (sub.position === this.tail && !sub.ended) {
        sub.ended = true;
        this.#settle(sub);
      }
    }
    this.#probeReady();
  }

  /** The next value, `EMPTY`, `CLOSED`, or a gap the read discovered. */
  #take(sub: ModelSubscriber): number | typeof EMPTY | typeof CLOSED | Lagged {
    if (sub.ended) return CLOSED;
    const gap = this.#discoverGap(sub);
    if (gap !== undefined) return gap;
    if (sub.position === this.tail) {
      if (!this.closed) return EMPTY;
      sub.ended = true; // read to its end mid-drain: the drain's callback reads again
      return CLOSED;
    }
    const value = this.log[sub.position++];
    this.#endIfDone(sub);
    return value;
  }

  /** On a closed bus, a subscriber ends as it reads its last value. */
  #endIfDone(sub: ModelSubscriber): void {
    if (this.closed && sub.position === this.tail) sub.ended = true;
  }

  /**
   * A subscriber the ring overwrote jumps to the oldest value held; that gap
   * and any owed from its start are counted, and with `lag: "error"` reported.
   */
  #discoverGap(sub: ModelSubscriber): Lagged | undefined {
    const overwritten = Math.max(0, this.oldest - sub.position);
    const missed = sub.gap + overwritten;
    if (missed === 0) return undefined;
    sub.position += overwritten;
    sub.gap = 0;
    sub.missed += missed;
    this.dropped += missed;
    return sub.lag === "error" ? new Lagged(missed) : undefined;
  }

  /** Wakes parked subscribers in the order they parked; a subscriber that parks while this runs waits for the next. */
  #wakeParked(): void {
    const woken = this.#parkedOrder;
    this.#parkedOrder = [];
    for (const sub of woken) this.#settle(sub);
  }

  /**
   * Settles parked reads, first come first served, until one has to keep
   * waiting; then the subscriber parks again, at the back of the line. User
   * code run here may read this subscriber: that read queues behind.
   */
  #settle(sub: ModelSubscriber): void {
    if (sub.settling) return;
    sub.settling = true;
    this.#parkedOrder = this.#parkedOrder.filter((other) => other !== sub);
    while (sub.parked.length !== 0) {
      const { id, kind } = sub.parked[0];
      let outcome: Outcome;
      let value: number | undefined;
      if (kind === "wait") {
        if (sub.ended) outcome = { ok: false };
        else if (sub.position !== this.tail || sub.gap !== 0) outcome = { ok: true };
        else break;
      } else {
        const got = this.#take(sub);
        if (got === EMPTY) break;
        if (got instanceof Lagged) outcome = { error: "LaggedError", missed: got.missed };
        else if (got === CLOSED) outcome = kind === "recv" ? { error: "BusClosedError" } : { ok: { done: true } };
        else {
          outcome = kind === "recv" ? { ok: got } : { ok: { done: false, value: got } };
          if (kind === "recv") value = got;
        }
      }
      sub.parked.shift();
      this.settled.set(id, outcome);
      if (value === undefined) continue;
      // The room the read freed opens `bus.ready` before the value's `then` getter runs and can fill it again.
      this.#probeReady();
      this.onRecv(value);
    }
    sub.settling = false;
    if (sub.parked.length !== 0 && !this.#parkedOrder.includes(sub)) this.#parkedOrder.push(sub);
  }

  #probeReady(): void {
    if (!this.ready) return;
    for (const id of this.#readyProbes) this.settled.set(id, { ok: undefined });
    this.#readyProbes = [];
  }
}
