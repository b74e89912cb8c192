/**
 * The core NATS bridge: local sends are batched and published on a subject;
 * messages from the subject are sent into the local bus; each origin's
 * sequence numbers reveal, exactly, every value lost on the way.
 *
 * @module
 */

import type { Metric } from "../stats.ts";
import type { Bridge } from "./bridge.ts";
import { type Header, HEADER_BYTES, randomOrigin, readHeader } from "./envelope.ts";
import { Intake } from "./intake.ts";
import { type BridgeOptions, checkBus, resolveBridgeOptions, type ResolvedBridgeOptions } from "./options.ts";
import { Outbox } from "./outbox.ts";
import { type BridgeStats, newCounters, toMetrics } from "./stats.ts";
import type { BusLike, NatsConnectionLike, NatsMsgLike, TapLike } from "./types.ts";

/** What a receiver knows of one origin. */
interface OriginState {
  /** The sequence number expected next. */
  next: number;
  /** `Date.now()` when it was last heard from. */
  heard: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Bridges `bus` to a core NATS subject, in both directions:
 *
 * - Every value the bus accepts from a local `send` is published (a tap
 *   sees every one, so a burst larger than the ring loses nothing), batched
 *   several to a message: per microtask turn, or sooner at `maxBatchBytes`.
 * - Every message on the subject from another bridge is sent into the bus,
 *   in slices of at most `capacity / 2` values per microtask turn, so fast
 *   subscribers are not lapped. A value that came from NATS is never
 *   published again, and the bridge drops its own echoes (a random origin
 *   id per bridge), so two hosts both sending see every value exactly once.
 * - Each origin numbers its values; a receiver counts every jump exactly in
 *   `stats().gaps`, including values the client discarded while
 *   reconnecting. Blind spots: values lost before the first message heard
 *   from an origin, and after its last (its heartbeats and goodbye shrink
 *   this to the moments before a crash).
 * - The bridge never blocks NATS. Under the bus's `"wait"` policy, values
 *   wait for room in a queue of `maxQueued` and beyond it count in
 *   `stats().overflowed`; under the other policies the bus's own counters
 *   account for every value.
 * - A message that fails to decode is counted in `stats().decodeErrors` and
 *   skipped.
 *
 * Connect with `noEcho: true` if only bridges publish from this connection;
 * the server then does not send your own messages back at all.
 *
 * @typeParam T The type of the values on the bus.
 * @param bus The local bus.
 * @param nc A connection from any `@nats-io` transport (see {@linkcode NatsConnectionLike}).
 * @param options The subject, and optionally the codec, batch size, queue bound and heartbeat.
 * @returns The running bridge.
 * @throws {TypeError} If an option is missing, unknown or of the wrong type.
 * @throws {RangeError} If a number option is out of range.
 *
 * @example Two hosts, one bus
 * ```ts ignore
 * import { Bus } from "@ron/bus";
 * import { bridge } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222", noEcho: true });
 * const bus = new Bus<{ price: number }>({ capacity: 1024 });
 * const link = bridge(bus, nc, { subject: "ticks" });
 * bus.send({ price: 101 }); // every subscriber of every bridged bus sees it once
 * console.log(link.stats().gaps); // 0
 * await link.close();
 * ```
 */
export function bridge<T>(bus: BusLike<T>, nc: NatsConnectionLike, options: BridgeOptions<T>): Bridge {
  checkBus(bus);
  return new CoreBridge(bus, nc, resolveBridgeOptions(options));
}

class CoreBridge<T> implements Bridge {
  readonly #nc: NatsConnectionLike;
  readonly #subject: string;
  readonly #origin = randomOrigin();
  readonly #counters = newCounters();
  readonly #outbox: Outbox<T>;
  readonly #tap: TapLike<T>;
  readonly #intake: Intake<T>;
  readonly #subscription: { unsubscribe(): void };
  readonly #origins = new Map<number, OriginState>();
  readonly #forgetAfter: number;
  readonly #header = {} as Header;
  #lastSweep = Date.now();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #spoke = false;
  #closing: Promise<void> | undefined;

