/**
 * The bus: a bounded broadcast channel over one ring.
 *
 * @module
 */

import { BusClosedError } from "./errors.ts";
import {
  type BusOptions,
  type OverflowPolicy,
  resolveBusOptions,
  resolveSubscribeOptions,
  type SubscribeOptions,
} from "./options.ts";
import { Ring } from "./ring.ts";
import type { BusStats } from "./stats.ts";
import { toWritable } from "./stream.ts";
import { createSubscriber, type Subscriber } from "./subscriber.ts";
import { addTap, type Tap } from "./tap.ts";

/**
 * @internal Test and benchmark hook, not part of the public API: makes the
 * next value sent on a bus that has never been used get number `sequence`,
 * as if that many values had gone through it already.
 */
export let startSequenceAt: <T>(bus: Bus<T>, sequence: number) => void;

/**
 * A bounded broadcast channel: every value sent reaches every subscriber,
 * through one ring of `capacity` slots. `send` never blocks and does O(1)
 * work whatever the number of subscribers; a subscriber that falls a full
 * ring behind loses the oldest values and learns how many (see
 * {@linkcode Subscriber.missed}), unless the overflow policy says otherwise.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example Fan-out
 * ```ts
 * import { Bus } from "@ron/bus";
 *
 * const bus = new Bus<{ price: number }>({ capacity: 256 });
 * const a = bus.subscribe();
 * const b = bus.subscribe();
 * console.log(bus.send({ price: 101 })); // 2
 * console.log(a.tryRecv(), b.tryRecv()); // { price: 101 } { price: 101 }
 * ```
 */
export class Bus<T> {
  #ring: Ring<T>;
  #overflow: OverflowPolicy;
  #writable: WritableStream<T> | undefined;

  static {
    startSequenceAt = (bus, sequence) => {
      const ring = bus.#ring;
      if (ring.tail !== 0 || ring.subscribers !== 0) throw new Error("startSequenceAt needs a bus never used");
      ring.tail = ring.floor = sequence;
    };
  }

  /**
   * Creates a bus.
   *
   * @param options The capacity, overflow policy and replay setting, or a
   *   bare capacity: `new Bus(1024)` is `new Bus({ capacity: 1024 })`.
   * @throws {RangeError} If the capacity is not an integer from 1 to
   *   {@linkcode MAX_CAPACITY}.
   * @throws {TypeError} If an option has the wrong type, a policy is unknown,
   *   or an option name is not one of ours.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>({ capacity: 100, overflow: "drop-newest" });
   * console.log(bus.capacity); // 128
   * ```
   */
  constructor(options?: number | BusOptions) {
    const resolved = resolveBusOptions(options);
    this.#ring = new Ring(resolved);
    this.#overflow = resolved.overflow;
  }

  /**
   * How many values the ring holds: the requested capacity rounded up to a
   * power of two.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * console.log(new Bus(5).capacity); // 8
   * ```
   */
  get capacity(): number {
    return this.#ring.capacity;
  }

  /**
   * The overflow policy this bus was created with.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * console.log(new Bus().overflow); // "drop-oldest"
   * ```
   */
  get overflow(): OverflowPolicy {
    return this.#overflow;
  }

  /**
   * Whether {@linkcode Bus.close} has been called.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus();
   * bus.close();
   * console.log(bus.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /**
   * How many subscribers are subscribed now.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus();
   * const sub = bus.subscribe();
   * console.log(bus.subscriberCount); // 1
   * sub.close();
   * console.log(bus.subscriberCount); // 0
   * ```
   */
  get subscriberCount(): number {
    return this.#ring.subscribers;
  }

  /**
   * Resolves when `send` can go ahead without losing anything, like a
   * `WritableStreamDefaultWriter`'s `ready`. Under `overflow: "wait"` that is
   * when the slowest subscriber has read (or left) the slot to reuse; under
   * the other policies, and once the bus is closed, it is already resolved.
   * It never rejects.
   *
   * @example A lossless producer
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
   * const sub = bus.subscribe();
   * (async () => {
   *   for await (const n of sub) console.log(n);
   * })();
   * for (let i = 0; i < 10; i++) {
   *   await bus.ready;
   *   bus.send(i);
   * }
   * bus.close();
   * ```
   */
  get ready(): Promise<void> {
    return this.#ring.ready();
  }

  /**
   * The bus as a `WritableStream`, the same one on every access, so
   * `source.pipeTo(bus.writable)` publishes a stream. Writes follow the
   * overflow policy; under `"wait"` they wait for room. Closing or aborting
   * the stream closes the bus; pipe with `{ preventClose: true }` to keep it
   * open for other producers.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * await ReadableStream.from([1, 2, 3]).pipeTo(bus.writable);
   * console.log(bus.closed, await Array.fromAsync(sub)); // true [1, 2, 3]
   * ```
   */
  get writable(): WritableStream<T> {
    return this.#writable ??= toWritable(this, this.#ring);
  }

