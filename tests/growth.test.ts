// The ring starts at FIRST_SIZE slots (src/ring.ts) and doubles as unread values fill it: nothing a reader or a sender
// sees may depend on how far it has grown. The capacities here are several times FIRST_SIZE, so each test grows it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusFullError } from "../mod.ts";
import { FIRST_SIZE } from "../src/ring.ts";
import { take } from "./_read.ts";

assert.equal(FIRST_SIZE, 8, "the capacities below assume a ring that starts at 8 slots");

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("a ring that grows", () => {
  it("keeps every value, in order, for readers at different positions while it doubles up to its capacity", () => {
    const bus = new Bus<number>({ capacity: 64 });
    const idle = bus.subscribe();
    const halfway = bus.subscribe();
    const keen = bus.subscribe();
    const halfwaySeen: number[] = [];
    for (let i = 0; i < 64; i++) {
      bus.send(i);
      if (i % 2 === 1) halfwaySeen.push(halfway.tryRecv() as number);
      assert.deepEqual(take(keen), [i]);
    }
    assert.deepEqual(halfwaySeen, range(0, 32));
    assert.deepEqual(take(halfway), range(32, 64));
    assert.deepEqual(take(idle), range(0, 64));
    assert.deepEqual(bus.stats().dropped, 0);
  });

  it("keeps the place of a reader that was caught up when the ring grew, once it is the slowest", () => {
    const bus = new Bus<number>({ capacity: 32 });
    const slow = bus.subscribe();
    const keen = bus.subscribe();
    for (let i = 0; i < 8; i++) bus.send(i);
    assert.deepEqual(take(keen), range(0, 8));
    bus.send(8); // the 8 starting slots hold slow's unread values: the ring doubles
    slow.close();
    assert.deepEqual(take(keen), [8]);
  });

  it("overwrites only at its capacity, not at the size it started with", () => {
    const bus = new Bus<number>({ capacity: 32 });
    const idle = bus.subscribe();
    for (let i = 0; i < 33; i++) bus.send(i);
    assert.deepEqual(take(idle), range(1, 33));
    assert.equal(idle.missed, 1);
  });

  it('refuses a send under "wait" only once the slowest reader is a full capacity behind, and exactly as it reads', () => {
    const bus = new Bus<number>({ capacity: 32, overflow: "wait" });
    const slow = bus.subscribe();
    const ahead = bus.subscribe();
    for (let i = 0; i < 32; i++) {
      assert.equal(bus.send(i), 2, `send ${i}`);
      if (i < 5) ahead.tryRecv();
    }
    assert.throws(() => bus.send(32), BusFullError);
    assert.deepEqual(take(slow).slice(0, 3), [0, 1, 2]);
    // slow is caught up; ahead, 5 values in, now holds the floor: 5 slots free.
    for (let i = 32; i < 37; i++) bus.send(i);
    assert.throws(() => bus.send(37), BusFullError);
    assert.deepEqual(take(ahead), range(5, 37));
    assert.equal(bus.stats().blocked, 2);
  });

  it('discards under "drop-newest" only once the slowest reader is a full capacity behind', () => {
    const bus = new Bus<number>({ capacity: 16, overflow: "drop-newest" });
    const idle = bus.subscribe();
    const sent = range(0, 20).map((i) => bus.send(i));
    assert.deepEqual(sent, [...new Array(16).fill(1), 0, 0, 0, 0]);
    assert.deepEqual(take(idle), range(0, 16));
    assert.equal(bus.stats().discarded, 4);
  });

  it("lets a drain finish its batch when its callback sends enough to double the ring twice", () => {
    const bus = new Bus<number>({ capacity: 64 });
    const sub = bus.subscribe();
    for (let i = 0; i < 8; i++) bus.send(i);
    const seen: number[] = [];
    const count = sub.drain((value) => {
      if (value === 0) { for (let i = 8; i < 32; i++) bus.send(i); }
      seen.push(value);
    });
    assert.equal(count, 8);
    assert.deepEqual(seen, range(0, 8));
    assert.deepEqual(take(sub), range(8, 32));
    assert.equal(sub.missed, 0);
  });

  it("counts a reader that joins from the oldest value where it starts, after the ring grew", () => {
    const bus = new Bus<number>({ capacity: 64 });
    const first = bus.subscribe();
    for (let i = 0; i < 20; i++) bus.send(i);
    first.drain(() => {}, 4);
    const late = bus.subscribe({ from: "oldest" });
    for (let i = 20; i < 68; i++) bus.send(i);
    // first (4 read) holds the floor: the ring is full at its capacity, and the next send laps both.
    bus.send(68);
    assert.deepEqual(take(late), range(5, 69));
    assert.equal(late.missed, 1);
    assert.deepEqual(take(first), range(5, 69));
    assert.equal(first.missed, 1);
  });
});