  constructor(bus: BusLike<T>, nc: NatsConnectionLike, options: ResolvedBridgeOptions<T>) {
    this.#nc = nc;
    this.#subject = options.subject;
    this.#forgetAfter = options.forgetAfter;
    this.#outbox = new Outbox(options.codec, this.#origin, options.maxBatchBytes, this.#counters, this.#publish);
    // Local sends go out; what this or any bridge sent in through its tap does not.
    this.#tap = bus.tap((value, from) => {
      if (from === undefined) this.#outbox.add(value);
    });
    this.#intake = new Intake(
      this.#tap,
      bus,
      options.codec,
      this.#counters,
      options.maxQueued,
      () => void this.close(),
    );
    this.#subscription = nc.subscribe(options.subject, { callback: this.#onMessage });
    if (options.heartbeat > 0) this.#heartbeat = setInterval(this.#beat, options.heartbeat);
  }

  get origin(): string {
    return this.#origin.hex;
  }

  get ready(): Promise<void> {
    return RESOLVED;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): BridgeStats {
    return { ...this.#counters, queued: this.#intake.queued, backlog: 0, inFlight: 0, origins: this.#origins.size };
  }

  metrics(): Metric[] {
    return toMetrics(this.stats());
  }

  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#tap.close();
    this.#outbox.close();
    this.#send(this.#outbox.marker(true), 0);
    try {
      this.#subscription.unsubscribe();
    } catch {
      // the connection is closed already
    }
    await this.#intake.finish();
    await this.#nc.flush().catch(() => {});
  }

  #publish = (message: Uint8Array, count: number): void => {
    if (this.#send(message, count)) {
      this.#counters.published += count;
      this.#counters.publishedMessages++;
    } else {
      this.#counters.publishErrors += count;
    }
  };

  #send(message: Uint8Array, count: number): boolean {
    this.#spoke = true;
    try {
      this.#nc.publish(this.#subject, message);
      return true;
    } catch {
      return count === 0; // a lost heartbeat or goodbye is no lost value
    }
  }

  /** Speaks up if the interval went by in silence, so receivers learn the last sequence number. */
  #beat = (): void => {
    if (!this.#spoke) this.#send(this.#outbox.marker(false), 0);
    this.#spoke = false;
  };

  #onMessage = (error: Error | null, msg: NatsMsgLike): void => {
    if (error !== null || this.#closing !== undefined) return;
    const counters = this.#counters;
    counters.receivedMessages++;
    const data = msg.data;
    const header = readHeader(data, this.#header);
    if (header === undefined) {
      counters.decodeErrors++;
      return;
    }
    const { first, count } = header;
    if (header.originKey === this.#origin.key) {
      counters.echoes += count;
      return;
    }
    const now = Date.now();
    if (now - this.#lastSweep >= this.#forgetAfter) this.#sweep(now);
    const origins = this.#origins;
    let state = origins.get(header.originKey);
    let skip = 0;
    if (state === undefined) {
      state = { next: first, heard: now };
      origins.set(header.originKey, state);
    } else {
      state.heard = now;
      if (first > state.next) counters.gaps += first - state.next;
      else skip = Math.min(count, state.next - first);
    }
    state.next = Math.max(state.next, first + count);
    if (header.goodbye) origins.delete(header.originKey);
    if (count > skip) this.#intake.take(header.framing, data.subarray(HEADER_BYTES), count, skip);
    else counters.duplicates += count;
  };

  /** Forgets origins silent for `forgetAfter`: a crashed peer must not cost memory forever. */
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, state] of this.#origins) {
      if (now - state.heard >= this.#forgetAfter) this.#origins.delete(key);
    }
  }
}
