/**
 * The counters a bus keeps, and their Prometheus rendering with the metric
 * names of the ron-bus performance document.
 *
 * @module
 */

import { describe } from "./options.ts";

/**
 * A snapshot of a bus's counters, from {@linkcode Bus.stats}.
 *
 * @example
 * ```ts
 * import { Bus, type BusStats } from "@ron/bus";
 *
 * const stats: BusStats = new Bus<number>().stats();
 * console.log(stats.sent); // 0
 * ```
 */
export interface BusStats {
  /** Slots in the ring. */
  capacity: number;
  /** Current subscribers. */
  subscribers: number;
  /** Values that went into the ring. */
  sent: number;
  /**
   * Values overwritten before a subscriber read them, summed over
   * subscribers, including those that have left. Counted when a read
   * discovers the gap.
   */
  dropped: number;
  /** Values `send` threw away under `overflow: "drop-newest"`. */
  discarded: number;
  /** Times `send` found no room under `overflow: "wait"` and threw. */
  blocked: number;
}

/**
 * Options for {@linkcode toPrometheus}.
 *
 * @example
 * ```ts
 * import type { PrometheusOptions } from "@ron/bus";
 *
 * const options: PrometheusOptions = { prefix: "orders_bus" };
 * ```
 */
export interface PrometheusOptions {
  /** Prepended to every metric name, with an underscore. Default `"bus"`. */
  prefix?: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Renders a bus's counters in the Prometheus text exposition format:
 * `bus_events_sent_total`, `bus_overflow_dropped_total`,
 * `bus_overflow_discarded_total`, `bus_send_blocked_total` (counters), and
 * `bus_subscribers`, `bus_capacity` (gauges).
 *
 * @param source A bus, or anything with a `stats()` method.
 * @param options The metric name prefix.
 * @returns The metrics, one `# HELP`, `# TYPE` and sample per metric.
 * @throws {TypeError} If `source` has no `stats()` method, or `prefix` is
 *   not a valid Prometheus metric name.
 *
 * @example Serving metrics
 * ```ts
 * import { Bus, toPrometheus } from "@ron/bus";
 *
 * const bus = new Bus<number>();
 * bus.send(1);
 * console.log(toPrometheus(bus).includes("bus_events_sent_total 1")); // true
 * ```
 */
export function toPrometheus(source: { stats(): BusStats }, options: PrometheusOptions = {}): string {
  const { prefix = "bus" } = options;
  if (typeof prefix !== "string" || !METRIC_NAME.test(prefix)) {
    throw new TypeError(`Invalid prefix: ${describe(prefix)}; expected a Prometheus metric name such as "bus"`);
  }
  if (typeof (source as { stats?: unknown } | null)?.stats !== "function") {
    throw new TypeError(`Invalid source: ${describe(source)}; expected a Bus or an object with a stats() method`);
  }
  const stats = source.stats();
  const metric = (name: string, type: string, help: string, value: number) =>
    `# HELP ${prefix}_${name} ${help}\n# TYPE ${prefix}_${name} ${type}\n${prefix}_${name} ${value}\n`;
  return metric("events_sent_total", "counter", "Values sent into the ring.", stats.sent) +
    metric("overflow_dropped_total", "counter", "Values overwritten before a subscriber read them.", stats.dropped) +
    metric("overflow_discarded_total", "counter", "Values discarded by send under drop-newest.", stats.discarded) +
    metric("send_blocked_total", "counter", "Sends refused for lack of room under wait.", stats.blocked) +
    metric("subscribers", "gauge", "Current subscribers.", stats.subscribers) +
    metric("capacity", "gauge", "Slots in the ring.", stats.capacity);
}
