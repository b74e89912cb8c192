/**
 * A bus runs for weeks: its behaviour must not change past 2^31 or 2^32
 * values. Positions are rebased every 2^29 values so they stay small
 * integers; these tests start buses high (a test-only hook) and cross
 * rebases with readers parked, mid-drain, lapped and caught up, and compare
 * every observation with a fresh bus doing the same.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, CLOSED, LaggedError, type OverflowPolicy, type Subscriber } from "../mod.ts";
import { startSequenceAt } from "../src/bus.ts";
import { tick } from "./_read.ts";

const STARTS = [2 ** 31 - 5, 2 ** 32 - 5, 2 ** 53 - 2 ** 30];

/** A bus whose next value gets number `start`, a few sends short of a rebase. */
function busAt<T>(start: number, options: ConstructorParameters<typeof Bus<T>>[0], headroom: number): Bus<T> {
  const bus = new Bus<T>(options);
  startSequenceAt(bus, start, headroom);
  return bus;
}

/**
 * Runs the same scenario on a fresh bus and on buses started high, whose
 * first rebase comes with send number `headroom`, and returns what each
 * observed, with sequence numbers made relative to the start. They must be
 * equal.
 */
async function observe(
  scenario: (bus: Bus<number>, log: unknown[], start: number) => Promise<void> | void,
  options: ConstructorParameters<typeof Bus<number>>[0],
  headroom: number,
): Promise<unknown[][]> {
  const runs: unknown[][] = [];
  for (const start of [0, ...STARTS]) {
    const bus = start === 0 ? new Bus<number>(options) : busAt<number>(start, options, headroom);
    const log: unknown[] = [];
    await scenario(bus, log, start);
    const { sent, ...rest } = bus.stats();
    log.push({ sent: sent - start, ...rest });
    runs.push(log);
  }
  return runs;
}

function assertSame(runs: unknown[][]): void {
  for (let i = 1; i < runs.length; i++) {
    assert.deepEqual(runs[i], runs[0], `a bus started at ${STARTS[i - 1]} behaves as a fresh one`);
  }
}

