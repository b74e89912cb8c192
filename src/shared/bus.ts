/**
 * The shared bus: a {@linkcode Bus} whose ring lives in a
 * `SharedArrayBuffer`, so threads (Workers) send and subscribe to the same
 * ring.
 *
 * @module
 */

import { ENDED, PENDING } from "../cursor.ts";
import {
  checkFrom,
  describe,
  type OverflowPolicy,
  resolveSubscribeOptions,
  type SubscribeOptions,
  type WriteOptions,
} from "../options.ts";
import type { BusStats } from "../stats.ts";
import { toWritable } from "../stream.ts";
import { checkValue, startWrite } from "../writes.ts";
import { createSubscriber, type Subscriber } from "../subscriber.ts";
import { resolveCodec, type SharedCodec } from "./codec.ts";
import { SharedCursor } from "./cursor.ts";
import { BLOCKED, DATA_SIGNAL, DISCARDED, DROPPED, READERS_ASLEEP, RELEASED, S_POLICY } from "./layout.ts";
import { allocate, checkHandle, type SharedBusHandle, startAt } from "./memory.ts";
import { resolveSharedBusOptions, type SharedBusOptions } from "./options.ts";
import { SharedRing } from "./ring.ts";
import { sleepSync } from "./wake.ts";

const POLICIES: readonly OverflowPolicy[] = ["drop-oldest", "drop-newest", "wait"];

/**
 * The counters of a {@linkcode SharedBus}, kept in shared memory, so every
 * thread reads the same: {@linkcode BusStats}, plus the subscribers
 * released as presumed dead.
 *
 * @example
 * ```ts
 * import { SharedBus, type SharedBusStats } from "@ron/bus";
 *
 * const stats: SharedBusStats = new SharedBus<number>().stats();
 * console.log(stats.released); // 0
 * ```
 */
export interface SharedBusStats extends BusStats {
  /**
   * Subscribers a producer released because they held a full ring without
   * reading for `releaseAfter` milliseconds: their thread died, was
   * terminated, or forgot them.
   */
  released: number;
}

/**
 * @internal Test hook, not part of the public API: makes the next value sent
 * on a shared bus that has never been used get number `sequence`.
 */
export let startSharedSequenceAt: <T>(bus: SharedBus<T>, sequence: number) => void;

/** Set by {@linkcode SharedBus.attach} for the constructor it calls. */
let attaching: { handle: SharedBusHandle; ring: SharedRing<unknown> } | undefined;

/**
 * A bounded broadcast bus across threads. Its ring lives in a
 * `SharedArrayBuffer`: send `bus.handle` to a Worker, call
 * {@linkcode SharedBus.attach} there, and both threads send to and
 * subscribe to the same ring, with the semantics of {@linkcode Bus}: order,
 * exact lag counts, the three overflow policies, closing that drains.
 *
 * Values are encoded into the ring and decoded by each reader into its own
 * memory (see {@linkcode SharedCodecOption}); nothing is shared by
 * reference. Any thread may send, and several may send at once: a send
 * claims its slot with one compare-and-swap, takes no lock, and never
 * waits for a reader. Reads take no lock either.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example One bus, two threads
 * ```ts ignore
 * // main.ts
 * import { SharedBus } from "@ron/bus";
 *
 * const bus = new SharedBus<{ price: number }>({ overflow: "wait" });
 * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
 * worker.postMessage(bus.handle);
 * await bus.ready;
 * bus.send({ price: 101 });
 *
 * // worker.ts
 * self.onmessage = async (event) => {
 *   const bus = SharedBus.attach<{ price: number }>(event.data);
 *   for await (const tick of bus.subscribe()) console.log(tick.price);
 * };
 * ```
 *
 * @example The same bus on one thread
 * ```ts
 * import { SharedBus } from "@ron/bus";
 *
 * const bus = new SharedBus<string>({ codec: "string" });
 * const sub = bus.subscribe();
 * bus.send("hello");
 * console.log(sub.tryRecv()); // "hello"
 * ```
 */
export class SharedBus<T> {
  readonly #ring: SharedRing<T>;
  readonly #handle: SharedBusHandle;
  readonly #overflow: OverflowPolicy;
  #writable: WritableStream<T> | undefined;
  /** The cursor behind each subscriber this object made, for `waitSync`. */
  readonly #cursors: WeakMap<Subscriber<T>, SharedCursor<T>> = new WeakMap();

  static {
    startSharedSequenceAt = (bus, sequence) => {
      const ring = bus.#ring;
      if (ring.tail() !== ring.origin || ring.subscribers !== 0 || ring.closed) {
        throw new Error("startSharedSequenceAt needs a bus never used");
      }
      startAt(ring.buffer, sequence);
      (ring as { origin: number }).origin = sequence;
    };
  }

