/**
 * Sending on a `SharedBus`: claiming sequence numbers and taking slots, the
 * overflow policies at a full ring (which subscribers hold it, and when a
 * release makes room), and several producers, as views on one thread or
 * with a real worker (`tests/_threads.ts`).
 *
 * Some states here are ones only another thread can leave behind for an
 * instant: a producer stopped between its claim and its commit, a subscriber
 * stopped in the middle of joining. A test writes them into the shared
 * memory by hand, as that thread would have left them, so what the bus does
 * next can be checked every run rather than in a rare race.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { BusClosedError, BusFullError, SharedBus } from "../mod.ts";
import { startSharedSequenceAt } from "../src/shared/bus.ts";
import { EPOCH, mark, PRODUCERS_ASLEEP } from "../src/shared/layout.ts";
import { startAt } from "../src/shared/memory.ts";
import { check, type Stamp } from "./_shared_worker.ts";
import { Thread } from "./_threads.ts";
import { take } from "./_read.ts";
import { watchdog } from "./_watchdog.ts";
import { stallJoiner, stallProducer } from "./_shared.ts";

const WORKER = new URL("./_shared_worker.ts", import.meta.url);
const BLOCK = 2 ** 29;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `done()` is true, looking every millisecond or so. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await sleep(1);
}

describe("SharedBus.send() at a slot whose previous lap is still being written", () => {
  const worker: { thread?: Thread } = {};
  before(async () => {
    worker.thread = new Thread(WORKER);
    assert.equal(await watchdog(worker.thread.ask({ kind: "ping" }), 60_000, () => "the worker did not start"), "pong");
  });
  after(async () => {
    await worker.thread?.stop();
  });

  it("a producer on another thread waits for that value's commit, then writes over it, so nothing torn is read", {
    timeout: 60_000,
  }, async () => {
    const thread = worker.thread!;
    const bus = new SharedBus<Stamp | { stalled: true }>({ capacity: 2, maxBytes: 128 });
    const sub = bus.subscribe();
    // Value 0 in slot 0, claimed and not committed. The worker's first value takes slot 1; its second needs slot 0.
    const stalled = stallProducer(bus, { stalled: true });
    assert.equal(stalled.sequence, 0);
    let replied = false;
    const flooded = thread.ask<number | { error: string }>({ kind: "flood", handle: bus.handle, count: 2 });
    flooded.then(() => replied = true);
    await watchdog(until(() => bus.stats().sent === 3), 10_000, () => "the worker did not claim its second value");
    // Claimed: it is at the slot now. Given time to write it, it must still be waiting for the commit.
    await sleep(200);
    assert.equal(replied, false, "the worker's send went ahead while the slot's previous value was being written");
    stalled.commit();
    assert.equal(await watchdog(flooded, 10_000, () => "the worker's send did not go on after the commit"), 2);
    // Value 0 was committed, then overwritten by value 2: the reader counts it as missed and reads the rest in order.
    assert.deepEqual(take(sub), [0, 1].map((n) => ({ p: 0, n, c: check(0, n, true) })));
    assert.equal(sub.missed, 1);
    assert.deepEqual([bus.stats().sent, bus.stats().dropped], [3, 1]);
  });
});

describe("SharedBus.send() on a browser window's main thread", () => {
  it("waits for a slot's previous lap by spinning, and never calls Atomics.wait there", () => {
    const bus = new SharedBus<number | { stalled: true }>({ capacity: 2 });
    const sub = bus.subscribe();
    const stalled = stallProducer(bus, { stalled: true });
    bus.send(1);
    // The window: a global that is a Window with a document, as canBlock() tells it.
    const names = ["Window", "document"] as const;
    const saved = names.map((name) => Object.getOwnPropertyDescriptor(globalThis, name));
    const { wait, compareExchange: cas } = Atomics;
    const atomics: { wait: typeof wait; compareExchange: typeof cas } = Atomics;
    let waits = 0;
    let tries = 0;
    let committed = false;
    Object.defineProperty(globalThis, "Window", {
      value: class Window {
        static [Symbol.hasInstance](): boolean {
          return true;
        }
      },
      configurable: true,
      writable: true,
    });
    Object.defineProperty(globalThis, "document", { value: {}, configurable: true, writable: true });
    atomics.wait = ((...args: unknown[]) => {
      waits++;
      return Reflect.apply(wait, Atomics, args);
    }) as typeof wait;
    // The stopped producer commits after the sender has tried its slot 200 times: another thread, as seen from here.
    atomics.compareExchange = ((array: Int32Array, index: number, expected: number, replacement: number) => {
      if (!committed && expected === mark(0) && replacement === (mark(2) | 1) && ++tries === 200) {
        stalled.commit();
        committed = true;
      }
      return cas(array, index, expected, replacement);
    }) as typeof cas;
    let sent: number;
    try {
      sent = bus.send(2);
    } finally {
      atomics.wait = wait;
      atomics.compareExchange = cas;
      names.forEach((name, i) => {
        const descriptor = saved[i];
        if (descriptor === undefined) delete (globalThis as Record<string, unknown>)[name];
        else Object.defineProperty(globalThis, name, descriptor);
      });
    }
    assert.equal(committed, true, "the send went ahead before the slot's previous value was committed");
    assert.equal(sent, 1);
    assert.equal(waits, 0, "Atomics.wait was called on a window's main thread");
    assert.deepEqual(take(sub), [1, 2]);
    assert.equal(sub.missed, 1, "the stalled value, committed, then overwritten");
  });
});

describe("SharedBus sequence numbers, kept by the sends", () => {
  it('another view of a replay bus that started at a high number starts an "oldest" subscriber at its first value', () => {
    // High and low words both matter: 2^32 + 5.
    const start = 2 ** 32 + 5;
    const bus = new SharedBus<number>({ capacity: 8, replay: true });
    startSharedSequenceAt(bus, start);
    bus.send(10);
    bus.send(11);
    const other = SharedBus.attach<number>(structuredClone(bus.handle));
    const late = other.subscribe({ from: "oldest" });
    assert.equal(late.position, start, "nothing before the first value sent");
    assert.deepEqual(take(late), [10, 11]);
    assert.deepEqual([late.missed, other.stats().sent], [0, start + 2]);
  });

  it("counts on across a second 2^29-block: each send that ends a block moves the epoch on", () => {
    const bus = new SharedBus<number>({ capacity: 4 });
    const words = new Int32Array(bus.handle.buffer);
    startSharedSequenceAt(bus, 2 * BLOCK - 2);
    for (const n of [0, 1, 2]) bus.send(n); // the second ends a block
    assert.equal(bus.stats().sent, 2 * BLOCK + 1);
    // Fast-forward, as if 2^29 - 4 more values had gone out to nobody: the head and slots as the test hook writes
    // them, and the epoch as these sends left it.
    const epoch = Atomics.load(words, EPOCH);
    startAt(bus.handle.buffer, 3 * BLOCK - 3);
    Atomics.store(words, EPOCH, epoch);
    const sub = bus.subscribe();
    for (const n of [3, 4, 5]) bus.send(n); // the last ends the next block
    assert.equal(bus.stats().sent, 3 * BLOCK);
    bus.send(6);
    assert.deepEqual(take(sub), [3, 4, 5, 6]);
    assert.deepEqual([sub.position, sub.missed, bus.stats().sent], [3 * BLOCK + 1, 0, 3 * BLOCK + 1]);
  });
});

describe("SharedBus overflow: who holds a full ring", () => {
  it('under "wait", a release makes room only if no other subscriber still holds the ring', async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 50 });
    const stale = bus.subscribe(); // never reads; held, so the collector cannot close it first
    bus.send(1);
    bus.send(2);
    assert.throws(() => bus.send(3), BusFullError, "the stale one is seen holding the ring");
    await sleep(80);
    const fresh = bus.subscribe({ from: "oldest" }); // at the stale one's position: it holds the ring too
    assert.equal(fresh.position, 0);
    assert.throws(() => bus.send(3), BusFullError, "the stale one is released, but the fresh one still holds it");
    assert.deepEqual([bus.stats().released, bus.stats().blocked, bus.stats().sent], [1, 2, 2]);
    assert.deepEqual(take(fresh), [1, 2]);
    assert.equal(fresh.missed, 0, 'nothing lost under "wait"');
    // Once the fresh one holds the ring alone, unmoved for releaseAfter, its release makes room at once.
    bus.send(3);
    bus.send(4);
    assert.throws(() => bus.send(5), BusFullError);
    await sleep(80);
    assert.equal(bus.send(5), 0, "sent, to nobody: the only subscriber holding the ring was released");
    assert.deepEqual([bus.stats().released, bus.stats().subscribers], [2, 0]);
    stale.close();
    fresh.close();
  });

  it("a send from the drain callback of a released subscriber goes out at once and counts the subscribers joined at its claim; that subscriber joins again as its drain publishes, and reads the value", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    await bus.ready; // releases it: it held the ring full, and nothing was overwritten
    assert.deepEqual([bus.stats().released, bus.stats().subscribers], [1, 0]);
    const during: number[] = [];
    const got: number[] = [];
    sub.drain((n) => {
      got.push(n);
      if (n === 1) during.push(bus.send(3), bus.stats().subscribers);
    });
    assert.deepEqual(during, [0, 0], "the drain publishes once, at its end: until then it is released, not counted");
    assert.deepEqual(got, [1, 2]);
    assert.equal(bus.stats().subscribers, 1, "joined again");
    assert.deepEqual([sub.tryRecv(), sub.missed], [3, 0]);
    sub.close();
  });

  for (const overflow of ["wait", "drop-newest"] as const) {
    it(`under "${overflow}", a subscriber still joining on another thread holds the ring from the cursor it wrote`, () => {
      const bus = new SharedBus<number>({ capacity: 2, overflow, releaseAfter: 0 });
      stallJoiner(bus, 0);
      bus.send(1);
      bus.send(2);
      if (overflow === "wait") assert.throws(() => bus.send(3), BusFullError);
      else assert.equal(bus.send(3), 0, "discarded");
      assert.deepEqual([bus.stats().sent, bus.stats().released], [2, 0], "a joiner is not released");
    });
  }

  it('under "wait", releasing a stale subscriber leaves the ring full while a joiner still holds it', () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    const stale = bus.subscribe();
    stallJoiner(bus, 0);
    bus.send(1);
    bus.send(2);
    assert.throws(() => bus.send(3), BusFullError);
    assert.deepEqual([bus.stats().released, bus.stats().sent], [1, 2]);
    stale.close();
  });
});

describe("SharedBus.write() waiting for room", () => {
  /** How many times a producer waiting on `bus` looked at the subscribers again in `ms`: each look flags it asleep. */
  async function looks(bus: SharedBus<number>, ms: number): Promise<number> {
    const words = new Int32Array(bus.handle.buffer);
    let count = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      if (Atomics.exchange(words, PRODUCERS_ASLEEP, 0) !== 0) count++;
      await sleep(1);
    }
    return count;
  }

  for (const releaseAfter of [0, 100]) {
    it(`looks at the subscribers holding the ring again within releaseAfter / 4, and at least every ms (releaseAfter: ${releaseAfter})`, async () => {
      // A joiner stopped on another thread holds the ring: never released, so the write waits and looks again.
      const bus = new SharedBus<number>({ capacity: 1, overflow: "wait", releaseAfter });
      stallJoiner(bus, 0);
      bus.send(0);
      const write = bus.write(1);
      const rejected = assert.rejects(write, BusClosedError);
      // Every 25 ms (1 ms at 0) makes 40 looks or more in 1000 ms; a producer that slept 400 ms or more looks 3 to 5 times.
      const seen = await looks(bus, 1000);
      bus.close();
      await rejected;
      assert.ok(seen >= 8, `looked ${seen} times in 1000 ms`);
    });
  }
});