describe("positions past 2^31 and 2^32", () => {
  it("number values exactly: stats().sent and position", () => {
    for (const start of STARTS) {
      const bus = busAt<number>(start, 4, 5);
      const sub = bus.subscribe();
      assert.equal(sub.position, start);
      for (let i = 0; i < 10; i++) bus.send(i);
      assert.equal(bus.stats().sent, start + 10);
      assert.equal(sub.tryRecv(), 6);
      assert.equal(sub.position, start + 7);
      assert.equal(sub.missed, 6);
      assert.equal(bus.subscribe({ from: start + 8 }).tryRecv(), 8);
    }
  });

  for (const overflow of ["drop-oldest", "drop-newest", "wait"] as OverflowPolicy[]) {
    it(`cross a rebase under '${overflow}' with readers caught up, behind, lapped and on every path`, async () => {
      const runs = await observe(
        async (bus, log, start) => {
          const subs = [
            bus.subscribe(),
            bus.subscribe({ lag: "error" }),
            bus.subscribe(),
            bus.subscribe(),
          ];
          const send = (n: number) => {
            try {
              log.push(["send", n, bus.send(n)]);
            } catch (error) {
              log.push(["send", n, (error as Error).name]);
            }
          };
          const read = (sub: Subscriber<number>, i: number) => {
            try {
              log.push(["read", i, sub.tryRecv(), sub.position - start, sub.missed]);
            } catch (error) {
              log.push(["read", i, (error as Error).name, (error as LaggedError).missed]);
            }
          };
          for (let n = 0; n < 40; n++) {
            send(n);
            if (n % 2 === 0) read(subs[0], 0);
            if (n % 7 === 0) read(subs[1], 1);
            if (n % 3 === 0) subs[2].drain((value) => log.push(["drain", value, subs[2].position - start]), 2);
            if (n === 19) read(subs[3], 3); // right after the rebase it was lapped across
            if (n === 20) {
              // Closed at once: a subscriber dropped unclosed would be unsubscribed whenever the GC runs.
              using resumed = bus.subscribe({ from: Math.max(start, bus.stats().sent - 3) });
              log.push(["from", resumed.position - start, resumed.tryRecv()]);
            }
          }
          for (let i = 0; i < 4; i++) for (let k = 0; k < 6; k++) read(subs[i], i);
          log.push(["missed", subs.map((sub) => sub.missed)]);
          await tick();
        },
        { capacity: 4, overflow },
        20,
      ); // at the rebase, subscriber 3 is lapped, 1 behind, 0 caught up
      assertSame(runs);
    });
  }

  it("keep a parked recv(), wait() and read() across a rebase", async () => {
    const runs = await observe(
      async (bus, log) => {
        const subs = [bus.subscribe(), bus.subscribe(), bus.subscribe()];
        for (let round = 0; round < 6; round++) {
          const parked = [subs[0].recv(), subs[1].wait(), subs[2].read()];
          await tick();
          bus.send(round);
          log.push(await Promise.all(parked));
          subs[1].tryRecv();
        }
      },
      4,
      3,
    ); // the third round's send rebases with all three parked
    assertSame(runs);
  });

  it("keep a drain going across the rebase its own callback's send causes", async () => {
    const runs = await observe(
      (bus, log, start) => {
        const sub = bus.subscribe();
        const other = bus.subscribe();
        for (let i = 0; i < 3; i++) bus.send(i);
        const count = sub.drain((value) => {
          log.push(["got", value, sub.position - start]);
          bus.send(100 + value);
        });
        log.push(["count", count], ["rest", ...[1, 2, 3, 4].map(() => sub.tryRecv())], [
          "other",
          other.drain(() => {}),
        ]);
      },
      8,
      4,
    ); // the callback's first send rebases
    assertSame(runs);
  });

  it("keep a drain going when its callback's send rebases with the drain exactly a full ring behind", async () => {
    const runs = await observe(
      (bus, log) => {
        const sub = bus.subscribe();
        bus.send(0);
        bus.send(1);
        const count = sub.drain((value) => {
          log.push(["got", value]);
          if (value === 0) { for (let i = 0; i < 3; i++) bus.send(100 + i); }
        });
        log.push(["count", count], ["rest", ...[1, 2, 3, 4].map(() => sub.tryRecv())], ["missed", sub.missed]);
      },
      { capacity: 4 },
      5,
    ); // the callback's last send rebases, leaving the next value the oldest held
    assertSame(runs);
  });

  it("stop a drain whose callback rebases and then overwrites its next value", async () => {
    const runs = await observe(
      (bus, log) => {
        const sub = bus.subscribe();
        bus.send(0);
        bus.send(1);
        const count = sub.drain((value) => {
          log.push(["got", value]);
          if (value === 0) { for (let i = 0; i < 4; i++) bus.send(100 + i); }
        });
        log.push(["count", count], ["rest", ...[1, 2, 3, 4, 5].map(() => sub.tryRecv())], ["missed", sub.missed]);
      },
      { capacity: 4 },
      5,
    ); // the callback's third send rebases, its fourth overwrites the 1 the drain would hand over next
    assertSame(runs);
  });

  it("count the gap of a drain its own callback's sends lapped at a rebase", async () => {
    const runs = await observe(
      (bus, log, start) => {
        const sub = bus.subscribe();
        bus.send(0);
        const count = sub.drain((value) => {
          log.push(["got", value]);
          for (let i = 0; i < 5; i++) bus.send(100 + i);
        });
        log.push(["count", count], ["rest", ...[1, 2, 3, 4, 5].map(() => sub.tryRecv())]);
        log.push(["missed", sub.missed, sub.position - start]);
      },
      { capacity: 4 },
      6,
    ); // the callback's last send laps the drain by one and rebases
    assertSame(runs);
  });

  it("end a subscriber with a gap still to discover, lapped at a rebase, when it drains its last value", async () => {
    const runs = await observe(
      (bus, log, start) => {
        for (let i = 0; i < 3; i++) bus.send(i);
        const sub = bus.subscribe({ from: start }); // nobody retained 0 to 2: a gap of 3 to discover
        for (let i = 3; i < 8; i++) bus.send(i); // laps it by one more, and rebases
        bus.close();
        const got: number[] = [];
        log.push(["count", sub.drain((value) => got.push(value))], ["got", ...got], ["missed", sub.missed]);
        log.push(["subscribers", bus.subscriberCount], ["next", sub.tryRecv() === CLOSED]);
      },
      { capacity: 4 },
      8,
    );
    assertSame(runs);
  });

  it("count a lapped subscriber's gap exactly, once, across a rebase", () => {
    for (const start of STARTS) {
      const bus = busAt<number>(start, 4, 50); // lapped by 46 at the rebase
      const lagged = bus.subscribe({ lag: "error" });
      const reader = bus.subscribe();
      for (let i = 0; i < 1000; i++) {
        bus.send(i);
        reader.tryRecv();
      }
      assert.throws(() => lagged.tryRecv(), (error) => error instanceof LaggedError && error.missed === 996);
      assert.equal(lagged.tryRecv(), 996);
      assert.equal(bus.stats().dropped, 996);
      assert.equal(lagged.position, start + 997);
    }
  });
});