  /**
   * Creates a bus and its shared memory: `capacity` slots of `maxBytes`
   * bytes, and a slot for each of `maxSubscribers` subscribers.
   *
   * @param options The options of {@linkcode Bus}, plus the codec, the slot
   *   size, the number of subscriber slots and the release delay.
   * @throws {TypeError} Where `SharedArrayBuffer` is missing (a browser page
   *   that is not cross-origin isolated), or if an option has the wrong type
   *   or is not one of ours.
   * @throws {RangeError} If a size is out of range.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number[]>({ capacity: 1000, maxBytes: 128 });
   * console.log(bus.capacity, bus.maxBytes); // 1024 128
   * ```
   */
  constructor(options?: SharedBusOptions<T>) {
    if (attaching !== undefined) {
      this.#handle = attaching.handle;
      this.#ring = attaching.ring as SharedRing<T>;
      attaching = undefined;
    } else {
      const resolved = resolveSharedBusOptions(options);
      const buffer = allocate(resolved);
      this.#handle = Object.freeze({ buffer, codec: resolved.coder.name });
      this.#ring = new SharedRing(buffer, resolved.coder);
    }
    this.#overflow = POLICIES[this.#ring.words[S_POLICY]!]!;
  }

  /**
   * Attaches to a bus another thread created, from its
   * {@linkcode SharedBus.handle}. The result is this thread's view of the
   * same bus: sends, subscribers, stats and `close()` are shared.
   *
   * @param handle The `handle` of the bus, as `postMessage` delivered it.
   * @param options The codec, required if the bus uses one of your own
   *   (functions cannot be sent to a thread).
   * @returns This thread's view of the bus.
   * @throws {TypeError} If `handle` is not a bus's handle, or a custom codec
   *   is missing.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>();
   * const elsewhere = SharedBus.attach<number>(structuredClone(bus.handle));
   * const sub = bus.subscribe();
   * elsewhere.send(42);
   * console.log(sub.tryRecv()); // 42
   * ```
   */
  static attach<T>(handle: SharedBusHandle, options?: { codec?: SharedCodec<T> }): SharedBus<T> {
    const checked = checkHandle(handle);
    let codec: unknown = checked.codec;
    if (codec === "custom") {
      codec = options?.codec;
      if (codec === undefined) {
        throw new TypeError(
          "Missing codec: this bus uses a codec of its own; pass it as SharedBus.attach(handle, { codec })",
        );
      }
    } else if (options?.codec !== undefined) {
      throw new TypeError(`Invalid codec: this bus uses the ${describe(checked.codec)} codec, named in its handle`);
    }
    attaching = { handle: checked, ring: new SharedRing(checked.buffer, resolveCodec(codec)) };
    return new SharedBus<T>();
  }

  /**
   * What another thread needs to attach to this bus: post it to a Worker.
   * It is plain data and shares the memory rather than copying it.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const { buffer, codec } = new SharedBus<number>().handle;
   * console.log(buffer instanceof SharedArrayBuffer, codec); // true "json"
   * ```
   */
  get handle(): SharedBusHandle {
    return this.#handle;
  }

  /**
   * How many values the ring holds, rounded up to a power of two.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * console.log(new SharedBus({ capacity: 5 }).capacity); // 8
   * ```
   */
  get capacity(): number {
    return this.#ring.capacity;
  }

  /**
   * The most bytes one encoded value may take.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * console.log(new SharedBus().maxBytes); // 256
   * ```
   */
  get maxBytes(): number {
    return this.#ring.slotBytes;
  }

  /**
   * The overflow policy the bus was created with.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * console.log(new SharedBus({ overflow: "wait" }).overflow); // "wait"
   * ```
   */
  get overflow(): OverflowPolicy {
    return this.#overflow;
  }

  /**
   * Whether the bus has been closed, on any thread.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus();
   * bus.close();
   * console.log(bus.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /**
   * How many subscribers are subscribed now, on every thread.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus();
   * const sub = bus.subscribe();
   * console.log(bus.subscriberCount); // 1
   * ```
   */
  get subscriberCount(): number {
    return this.#ring.subscribers;
  }

