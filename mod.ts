/**
 * A bounded, typed broadcast bus with `tokio::sync::broadcast` semantics, for
 * every JavaScript runtime. One {@linkcode Bus.send} fans a value out to every
 * {@linkcode Subscriber} through a power-of-two ring. The sender never blocks
 * and does O(1) work whatever the number of subscribers.
 *
 * ```ts
 * import { Bus } from "@ron/bus";
 *
 * const bus = new Bus<{ price: number }>({ capacity: 256 });
 * const sub = bus.subscribe();
 * bus.send({ price: 101 });
 * bus.close();
 * for await (const tick of sub) console.log(tick.price); // 101
 * ```
 *
 * ## Reading
 *
 * Every way of reading moves the subscriber's one cursor:
 * `tryRecv()` (synchronous, no allocation), `drain(fn)` (a batch to a
 * callback, no allocation per value), `wait()` + `drain` (one await per
 * batch), `recv()`, `for await`, the reader-compatible `read()`, and
 * `readable`, a real `ReadableStream` (`stream({ highWaterMark })` reads
 * ahead). Every value has a sequence number; `sub.position` is the next a
 * subscriber reads, and `subscribe({ from: n })` resumes from one.
 *
 * ## Lagging
 *
 * The ring holds `capacity` values. When it overwrites values a subscriber
 * has not read, that subscriber's next read jumps to the oldest value still
 * held, adds the gap to `sub.missed` and to `bus.stats().dropped`, and goes
 * on. The gap is counted exactly, when a read discovers it. With
 * `lag: "error"`, that read also reports a {@linkcode LaggedError} carrying
 * `missed`, once: `tryRecv` and `drain` throw (before delivering anything),
 * `recv` and `read` reject, `for await` throws out of the loop, and
 * `readable` errors, which ends the subscription. Otherwise the read after
 * the error resumes at the oldest value held. Lag never ends a loop silently.
 *
 * ## Closing
 *
 * `sub.close()` (or `using sub = bus.subscribe()`, or `break` out of
 * `for await`, or `cancel()`/`releaseLock()`, or cancelling `readable`)
 * unsubscribes: the bus stops counting, waiting or holding values for it.
 * `bus.close()` is idempotent. Every subscriber still receives what was
 * retained for it, then ends, as soon as nothing is left for it: `closed`
 * resolves, the bus stops counting it, `recv()` rejects with
 * {@linkcode BusClosedError}, `tryRecv()` returns {@linkcode CLOSED},
 * `wait()` resolves `false`, iteration finishes, and streams close. Parked
 * reads wake. `send` throws `BusClosedError`; `subscribe` returns a
 * subscriber that has already ended. A subscriber dropped without closing
 * is unsubscribed once it is garbage-collected: a safety net, not a
 * substitute for `close()` or `using`.
 *
 * ## Overflow
 *
 * When the slowest subscriber is a full ring behind, `send` follows the bus's
 * {@linkcode OverflowPolicy}: `"drop-oldest"` (the default, as tokio)
 * overwrites the oldest value; `"drop-newest"` discards the value being sent
 * and counts it in `stats().discarded`; `"wait"` loses nothing: `send`
 * throws {@linkcode BusFullError} until {@linkcode Bus.ready} resolves,
 * while {@linkcode Bus.write} and `bus.writable` wait their turn, which is
 * how several producers share a bus.
 *
 * ## Memory
 *
 * A bus holds at most `capacity` values. Once every current subscriber has
 * read a value, or left, its slot no longer references it. With
 * `replay: true` the last `capacity` values stay for late subscribers that
 * ask for `from: "oldest"`.
 *
 * @module
 */

export { Bus } from "./src/bus.ts";
export { BusClosedError, BusFullError, LaggedError } from "./src/errors.ts";
export {
  type BusOptions,
  type LagPolicy,
  MAX_CAPACITY,
  type OverflowPolicy,
  type StreamOptions,
  type SubscribeOptions,
  type WriteOptions,
} from "./src/options.ts";
export { CLOSED, EMPTY } from "./src/signals.ts";
export { type BusStats, type Metric, type MetricSource, type PrometheusOptions, toPrometheus } from "./src/stats.ts";
export { Subscriber } from "./src/subscriber.ts";
export type { Tap } from "./src/tap.ts";
export { SharedBus, type SharedBusStats } from "./src/shared/bus.ts";
export type { SharedCodec, SharedCodecOption } from "./src/shared/codec.ts";
export type { SharedBusHandle } from "./src/shared/memory.ts";
export type { SharedBusOptions } from "./src/shared/options.ts";
