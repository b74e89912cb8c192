/**
 * The handle both bridges return.
 *
 * @module
 */

import type { Metric, MetricSource } from "../stats.ts";
import type { BridgeStats } from "./stats.ts";

/**
 * A running link between a bus and a NATS subject, from
 * {@linkcode bridge} or {@linkcode bridgeJetStream}. It is a
 * {@linkcode MetricSource}, so `toPrometheus(link)` renders its counters.
 *
 * @example
 * ```ts ignore
 * import { Bus, toPrometheus } from "@ron/bus";
 * import { type Bridge, bridge } from "@ron/bus/nats";
 * import { connect } from "@nats-io/transport-node";
 *
 * const bus = new Bus<number>();
 * await using link: Bridge = bridge(bus, await connect({ servers: "127.0.0.1:4222" }), { subject: "n" });
 * bus.send(1);
 * console.log(link.stats().published, toPrometheus(link));
 * ```
 */
export interface Bridge extends MetricSource, AsyncDisposable {
  /** This bridge's random origin id, in hexadecimal: how it recognises its own echoes. */
  readonly origin: string;
  /**
   * Resolves when a local send can be published without waiting: in
   * JetStream mode, when a publish fits in the window of unacknowledged
   * ones and none is waiting for a place; in core NATS mode, always. It
   * never rejects. `await link.ready; bus.send(value)` paces a producer to
   * the stream.
   */
  readonly ready: Promise<void>;
  /** Whether {@linkcode Bridge.close} has been called, or the bus closed under the bridge. */
  readonly closed: boolean;
  /** A snapshot of the bridge's counters. */
  stats(): BridgeStats;
  /** The counters as metrics for `toPrometheus`, named `nats_*` (so `bus_nats_gaps_total` by default). */
  metrics(): Metric[];
  /**
   * Stops the bridge: stops watching the bus, publishes what is batched and
   * (core NATS) a goodbye that lets receivers count losses at the end,
   * waits for the server (core NATS: a flush; JetStream: the outstanding
   * acknowledgements), and stops reading NATS. Values from NATS not yet in
   * the bus are sent first, unless a `"wait"` bus is full: those count in
   * `stats().overflowed`. The connection stays open; it is yours. Idempotent.
   */
  close(): Promise<void>;
}
