/**
 * The JetStream bridge: a stream with `max_msgs` and `discard: "old"` is a
 * durable ring in front of the bus. Each value is one stream message, so
 * the stream's sequence numbers count values, and a bus can start from any
 * of them and replay.
 *
 * @module
 */

import type { Metric } from "../stats.ts";
import type { Bridge } from "./bridge.ts";
import { Coalescer } from "./coalesce.ts";
import { type Header, HEADER_BYTES, randomOrigin, readHeader } from "./envelope.ts";
import { Intake } from "./intake.ts";
import {
  checkBus,
  type JetStreamBridgeOptions,
  type ResolvedJetStreamBridgeOptions,
  resolveJetStreamBridgeOptions,
} from "./options.ts";
import { Outbox } from "./outbox.ts";
import { type BridgeStats, newCounters, toMetrics } from "./stats.ts";
import type { BusLike, JetStreamClientLike, JsMsgLike, TapLike } from "./types.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Bridges `bus` to a JetStream stream, in both directions:
 *
 * - Every value the bus accepts from a local `send` is published as one
 *   stream message, with up to `window` acknowledgements outstanding.
 *   `link.ready` is the backpressure: `await link.ready; bus.send(value)`
 *   never runs ahead of the window. Beyond the window, up to `maxQueued`
 *   values wait in a backlog (then `stats().publishOverflowed`).
 * - The stream is read from `start` (`"next"`, `"oldest"` or a sequence
 *   number) by an ordered consumer, and every value from another bridge is
 *   sent into the bus, in slices of at most `capacity / 2` per microtask
 *   turn, as the core bridge does. The bridge drops its own echoes.
 * - Gaps come from the stream's sequence numbers, counted exactly in
 *   `stats().gaps`: a `start` older than the oldest message the stream
 *   holds, and a reader lapped by `discard: "old"`. A publish that fails is
 *   counted where it failed, in the publisher's `stats().publishErrors`.
 *
 * The stream must hold exactly one subject, `subject`, and only bridges
 * (one value per message) should publish to it: then its sequence numbers
 * count values. Create it with `max_msgs` as the ring's capacity and
 * `discard: "old"`.
 *
 * @typeParam T The type of the values on the bus.
 * @param bus The local bus.
 * @param js A JetStream client: `jetstream(nc)` from `@nats-io/jetstream`.
 * @param options The stream, subject and start, and optionally the codec, window and queue bound.
 * @returns The running bridge, once it reads the stream.
 * @throws {TypeError} (rejects) If an option is missing, unknown or of the wrong type, or the stream
 *   holds other subjects. Errors from the client (no such stream) reject as they are.
 * @throws {RangeError} (rejects) If a number option is out of range.
 *
 * @example Replaying a durable ring into a bus
 * ```ts ignore
 * import { Bus } from "@ron/bus";
 * import { bridgeJetStream } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node";
 * import { jetstream, jetstreamManager } from "@nats-io/jetstream";
 *
 * const nc = await connect({ servers: "127.0.0.1:4222" });
 * const jsm = await jetstreamManager(nc);
 * await jsm.streams.add({ name: "TICKS", subjects: ["ticks"], max_msgs: 10_000, discard: "old" });
 * const bus = new Bus<{ price: number }>({ capacity: 1024 });
 * const link = await bridgeJetStream(bus, jetstream(nc), { stream: "TICKS", subject: "ticks", start: "oldest" });
 * await link.ready;
 * bus.send({ price: 101 });
 * await link.close();
 * ```
 */
export async function bridgeJetStream<T>(
  bus: BusLike<T>,
  js: JetStreamClientLike,
  options: JetStreamBridgeOptions<T>,
): Promise<Bridge> {
  checkBus(bus);
  const link = new JetStreamBridge(bus, js, resolveJetStreamBridgeOptions(options));
  try {
    await link.start();
  } catch (error) {
    await link.close();
    throw error;
  }
  return link;
}