  /**
   * Resolves when `send` can go ahead without losing anything: under
   * `"wait"`, when the slowest subscriber (on any thread) has read the slot
   * to reuse, or left, or was released, and no {@linkcode SharedBus.write}
   * of this thread is waiting; at once under the other policies and once
   * the bus is closed. It never rejects. Another thread may take the room
   * first, so `await bus.ready` then `send` may still throw
   * {@linkcode BusFullError}: several producers use
   * {@linkcode SharedBus.write}, which waits its turn and keeps it.
   *
   * @example A lossless producer
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>({ capacity: 2, overflow: "wait" });
   * const sub = bus.subscribe();
   * setTimeout(() => sub.drain(() => {}), 1);
   * for (let i = 0; i < 3; i++) {
   *   await bus.ready;
   *   bus.send(i); // the only producer: nobody takes the room first
   * }
   * ```
   */
  get ready(): Promise<void> {
    return this.#ring.ready();
  }

  /**
   * Encodes `value` into the ring for every subscriber on every thread.
   * Never blocks and takes no lock; see {@linkcode Bus.send} for what each
   * overflow policy does when the ring is full.
   *
   * @param value The value to broadcast.
   * @returns How many subscribers there were when it was claimed; 0 if
   *   discarded under `"drop-newest"`.
   * @throws {RangeError} If the value encodes to more than `maxBytes`;
   *   nothing is sent.
   * @throws {TypeError} If the codec cannot encode it (the `"json"` codec
   *   and `undefined`, a record without its number fields); nothing is sent.
   * @throws {BusClosedError} After {@linkcode SharedBus.close}.
   * @throws {BusFullError} Under `"wait"`, when there is no room.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<string>({ codec: "string", maxBytes: 8 });
   * bus.subscribe();
   * console.log(bus.send("short")); // 1
   * try {
   *   bus.send("far too long for eight bytes");
   * } catch (error) {
   *   console.log(error instanceof RangeError); // true
   * }
   * ```
   */
  send(value: T): number {
    checkValue(value);
    return this.#ring.send(value);
  }

