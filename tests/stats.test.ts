import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, toPrometheus } from "../mod.ts";

describe("Bus.stats()", () => {
  it("reports capacity, subscribers and the sent, dropped, discarded and blocked counts", () => {
    const bus = new Bus<number>(4);
    assert.deepEqual(bus.stats(), { capacity: 4, subscribers: 0, sent: 0, dropped: 0, discarded: 0, blocked: 0 });
    const sub = bus.subscribe();
    for (let i = 0; i < 6; i++) bus.send(i);
    sub.tryRecv();
    assert.deepEqual(bus.stats(), { capacity: 4, subscribers: 1, sent: 6, dropped: 2, discarded: 0, blocked: 0 });
  });

  it("returns a snapshot, not a live view", () => {
    const bus = new Bus<number>();
    const before = bus.stats();
    bus.send(1);
    assert.equal(before.sent, 0);
    assert.equal(bus.stats().sent, 1);
  });
});

describe("toPrometheus()", () => {
  it("rejects a source without stats() with a TypeError that names it", () => {
    for (const source of [{}, null, 42]) {
      assert.throws(() => toPrometheus(source as never), {
        name: "TypeError",
        message: /^Invalid source: .*; expected a Bus or an object with a stats\(\) method$/,
      });
    }
  });

  it("renders every counter with the seed's metric names", () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.throws(() => bus.send(3));
    sub.tryRecv();
    const text = toPrometheus(bus);
    for (
      const line of [
        "# TYPE bus_events_sent_total counter",
        "bus_events_sent_total 2",
        "# TYPE bus_overflow_dropped_total counter",
        "bus_overflow_dropped_total 0",
        "bus_overflow_discarded_total 0",
        "bus_send_blocked_total 1",
        "# TYPE bus_subscribers gauge",
        "bus_subscribers 1",
        "bus_capacity 2",
      ]
    ) assert.ok(text.split("\n").includes(line), `missing line: ${line}\n${text}`);
    assert.ok(text.endsWith("\n"));
    assert.equal(text.split("\n").filter((line) => line.startsWith("# HELP")).length, 6);
  });

  it("gives every metric its HELP text and TYPE, in a fixed order", () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "drop-newest" });
    const sub = bus.subscribe();
    bus.send(1);
    assert.equal(
      toPrometheus(bus),
      [
        "# HELP bus_events_sent_total Values sent into the ring.",
        "# TYPE bus_events_sent_total counter",
        "bus_events_sent_total 1",
        "# HELP bus_overflow_dropped_total Values overwritten before a subscriber read them.",
        "# TYPE bus_overflow_dropped_total counter",
        "bus_overflow_dropped_total 0",
        "# HELP bus_overflow_discarded_total Values discarded by send under drop-newest.",
        "# TYPE bus_overflow_discarded_total counter",
        "bus_overflow_discarded_total 0",
        "# HELP bus_send_blocked_total Sends refused for lack of room under wait.",
        "# TYPE bus_send_blocked_total counter",
        "bus_send_blocked_total 0",
        "# HELP bus_subscribers Current subscribers.",
        "# TYPE bus_subscribers gauge",
        "bus_subscribers 1",
        "# HELP bus_capacity Slots in the ring.",
        "# TYPE bus_capacity gauge",
        "bus_capacity 4",
        "",
      ].join("\n"),
    );
    sub.close();
  });

  it("renders the released count of stats that have one, after the counters", () => {
    const stats = { capacity: 8, subscribers: 2, sent: 5, dropped: 1, discarded: 0, blocked: 3, released: 4 };
    const lines = toPrometheus({ stats: () => stats }).split("\n");
    const at = lines.indexOf("bus_subscribers_released_total 4");
    assert.deepEqual(lines.slice(at - 2, at + 2), [
      "# HELP bus_subscribers_released_total Subscribers released as presumed dead: they held a full ring without " +
      "reading for releaseAfter.",
      "# TYPE bus_subscribers_released_total counter",
      "bus_subscribers_released_total 4",
      "# HELP bus_subscribers Current subscribers.",
    ]);
    assert.equal(lines[at - 3], "bus_send_blocked_total 3");
  });

  it("renders the metrics a MetricSource lists, under the prefix", () => {
    const source = { metrics: () => [{ name: "gaps_total", type: "counter" as const, help: "Gaps seen.", value: 2 }] };
    assert.equal(
      toPrometheus(source, { prefix: "nats" }),
      "# HELP nats_gaps_total Gaps seen.\n# TYPE nats_gaps_total counter\nnats_gaps_total 2\n",
    );
  });

  it("uses the given prefix", () => {
    const text = toPrometheus(new Bus(), { prefix: "orders" });
    assert.match(text, /^orders_events_sent_total 0$/m);
    assert.doesNotMatch(text, /^bus_/m);
  });

  it("rejects a prefix that is not a metric name", () => {
    for (const prefix of ["", "1bus", "my-bus", 7, ["bus"], { toString: () => "bus" }]) {
      assert.throws(() => toPrometheus(new Bus(), { prefix: prefix as string }), {
        name: "TypeError",
        message: /prefix/,
      });
    }
  });
});
