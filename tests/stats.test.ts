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

  it("uses the given prefix", () => {
    const text = toPrometheus(new Bus(), { prefix: "orders" });
    assert.match(text, /^orders_events_sent_total 0$/m);
    assert.doesNotMatch(text, /^bus_/m);
  });

  it("rejects a prefix that is not a metric name", () => {
    for (const prefix of ["", "1bus", "my-bus", 7]) {
      assert.throws(() => toPrometheus(new Bus(), { prefix: prefix as string }), {
        name: "TypeError",
        message: /prefix/,
      });
    }
  });
});
