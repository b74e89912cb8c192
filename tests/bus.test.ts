import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, CLOSED, EMPTY } from "../mod.ts";
import { take } from "./_read.ts";

describe("construction", () => {
  it("new Bus() defaults to 256 slots and drop-oldest", () => {
    const bus = new Bus();
    assert.equal(bus.capacity, 256);
    assert.equal(bus.overflow, "drop-oldest");
    assert.equal(bus.closed, false);
    assert.equal(bus.subscriberCount, 0);
  });

  it("new Bus() has replay off by default, in every form of its options", () => {
    for (const bus of [new Bus<number>(), new Bus<number>(8), new Bus<number>({}), new Bus<number>({ capacity: 8 })]) {
      bus.send(1);
      const late = bus.subscribe({ from: "oldest" });
      assert.equal(late.tryRecv(), EMPTY, "a value sent while nobody listened is not replayed");
      bus.send(2);
      assert.equal(late.tryRecv(), 2);
    }
  });

  it("new Bus() rounds the capacity up to a power of two", () => {
    assert.deepEqual([1, 2, 3, 5, 255, 256, 257, 1000].map((capacity) => new Bus({ capacity }).capacity), [
      1,
      2,
      4,
      8,
      256,
      256,
      512,
      1024,
    ]);
  });

  it("new Bus(n) is shorthand for new Bus({ capacity: n })", () => {
    assert.equal(new Bus(100).capacity, 128);
    assert.equal(new Bus(100).overflow, "drop-oldest");
  });
});

describe("Bus.send()", () => {
  it("returns the number of subscribers that will see the value", () => {
    const bus = new Bus<number>();
    assert.equal(bus.send(1), 0);
    const a = bus.subscribe();
    assert.equal(bus.send(2), 1);
    const b = bus.subscribe();
    assert.equal(bus.send(3), 2);
    a.close();
    assert.equal(bus.send(4), 1);
    assert.deepEqual(take(b), [3, 4]);
  });

  it("delivers every value to every subscriber, in order", () => {
    const bus = new Bus<number>(16);
    const subs = [bus.subscribe(), bus.subscribe(), bus.subscribe()];
    for (let i = 0; i < 10; i++) bus.send(i);
    for (const sub of subs) assert.deepEqual(take(sub), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("wraps the ring many times without losing or reordering values", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    const seen: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      bus.send(i);
      if (i % 3 === 2) sub.drain((value) => seen.push(value));
    }
    sub.drain((value) => seen.push(value));
    assert.equal(seen.length, 10_000);
    assert.ok(seen.every((value, i) => value === i));
    assert.equal(sub.missed, 0);
  });

  it("works with a capacity of 1", () => {
    const bus = new Bus<string>(1);
    const sub = bus.subscribe();
    bus.send("a");
    assert.equal(sub.tryRecv(), "a");
    bus.send("b");
    bus.send("c");
    assert.equal(sub.tryRecv(), "c");
    assert.equal(sub.missed, 1);
    assert.equal(sub.tryRecv(), EMPTY);
  });

  it("carries any value, including undefined, null and symbols", () => {
    const bus = new Bus<unknown>();
    const sub = bus.subscribe();
    const symbol = Symbol("x");
    const values = [undefined, null, 0, "", symbol, { nested: [1] }];
    for (const value of values) bus.send(value);
    assert.deepEqual(take(sub), values);
  });
});

describe("Bus.send() with the library's own signals", () => {
  for (const [name, signal] of [["EMPTY", EMPTY], ["CLOSED", CLOSED]] as const) {
    it(`refuses ${name} with a TypeError that says why, sending nothing`, async () => {
      const bus = new Bus<unknown>();
      const sub = bus.subscribe();
      assert.throws(() => bus.send(signal), {
        name: "TypeError",
        message:
          `Invalid value: Symbol(${name}); a bus cannot carry EMPTY or CLOSED, which tryRecv() returns to mean "no value"`,
      });
      await assert.rejects(bus.write(signal), TypeError);
      assert.equal(bus.stats().sent, 0);
      assert.equal(sub.tryRecv(), EMPTY);
      bus.send(2);
      assert.equal(await sub.recv(), 2, "the async paths still work");
      bus.close();
      assert.deepEqual(await sub.read(), { value: undefined, done: true });
      assert.equal(bus.subscriberCount, 0);
    });
  }
  it("carries every other symbol, through send() and write()", async () => {
    const bus = new Bus<symbol>();
    const sub = bus.subscribe();
    const [a, b] = [Symbol("a"), Symbol.for("b")];
    assert.equal(bus.send(a), 1);
    assert.equal(await bus.write(b), 1);
    assert.deepEqual(take(sub), [a, b]);
  });
});

describe("Bus.subscribe()", () => {
  it("sees only values sent after it subscribed", () => {
    const bus = new Bus<number>();
    const early = bus.subscribe();
    bus.send(1);
    const late = bus.subscribe();
    bus.send(2);
    assert.deepEqual(take(early), [1, 2]);
    assert.deepEqual(take(late), [2]);
  });

  it("counts subscribers in subscriberCount", () => {
    const bus = new Bus();
    const subs = Array.from({ length: 5 }, () => bus.subscribe());
    assert.equal(bus.subscriberCount, 5);
    for (const sub of subs) sub.close();
    assert.equal(bus.subscriberCount, 0);
  });

  it("starts { from: 'oldest' } at the oldest value a current subscriber has not read", () => {
    const bus = new Bus<number>(8);
    const slow = bus.subscribe();
    const fast = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    slow.tryRecv();
    slow.tryRecv();
    take(fast);
    const replayer = bus.subscribe({ from: "oldest" });
    assert.deepEqual(take(replayer), [2, 3, 4]);
    assert.deepEqual(take(slow), [2, 3, 4]);
  });

  it("starts { from: 'oldest' } at the next value when everyone has read everything", () => {
    const bus = new Bus<number>(8);
    const sub = bus.subscribe();
    bus.send(1);
    take(sub);
    const replayer = bus.subscribe({ from: "oldest" });
    assert.equal(replayer.tryRecv(), EMPTY);
    bus.send(2);
    assert.equal(replayer.tryRecv(), 2);
  });

  it("does not keep values sent while nobody listens, unless replay is on", () => {
    const bus = new Bus<number>(8);
    bus.send(1);
    assert.equal(bus.subscribe({ from: "oldest" }).tryRecv(), EMPTY);

    const replaying = new Bus<number>({ capacity: 8, replay: true });
    replaying.send(1);
    replaying.send(2);
    assert.deepEqual(take(replaying.subscribe({ from: "oldest" })), [1, 2]);
  });

  it("replays the last capacity values with { replay: true }", () => {
    const bus = new Bus<number>({ capacity: 4, replay: true });
    const reader = bus.subscribe();
    for (let i = 0; i < 10; i++) bus.send(i);
    take(reader);
    const late = bus.subscribe({ from: "oldest" });
    assert.deepEqual(take(late), [6, 7, 8, 9]);
    assert.equal(late.missed, 0);
  });

  it("lets a replaying subscriber lag like any other", () => {
    const bus = new Bus<number>({ capacity: 4, replay: true });
    for (let i = 0; i < 4; i++) bus.send(i);
    const late = bus.subscribe({ from: "oldest" });
    bus.send(4);
    bus.send(5);
    assert.deepEqual(take(late), [2, 3, 4, 5]);
    assert.equal(late.missed, 2);
  });
});
