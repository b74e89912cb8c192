/**
 * A bridge's counters, and the metrics {@linkcode toPrometheus} renders from
 * them.
 *
 * @module
 */

import type { Metric } from "../stats.ts";

/**
 * A snapshot of a bridge's counters, from {@linkcode Bridge.stats}.
 *
 * Outbound, every value the local bus accepted (other than those that came
 * from NATS) ends in exactly one of `published`, `publishErrors`,
 * `encodeErrors` and `publishOverflowed`, or is still `backlog` or
 * `inFlight`. Inbound, every value another origin numbered after the first
 * one this bridge heard ends in exactly one of `received`, `gaps`,
 * `decodeErrors`, `duplicates` and `overflowed`, or is still `queued`.
 *
 * @example
 * ```ts
 * import type { BridgeStats } from "@ron/bus/nats";
 *
 * function lost(stats: BridgeStats): number {
 *   return stats.gaps + stats.decodeErrors + stats.overflowed;
 * }
 * ```
 */
export interface BridgeStats {
  /**
   * Local values handed to NATS: to the connection in core NATS mode (which
   * may still lose them, see `gaps` at the receivers), acknowledged by the
   * stream in JetStream mode.
   */
  published: number;
  /** NATS messages those values went out in. */
  publishedMessages: number;
  /**
   * Local values whose publish threw (the connection is closed, the message
   * too large) or, in JetStream mode, was not acknowledged.
   */
  publishErrors: number;
  /** Local values the codec could not encode (for JSON: `undefined`, a cycle, a BigInt). Never published. */
  encodeErrors: number;
  /** Local values dropped because `maxQueued` values already waited to be published (JetStream mode). */
  publishOverflowed: number;
  /** Values sent into the local bus from NATS. */
  received: number;
  /** NATS messages read from the subject, including echoes and ones that failed to decode. */
  receivedMessages: number;
  /**
   * Values this bridge should have received and did not: jumps in each
   * origin's sequence numbers (core NATS) or in the stream's (JetStream).
   */
  gaps: number;
  /** This bridge's own values, heard back from NATS and dropped. */
  echoes: number;
  /**
   * Values that failed to decode, and messages on the subject without a
   * readable envelope (one each). Skipped, never sent into the bus.
   */
  decodeErrors: number;
  /** Values heard again, at or below a sequence number already passed. Skipped. */
  duplicates: number;
  /** Values from NATS dropped because `maxQueued` already waited for room in a `"wait"` bus. */
  overflowed: number;
  /** Values from NATS waiting to be sent into the bus now. */
  queued: number;
  /** Local values waiting to be published now (JetStream mode, beyond the window). */
  backlog: number;
  /** Publishes awaiting an acknowledgement now (JetStream mode). */
  inFlight: number;
  /** Origins whose sequence numbers this bridge is tracking now (core NATS mode). */
  origins: number;
}

/** The mutable counters behind {@linkcode BridgeStats}; gauges are filled in by the bridge. */
export type Counters = Omit<BridgeStats, "queued" | "backlog" | "inFlight" | "origins">;

/** All counters at zero. */
export function newCounters(): Counters {
  return {
    published: 0,
    publishedMessages: 0,
    publishErrors: 0,
    encodeErrors: 0,
    publishOverflowed: 0,
    received: 0,
    receivedMessages: 0,
    gaps: 0,
    echoes: 0,
    decodeErrors: 0,
    duplicates: 0,
    overflowed: 0,
  };
}

const HELP: Record<keyof BridgeStats, [name: string, type: Metric["type"], help: string]> = {
  published: ["nats_published_total", "counter", "Local values handed to NATS (acknowledged, for JetStream)."],
  publishedMessages: ["nats_published_messages_total", "counter", "NATS messages published."],
  publishErrors: ["nats_publish_errors_total", "counter", "Local values whose publish failed."],
  encodeErrors: ["nats_encode_errors_total", "counter", "Local values the codec could not encode."],
  publishOverflowed: ["nats_publish_overflowed_total", "counter", "Local values dropped from a full backlog."],
  received: ["nats_received_total", "counter", "Values sent into the bus from NATS."],
  receivedMessages: ["nats_received_messages_total", "counter", "NATS messages read from the subject."],
  gaps: ["nats_gaps_total", "counter", "Values missed, from jumps in sequence numbers."],
  echoes: ["nats_echoes_total", "counter", "Own values heard back and dropped."],
  decodeErrors: ["nats_decode_errors_total", "counter", "Values or envelopes that failed to decode."],
  duplicates: ["nats_duplicates_total", "counter", "Values heard again and dropped."],
  overflowed: ["nats_overflowed_total", "counter", "Values from NATS dropped while a wait bus was full."],
  queued: ["nats_queued", "gauge", "Values from NATS waiting for the bus."],
  backlog: ["nats_backlog", "gauge", "Local values waiting to be published."],
  inFlight: ["nats_in_flight", "gauge", "Publishes awaiting an acknowledgement."],
  origins: ["nats_origins", "gauge", "Origins tracked."],
};

/** The stats as metrics, in the order of {@linkcode BridgeStats}. */
export function toMetrics(stats: BridgeStats): Metric[] {
  return (Object.keys(HELP) as (keyof BridgeStats)[]).map((key) => {
    const [name, type, help] = HELP[key];
    return { name, type, help, value: stats[key] };
  });
}
