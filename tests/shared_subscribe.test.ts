/**
 * Joining and leaving a `SharedBus`: the subscriber slots `maxSubscribers`
 * bounds across every view, and a subscriber that a producer released as
 * presumed dead joining again when it reads: where it stands for producers
 * and for `close()`, and how it is counted. Reading paths are in
 * `shared_reading.test.ts`; options and liveness timing in
 * `shared_bus.test.ts`. The last suite joins over and over while a worker
 * sends as fast as it can, so that values go out between the steps of a
 * join: where it starts and what it owes must still be exact. Those steps
 * are nanoseconds apart: most runs catch values between them hundreds of
 * times, a run on a busy machine may catch none.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { BusFullError, EMPTY, LaggedError, SharedBus, type Subscriber } from "../mod.ts";
import type { ProduceJob, Stamp } from "./_shared_worker.ts";
import { take, tick } from "./_read.ts";
import { Thread } from "./_threads.ts";
import { watchdog } from "./_watchdog.ts";
import { elsewhere } from "./_shared.ts";

/** Blocks this thread for `ms` milliseconds: time passing inside a synchronous callback. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* spin */ }
}

describe("SharedBus subscriber slots", () => {
  it("subscribe() throws a RangeError naming maxSubscribers once every slot on every view is taken", () => {
    const bus = new SharedBus<number>({ maxSubscribers: 2 });
    const other = elsewhere(bus);
    const subs: Subscriber<number>[] = [bus.subscribe(), other.subscribe()];
    const full = /^Too many subscribers: all 2 subscriber slots are in use; raise maxSubscribers$/;
    assert.throws(() => bus.subscribe(), { name: "RangeError", message: full });
    assert.throws(() => other.subscribe({ from: "oldest" }), { name: "RangeError", message: full });
    assert.equal(bus.subscriberCount, 2);
    // A slot left is free again, for any view, and the bound still holds.
    subs[0]!.close();
    subs.push(other.subscribe());
    assert.throws(() => bus.subscribe(), { name: "RangeError", message: full });
    assert.equal(bus.send(1), 2);
    assert.deepEqual(subs.map((sub) => take(sub)), [[], [1], [1]]);
  });
});

describe("SharedBus: a released subscriber joins again", () => {
  it("is counted until it reads its last value, even when the bus closes before then", async () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", releaseAfter: 0 });
    const sub = bus.subscribe();
    for (let n = 0; n < 4; n++) bus.send(n);
    assert.equal(bus.send(4), 0, "the full ring released its only subscriber, as presumed dead");
    assert.deepEqual([bus.stats().released, bus.subscriberCount], [1, 0]);
    const seen: number[] = [];
    const counted: number[] = [];
    // It was alive after all: it joins again at its read, and the bus closes while it still has values to read.
    sub.drain((value) => {
      seen.push(value);
      if (seen.length === 1) bus.close();
      counted.push(bus.subscriberCount, bus.stats().subscribers);
    });
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(sub.missed, 1);
    assert.deepEqual(counted, [1, 1, 1, 1, 1, 1, 1, 1], "counted while it had values left");
    assert.equal(bus.subscriberCount, 0, "and no longer once it read its last");
    await sub.closed;
  });

  it("holds the ring again from the oldest value retained when it had fallen more than a ring behind", () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", releaseAfter: 20 });
    const sub = bus.subscribe();
    for (let n = 0; n < 4; n++) bus.send(n);
    const seen: number[] = [];
    // One value read; the callback then holds the ring past releaseAfter, and sends a ring past the subscriber.
    assert.equal(
      sub.drain((value) => {
        seen.push(value);
        bus.send(4);
        assert.throws(() => bus.send(5), BusFullError);
        busyWait(30);
        for (let n = 5; n < 9; n++) bus.send(n);
      }),
      1,
      "the drain stops where the callback's sends overwrote the rest",
    );
    assert.deepEqual(seen, [0]);
    assert.deepEqual([bus.stats().released, bus.subscriberCount], [1, 1], "released, and joined again");
    // It joined again at 5, the oldest value retained: it holds the ring, and nothing more is overwritten.
    assert.throws(() => bus.send(9), BusFullError);
    assert.deepEqual(take(sub), [5, 6, 7, 8]);
    assert.equal(sub.missed, 4);
    assert.deepEqual(bus.stats(), {
      capacity: 4,
      subscribers: 1,
      sent: 9,
      dropped: 4,
      discarded: 0,
      blocked: 2,
      released: 1,
    });
    bus.send(9);
    assert.deepEqual(take(sub), [9]);
    sub.close();
  });
});

describe("SharedBus: joining while another thread sends", () => {
  let producer: Thread;
  before(async () => {
    producer = new Thread(new URL("./_shared_worker.ts", import.meta.url));
    // Starting is slow (a bundle, or a type check under deno test): not part of the test's watchdog.
    assert.equal(await producer.ask({ kind: "ping" }), "pong");
  });
  after(() => producer.stop());

  it('a start from "oldest", a number or "next" holds exactly what it promises, whatever was sent during the join', {
    timeout: 60_000,
  }, async () => {
    // One slot: a value sent in the middle of a join already moves the tail, two overwrite where it first meant
    // to start. Records of numbers are the fastest values to send.
    const bus = new SharedBus<Stamp>({ capacity: 1, overflow: "drop-newest", codec: { f64: ["p", "n", "c"] } });
    // More than it can send in the time: closing the bus stops it, with a BusClosedError.
    const job: ProduceJob = { kind: "produce", handle: bus.handle, producer: 0, count: 1e9 };
    const producing = producer.ask<{ error?: string }>(job);
    const problems: string[] = [];
    let joins = 0;
    const until = performance.now() + 2000;
    const over = (): boolean => performance.now() >= until;
    await watchdog(
      (async () => {
        while (!over()) {
          for (let i = 0; i < 256 && problems.length < 10; i++, joins++) {
            // "oldest" starts at a value still held, so its first read reports no lag (it gates the producer).
            const oldest = bus.subscribe({ from: "oldest", lag: "error" });
            try {
              oldest.tryRecv();
            } catch (error) {
              if (!(error instanceof LaggedError)) throw error;
              problems.push(`from "oldest": a LaggedError of ${error.missed} at its first read`);
            }
            oldest.close();
            // A numbered start owes exactly the values between it and where it starts, found at the first read.
            const numbered = bus.subscribe({ from: 0 });
            const read = numbered.tryRecv();
            const owed = numbered.position - (read === EMPTY ? 0 : 1);
            if (numbered.missed !== owed) problems.push(`from 0: missed ${numbered.missed}, owed ${owed}`);
            numbered.close();
            // "next" gates the producer from where it starts: once the producer discards, it has one value to read.
            // (Less often: waiting for the discards takes longer than a join.)
            if (i % 4 !== 0) continue;
            const next = bus.subscribe();
            const discarded = bus.stats().discarded;
            // Two discards: the first may still be a late one for the subscriber closed just before.
            while (bus.stats().discarded < discarded + 2 && !over()) { /* the producer is at full speed */ }
            if (!over() && next.tryRecv() === EMPTY) problems.push(`from "next": nothing to read at a full ring`);
            next.close();
          }
          if (problems.length >= 10) break;
          await tick(); // lets the worker's reply in
        }
      })(),
      50_000,
      () => `the joins stopped after ${joins}`,
    );
    bus.close();
    assert.match((await producing).error ?? "", /BusClosedError/);
    assert.deepEqual(problems, []);
    assert.ok(joins > 0);
  });
});
