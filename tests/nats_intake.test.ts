// The inbound queue of a NATS bridge, on its own: values decoded from a message body go into a real local bus
// through the bridge's tap, and every value ends in exactly one counter. No nats-server is needed here; the
// bridge tests (nats_bridge.test.ts) run the same code against a real one.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Bus, type BusOptions, type Subscriber } from "../mod.ts";
import { createPacker } from "../src/nats/codec.ts";
import { HEADER_BYTES } from "../src/nats/envelope.ts";
import { Intake, rethrowLater } from "../src/nats/intake.ts";
import { type Counters, newCounters } from "../src/nats/stats.ts";

/** A JSON message body holding `values`, as a bridge would receive it. */
function body(values: number[]): Uint8Array {
  const packer = createPacker<number>(undefined);
  for (const value of values) packer.add(value);
  return packer.take().subarray(HEADER_BYTES);
}

/** 1, 2, ..., count. */
function numbers(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index + 1);
}

/** A microtask turn: the intake's pump runs in one, queued before the test's continuation. */
const turn = () => Promise.resolve();

async function turns(count: number): Promise<void> {
  for (let index = 0; index < count; index++) await turn();
}

function drained(sub: Subscriber<number>): number[] {
  const values: number[] = [];
  sub.drain((value) => values.push(value));
  return values;
}

/** A bus with a subscriber, and an intake on a tap of it, as a bridge builds it. */
function setup(options: BusOptions & { maxQueued?: number } = {}) {
  const { maxQueued = 1024, ...busOptions } = options;
  const bus = new Bus<number>(busOptions);
  const sub = bus.subscribe();
  const counters: Counters = newCounters();
  const reported: unknown[] = [];
  let busClosedCalls = 0;
  const tap = bus.tap(() => {});
  const intake = new Intake<number>(tap, bus, undefined, counters, maxQueued, () => busClosedCalls++, (error) => {
    reported.push(error);
  });
  const take = (values: number[], skip = 0) => intake.take(0, body(values), values.length, skip);
  return { bus, sub, counters, reported, intake, take, busClosedCalls: () => busClosedCalls };
}

