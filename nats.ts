/**
 * `@ron/bus/nats` bridges a bus to NATS, so one logical bus spans isolates,
 * processes and hosts, with the same exact accounting of every loss. NATS is
 * the engine (JetStream for durable replay); the bridge makes it feel like
 * one bus.
 *
 * ```ts ignore
 * import { Bus } from "@ron/bus";
 * import { bridge } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node"; // or transport-deno, or wsconnect from @nats-io/nats-core
 *
 * const nc = await connect({ servers: "127.0.0.1:4222", noEcho: true });
 * const bus = new Bus<{ price: number }>({ capacity: 1024 });
 * const link = bridge(bus, nc, { subject: "ticks" });
 * bus.send({ price: 101 }); // every subscriber of every bridged bus, on every host, sees it once
 * link.stats(); // published, received, gaps, echoes, decodeErrors, overflowed, ...
 * await link.close();
 * ```
 *
 * ## No client inside
 *
 * The bridge takes your connection through structural types
 * ({@linkcode NatsConnectionLike}, {@linkcode JetStreamClientLike}): the few
 * methods it calls. Connections from `@nats-io/transport-node`,
 * `@nats-io/transport-deno` and `wsconnect` satisfy them; this module uses
 * web-standard APIs only and depends on no client or version.
 *
 * ## Core NATS: {@linkcode bridge}
 *
 * Local sends are seen by a tap on the bus (losslessly, however large the
 * burst), batched several to a message, and published. Messages from other
 * bridges go into the bus in slices of at most `capacity / 2` per microtask
 * turn, so fast subscribers are not lapped. Values from NATS are never
 * published again, and echoes are dropped by a random origin id. Each origin
 * numbers its values, so every value lost between two of its messages is
 * counted in `stats().gaps`, including those the client discards while it
 * reconnects. Blind spots: losses before the first message heard from an
 * origin, and after its last (heartbeats and a goodbye on close shrink that
 * to the moments before a crash).
 *
 * ## JetStream: {@linkcode bridgeJetStream}
 *
 * A stream with `max_msgs` and `discard: "old"` is a durable ring. A bridge
 * starts a bus from `"oldest"`, `"next"` or a stream sequence number and
 * replays from there; gaps come from the stream's sequence numbers (a start
 * older than the stream holds, a reader lapped by discard-old). Publishes
 * keep a window of acknowledgements in flight, and `link.ready` is the
 * backpressure.
 *
 * ## Counting
 *
 * {@linkcode BridgeStats} says where every value went; `toPrometheus(link)`
 * from `@ron/bus` renders the same counters.
 *
 * @module
 */

export type { Bridge } from "./src/nats/bridge.ts";
export type { Codec } from "./src/nats/codec.ts";
export { bridge } from "./src/nats/core.ts";
export { bridgeJetStream } from "./src/nats/jetstream.ts";
export type { BridgeOptions, JetStreamBridgeOptions, StartPosition } from "./src/nats/options.ts";
export type { BridgeStats } from "./src/nats/stats.ts";
export type {
  BusLike,
  JetStreamClientLike,
  JsMsgLike,
  NatsConnectionLike,
  NatsMsgLike,
  NatsSubscriptionLike,
  OrderedConsumerOptionsLike,
  StreamInfoLike,
  TapLike,
} from "./src/nats/types.ts";
export { assertWebSocket } from "./src/nats/websocket.ts";
export type { Metric, MetricSource } from "./src/stats.ts";
