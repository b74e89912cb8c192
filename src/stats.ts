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
 * `bus_subscribers`, `bus_capacity` (gauges); for a {@linkcode SharedBus},
 * also `bus_subscribers_released_total` (a counter: subscribers released as
 * presumed dead). For a {@linkcode MetricSource} such as a NATS bridge, the
 * metrics it lists under the same prefix (`bus_nats_gaps_total`, ...).
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
  let metrics: readonly Metric[];
  if (typeof (source as Partial<MetricSource> | null)?.metrics === "function") {
    metrics = (source as MetricSource).metrics();
  } else if (typeof (source as { stats?: unknown } | null)?.stats === "function") {
    metrics = busMetrics((source as { stats(): BusStats }).stats());
  } else {
    throw new TypeError(`Invalid source: ${describe(source)}; expected a Bus or an object with a stats() method`);
  }
  return metrics.map(({ name, type, help, value }) =>
    `# HELP ${prefix}_${name} ${help}\n# TYPE ${prefix}_${name} ${type}\n${prefix}_${name} ${value}\n`
  ).join("");
}

/** A bus's counters as metrics; `released` where the stats have it (a shared bus's). */
function busMetrics(stats: BusStats & { released?: unknown }): Metric[] {
  const metrics: Metric[] = [
    { name: "events_sent_total", type: "counter", help: "Values sent into the ring.", value: stats.sent },
    {
      name: "overflow_dropped_total",
      type: "counter",
      help: "Values overwritten before a subscriber read them.",
      value: stats.dropped,
    },
    {
      name: "overflow_discarded_total",
      type: "counter",
      help: "Values discarded by send under drop-newest.",
      value: stats.discarded,
    },
    {
      name: "send_blocked_total",
      type: "counter",
      help: "Sends refused for lack of room under wait.",
      value: stats.blocked,
    },
  ];
  if (typeof stats.released === "number") {
    metrics.push({
      name: "subscribers_released_total",
      type: "counter",
      help: "Subscribers released as presumed dead: they held a full ring without reading for releaseAfter.",
      value: stats.released,
    });
  }
  metrics.push(
    { name: "subscribers", type: "gauge", help: "Current subscribers.", value: stats.subscribers },
    { name: "capacity", type: "gauge", help: "Slots in the ring.", value: stats.capacity },
  );
  return metrics;
}
