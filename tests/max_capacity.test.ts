// Its own file: allocating the largest ring takes seconds, and the mutation run leaves this file out (the bound's
// checks are in bad_input.test.ts; this one proves an engine can allocate it).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, MAX_CAPACITY } from "../mod.ts";

describe("the maximum capacity", () => {
  it("new Bus() accepts the documented maximum capacity, and its ring grows to it", { timeout: 60_000 }, () => {
    assert.equal(MAX_CAPACITY, 2 ** 24);
    const bus = new Bus<number>({ capacity: MAX_CAPACITY });
    assert.equal(bus.capacity, MAX_CAPACITY);
    const sub = bus.subscribe();
    // Unread values grow the ring to its full size: engines abort the process on arrays near 2^27.
    for (let i = 0; i <= MAX_CAPACITY; i++) bus.send(i);
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.missed, 1);
  });
});
