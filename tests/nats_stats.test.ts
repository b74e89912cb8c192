// A bridge's counters as metrics: the names, types and help texts dashboards and alerts are written against, in the
// order of BridgeStats. No nats-server is needed (nats_bridge.test.ts renders a live bridge's with toPrometheus).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { toPrometheus } from "../mod.ts";
import { type BridgeStats, toMetrics } from "../src/nats/stats.ts";

/** Every metric, in order: the contract. */
const EXPECTED: [key: keyof BridgeStats, name: string, type: "counter" | "gauge", help: string][] = [
  ["published", "nats_published_total", "counter", "Local values handed to NATS (acknowledged, for JetStream)."],
  ["publishedMessages", "nats_published_messages_total", "counter", "NATS messages published."],
  ["publishErrors", "nats_publish_errors_total", "counter", "Local values whose publish failed."],
  ["encodeErrors", "nats_encode_errors_total", "counter", "Local values the codec could not encode."],
  ["publishOverflowed", "nats_publish_overflowed_total", "counter", "Local values dropped from a full backlog."],
  ["received", "nats_received_total", "counter", "Values sent into the bus from NATS."],
  ["receivedMessages", "nats_received_messages_total", "counter", "NATS messages read from the subject."],
  ["gaps", "nats_gaps_total", "counter", "Values missed, from jumps in sequence numbers."],
  ["echoes", "nats_echoes_total", "counter", "Own values heard back and dropped."],
  ["decodeErrors", "nats_decode_errors_total", "counter", "Values or envelopes that failed to decode."],
  ["duplicates", "nats_duplicates_total", "counter", "Values heard again and dropped."],
  ["overflowed", "nats_overflowed_total", "counter", "Values from NATS dropped while a wait bus was full."],
  ["queued", "nats_queued", "gauge", "Values from NATS waiting for the bus."],
  ["backlog", "nats_backlog", "gauge", "Local values waiting to be published."],
  ["inFlight", "nats_in_flight", "gauge", "Publishes awaiting an acknowledgement."],
  ["origins", "nats_origins", "gauge", "Origins tracked."],
];

/** Stats with a distinct value per field, so a metric showing the wrong field is caught. */
function distinct(): BridgeStats {
  return Object.fromEntries(EXPECTED.map(([key], index) => [key, 100 + index])) as unknown as BridgeStats;
}

describe("bridge metrics", () => {
  it("toMetrics() gives every counter and gauge, named, typed and explained, in the order of BridgeStats", () => {
    const stats = distinct();
    assert.deepEqual(
      toMetrics(stats),
      EXPECTED.map(([key, name, type, help]) => ({ name, type, help, value: stats[key] })),
    );
  });

  it("toPrometheus() renders them under its prefix", () => {
    const stats = distinct();
    const text = toPrometheus({ metrics: () => toMetrics(stats) }, { prefix: "orders" });
    for (const [key, name, type, help] of EXPECTED) {
      assert.ok(
        text.includes(`# HELP orders_${name} ${help}\n# TYPE orders_${name} ${type}\norders_${name} ${stats[key]}\n`),
        name,
      );
    }
  });
});
