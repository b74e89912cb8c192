/**
 * A subscriber: every way of reading one reader's {@linkcode Cursor} into a
 * bus. The cursor knows the ring; the subscriber turns it into values,
 * promises, iteration and streams.
 *
 * @module
 */

import { type Cursor, ENDED, PENDING, READABLE } from "./cursor.ts";
import { BusClosedError } from "./errors.ts";
import { describe, resolveStreamOptions, type StreamOptions } from "./options.ts";
import { CLOSED, EMPTY } from "./signals.ts";
import { toReadable } from "./stream.ts";

const TRUE: Promise<boolean> = Promise.resolve(true);
const FALSE: Promise<boolean> = Promise.resolve(false);
const RESOLVED: Promise<undefined> = Promise.resolve(undefined);
/** Fits both a stream reader's and an iterator's "done" result. */
const DONE: { readonly done: true; readonly value: undefined } = Object.freeze({ done: true, value: undefined });

/** What a parked read resolves with: the value itself, or a stream-style read result. */
const RECV_KIND = 0;
const READ_KIND = 1;

/** A `recv()` or `read()` parked in an await, settled in turn as values arrive. */
class Waiter {
  readonly kind: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;

  constructor(kind: number, resolve: (value: unknown) => void, reject: (error: unknown) => void) {
    this.kind = kind;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** A parked `wait()` is just its resolve function: the cheapest park, as it is the batch path's. */
type Parked = Waiter | ((ready: boolean) => void);

/**
 * A subscriber dropped without `close()` is unsubscribed once it is
 * collected, as tokio frees a dropped `Receiver`. The cursor holds nothing
 * that leads back to its subscriber while it is idle, so the subscriber can
 * be collected; a parked read holds it, as a live reader should.
 */
const forgotten: FinalizationRegistry<Cursor<unknown>> | undefined = typeof FinalizationRegistry === "function"
  ? new FinalizationRegistry((cursor) => cursor.close())
  : undefined;

/** @internal Builds subscribers for the buses; not part of the public API. */
export let createSubscriber: <T>(cursor: Cursor<T>) => Subscriber<T>;

/**
 * One reader of a {@linkcode Bus}. It sees the values sent after it
 * subscribed (or from where `subscribe` was told to start), in order, each
 * once. Every way of reading moves the same cursor:
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
 * Reads that wait are served first come, first served: while one is parked,
 * `tryRecv()` and `drain()` see nothing, and a later `recv()`, `read()` or
 * `wait()` queues behind it, even when made from code that runs while the
 * parked ones settle.
 *
 * Create one with {@linkcode Bus.subscribe}. Close it (or declare it with
 * `using`) when done, so the bus stops holding values for it. A subscriber
 * dropped without closing is unsubscribed once the garbage collector frees
 * it; that is a safety net with no timing promise, never a substitute.
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
export class Subscriber<T> implements AsyncIterable<T> {
  #cursor: Cursor<T>;
  #waiters: Parked[] = [];
  #settling = false;
  /** Made on the first park; what the cursor calls to wake this subscriber. */
  #wake: (() => void) | undefined;
  #readable: ReadableStream<T> | undefined;
  #closed: Promise<undefined> | undefined;

  static {
    createSubscriber = <T>(cursor: Cursor<T>) => new Subscriber<T>(cursor);
  }

  /** @ignore */
  private constructor(cursor: Cursor<T>) {
    this.#cursor = cursor;
    // No unregister token: Bun pays over a microsecond per token, and a cleanup that ends an ended cursor does nothing.
    forgotten?.register(this, cursor as Cursor<unknown>);
  }

  /**
   * How many values this subscriber lost because the ring overwrote them
   * before it read them (or, for a subscriber started at a sequence number,
   * because they were gone already). A gap is counted when a read discovers
   * it.
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
    return this.#cursor.missed;
  }

  /**
   * The sequence number of the next value this subscriber reads. Every value
   * a bus accepts gets the next number, from 0 ({@linkcode BusStats.sent} is
   * the next to be given). After a read, the value read was number
   * `position - 1`, including inside a `drain` callback. Pass a number back
   * to `subscribe({ from })` to resume where a reader left off. Like
   * `missed`, it moves past a gap only when a read discovers the gap.
   *
   * @example Numbering values for a client
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>();
   * const sub = bus.subscribe();
   * bus.send("a");
   * bus.send("b");
   * sub.drain((value) => console.log(sub.position - 1, value)); // 0 "a", then 1 "b"
   * ```
   */
  get position(): number {
    return this.#cursor.position;
  }

  /**
   * Resolves once this subscriber has ended: when it is closed, or when the
   * bus is closed and nothing retained is left for it (at `bus.close()` if
   * it has read everything, else at the read of its last value). From then
   * on the bus no longer counts it. As on a `ReadableStreamDefaultReader`.
   *
   * @example Clean-up that waits for the end
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * sub.closed.then(() => console.log("done"));
   * bus.close(); // "done": nothing was left for it
   * ```
   */
  get closed(): Promise<undefined> {
    const cursor = this.#cursor;
    if (cursor.ended) return RESOLVED;
    if (this.#closed !== undefined) return this.#closed;
    this.#closed = new Promise((resolve) => cursor.onEnd = () => resolve(undefined));
    cursor.watchEnd();
    return this.#closed;
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
    return this.#readable ??= toReadable(this, 0);
  }

  /**
   * A new `ReadableStream` over this subscriber that reads ahead: the stream
   * keeps up to `highWaterMark` values in its own queue, taken from the ring
   * a batch at a time, which lets it run several times faster than
   * {@linkcode Subscriber.readable}. Values in that queue count as read: the
   * ring lets go of them, so memory grows to `capacity + highWaterMark`
   * values, a `"wait"` producer may run that far ahead of the stream's
   * reader, and a lagging reader loses only what the ring overwrote before
   * the stream took it (`missed` counts that, as always). With the default
   * mark of 0 it is exact, like `readable`. Cancelling the stream closes the
   * subscriber; read through one stream only, as all share one cursor.
   *
   * @param options `highWaterMark`: how many values the stream may hold
   *   ahead of its reader, a non-negative integer (default 0).
   * @returns A new stream.
   * @throws {TypeError} If the options are not `{ highWaterMark?: number }`.
   * @throws {RangeError} If `highWaterMark` is negative, fractional or NaN.
   *
   * @example A faster stream for a consumer that keeps up
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const stream = bus.subscribe().stream({ highWaterMark: 64 });
   * for (let i = 0; i < 3; i++) bus.send(i);
   * bus.close();
   * const got: number[] = [];
   * for await (const n of stream) got.push(n);
   * console.log(got); // [0, 1, 2]
   * ```
   */
  stream(options?: StreamOptions): ReadableStream<T> {
    return toReadable(this, resolveStreamOptions(options));
  }

  /**
   * Takes the next value without waiting: the value, {@linkcode EMPTY} when
   * none is available yet (or a parked read is first in line), or
   * {@linkcode CLOSED} once the subscriber has ended. Never allocates.
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
    return this.#cursor.take(); // EMPTY while reads are parked: the cursor is held
  }

  /**
   * Hands every available value, up to `max`, to `fn`, synchronously and in
   * order, with no allocation per value. If `fn` throws, the value it threw
   * on counts as read and the error propagates. `fn` may call anything on
   * the bus; the drain stops early, never delivering out of order, if `fn`
   * closes or reads this subscriber, or sends enough to overwrite the next
   * value. While a read is parked, it hands over nothing.
   *
   * @param fn Called with each value.
   * @param max The most values to hand over: a non-negative integer or
   *   `Infinity` (the default). Even with `max` 0, a lag is discovered,
   *   counted and, under `lag: "error"`, reported.
   * @returns How many values `fn` was called with.
   * @throws {LaggedError} Under `lag: "error"`, before delivering anything.
   * @throws {TypeError} If `fn` is not a function, or `max` is not a number.
   * @throws {RangeError} If `max` is negative, fractional or NaN.
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
    if (this.#waiters.length !== 0) return 0;
    return this.#cursor.drain(fn, max);
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
    if (this.#waiters.length === 0) {
      const state = this.#cursor.poll();
      if (state === READABLE) return TRUE;
      if (state === ENDED) return FALSE;
    }
    return new Promise((resolve) => this.#park(resolve));
  }

  /**
   * Resolves with the next value, waiting for one if needed. As with any
   * promise, a value that is itself a thenable (a `Promise`, say) is
   * adopted: `recv()` resolves with its result, and never settles if it
   * never does. `read()`, `for await` and `tryRecv()` hand over values as
   * they are.
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
    if (this.#waiters.length === 0) {
      let value: T | typeof EMPTY | typeof CLOSED;
      try {
        value = this.#cursor.take();
      } catch (error) {
        return Promise.reject(error);
      }
      if (value === CLOSED) return Promise.reject(new BusClosedError());
      if (value !== EMPTY) return Promise.resolve(value);
    }
    return new Promise((resolve, reject) =>
      this.#park(new Waiter(RECV_KIND, resolve as (value: unknown) => void, reject))
    );
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
   * async function consume(reader: { read(): Promise<{ done: boolean; value?: number }> }) {
   *   for (let r = await reader.read(); !r.done; r = await reader.read()) console.log(r.value);
   * }
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.close();
   * await consume(sub); // 1
   * ```
   */
  read(): Promise<{ done: false; value: T } | { done: true; value: undefined }> {
    if (this.#waiters.length === 0) {
      let value: T | typeof EMPTY | typeof CLOSED;
      try {
        value = this.#cursor.take();
      } catch (error) {
        return Promise.reject(error);
      }
      if (value === CLOSED) return Promise.resolve(DONE);
      if (value !== EMPTY) return Promise.resolve({ value, done: false });
    }
    return new Promise((resolve, reject) =>
      this.#park(new Waiter(READ_KIND, resolve as (value: unknown) => void, reject))
    );
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
    this.#cursor.close();
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
   * `lag: "error"` throws out of the loop (the subscription stays open, and
   * a new loop resumes); `break`, `return` or an exception in the loop body
   * closes the subscriber, as does the iterator's `throw()`. Two loops over
   * one subscriber at once share its cursor: each value goes to one of them.
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
      throw: (error?: unknown): Promise<IteratorResult<T>> => {
        this.close();
        return Promise.reject(error);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Queues a read behind those already parked and asks the cursor for a wake-up. */
  #park(waiter: Parked): void {
    if (this.#waiters.push(waiter) === 1) this.#cursor.hold();
    if (!this.#settling) this.#cursor.park(this.#wake ??= () => this.#settle());
  }

  /**
   * Settles parked reads in order, as far as the cursor allows. Settling
   * can run user code (the `then` getter of a value `recv()` resolves with),
   * which may read, send or close anything: reads it makes queue behind, and
   * a wake-up while this loop runs is this loop's to handle.
   */
  #settle(): void {
    if (this.#settling) return;
    this.#settling = true;
    const waiters = this.#waiters;
    const cursor = this.#cursor;
    // Nothing here throws (a take's LaggedError is caught; settling functions never throw), so no try/finally.
    while (waiters.length !== 0) {
      const waiter = waiters[0]!;
      if (typeof waiter === "function") {
        const state = cursor.poll();
        if (state === PENDING) break;
        waiters.shift();
        waiter(state === READABLE);
        continue;
      }
      let value: T | typeof EMPTY | typeof CLOSED;
      try {
        value = cursor.takeHeld();
      } catch (error) {
        waiters.shift();
        waiter.reject(error);
        continue;
      }
      if (value === EMPTY) break;
      waiters.shift();
      if (value !== CLOSED) waiter.resolve(waiter.kind === RECV_KIND ? value : { value, done: false });
      else if (waiter.kind === RECV_KIND) waiter.reject(new BusClosedError());
      else waiter.resolve(DONE);
    }
    this.#settling = false;
    if (waiters.length !== 0) cursor.park(this.#wake!);
    else cursor.release();
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
