import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, BusFullError, EMPTY } from "../mod.ts";
import { readSlowly, take, tick } from "./_read.ts";

describe("overflow: 'drop-oldest'", () => {
  it("accepts every send and makes the slow subscriber miss the oldest values", () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "drop-oldest" });
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    const fastSeen: number[] = [];
    for (let i = 0; i < 10; i++) {
      assert.equal(bus.send(i), 2);
      fastSeen.push(...take(fast));
    }
    assert.deepEqual(fastSeen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(take(slow), [6, 7, 8, 9]);
    assert.deepEqual(bus.stats(), { capacity: 4, subscribers: 2, sent: 10, dropped: 6, discarded: 0, blocked: 0 });
  });
});

describe("overflow: 'drop-newest'", () => {
  it("discards the value being sent when the slowest subscriber is a full ring behind", () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "drop-newest" });
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    const results = [];
    for (let i = 0; i < 10; i++) {
      results.push(bus.send(i));
      take(fast);
    }
    assert.deepEqual(results, [2, 2, 2, 2, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(take(slow), [0, 1, 2, 3]);
    assert.equal(slow.missed, 0);
    assert.deepEqual(bus.stats(), { capacity: 4, subscribers: 2, sent: 4, dropped: 0, discarded: 6, blocked: 0 });
  });

  it("accepts values again once the slowest subscriber reads or leaves", () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "drop-newest" });
    const slow = bus.subscribe();
    const other = bus.subscribe();
    bus.send(0);
    bus.send(1);
    assert.equal(bus.send(2), 0);
    slow.tryRecv();
    other.drain(() => {});
    assert.equal(bus.send(3), 2);
    slow.close();
    bus.send(4);
    assert.equal(bus.send(5), 0, "other is now the slowest, a full ring behind");
    assert.deepEqual(take(other), [3, 4]);
    assert.equal(bus.stats().discarded, 2);
  });
  it("keeps ready resolved and lets writable discard rather than wait", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "drop-newest" });
    const sub = bus.subscribe();
    bus.send(1);
    await bus.ready;
    await bus.writable.getWriter().write(2);
    assert.equal(bus.stats().discarded, 1);
    assert.deepEqual(take(sub), [1]);
  });
});

describe("overflow: 'wait'", () => {
  it("throws BusFullError instead of overwriting an unread value, and counts it as blocked", () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    bus.send(1);
    assert.throws(() => bus.send(2), (error) => {
      assert.ok(error instanceof BusFullError);
      assert.equal(error.capacity, 2);
      assert.match(error.message, /full.*bus\.ready/);
      return true;
    });
    assert.deepEqual(bus.stats(), { capacity: 2, subscribers: 1, sent: 2, dropped: 0, discarded: 0, blocked: 1 });
    assert.deepEqual(take(sub), [0, 1], "nothing was lost");
    assert.equal(bus.send(2), 1);
  });

  it("resolves ready when the slowest subscriber reads", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    let ready = false;
    const waiting = bus.ready.then(() => ready = true);
    await tick();
    assert.equal(ready, false);
    assert.equal(sub.tryRecv(), 0);
    await waiting;
    assert.equal(bus.send(1), 1);
  });

  it("resolves ready when a subscriber that never reads closes", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const stuck = bus.subscribe();
    const reader = bus.subscribe();
    bus.send(0);
    bus.send(1);
    take(reader);
    const ready = bus.ready;
    stuck.close();
    await ready;
    bus.send(2);
    assert.deepEqual(take(reader), [2]);
  });

  it("lets a drain callback use the room its reads made while a producer awaits ready", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    bus.send(1);
    let woken = false;
    const ready = bus.ready.then(() => woken = true);
    const seen: number[] = [];
    const sent: number[] = [];
    const count = sub.drain((value) => {
      seen.push(value);
      void bus.ready; // asks whether there is room from inside the drain
      sent.push(bus.send(value + 2));
    });
    assert.equal(count, 2);
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(sent, [1, 1]);
    await ready;
    assert.equal(woken, true);
    assert.deepEqual(take(sub), [2, 3], "each value sent from the callback is kept, in order");
    assert.deepEqual(bus.stats(), { capacity: 2, subscribers: 1, sent: 4, dropped: 0, discarded: 0, blocked: 0 });
  });

  it("refuses a drain callback's send while another subscriber still holds the slot, and frees it when that one reads", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    const other = bus.subscribe();
    bus.send(0);
    bus.send(1);
    const ready = bus.ready;
    const errors: unknown[] = [];
    assert.equal(
      sub.drain(() => {
        try {
          bus.send(9);
        } catch (error) {
          errors.push(error);
        }
      }),
      2,
    );
    assert.equal(errors.length, 2);
    assert.ok(errors.every((error) => error instanceof BusFullError));
    assert.equal(bus.stats().blocked, 2);
    assert.equal(other.tryRecv(), 0);
    await ready;
    assert.equal(bus.send(2), 2);
    assert.deepEqual(take(other), [1, 2]);
    assert.deepEqual(take(sub), [2]);
  });

  it("delivers everything to a slow consumer: nothing is lost", async () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "wait" });
    const sub = bus.subscribe();
    const consumer = readSlowly(sub);
    for (let i = 0; i < 50; i++) {
      await bus.ready;
      bus.send(i);
    }
    bus.close();
    const seen = await consumer;
    assert.deepEqual(seen, Array.from({ length: 50 }, (_, i) => i));
    assert.equal(sub.missed, 0);
    assert.equal(bus.stats().blocked, 0, "a producer that awaits ready is never refused");
  });

  it("resolves ready, never rejecting, when the bus closes; the next send throws BusClosedError", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    bus.subscribe();
    bus.send(0);
    const ready = bus.ready;
    bus.close();
    await ready;
    await bus.ready;
    assert.throws(() => bus.send(1), BusClosedError);
  });

  it("is always ready without subscribers, and under the other policies", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    bus.send(0);
    bus.send(1);
    await bus.ready;
    const dropping = new Bus<number>({ capacity: 1 });
    dropping.subscribe();
    dropping.send(0);
    dropping.send(1);
    await dropping.ready;
  });
});

describe("replay: true with from: 'oldest'", () => {
  it("starts a full ring behind, so under 'drop-newest' the next send is discarded", () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "drop-newest", replay: true });
    bus.send(1);
    bus.send(2);
    const late = bus.subscribe({ from: "oldest" });
    assert.equal(bus.send(3), 0);
    assert.equal(bus.stats().discarded, 1);
    assert.deepEqual([late.tryRecv(), late.tryRecv(), late.tryRecv()], [1, 2, EMPTY]);
  });

  it("starts a full ring behind, so under 'wait' the next send throws BusFullError until it reads", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait", replay: true });
    bus.send(1);
    bus.send(2);
    const late = bus.subscribe({ from: "oldest" });
    assert.throws(() => bus.send(3), BusFullError);
    assert.equal(late.tryRecv(), 1);
    await bus.ready;
    assert.equal(bus.send(3), 1);
  });
});
