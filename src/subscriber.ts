/**
 * A subscriber: one reader's cursor into the ring of a {@linkcode Bus}, with
 * every way of reading it.
 *
 * @module
 */

import { BusClosedError, LaggedError } from "./errors.ts";
import { describe, type SubscribeOptions } from "./options.ts";
import type { Ring } from "./ring.ts";
import { CLOSED, EMPTY } from "./signals.ts";
import { toReadable } from "./stream.ts";

const TRUE: Promise<boolean> = Promise.resolve(true);
const FALSE: Promise<boolean> = Promise.resolve(false);
const RESOLVED: Promise<undefined> = Promise.resolve(undefined);
/** Fits both a stream reader's and an iterator's "done" result. */
const DONE: { readonly done: true; readonly value: undefined } = Object.freeze({ done: true, value: undefined });

/**
 * A subscriber's state. `DRAINING` is a `drain` in progress; anything that
 * moves the cursor under it (a read from the callback, or a send about to
 * overwrite the next value) turns it into `INTERRUPTED`, which the drain loop
 * checks after each value: one load, instead of re-deriving it per value.
 */
const OPEN = 0;
const DRAINING = 1;
const INTERRUPTED = 2;
const ENDED = 3;

/** What a parked read will resolve with: the value, or a stream-style read result. */
const RECV_KIND = 0;
const READ_KIND = 1;

