/**
 * Sequence numbers: every value a bus accepts gets the next number, and a
 * subscriber's lag is a difference of two numbers. `startSequenceAt` (a test
 * hook, not public API) starts a fresh bus high, so these tests check that
 * nothing changes past 2^31 and 2^32, where 32-bit arithmetic would wrap.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, type OverflowPolicy } from "../mod.ts";
import { startSequenceAt } from "../src/bus.ts";
import { take } from "./_read.ts";

/** What a reader, a lagging reader and a late replaying reader see on a bus whose numbering starts at `start`. */
function observe(start: number, overflow: OverflowPolicy, replay: boolean): unknown {
  const bus = new Bus<number>({ capacity: 4, overflow, replay });
  startSequenceAt(bus, start);
  const reader = bus.subscribe();
  const lagger = bus.subscribe();
  const results: unknown[] = [];
  for (let i = 0; i < 20; i++) {
    try {
      results.push(bus.send(i));
    } catch (error) {
      results.push((error as Error).name);
    }
    results.push(take(reader));
    if (i % 7 === 6) results.push(take(lagger));
  }
  const late = bus.subscribe({ from: "oldest" });
  results.push(take(late), take(lagger), reader.missed, lagger.missed);
  const { sent, ...counts } = bus.stats();
  results.push(sent - start, counts);
  return results;
}

describe("startSequenceAt()", () => {
  for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
    it(`a bus numbered from past 2^31, 2^32 or near 2^53 behaves as one numbered from 0 under "${overflow}"`, () => {
      for (const replay of [false, true]) {
        const expected = observe(0, overflow, replay);
        for (const start of [2 ** 31 - 3, 2 ** 32 - 3, 2 ** 52 + 1]) {
          assert.deepEqual(observe(start, overflow, replay), expected, `from ${start}, replay ${replay}`);
        }
      }
    });
  }

  it("a tap and a reader parked in recv() see the same across a rebase as on a bus numbered from 0", async () => {
    /** The tap's values, what each parked recv() got, and the counts, with the tap on for the first half only. */
    async function watch(start: number): Promise<unknown> {
      const bus = new Bus<number>({ capacity: 4 });
      startSequenceAt(bus, start, 5);
      const tapped: number[] = [];
      const tap = bus.tap((value) => tapped.push(value));
      const sub = bus.subscribe();
      const got: number[] = [];
      for (let i = 0; i < 20; i++) {
        const parked = sub.recv();
        bus.send(i);
        got.push(await parked);
        if (i === 9) tap.close();
      }
      const { sent, ...counts } = bus.stats();
      return [tapped, got, sent - start, counts];
    }
    const expected = await watch(0);
    for (const start of [2 ** 31 - 3, 2 ** 32 - 3]) assert.deepEqual(await watch(start), expected, `from ${start}`);
  });

  it("refuses a bus that has sent a value or has a subscriber", () => {
    const sent = new Bus<number>();
    sent.send(1);
    assert.throws(() => startSequenceAt(sent, 10), /never been used/);
    const subscribed = new Bus<number>();
    subscribed.subscribe();
    assert.throws(() => startSequenceAt(subscribed, 10), /never been used/);
    const fresh = new Bus<number>();
    startSequenceAt(fresh, 10);
    assert.equal(fresh.stats().sent, 10);
  });
});
