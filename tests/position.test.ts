import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusFullError, EMPTY, LaggedError, type OverflowPolicy } from "../mod.ts";
import { take } from "./_read.ts";

describe("Subscriber.position", () => {
  it("is the sequence number of the next value to read, starting at stats().sent", () => {
    const bus = new Bus<string>();
    bus.send("before");
    const sub = bus.subscribe();
    assert.equal(sub.position, 1);
    assert.equal(bus.stats().sent, 1);
    bus.send("a");
    bus.send("b");
    assert.equal(sub.tryRecv(), "a");
    assert.equal(sub.position, 2, "the value read was number position - 1");
  });

  it("numbers each value inside a drain callback", () => {
    const bus = new Bus<string>();
    const sub = bus.subscribe();
    for (const letter of ["a", "b", "c"]) bus.send(letter);
    const numbered: string[] = [];
    sub.drain((value) => numbered.push(`${sub.position - 1}:${value}`));
    assert.deepEqual(numbered, ["0:a", "1:b", "2:c"]);
  });

  it("jumps over a gap, so the value read after a lag still has number position - 1", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 10; i++) bus.send(i);
    assert.equal(sub.tryRecv(), 6);
    assert.equal(sub.position - 1, 6);
  });

  it("stays where it was once the subscriber ends; a subscriber made after close starts at stats().sent", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    sub.tryRecv();
    sub.close();
    assert.equal(sub.position, 1);
    bus.close();
    assert.equal(bus.subscribe().position, 2);
  });
});

describe("Bus.subscribe({ from: n })", () => {
  for (const overflow of ["drop-oldest", "drop-newest", "wait"] as OverflowPolicy[]) {
    it(`starts at value n while it is retained, with replay, under '${overflow}'`, () => {
      const bus = new Bus<number>({ capacity: 4, overflow, replay: true });
      for (let i = 0; i < 4; i++) bus.send(i * 10);
      const sub = bus.subscribe({ from: 2 });
      assert.equal(sub.position, 2);
      assert.deepEqual(take(sub), [20, 30]);
      assert.equal(sub.missed, 0);
    });

    it(`starts at the oldest value retained when n is gone, and its first read counts the gap, under '${overflow}'`, () => {
      const bus = new Bus<number>({ capacity: 2, overflow, replay: true });
      for (let i = 0; i < 2; i++) bus.send(i);
      const keeper = overflow === "drop-oldest" ? undefined : bus.subscribe({ from: "oldest" });
      if (overflow !== "drop-oldest") keeper!.drain(() => {});
      for (let i = 2; i < 6; i++) {
        bus.send(i);
        keeper?.drain(() => {});
      }
      const dropped = bus.stats().dropped;
      const sub = bus.subscribe({ from: 1 });
      assert.equal(sub.position, 1, "values 1, 2 and 3 are gone, which only a read discovers");
      assert.equal(sub.missed, 0);
      assert.deepEqual(take(sub), [4, 5]);
      assert.equal(sub.missed, 3);
      assert.equal(sub.position, 6);
      assert.equal(bus.stats().dropped, dropped + 3);
    });
  }

  it("reports the gap as a LaggedError first under lag: 'error', even before any value arrives", async () => {
    const bus = new Bus<number>({ capacity: 2, replay: true });
    for (let i = 0; i < 5; i++) bus.send(i);
    const caughtUp = bus.subscribe({ from: 5, lag: "error" });
    assert.equal(caughtUp.tryRecv(), EMPTY);
    const sub = bus.subscribe({ from: 0, lag: "error" });
    assert.equal(await sub.wait(), true, "a gap is something to read");
    assert.throws(() => sub.tryRecv(), (error) => error instanceof LaggedError && error.missed === 3);
    assert.deepEqual(take(sub), [3, 4]);
    const empty = new Bus<number>({ capacity: 2 });
    for (let i = 0; i < 3; i++) empty.send(i);
    const late = empty.subscribe({ from: 1, lag: "error" });
    assert.throws(() => late.drain(() => {}, 0), (error) => error instanceof LaggedError && error.missed === 2);
    assert.equal(late.tryRecv(), EMPTY);
  });

  it("makes wait() resolve true at once when all there is to read is a gap, with no value after it yet", async () => {
    const bus = new Bus<number>({ capacity: 2 });
    for (let i = 0; i < 3; i++) bus.send(i);
    const sub = bus.subscribe({ from: 1, lag: "error" }); // nobody retained 1 and 2: it starts at the tail
    const first = await Promise.race([sub.wait(), new Promise((resolve) => setTimeout(() => resolve("pending"), 10))]);
    assert.equal(first, true, "a gap is something to read");
    assert.throws(() => sub.tryRecv(), (error) => error instanceof LaggedError && error.missed === 2);
    assert.equal(sub.tryRecv(), EMPTY);
  });

  it("without replay, starts no earlier than the oldest value some subscriber has not read", () => {
    const bus = new Bus<number>(8);
    const slow = bus.subscribe();
    for (let i = 0; i < 6; i++) bus.send(i);
    slow.drain(() => {}, 2);
    const sub = bus.subscribe({ from: 1 });
    assert.equal(sub.drain(() => {}, 0), 0, "discovers the gap without reading");
    assert.equal(sub.position, 2);
    assert.equal(sub.missed, 1);
    assert.deepEqual(take(sub), [2, 3, 4, 5]);
  });

  it("from: stats().sent is from: 'next'", () => {
    const bus = new Bus<number>();
    bus.send(1);
    const sub = bus.subscribe({ from: bus.stats().sent });
    bus.send(2);
    assert.deepEqual(take(sub), [2]);
  });

  it("a start a full ring behind holds a 'wait' producer until it reads", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait", replay: true });
    bus.send(0);
    bus.send(1);
    const sub = bus.subscribe({ from: 0 });
    assert.throws(() => bus.send(2), BusFullError);
    sub.tryRecv();
    await bus.ready;
    assert.equal(bus.send(2), 1);
  });

  for (const from of [-1, 1.5, NaN, Infinity, 4]) {
    it(`rejects from: ${from} with a RangeError naming the range, and changes nothing`, () => {
      const bus = new Bus<number>();
      for (let i = 0; i < 3; i++) bus.send(i);
      assert.throws(() => bus.subscribe({ from }), {
        name: "RangeError",
        message: `Invalid from: ${from}; expected "next", "oldest" or a sequence number from 0 to 3 (the next one)`,
      });
      assert.equal(bus.subscriberCount, 0);
    });
  }

  it("rejects a from of the wrong type with a TypeError", () => {
    assert.throws(() => new Bus<number>().subscribe({ from: "3" as never }), {
      name: "TypeError",
      message: 'Invalid from: "3"; expected one of "next", "oldest" or a sequence number',
    });
  });
});