describe("intake", () => {
  it("sends at most capacity / 2 values per microtask turn, and `queued` counts what is left", async () => {
    const { sub, counters, intake, take } = setup({ capacity: 8 });
    take(numbers(10));
    assert.equal(intake.queued, 10);
    await turn();
    assert.deepEqual(drained(sub), [1, 2, 3, 4], "one slice per turn, sent in that turn");
    assert.equal(counters.received, 4);
    assert.equal(intake.queued, 6);
    await turn();
    assert.deepEqual(drained(sub), [5, 6, 7, 8]);
    await turn();
    assert.deepEqual(drained(sub), [9, 10]);
    assert.equal(intake.queued, 0);
    assert.deepEqual({ received: counters.received, overflowed: counters.overflowed }, { received: 10, overflowed: 0 });
  });

  it("a bus of capacity 1 still gets one value per turn", async () => {
    const { sub, counters, take } = setup({ capacity: 1 });
    take(numbers(3));
    for (const expected of [1, 2, 3]) {
      await turn();
      assert.deepEqual(drained(sub), [expected]);
    }
    assert.equal(counters.received, 3);
  });

  it("the first `skip` values are counted as duplicates and the rest arrive, in order", async () => {
    const { sub, counters, take } = setup();
    take([1, 2, 3, 4, 5], 2);
    await turns(2);
    assert.deepEqual(drained(sub), [3, 4, 5]);
    assert.deepEqual(
      { received: counters.received, duplicates: counters.duplicates, overflowed: counters.overflowed },
      { received: 3, duplicates: 2, overflowed: 0 },
    );
  });

  it('under "wait", at most maxQueued values wait for room; the rest are counted as overflowed', async () => {
    const { sub, counters, intake, take } = setup({ capacity: 2, overflow: "wait", maxQueued: 3 });
    take([1, 2, 3, 4, 5, 6], 1);
    assert.deepEqual({ duplicates: counters.duplicates, overflowed: counters.overflowed }, {
      duplicates: 1,
      overflowed: 2,
    });
    await turns(3);
    assert.equal(counters.received, 2, "two fit in the ring");
    assert.equal(intake.queued, 1, "the third is a write waiting for room");
    take([7, 8, 9]);
    assert.equal(counters.overflowed, 3, "room for two more beside the one waiting; the third overflows");
    assert.equal(intake.queued, 3);
    assert.deepEqual(drained(sub), [2, 3]);
    await turns(3);
    assert.deepEqual(drained(sub), [4, 7], "the writes go out in order as room opens");
    await turns(3);
    assert.deepEqual(drained(sub), [8]);
    assert.deepEqual({ received: counters.received, queued: intake.queued }, { received: 5, queued: 0 });
  });

  it("finish() sends everything queued before it closes; later messages are ignored", async () => {
    const { sub, counters, intake, take } = setup({ capacity: 8 });
    take(numbers(10));
    await intake.finish();
    assert.deepEqual({ received: counters.received, overflowed: counters.overflowed }, { received: 10, overflowed: 0 });
    assert.equal(drained(sub).length, 8, "the ring keeps the last 8 of the 10");
    take(numbers(5), 1);
    await turns(3);
    assert.deepEqual(counters, { ...newCounters(), received: 10 }, "a closed intake counts nothing");
    assert.equal(intake.queued, 0);
  });

  it("close() drops what is still queued, counts it in overflowed, and sends nothing more", async () => {
    const { sub, counters, intake, take } = setup({ capacity: 8 });
    take(numbers(10));
    await turn();
    intake.close();
    assert.deepEqual({ received: counters.received, overflowed: counters.overflowed }, { received: 4, overflowed: 6 });
    assert.equal(intake.queued, 0);
    intake.close();
    take(numbers(3));
    await turns(3);
    assert.equal(counters.overflowed, 6, "closing twice or taking after close counts nothing");
    assert.deepEqual(drained(sub), [1, 2, 3, 4]);
  });

  it("a bus closed under it: the value that found it closed and everything queued count as overflowed; onBusClosed runs once", async () => {
    const { bus, counters, intake, take, busClosedCalls } = setup({ capacity: 8 });
    take(numbers(10));
    await turn();
    bus.close();
    await turns(3);
    assert.deepEqual({ received: counters.received, overflowed: counters.overflowed }, { received: 4, overflowed: 6 });
    assert.equal(intake.queued, 0);
    assert.equal(busClosedCalls(), 1);
  });

  it('under "wait", every write still waiting when the bus closes counts as overflowed; onBusClosed runs once', async () => {
    const { bus, counters, intake, take, busClosedCalls } = setup({ capacity: 1, overflow: "wait" });
    take(numbers(4));
    await turns(3);
    assert.deepEqual({ received: counters.received, queued: intake.queued }, { received: 1, queued: 3 });
    bus.close();
    await turns(3);
    assert.deepEqual(
      { received: counters.received, overflowed: counters.overflowed, queued: intake.queued },
      { received: 1, overflowed: 3, queued: 0 },
    );
    assert.equal(busClosedCalls(), 1);
  });

  for (const overflow of ["drop-oldest", "wait"] as const) {
    it(`${overflow}: a value another tap threw on went out: it counts as received and the error is reported`, async () => {
      const { bus, sub, counters, intake, reported, take, busClosedCalls } = setup({ overflow });
      const failure = new Error("the other tap");
      bus.tap(() => {
        throw failure;
      });
      take([1, 2, 3]);
      await turns(4);
      assert.deepEqual(drained(sub), [1, 2, 3]);
      assert.deepEqual({ received: counters.received, overflowed: counters.overflowed }, {
        received: 3,
        overflowed: 0,
      });
      assert.deepEqual(reported, [failure, failure, failure]);
      assert.equal(intake.queued, 0);
      assert.equal(busClosedCalls(), 0);
    });
  }

  // Bun's test runner fails the running test on any uncaught error, even one a listener handles.
  it(
    "rethrowLater() surfaces an error as uncaught, from a microtask of its own",
    { skip: "Bun" in globalThis },
    async () => {
      const failure = new Error("surfaced");
      const caught = await uncaughtDuring(async () => {
        rethrowLater(failure);
        await turns(2);
      });
      assert.deepEqual(caught, [failure]);
    },
  );
});

/** The uncaught errors thrown while `run` runs, kept from the test runner (Node and Deno). */
async function uncaughtDuring(run: () => Promise<void>): Promise<unknown[]> {
  const caught: unknown[] = [];
  if ("Deno" in globalThis) {
    const onError = (event: ErrorEvent) => {
      event.preventDefault();
      caught.push(event.error);
    };
    globalThis.addEventListener("error", onError);
    try {
      await run();
    } finally {
      globalThis.removeEventListener("error", onError);
    }
    return caught;
  }
  const runners = process.listeners("uncaughtException");
  const onException = (error: unknown) => caught.push(error);
  process.removeAllListeners("uncaughtException");
  process.on("uncaughtException", onException);
  try {
    await run();
  } finally {
    process.removeListener("uncaughtException", onException);
    for (const listener of runners) process.on("uncaughtException", listener);
  }
  return caught;
}
