/**
 * The few methods a bridge calls on a NATS connection and a JetStream
 * client, as structural types. The connections of `@nats-io/transport-node`
 * and `wsconnect` from `@nats-io/nats-core`, and `jetstream(nc)` from
 * `@nats-io/jetstream`, satisfy them (a type-level test checks it; the
 * `NatsConnection` of `@nats-io/transport-deno` is the same nats-core type),
 * so users bring their own client and version and this package depends on
 * none.
 *
 * @module
 */

/**
 * What a bridge uses of a {@linkcode Bus} from `@ron/bus`: a bus satisfies
 * it.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import { Bus } from "@ron/bus";
 * import type { BusLike } from "@ron/bus/nats";
 *
 * const bus: BusLike<number> = new Bus<number>();
 * ```
 */
export interface BusLike<T> {
  /** Slots in the ring: the bridge sends at most half of them per microtask turn. */
  readonly capacity: number;
  /** Under `"wait"` the bridge writes values in as room opens, queueing at most `maxQueued`. */
  readonly overflow: "drop-oldest" | "drop-newest" | "wait";
  /**
   * Sees every value the bus accepts, with the tap that sent it if one did;
   * the bridge forwards only values no tap sent, and sends what arrives
   * through its own tap, so nothing any bridge brought in goes back out.
   */
  tap(fn: (value: T, from: unknown) => void): TapLike<T>;
}

/**
 * The tap a bridge holds on its bus, from `bus.tap()`: it stops it, and
 * sends into the bus through it, marked as from it.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import { Bus } from "@ron/bus";
 * import type { TapLike } from "@ron/bus/nats";
 *
 * const tap: TapLike<number> = new Bus<number>().tap(() => {});
 * tap.close();
 * ```
 */
export interface TapLike<T> {
  /** Removes the tap. */
  close(): void;
  /** Sends a value into the bus, as `bus.send` does. */
  send(value: T): number;
  /** Writes a value into the bus once there is room, as `bus.write` does. */
  write(value: T): Promise<number>;
}

/**
 * A message as the bridge reads it: its bytes.
 *
 * @example
 * ```ts
 * import type { NatsMsgLike } from "@ron/bus/nats";
 *
 * const msg: NatsMsgLike = { data: new Uint8Array([1, 2, 3]) };
 * ```
 */
export interface NatsMsgLike {
  /** The payload. */
  readonly data: Uint8Array;
}

/**
 * A core NATS subscription, as the bridge ends it.
 *
 * @example
 * ```ts
 * import type { NatsSubscriptionLike } from "@ron/bus/nats";
 *
 * const subscription: NatsSubscriptionLike = { unsubscribe() {} };
 * ```
 */
export interface NatsSubscriptionLike {
  /** Stops the subscription. */
  unsubscribe(): void;
}

/**
 * What a core NATS bridge calls on a `NatsConnection` from
 * `@nats-io/nats-core` (as `connect` from `@nats-io/transport-node` or
 * `@nats-io/transport-deno`, or `wsconnect`, return it).
 *
 * @example
 * ```ts ignore
 * import type { NatsConnectionLike } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node";
 *
 * const nc: NatsConnectionLike = await connect({ servers: "127.0.0.1:4222" });
 * ```
 */
export interface NatsConnectionLike {
  /** Publishes `payload` on `subject`; throws if the connection is closed. */
  publish(subject: string, payload: Uint8Array): void;
  /** Subscribes to `subject`, calling `callback` with each message as it is read. */
  subscribe(
    subject: string,
    options: { callback(error: Error | null, msg: NatsMsgLike): void },
  ): NatsSubscriptionLike;
  /** Resolves once the server has processed everything published so far. */
  flush(): Promise<void>;
}

/**
 * A JetStream message as the bridge reads it: its bytes and its stream
 * sequence number.
 *
 * @example
 * ```ts
 * import type { JsMsgLike } from "@ron/bus/nats";
 *
 * const msg: JsMsgLike = { seq: 1, data: new Uint8Array() };
 * ```
 */
export interface JsMsgLike {
  /** The message's sequence number in the stream. */
  readonly seq: number;
  /** The payload. */
  readonly data: Uint8Array;
}

/**
 * The part of a stream's info the bridge reads to find where to start.
 *
 * @example
 * ```ts
 * import type { StreamInfoLike } from "@ron/bus/nats";
 *
 * const info: StreamInfoLike = {
 *   config: { subjects: ["ticks"] },
 *   state: { messages: 0, first_seq: 0, last_seq: 0 },
 * };
 * ```
 */
export interface StreamInfoLike {
  /** The stream's configuration: which subjects it holds. */
  readonly config: { readonly subjects?: readonly string[] };
  /** How many messages it holds, and the sequence numbers of the first and last. */
  readonly state: { readonly messages: number; readonly first_seq: number; readonly last_seq: number };
}

/**
 * The options a JetStream bridge passes to `consumers.get`: an ordered
 * consumer of one subject, from a stream sequence number.
 *
 * @example
 * ```ts
 * import type { OrderedConsumerOptionsLike } from "@ron/bus/nats";
 *
 * const options: OrderedConsumerOptionsLike = {
 *   filter_subjects: "ticks",
 *   deliver_policy: "by_start_sequence",
 *   opt_start_seq: 1,
 * };
 * ```
 */
export interface OrderedConsumerOptionsLike {
  /** The subject. */
  filter_subjects: string;
  /** Always from a sequence number: the bridge works out which. */
  deliver_policy: "by_start_sequence";
  /** The first sequence number to deliver. */
  opt_start_seq: number;
}

/**
 * What a JetStream bridge calls on a `JetStreamClient` from
 * `@nats-io/jetstream` (`jetstream(nc)`).
 *
 * @example
 * ```ts ignore
 * import type { JetStreamClientLike } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node";
 * import { jetstream } from "@nats-io/jetstream";
 *
 * const js: JetStreamClientLike = jetstream(await connect({ servers: "127.0.0.1:4222" }));
 * ```
 */
export interface JetStreamClientLike {
  /** Publishes `payload` on `subject`; resolves with the stream's acknowledgement. */
  publish(subject: string, payload: Uint8Array): Promise<unknown>;
  /** Looks up streams. */
  readonly streams: {
    /** The stream called `name`. */
    get(name: string): Promise<{ info(): Promise<StreamInfoLike> }>;
  };
  /** Creates consumers. */
  readonly consumers: {
    /** An ordered consumer of `stream`. */
    get(stream: string, options: OrderedConsumerOptionsLike): Promise<{
      consume(
        options: { callback(msg: JsMsgLike): void; expires: number },
      ): Promise<{ close(): Promise<void | Error> }>;
    }>;
  };
}