class JetStreamBridge<T> implements Bridge {
  readonly #js: JetStreamClientLike;
  readonly #options: ResolvedJetStreamBridgeOptions<T>;
  readonly #origin = randomOrigin();
  readonly #counters = newCounters();
  readonly #outbox: Outbox<T>;
  readonly #tap: TapLike<T>;
  readonly #intake: Intake<T>;
  readonly #header = {} as Header;
  /** The last stream sequence number accounted for. */
  #last = 0;
  #consuming: { close(): Promise<void | Error> } | undefined;
  #backlog: (Uint8Array | undefined)[] = [];
  #backlogHead = 0;
  /** Publishes the backlog once the producer goes quiet, so its values leave in one socket write. */
  #coalescer = new Coalescer(() => this.#backlog.length, () => this.#publish());
  #inFlight = 0;
  #ready: Promise<void> | undefined;
  #openReady: (() => void) | undefined;
  #settled: (() => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(bus: BusLike<T>, js: JetStreamClientLike, options: ResolvedJetStreamBridgeOptions<T>) {
    this.#js = js;
    this.#options = options;
    // One value per message, so stream sequence numbers count values.
    this.#outbox = new Outbox(options.codec, this.#origin, 0, this.#counters, this.#enqueue);
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
  }

  /** Finds where to start, then starts the ordered consumer there. */
  async start(): Promise<void> {
    const { stream, subject, start } = this.#options;
    const info = await (await this.#js.streams.get(stream)).info();
    const subjects = info.config.subjects ?? [];
    if (subjects.length !== 1 || subjects[0] !== subject) {
      throw new TypeError(
        `Invalid stream: "${stream}" holds subjects ${JSON.stringify(subjects)}; expected exactly ["${subject}"], ` +
          `so that its sequence numbers count the bridge's values`,
      );
    }
    const { messages, first_seq, last_seq } = info.state;
    const from = start === "next"
      ? last_seq + 1
      : start === "oldest"
      ? (messages > 0 ? first_seq : last_seq + 1)
      : start;
    this.#last = from - 1;
    const consumer = await this.#js.consumers.get(stream, {
      filter_subjects: subject,
      deliver_policy: "by_start_sequence",
      opt_start_seq: from,
    });
    if (this.#closing !== undefined) return;
    // Pulls that expire in 2 s rather than the client's 30 s: after a server restart the client retries
    // at that interval, so reading resumes within seconds.
    this.#consuming = await consumer.consume({ callback: this.#onMessage, expires: 2_000 });
    if (this.#closing !== undefined) await this.#consuming.close();
  }

  get origin(): string {
    return this.#origin.hex;
  }

  get ready(): Promise<void> {
    if (this.#hasRoom()) return RESOLVED;
    return this.#ready ??= new Promise((resolve) => this.#openReady = resolve);
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  stats(): BridgeStats {
    return {
      ...this.#counters,
      queued: this.#intake.queued,
      backlog: this.#backlog.length - this.#backlogHead,
      inFlight: this.#inFlight,
      origins: 0,
    };
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
    this.#tap.close();
    this.#outbox.close();
    this.#publish();
    // Producers parked on ready go on; their sends are no longer published.
    this.#openReady?.();
    this.#openReady = this.#ready = undefined;
    if (this.#inFlight > 0 || this.#backlog.length > this.#backlogHead) {
      await new Promise<void>((resolve) => this.#settled = resolve);
    }
    await this.#consuming?.close();
    await this.#intake.finish();
  }

  /** Room for one more value within the window, counting those waiting to go out. */
  #hasRoom(): boolean {
    return this.#closing !== undefined ||
      this.#backlog.length - this.#backlogHead + this.#inFlight < this.#options.window;
  }

  #enqueue = (message: Uint8Array): void => {
    if (this.#backlog.length - this.#backlogHead >= this.#options.maxQueued) {
      this.#counters.publishOverflowed++;
      return;
    }
    this.#backlog.push(message);
    this.#coalescer.schedule();
  };

  /** Publishes from the backlog while the window has room. */
  #publish(): void {
    const backlog = this.#backlog;
    while (this.#inFlight < this.#options.window && this.#backlogHead < backlog.length) {
      const message = backlog[this.#backlogHead]!;
      backlog[this.#backlogHead++] = undefined;
      this.#inFlight++;
      let ack: Promise<unknown>;
      try {
        ack = this.#js.publish(this.#options.subject, message);
      } catch (error) {
        ack = Promise.reject(error);
      }
      ack.then(this.#onAck, this.#onNack);
    }
    if (this.#backlogHead === backlog.length) {
      backlog.length = 0;
      this.#backlogHead = 0;
    }
    if (this.#openReady !== undefined && this.#hasRoom()) {
      this.#openReady();
      this.#openReady = this.#ready = undefined;
    }
    if (this.#settled !== undefined && this.#inFlight === 0 && backlog.length === 0) this.#settled();
  }

  #onAck = (): void => {
    this.#inFlight--;
    this.#counters.published++;
    this.#counters.publishedMessages++;
    this.#publish();
  };

  #onNack = (): void => {
    this.#inFlight--;
    this.#counters.publishErrors++;
    this.#publish();
  };

  #onMessage = (msg: JsMsgLike): void => {
    if (this.#closing !== undefined) return;
    const counters = this.#counters;
    counters.receivedMessages++;
    const seq = msg.seq;
    if (seq <= this.#last) {
      counters.duplicates++;
      return;
    }
    counters.gaps += seq - this.#last - 1;
    this.#last = seq;
    const data = msg.data;
    const header = readHeader(data, this.#header);
    if (header === undefined) counters.decodeErrors++;
    else if (header.originKey === this.#origin.key) counters.echoes += header.count;
    else this.#intake.take(header.framing, data.subarray(HEADER_BYTES), header.count, 0);
  };
}
