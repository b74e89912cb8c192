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
 * One metric for {@linkcode toPrometheus}, as a source other than a bus (the
 * NATS bridge, say) describes its own counters.
 *
 * @example
 * ```ts
 * import type { Metric } from "@ron/bus";
 *
 * const metric: Metric = { name: "jobs_total", type: "counter", help: "Jobs done.", value: 3 };
 * ```
 */
export interface Metric {
  /** The name after the prefix and its underscore, such as `nats_gaps_total`. */
  name: string;
  /** A counter only goes up; a gauge is a reading. */
  type: "counter" | "gauge";
  /** One line for `# HELP`. */
  help: string;
  /** The current value. */
  value: number;
}

/**
 * Anything that lists its own metrics, such as a bridge from
 * `@ron/bus/nats`, for {@linkcode toPrometheus}.
 *
 * @example
 * ```ts
 * import { type MetricSource, toPrometheus } from "@ron/bus";
 *
 * const jobs: MetricSource = {
 *   metrics: () => [{ name: "jobs_total", type: "counter", help: "Jobs done.", value: 3 }],
 * };
 * console.log(toPrometheus(jobs).includes("bus_jobs_total 3")); // true
 * ```
 */
export interface MetricSource {
  /** The metrics, in the order to render them. */
  metrics(): readonly Metric[];
}

/**
 * Renders counters in the Prometheus text exposition format. For a bus:
 * `bus_events_sent_total`, `bus_overflow_dropped_total`,
 * `bus_overflow_discarded_total`, `bus_send_blocked_total` (counters), and
 * `bus_subscribers`, `bus_capacity` (gauges). For a {@linkcode MetricSource}
 * such as a NATS bridge, the metrics it lists under the same prefix
 * (`bus_nats_gaps_total`, ...).
 *
 * @param source A bus, anything with a `stats()` method returning
 *   {@linkcode BusStats}, or a {@linkcode MetricSource}.
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
export function toPrometheus(source: { stats(): BusStats } | MetricSource, options: PrometheusOptions = {}): string {
  const { prefix = "bus" } = options;
  if (typeof prefix !== "string" || !METRIC_NAME.test(prefix)) {
    throw new TypeError(`Invalid prefix: ${describe(prefix)}; expected a Prometheus metric name such as "bus"`);
  }
  const metric = (name: string, type: string, help: string, value: number) =>
    `# HELP ${prefix}_${name} ${help}\n# TYPE ${prefix}_${name} ${type}\n${prefix}_${name} ${value}\n`;
  if (typeof (source as Partial<MetricSource> | null)?.metrics === "function") {
    return (source as MetricSource).metrics().map((m) => metric(m.name, m.type, m.help, m.value)).join("");
  }
  if (typeof (source as { stats?: unknown } | null)?.stats !== "function") {
    throw new TypeError(`Invalid source: ${describe(source)}; expected a Bus or an object with a stats() method`);
  }
  const stats = (source as { stats(): BusStats }).stats();
  return metric("events_sent_total", "counter", "Values sent into the ring.", stats.sent) +
    metric("overflow_dropped_total", "counter", "Values overwritten before a subscriber read them.", stats.dropped) +
    metric("overflow_discarded_total", "counter", "Values discarded by send under drop-newest.", stats.discarded) +
    metric("send_blocked_total", "counter", "Sends refused for lack of room under wait.", stats.blocked) +
    metric("subscribers", "gauge", "Current subscribers.", stats.subscribers) +
    metric("capacity", "gauge", "Slots in the ring.", stats.capacity);
}
