/**
 * The bus: a bounded broadcast channel over one ring.
 *
 * @module
 */

import { BusClosedError } from "./errors.ts";
import {
  type BusOptions,
  checkFrom,
  type OverflowPolicy,
  resolveBusOptions,
  resolveSubscribeOptions,
  type SubscribeOptions,
  type WriteOptions,
} from "./options.ts";
import { Ring } from "./ring.ts";
import { RingCursor } from "./ring_cursor.ts";
import { CLOSED, EMPTY } from "./signals.ts";
import type { BusStats } from "./stats.ts";
import { toWritable } from "./stream.ts";
import { createSubscriber, type Subscriber } from "./subscriber.ts";
import { addTap, type Tap } from "./tap.ts";
import { checkValue, startWrite } from "./writes.ts";

/**
 * @internal Test and benchmark hook, not part of the public API: makes the
 * next value sent on a bus that has never been used get number `sequence`,
 * as if that many values had gone through it already. Its positions are
 * placed `headroom` values short of a rebase (default 4096), so a test
 * crosses one soon.
 */
export let startSequenceAt: <T>(bus: Bus<T>, sequence: number, headroom?: number) => void;

/**
 * A bounded broadcast channel: every value sent reaches every subscriber,
 * through one ring of `capacity` slots. `send` never blocks and does O(1)
 * work whatever the number of subscribers; a subscriber that falls a full
 * ring behind loses the oldest values and learns how many (see
 * {@linkcode Subscriber.missed}), unless the overflow policy says otherwise.
 *
 * `T` is invariant: a `Bus<number>` is not a `Bus<number | string>`, since
 * whoever holds the wider type could send a string to readers of numbers.
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
export class Bus<in out T> {
  #ring: Ring<T>;
  #overflow: OverflowPolicy;
  #writable: WritableStream<T> | undefined;

  static {
    startSequenceAt = (bus, sequence, headroom = 4096) => bus.#ring.startAt(sequence, headroom);
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
   * when the slowest subscriber has read (or left) the slot to reuse and no
   * {@linkcode Bus.write} is waiting; under the other policies, and once the
   * bus is closed, it is already resolved. It never rejects.
   *
   * `await bus.ready; bus.send(v)` is the lossless loop for one producer.
   * With several, all wake when room opens and the second `send` may find
   * none: several producers use {@linkcode Bus.write}, which waits its turn.
   *
   * @example A lossless single producer
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
   * `source.pipeTo(bus.writable)` publishes a stream. Each chunk goes
   * through {@linkcode Bus.write}: under `"wait"` it waits for room, in
   * turn with other writers. Closing the stream closes the bus; aborting it
   * (or aborting a `pipeTo` into it) gives up a write still waiting for room
   * at once and closes the bus. Pipe with `{ preventClose: true }` to keep
   * the bus open for other producers.
   *
   * @example
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>();
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
   * @throws {TypeError} If `value` is {@linkcode EMPTY} or {@linkcode CLOSED},
   *   which `tryRecv` returns to mean "no value": nothing is sent.
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
    // checkValue's test, inline: the call cost send 5-7% on Node. `typeof` first: comparing with the imported
    // symbols straight away made sends up to 1.5x slower on all three runtimes (measured).
    if (typeof value === "symbol" && (value === EMPTY || value === CLOSED)) checkValue(value);
    const ring = this.#ring;
    if (ring.closed) throw new BusClosedError();
    return ring.write(value);
  }

  /** `send`, marked as from `from`, for a tap's own `send`. */
  #sendFrom(value: T, from: Tap<T>): number {
    checkValue(value);
    const ring = this.#ring;
    if (ring.closed) throw new BusClosedError();
    return ring.write(value, from);
  }

  /**
   * Sends `value` once there is room, losing nothing: the way for several
   * producers to share a `"wait"` bus. Writes wait in the order they were
   * made and go out as subscribers free slots, so a write never fails with
   * {@linkcode BusFullError}. Under the other policies it sends at once, as
   * {@linkcode Bus.send} does.
   *
   * @param value The value to broadcast.
   * @param options `signal` gives up the write while it waits.
   * @returns Resolves with how many subscribers will see the value (as
   *   `send` returns), once it is sent.
   * @throws {BusClosedError} (rejects) If the bus is or becomes closed
   *   before the value is sent.
   * @throws {TypeError} (rejects) If `value` is `EMPTY` or `CLOSED`, or the
   *   options are not `{ signal?: AbortSignal }`.
   * @throws {unknown} (rejects) With the signal's reason if it aborts first.
   *
   * @example Several producers, nothing lost
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>({ capacity: 2, overflow: "wait" });
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
   * Adds a subscriber. By default it sees every value sent from now on.
   * `from: "oldest"` starts it at the oldest value still retained (with
   * `replay: true`, the last `capacity` values sent; without, the oldest
   * value some current subscriber has not read). `from: n` starts it at
   * sequence number `n` (see {@linkcode Subscriber.position}), to resume
   * where a reader left off: if value `n` is no longer retained, it starts
   * at the oldest one that is, and its first read discovers the values in
   * between as missed (a {@linkcode LaggedError} under `lag: "error"`).
   * After {@linkcode Bus.close} it returns a subscriber that has already
   * ended.
   *
   * @param options Where to start, and how lag is reported.
   * @returns The new subscriber.
   * @throws {TypeError} If an option is unknown or has the wrong type.
   * @throws {RangeError} If `from` is a number that is not an integer from 0
   *   to `stats().sent` (the next sequence number).
   *
   * @example Replaying what is retained
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<number>({ replay: true });
   * bus.send(1);
   * bus.send(2);
   * const late = bus.subscribe({ from: "oldest" });
   * console.log(late.tryRecv(), late.tryRecv()); // 1 2
   * ```
   *
   * @example Resuming from a sequence number
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>({ capacity: 2, replay: true });
   * for (const letter of ["a", "b", "c", "d"]) bus.send(letter);
   * const resumed = bus.subscribe({ from: 1 }); // "b" was number 1; only "c" and "d" are held
   * console.log(resumed.tryRecv(), resumed.missed); // "c" 1
   * ```
   */
  subscribe(options?: SubscribeOptions): Subscriber<T> {
    const { from, lag } = resolveSubscribeOptions(options);
    const ring = this.#ring;
    if (typeof from === "number") checkFrom(from, ring.sequence());
    return createSubscriber(ring.closed ? RingCursor.ended(ring) : ring.join(from, lag === "error"));
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
   * `fn`'s second argument is the tap whose `send` or `write` put the value
   * on the bus, or `undefined` for everything else. A bridge brings values
   * in through its tap and forwards only values no tap sent, so nothing it
   * (or another bridge) brought in goes back out, and nothing loops.
   *
   * @param fn Called with each accepted value, and the tap that sent it.
   * @returns A handle whose `close()` (or `using`) removes the tap, and
   *   whose `send` and `write` send values marked as from it.
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
   *
   * @example A bridge that never echoes
   * ```ts
   * import { Bus } from "@ron/bus";
   *
   * const bus = new Bus<string>();
   * const outbound: string[] = [];
   * const link = bus.tap((value, from) => {
   *   if (from === undefined) outbound.push(value); // forward local sends only
   * });
   * bus.send("local");
   * link.send("arrived from elsewhere"); // subscribers see it; the bridge does not send it back
   * console.log(outbound); // ["local"]
   * ```
   */
  tap(fn: (value: T, from: Tap<T> | undefined) => void): Tap<T> {
    return addTap(this.#ring, fn, {
      send: (value, from) => this.#sendFrom(value, from),
      write: (value, options, from) => startWrite(this.#ring, value, options, from),
    });
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
      sent: ring.sequence(),
      dropped: ring.dropped,
      discarded: ring.discarded,
      blocked: ring.blocked,
    };
  }
}