  /**
   * Sends `value` to every current subscriber. Never blocks, never
   * allocates, and does O(1) work besides waking subscribers parked in an
   * await.
   *
   * - `"drop-oldest"`: always accepted; a subscriber a full ring behind
   *   loses its oldest unread value.
   * - `"drop-newest"`: discarded (returning 0) if the slowest subscriber is a
   *   full ring behind.
   * - `"wait"`: throws {@linkcode BusFullError} if the slowest subscriber is
   *   a full ring behind; await {@linkcode Bus.ready} first.
   *
   * @param value The value to broadcast.
   * @returns How many subscribers will see it; 0 if there are none or it was
   *   discarded.
   * @throws {BusClosedError} After {@linkcode Bus.close}.
   * @throws {BusFullError} Under `"wait"`, when there is no room.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>();
   * console.log(bus.send("nobody hears this")); // 0
   * bus.subscribe();
   * console.log(bus.send("hello")); // 1
   * ```
   */
  send(value: T): number {
    const ring = this.#ring;
    if (ring.closed) throw new BusClosedError();
    return ring.write(value);
  }

  /**
   * Adds a subscriber. By default it sees every value sent from now on;
   * `from: "oldest"` starts it at the oldest value still retained (with
   * `replay: true`, the last `capacity` values sent; without, the oldest
   * value some current subscriber has not read). After
   * {@linkcode Bus.close} it returns a subscriber that has already ended.
   *
   * @param options Where to start, and how lag is reported.
   * @returns The new subscriber.
   * @throws {TypeError} If an option is unknown or has an unknown value.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>({ replay: true });
   * bus.send(1);
   * bus.send(2);
   * const late = bus.subscribe({ from: "oldest" });
   * console.log(late.tryRecv(), late.tryRecv()); // 1 2
   * ```
   */
  subscribe(options?: SubscribeOptions): Subscriber<T> {
    const resolved = resolveSubscribeOptions(options);
    const ring = this.#ring;
    return createSubscriber(ring.closed ? undefined : ring, resolved);
  }

  /**
   * Calls `fn` with every value the bus accepts, synchronously inside
   * {@linkcode Bus.send}, in the order they are sent. A tap is not a
   * subscriber: it has no cursor, cannot lag and never holds the ring. It
   * sees the values sent while nobody is subscribed, and not those `send`
   * discards (`"drop-newest"`) or refuses (`"wait"`). It is how a bridge
   * forwards every local send without losing one to a burst.
   *
   * `fn` runs inside `send` after the value is in the ring, so it must be
   * quick. It may call back into the bus. If it throws, the value has been
   * sent all the same, every other tap still sees it, and the first error
   * propagates out of `send`.
   *
   * @param fn Called with each accepted value.
   * @returns A handle whose `close()` (or `using`) removes the tap.
   * @throws {TypeError} If `fn` is not a function.
   *
   * @example Counting what goes through
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * let total = 0;
   * const tap = bus.tap((n) => total += n);
   * bus.send(1);
   * bus.send(2);
   * tap.close();
   * bus.send(3);
   * console.log(total); // 3
   * ```
   */
  tap(fn: (value: T) => void): Tap {
    return addTap(this.#ring, fn);
  }

  /**
   * Closes the bus. Idempotent. `send` throws from now on; each subscriber
   * still reads what was retained for it, then ends: `recv()` rejects with
   * {@linkcode BusClosedError}, `tryRecv()` returns {@linkcode CLOSED},
   * iteration finishes and streams close. Parked reads wake.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
   * const sub = bus.subscribe();
   * bus.send(1);
   * bus.close();
   * console.log(await sub.recv()); // 1
   * await sub.recv().catch((error) => console.log(error.name)); // "BusClosedError"
   * ```
   */
  close(): void {
    this.#ring.close();
  }

  /**
   * A snapshot of the bus's counters.
   *
   * @returns Capacity, subscribers, and the sent, dropped, discarded and
   *   blocked counts.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>({ capacity: 2 });
   * const sub = bus.subscribe();
   * for (let i = 0; i < 5; i++) bus.send(i);
   * sub.tryRecv();
   * console.log(bus.stats().dropped); // 3
   * ```
   */
  stats(): BusStats {
    const ring = this.#ring;
    return {
      capacity: ring.capacity,
      subscribers: ring.subscribers,
      sent: ring.tail,
      dropped: ring.dropped,
      discarded: ring.discarded,
      blocked: ring.blocked,
    };
  }
}