/** A `recv()` or `read()` parked in an await, settled when the subscriber is woken. */
class Waiter {
  constructor(
    readonly kind: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** A parked `wait()` is just its resolve function: the cheapest park, as it is the batch path's. */
type Parked = Waiter | ((ready: boolean) => void);

/** @internal Builds subscribers for {@linkcode Bus.subscribe}; not part of the public API. */
export let createSubscriber: <T>(ring: Ring<T> | undefined, options: Required<SubscribeOptions>) => Subscriber<T>;

/**
 * One reader of a {@linkcode Bus}. It sees the values sent after it
 * subscribed (or, with `from: "oldest"`, the ones still retained), in order,
 * each once. Every way of reading moves the same cursor:
 *
 * - {@linkcode Subscriber.tryRecv}: synchronous, no promise, no allocation.
 * - {@linkcode Subscriber.drain}: every available value to a callback, no
 *   allocation per value.
 * - {@linkcode Subscriber.wait} then `drain`: one await per batch, not per value.
 * - {@linkcode Subscriber.recv}, `for await`, and the reader-compatible
 *   {@linkcode Subscriber.read}: one promise per value.
 * - {@linkcode Subscriber.readable}: a real `ReadableStream`.
 *
 * A subscriber that falls more than `capacity` values behind skips to the
 * oldest value still held and adds the gap to {@linkcode Subscriber.missed}.
 * With `lag: "error"` the next read also reports a {@linkcode LaggedError}.
 *
 * Create one with {@linkcode Bus.subscribe}. Close it (or declare it with
 * `using`) when done, so the bus stops holding values for it.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example Three ways to read
 * ```ts
 * import { Bus, EMPTY } from "@ron/bus";
 *
 * const bus = new Bus<number>();
 * using sub = bus.subscribe();
 * bus.send(1);
 * bus.send(2);
 * bus.send(3);
 * console.log(sub.tryRecv()); // 1
 * console.log(await sub.recv()); // 2
 * sub.drain((n) => console.log(n)); // 3
 * console.log(sub.tryRecv() === EMPTY); // true
 * ```
 */
export class Subscriber<T> implements AsyncIterable<T>, Disposable {
  /** Unset for a subscriber created after the bus closed: it never joined, and every read ends first. */
  #ring: Ring<T>;
  /** Sequence number of the next value to read; -1 once ended. */
  #position: number;
  /** The position the ring has on record for this subscriber; drain catches it up once per batch. */
  #recorded: number;
  #missed = 0;
  #lagError: boolean;
  #state: number;
  #waiters: Parked[] = [];
  #parked = false;
  #wake = (): void => {
    this.#parked = false;
    this.#settle();
  };
  #readable: ReadableStream<T> | undefined;
  #closed: Promise<undefined> | undefined;
  #resolveClosed: ((value: undefined) => void) | undefined;

  static {
    createSubscriber = <T>(ring: Ring<T> | undefined, options: Required<SubscribeOptions>) =>
      new Subscriber<T>(ring, options);
  }

  private constructor(ring: Ring<T> | undefined, options: Required<SubscribeOptions>) {
    this.#lagError = options.lag === "error";
    this.#state = ring === undefined ? ENDED : OPEN;
    this.#ring = ring!;
    this.#position = this.#recorded = ring === undefined ? -1 : ring.join(options.from);
  }

  /**
   * How many values this subscriber lost because the ring overwrote them
   * before it read them. A gap is counted when a read discovers it.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>({ capacity: 4 });
   * const sub = bus.subscribe();
   * for (let i = 0; i < 10; i++) bus.send(i);
   * console.log(sub.tryRecv(), sub.missed); // 6 6
   * ```
   */
  get missed(): number {
    return this.#missed;
  }

  /**
   * Resolves once this subscriber has ended: it was closed, or the bus closed
   * and it read everything retained for it. As on a
   * `ReadableStreamDefaultReader`.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const sub = new Bus<number>().subscribe();
   * sub.closed.then(() => console.log("done"));
   * sub.close();
   * ```
   */
  get closed(): Promise<undefined> {
    if (this.#state === ENDED) return RESOLVED;
    return this.#closed ??= new Promise((resolve) => this.#resolveClosed = resolve);
  }

  /**
   * This subscriber as a pull-based `ReadableStream`, the same one on every
   * access. The ring is its only buffer. Cancelling the stream closes the
   * subscriber; a lag under `lag: "error"` errors it, which also ends the
   * subscription, as streams cannot resume after an error. Read through the
   * stream or through the subscriber, not both: they share one cursor.
   *
   * @example Streaming to a Response
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>();
   * const sub = bus.subscribe();
   * const response = new Response(sub.readable.pipeThrough(new TextEncoderStream()));
   * bus.send("hello");
   * bus.close();
   * console.log(await response.text()); // "hello"
   * ```
   */
  get readable(): ReadableStream<T> {
    return this.#readable ??= toReadable(this);
  }

  /**
   * Takes the next value without waiting: the value, {@linkcode EMPTY} when
   * none is available yet, or {@linkcode CLOSED} once the subscriber has
   * ended. Never allocates.
   *
   * @returns The next value, `EMPTY` or `CLOSED`.
   * @throws {LaggedError} Under `lag: "error"`, once per gap; the call after
   *   it returns the oldest value still held.
   *
   * @example A hot loop
   * ```ts
   * import { Bus, CLOSED, EMPTY } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.send(2);
   * let sum = 0;
   * for (let v = sub.tryRecv(); v !== EMPTY && v !== CLOSED; v = sub.tryRecv()) sum += v;
   * console.log(sum); // 3
   * ```
   */
  tryRecv(): T | typeof EMPTY | typeof CLOSED {
    const state = this.#state;
    if (state !== OPEN) {
      if (state === ENDED) return CLOSED;
      this.#state = INTERRUPTED; // read from its own drain callback: that drain stops after this value
    }
    const ring = this.#ring;
    let position = this.#position;
    const behind = ring.tail - position;
    if (behind === 0) {
      if (!ring.closed) return EMPTY;
      this.#leave();
      return CLOSED;
    }
    if (behind > ring.capacity) position = this.#skipLag();
    const value = ring.slots[position & ring.mask] as T;
    this.#position = ++position;
    ring.move(this.#recorded, position);
    this.#recorded = position;
    return value;
  }

  /**
   * Hands every available value, up to `max`, to `fn`, synchronously and in
   * order, with no allocation per value. If `fn` throws, the value it threw
   * on counts as read and the error propagates. Stops early if `fn` closes
   * or reads this subscriber.
   *
   * @param fn Called with each value.
   * @param max The most values to hand over: a non-negative integer or
   *   `Infinity` (the default). Even with `max` 0, a lag is discovered,
   *   counted and, under `lag: "error"`, reported.
   * @returns How many values `fn` was called with.
   * @throws {LaggedError} Under `lag: "error"`, before delivering anything.
   * @throws {TypeError} If `fn` is not a function or `max` not a number.
   * @throws {RangeError} If `max` is negative or fractional.
   *
   * @example One await per batch
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * setTimeout(() => {
   *   for (let i = 0; i < 100; i++) bus.send(i);
   *   bus.close();
   * });
   * let total = 0;
   * while (await sub.wait()) sub.drain((n) => total += n);
   * console.log(total); // 4950
   * ```
   */
  drain(fn: (value: T) => void, max: number = Infinity): number {
    if (typeof fn !== "function") throw new TypeError(`Invalid fn: ${describe(fn)}; expected a function`);
    if (max !== Infinity) checkMax(max);
    const outer = this.#state;
    if (outer === ENDED) return 0;
    if (outer !== OPEN) this.#state = INTERRUPTED; // drained from its own drain callback
    const ring = this.#ring;
    let position = this.#position;
    let behind = ring.tail - position;
    if (behind === 0) {
      if (ring.closed) this.#leave();
      return 0;
    }
    if (behind > ring.capacity) {
      position = this.#skipLag();
      behind = ring.capacity;
    }
    const { slots, mask } = ring;
    const start = position;
    const end = position + (behind < max ? behind : max);
    this.#state = DRAINING;
    ring.draining.push(this.#recordMidDrain);
    try {
      while (position < end) {
        const value = slots[position & mask] as T;
        this.#position = ++position;
        fn(value);
        if (this.#state !== DRAINING) break; // fn closed or read this subscriber, or a send overwrites what is next
      }
    } finally {
      ring.draining.pop();
      if (this.#state !== ENDED) {
        this.#state = outer === OPEN ? OPEN : INTERRUPTED;
        // Once per batch, even if fn threw: the value it threw on counts as read.
        this.#record();
      }
    }
    return position - start;
  }

  /**
   * Resolves `true` once at least one value is available (at once if one
   * already is), and `false` once the subscriber has ended. It reports
   * presence only: the read that follows reports any lag. Pairs with
   * {@linkcode Subscriber.drain} for one await per batch.
   *
   * @returns Whether there is something to read.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>();
   * const sub = bus.subscribe();
   * queueMicrotask(() => bus.send("ping"));
   * console.log(await sub.wait(), sub.tryRecv()); // true "ping"
   * ```
   */
  wait(): Promise<boolean> {
    if (this.#state === ENDED) return FALSE;
    const ring = this.#ring;
    if (ring.tail !== this.#position) return TRUE;
    if (!ring.closed) {
      return new Promise((resolve) => {
        this.#waiters.push(resolve);
        this.#askToBeWoken();
      });
    }
    this.#leave();
    return FALSE;
  }

  /**
   * Resolves with the next value, waiting for one if needed.
   *
   * @returns The next value.
   * @throws {BusClosedError} (rejects) once the subscriber has ended.
   * @throws {LaggedError} (rejects) under `lag: "error"`, once per gap.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * setTimeout(() => bus.send(42));
   * console.log(await sub.recv()); // 42
   * ```
   */
  recv(): Promise<T> {
    let value: T | typeof EMPTY | typeof CLOSED;
    try {
      value = this.tryRecv();
    } catch (error) {
      return Promise.reject(error);
    }
    if (value === EMPTY) return this.#park(RECV_KIND);
    if (value === CLOSED) return Promise.reject(new BusClosedError());
    return Promise.resolve(value);
  }

  /**
   * Reads like `ReadableStreamDefaultReader.read()`: resolves
   * `{ value, done: false }` with the next value, or `{ done: true }` once
   * the subscriber has ended.
   *
   * @returns The next read result.
   * @throws {LaggedError} (rejects) under `lag: "error"`, once per gap.
   *
   * @example Code written for a stream reader
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * async function consume(reader: { read(): Promise<ReadableStreamReadResult<number>> }) {
   *   for (let r = await reader.read(); !r.done; r = await reader.read()) console.log(r.value);
   * }
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.close();
   * await consume(sub); // 1
   * ```
   */
  read(): Promise<ReadableStreamReadResult<T>> {
    let value: T | typeof EMPTY | typeof CLOSED;
    try {
      value = this.tryRecv();
    } catch (error) {
      return Promise.reject(error);
    }
    if (value === EMPTY) return this.#park(READ_KIND);
    if (value === CLOSED) return Promise.resolve(DONE);
    return Promise.resolve({ value, done: false });
  }

  /**
   * Ends the subscription, as `ReadableStreamDefaultReader.cancel()` does.
   *
   * @param _reason Accepted for reader compatibility; unused.
   * @returns A resolved promise.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const sub = new Bus<number>().subscribe();
   * await sub.cancel();
   * console.log((await sub.read()).done); // true
   * ```
   */
  cancel(_reason?: unknown): Promise<void> {
    this.close();
    return RESOLVED;
  }

  /**
   * Ends the subscription, as a released reader can no longer read.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * sub.releaseLock();
   * console.log(bus.subscriberCount); // 0
   * ```
   */
  releaseLock(): void {
    this.close();
  }

  /**
   * Unsubscribes: the bus stops counting, waiting or holding values for this
   * subscriber, and parked reads settle as ended. Idempotent.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * sub.close();
   * console.log(bus.send(1)); // 0
   * ```
   */
  close(): void {
    this.#leave();
    this.#settle();
  }

  /**
   * Closes the subscriber at the end of a `using` block.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * {
   *   using _sub = bus.subscribe();
   *   console.log(bus.subscriberCount); // 1
   * }
   * console.log(bus.subscriberCount); // 0
   * ```
   */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Iterates the values until the subscriber ends. A lag under
   * `lag: "error"` throws out of the loop (the subscription stays open); a
   * `break` or `return` closes the subscriber.
   *
   * @returns An iterator over the values.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.send(2);
   * bus.close();
   * for await (const n of sub) console.log(n); // 1, then 2
   * ```
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return {
      next: (): Promise<IteratorResult<T>> => this.read() as Promise<IteratorResult<T>>,
      return: (): Promise<IteratorResult<T>> => {
        this.close();
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Tells the ring how far this subscriber has read. */
  #record(): void {
    this.#ring.move(this.#recorded, this.#position);
    this.#recorded = this.#position;
  }

  /**
   * Called by the ring, mid-drain, when it needs exact positions; `overwriting`
   * says a write is about to reuse the slot `tail - capacity`.
   */
  #recordMidDrain = (overwriting: boolean): void => {
    if (this.#state === ENDED) return;
    this.#record();
    if (overwriting && this.#ring.tail - this.#position >= this.#ring.capacity) this.#state = INTERRUPTED;
  };

  /** Moves past values the ring overwrote and counts them; returns the new position. */
  #skipLag(): number {
    const ring = this.#ring;
    const oldest = ring.tail - ring.capacity;
    const missed = oldest - this.#position;
    this.#position = oldest;
    this.#missed += missed;
    ring.dropped += missed;
    if (this.#lagError) throw new LaggedError(missed);
    return oldest;
  }

  /** Queues a read that settles when a value arrives or the subscriber ends. */
  #park<R>(kind: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#waiters.push(new Waiter(kind, resolve as (value: unknown) => void, reject));
      this.#askToBeWoken();
    });
  }

  #askToBeWoken(): void {
    if (this.#parked) return;
    this.#parked = true;
    this.#ring.parked.push(this.#wake);
  }

  /** Settles parked reads in order, as far as the ring allows. */
  #settle(): void {
    const waiters = this.#waiters;
    let settled = 0;
    for (; settled < waiters.length; settled++) {
      const waiter = waiters[settled];
      if (typeof waiter === "function") {
        if (this.#state === ENDED) waiter(false);
        else if (this.#ring.tail !== this.#position) waiter(true);
        else if (!this.#ring.closed) break;
        else {
          this.#leave();
          waiter(false);
        }
        continue;
      }
      let value: T | typeof EMPTY | typeof CLOSED;
      try {
        value = this.tryRecv();
      } catch (error) {
        waiter.reject(error);
        continue;
      }
      if (value === EMPTY) break;
      if (value !== CLOSED) waiter.resolve(waiter.kind === RECV_KIND ? value : { value, done: false });
      else if (waiter.kind === RECV_KIND) waiter.reject(new BusClosedError());
      else waiter.resolve(DONE);
    }
    if (settled === waiters.length) waiters.length = 0;
    else if (settled !== 0) waiters.splice(0, settled);
    if (waiters.length !== 0) this.#askToBeWoken();
  }

  /** Unsubscribes from the ring, once. */
  #leave(): void {
    if (this.#state === ENDED) return;
    this.#state = ENDED;
    const ring = this.#ring;
    ring.leave(this.#recorded);
    this.#position = -1;
    if (this.#parked) {
      this.#parked = false;
      ring.parked.splice(ring.parked.indexOf(this.#wake), 1);
    }
    this.#resolveClosed?.(undefined);
  }
}

function checkMax(max: number): void {
  if (typeof max !== "number") {
    throw new TypeError(`Invalid max: ${describe(max)}; expected a non-negative integer or Infinity`);
  }
  if (!Number.isInteger(max) || max < 0) {
    throw new RangeError(`Invalid max: ${describe(max)}; expected a non-negative integer or Infinity`);
  }
}