  /**
   * Sends `value` once there is room, losing nothing: the way for several
   * producers, on any threads, to share a `"wait"` bus. This thread's
   * writes wait in the order they were made and go out as subscribers on
   * any thread free slots; a write that finds another thread took the room
   * first keeps its place and waits again, so a write never fails with
   * {@linkcode BusFullError}. Under the other policies it sends at once, as
   * {@linkcode SharedBus.send} does.
   *
   * @param value The value to broadcast.
   * @param options `signal` gives up the write while it waits.
   * @returns Resolves with how many subscribers there were when it was
   *   claimed (as `send` returns), once it is sent.
   * @throws {BusClosedError} (rejects) If the bus is or becomes closed, on
   *   any thread, before the value is sent.
   * @throws {RangeError} (rejects) If the value encodes to more than
   *   `maxBytes`; nothing is sent.
   * @throws {TypeError} (rejects) If the codec cannot encode the value, it
   *   is `EMPTY` or `CLOSED`, or the options are not
   *   `{ signal?: AbortSignal }`.
   * @throws {unknown} (rejects) With the signal's reason if it aborts first.
   *
   * @example Several producers, nothing lost
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<string>({ codec: "string", capacity: 2, overflow: "wait" });
   * const sub = bus.subscribe();
   * const producer = async (name: string) => {
   *   for (let i = 0; i < 3; i++) await bus.write(`${name}${i}`);
   * };
   * const done = Promise.all([producer("a"), producer("b")]);
   * const got: string[] = [];
   * while (got.length < 6) {
   *   await sub.wait();
   *   sub.drain((value) => got.push(value));
   * }
   * await done;
   * console.log(got.length, bus.stats().blocked); // 6 0
   * ```
   */
  write(value: T, options?: WriteOptions): Promise<number> {
    return startWrite(this.#ring, value, options, undefined);
  }

  /**
   * The bus as a `WritableStream`, the same one on every access, so
   * `source.pipeTo(bus.writable)` publishes a stream into the shared ring.
   * Each chunk goes through {@linkcode SharedBus.write}: under `"wait"` it
   * waits for room, in turn with this thread's other writers. Closing the
   * stream closes the bus for every thread; aborting it (or aborting a
   * `pipeTo` into it) gives up a write still waiting for room at once and
   * closes the bus. Pipe with `{ preventClose: true }` to keep the bus open
   * for other producers.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>();
   * const sub = bus.subscribe();
   * await ReadableStream.from([1, 2, 3]).pipeTo(bus.writable);
   * const got: number[] = [];
   * for await (const n of sub) got.push(n);
   * console.log(bus.closed, got); // true [1, 2, 3]
   * ```
   */
  get writable(): WritableStream<T> {
    return this.#writable ??= toWritable(this);
  }

  /**
   * Adds a subscriber on this thread, reading the shared ring: the same
   * {@linkcode Subscriber} as {@linkcode Bus.subscribe} gives, with every
   * way of reading. Values are decoded into this thread's memory as they are
   * read. `from: "oldest"` starts at the oldest value still retained (with
   * `replay`, the last `capacity` sent; without, the oldest one some
   * subscriber on any thread has not read); a number starts at that sequence
   * number. After {@linkcode SharedBus.close} it returns a subscriber that
   * has already ended.
   *
   * @param options Where to start, and how lag is reported.
   * @returns The new subscriber.
   * @throws {TypeError} If an option is unknown or has an unknown value.
   * @throws {RangeError} If every subscriber slot is taken (see
   *   `maxSubscribers`), or a numbered start is past the next value.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>({ replay: true });
   * bus.send(1);
   * bus.send(2);
   * const late = bus.subscribe({ from: "oldest" });
   * console.log(late.tryRecv(), late.tryRecv()); // 1 2
   * ```
   */
  subscribe(options?: SubscribeOptions): Subscriber<T> {
    const { from, lag } = resolveSubscribeOptions(options);
    const ring = this.#ring;
    if (typeof from === "number") checkFrom(from, ring.tail());
    const cursor = new SharedCursor(ring, from, lag);
    const sub = createSubscriber(cursor);
    this.#cursors.set(sub, cursor);
    return sub;
  }

  /**
   * Blocks this thread until `sub` has something to read, it ends, or
   * `timeout` milliseconds pass, with `Atomics.wait`: the loop of a worker
   * that does nothing else, `while (bus.waitSync(sub)) sub.drain(fn)`. A
   * blocked thread wakes straight from the kernel, without a trip through
   * its event loop, so on Node and Deno such a loop has the lowest latency:
   * on Node, 140-158 us at p95 against 216-275 for `await sub.wait()` (4
   * workers, 1,000 values a second; see the README). Not allowed on a
   * browser window's main thread, which must not block; use
   * `await sub.wait()` there.
   *
   * @param sub A subscriber this object made.
   * @param timeout The longest wait, in milliseconds. Default `Infinity`.
   * @returns `false` once `sub` has ended; `true` when there may be
   *   something to read (a value, a gap to report, or the timeout passed).
   * @throws {TypeError} If `sub` was not made by this object, or this thread
   *   may not block.
   *
   * @example A worker's loop
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.close();
   * while (bus.waitSync(sub, 1000)) sub.drain((n) => console.log(n)); // 1
   * ```
   */
  waitSync(sub: Subscriber<T>, timeout: number = Infinity): boolean {
    const cursor = this.#cursors.get(sub);
    if (cursor === undefined) {
      throw new TypeError(`Invalid sub: ${describe(sub)}; expected a subscriber made by this bus's subscribe()`);
    }
    if (typeof timeout !== "number" || Number.isNaN(timeout)) {
      throw new TypeError(`Invalid timeout: ${describe(timeout)}; expected milliseconds`);
    }
    const ring = this.#ring;
    const deadline = performance.now() + timeout;
    sleepSync(ring.words, READERS_ASLEEP, DATA_SIGNAL, () => cursor.poll() !== PENDING, deadline);
    return cursor.poll() !== ENDED;
  }

  /**
   * Closes the bus for every thread. Idempotent. Every subscriber still
   * reads what was sent before, then ends; parked reads on every thread wake.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.close();
   * console.log(sub.tryRecv(), String(sub.tryRecv())); // 1 "Symbol(CLOSED)"
   * ```
   */
  close(): void {
    this.#ring.close();
  }

  /**
   * A snapshot of the counters, shared by every thread: `dropped` sums the
   * `missed` of every subscriber on every thread, including those that left.
   *
   * @returns Capacity, subscribers, and the sent, dropped, discarded,
   *   blocked and released counts.
   *
   * @example
   * ```ts
   * import { SharedBus } from "@ron/bus";
   *
   * const bus = new SharedBus<number>({ capacity: 2 });
   * const sub = bus.subscribe();
   * for (let i = 0; i < 5; i++) bus.send(i);
   * sub.tryRecv();
   * console.log(bus.stats().dropped); // 3
   * ```
   */
  stats(): SharedBusStats {
    const ring = this.#ring;
    const counters = ring.counters;
    return {
      capacity: ring.capacity,
      subscribers: ring.subscribers,
      sent: ring.tail(),
      dropped: Number(Atomics.load(counters, DROPPED)),
      discarded: Number(Atomics.load(counters, DISCARDED)),
      blocked: Number(Atomics.load(counters, BLOCKED)),
      released: Number(Atomics.load(counters, RELEASED)),
    };
  }
}
