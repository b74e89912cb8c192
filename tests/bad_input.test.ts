/**
 * The bad-input catalogue: every wrong argument and every call out of turn,
 * with the error it gets. An error message names the argument, the value
 * and what is allowed. After each error the bus and its other subscribers
 * keep working with correct counts.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, type BusOptions, CLOSED, MAX_CAPACITY, type SubscribeOptions } from "../mod.ts";
import { Ledger, type Tally } from "./_laws.ts";

/** A bus with a subscriber that has read 3 values: the witness that an error changed nothing. */
function witness(options?: BusOptions): { ledger: Ledger; tally: Tally } {
  const ledger = new Ledger(new Bus<number>(options));
  const tally = ledger.subscribe("witness", { lossless: true });
  for (let i = 0; i < 3; i++) ledger.offer();
  tally.sub.drain((value) => tally.see(value));
  return { ledger, tally };
}

/** Sends 5 more values and checks the witness reads everything unread, and every law holds. */
function assertStillWorks({ ledger, tally }: { ledger: Ledger; tally: Tally }): void {
  for (let i = 0; i < 5; i++) assert.equal(ledger.offer(), true);
  const unread = ledger.accepted - tally.next;
  assert.ok(unread >= 5);
  assert.equal(tally.sub.drain((value) => tally.see(value)), unread);
  assert.equal(tally.received, ledger.accepted, "the witness has read every value sent");
  ledger.check();
}

/** Asserts `fn` throws exactly `type`, with a message that matches every part. */
function assertError(fn: () => unknown, type: new (...args: never[]) => Error, ...parts: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof Error, `threw ${String(error)}`);
    assert.equal(error.constructor, type, `threw ${error.name}: ${error.message}`);
    for (const part of parts) assert.match(error.message, part);
    return true;
  });
}

/** Escapes a value's rendering for a RegExp. */
const quote = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));

describe("new Bus() with a bad capacity", () => {
  const ALLOWED = /integer from 1 to 2\^24/;
  const cases: [unknown, string, new (...args: never[]) => Error][] = [
    [0, "0", RangeError],
    [-1, "-1", RangeError],
    [1.5, "1.5", RangeError],
    [NaN, "NaN", RangeError],
    [Infinity, "Infinity", RangeError],
    [-Infinity, "-Infinity", RangeError],
    [2 ** 31, String(2 ** 31), RangeError],
    [MAX_CAPACITY + 1, String(MAX_CAPACITY + 1), RangeError],
    ["256", '"256"', TypeError],
    [256n, "256n", TypeError],
    [null, "null", TypeError],
    [true, "true", TypeError],
  ];
  for (const [capacity, shown, type] of cases) {
    it(`new Bus({ capacity: ${shown} }) throws ${type.name} naming the capacity, the value and the range`, () => {
      const bus = witness();
      assertError(() => new Bus({ capacity } as BusOptions), type, /capacity/, quote(shown), ALLOWED);
      if (typeof capacity === "number") {
        assertError(() => new Bus(capacity), type, /capacity/, quote(shown), ALLOWED);
      }
      assertStillWorks(bus);
    });
  }

  it("new Bus() accepts a missing options object, undefined, {} and the bounds 1 and 2^24", () => {
    assert.equal(new Bus().capacity, 256);
    assert.equal(new Bus(undefined).capacity, 256);
    assert.equal(new Bus({}).capacity, 256);
    assert.equal(new Bus({ capacity: undefined }).capacity, 256);
    assert.equal(new Bus(1).capacity, 1);
    assert.equal(new Bus(MAX_CAPACITY).capacity, MAX_CAPACITY);
    assertStillWorks(witness());
    assertStillWorks(witness({}));
  });
});

describe("new Bus() with bad options", () => {
  it("new Bus(null) throws TypeError naming the options, the value and what is allowed", () => {
    const bus = witness();
    assertError(() => new Bus(null as unknown as BusOptions), TypeError, /options/, /null/, /object/);
    assertStillWorks(bus);
  });

  it('new Bus("256") throws TypeError naming the value', () => {
    const bus = witness();
    assertError(
      () => new Bus("256" as unknown as BusOptions),
      TypeError,
      /capacity/,
      /"256"/,
      /integer from 1 to 2\^24/,
    );
    assertStillWorks(bus);
  });

  it("new Bus([256]) throws TypeError naming the options and the array", () => {
    const bus = witness();
    assertError(() => new Bus([256] as unknown as BusOptions), TypeError, /options/, /array/, /object/);
    assertStillWorks(bus);
  });

  it("new Bus(() => 256) throws TypeError naming the options and the function: only a primitive is a capacity", () => {
    const bus = witness();
    assertError(() => new Bus((() => 256) as unknown as BusOptions), TypeError, /options/, /256/, /object/);
    assertStillWorks(bus);
  });

  for (const overflow of ["drop-all", "Wait", "", null, 1]) {
    it(`new Bus({ overflow: ${JSON.stringify(overflow)} }) throws TypeError listing the policies`, () => {
      const bus = witness();
      assertError(
        () => new Bus({ overflow } as unknown as BusOptions),
        TypeError,
        /overflow/,
        quote(typeof overflow === "string" ? JSON.stringify(overflow) : String(overflow)),
        /"drop-oldest", "drop-newest", "wait"/,
      );
      assertStillWorks(bus);
    });
  }

  it('new Bus({ replay: "yes" }) throws TypeError naming replay, the value and true or false', () => {
    const bus = witness();
    assertError(
      () => new Bus({ replay: "yes" } as unknown as BusOptions),
      TypeError,
      /replay/,
      /"yes"/,
      /true or false/,
    );
    assertStillWorks(bus);
  });

  for (const key of ["capacty", "Capacity", "overflowPolicy", "size"]) {
    it(`new Bus({ ${key}: 8 }) throws TypeError naming the unknown option and the known ones`, () => {
      const bus = witness();
      assertError(
        () => new Bus({ [key]: 8 } as unknown as BusOptions),
        TypeError,
        quote(`"${key}"`),
        /"capacity", "overflow", "replay"/,
      );
      assertStillWorks(bus);
    });
  }
});

describe("Bus.subscribe() with bad options", () => {
  const cases: [string, unknown, RegExp[]][] = [
    ['{ from: "newest" }', { from: "newest" }, [/from/, /"newest"/, /"next", "oldest"/]],
    ['{ from: "Oldest" }', { from: "Oldest" }, [/from/, /"Oldest"/, /"next", "oldest"/]],
    ['{ lag: "throw" }', { lag: "throw" }, [/lag/, /"throw"/, /"skip", "error"/]],
    ["{ lag: true }", { lag: true }, [/lag/, /true/, /"skip", "error"/]],
    ["{ form: 'oldest' } (a typo)", { form: "oldest" }, [/"form"/, /"from", "lag"/]],
    ["null", null, [/options/, /null/, /object/]],
    ['"oldest"', "oldest", [/options/, /"oldest"/, /object/]],
  ];
  for (const [shown, options, parts] of cases) {
    it(`bus.subscribe(${shown}) throws TypeError and subscribes nobody`, () => {
      const bus = witness();
      assertError(() => bus.ledger.bus.subscribe(options as SubscribeOptions), TypeError, ...parts);
      assert.equal(bus.ledger.bus.subscriberCount, 1, "no half-made subscriber");
      assertStillWorks(bus);
    });
  }

  it("bus.subscribe() checks its options after the bus closed too", () => {
    const bus = new Bus<number>();
    bus.close();
    assertError(() => bus.subscribe({ from: "newest" } as unknown as SubscribeOptions), TypeError, /from/);
  });
});

describe("Subscriber.drain() with bad arguments", () => {
  const fns: [string, unknown, string][] = [
    ["undefined", undefined, "undefined"],
    ["null", null, "null"],
    ["42", 42, "42"],
    ['"fn"', "fn", '"fn"'],
    ["{}", {}, "an object"],
  ];
  for (const [shown, fn, rendered] of fns) {
    it(`drain(${shown}) throws TypeError naming fn and reads nothing`, () => {
      const bus = witness();
      bus.ledger.offer();
      assertError(
        () => bus.tally.sub.drain(fn as (value: number) => void),
        TypeError,
        /fn/,
        quote(rendered),
        /function/,
      );
      assertStillWorks(bus); // reads the value sent before the error, then 5 more
    });
  }

  const maxes: [string, unknown, new (...args: never[]) => Error][] = [
    ["-1", -1, RangeError],
    ["1.5", 1.5, RangeError],
    ["NaN", NaN, RangeError],
    ["-Infinity", -Infinity, RangeError],
    ['"3"', "3", TypeError],
  ];
  for (const [shown, max, type] of maxes) {
    it(`drain(fn, ${shown}) throws ${type.name} naming max, the value and what is allowed, and reads nothing`, () => {
      const bus = witness();
      bus.ledger.offer();
      const seen: number[] = [];
      assertError(
        () => bus.tally.sub.drain((value) => seen.push(value), max as number),
        type,
        /max/,
        quote(shown),
        /non-negative integer or Infinity/,
      );
      assert.deepEqual(seen, []);
      assertStillWorks(bus);
    });
  }

  it("drain(fn, 0) reads nothing and drain(fn, Infinity) reads everything", () => {
    const bus = witness();
    bus.ledger.offer();
    assert.equal(bus.tally.sub.drain(() => assert.fail(), 0), 0);
    assert.equal(bus.tally.sub.drain((value) => bus.tally.see(value), Infinity), 1);
    assertStillWorks(bus);
  });

  it("drain(42) on a closed subscriber still throws TypeError", () => {
    const sub = new Bus<number>().subscribe();
    sub.close();
    assertError(() => sub.drain(42 as unknown as (value: number) => void), TypeError, /fn/);
  });
});

describe("calls out of turn", () => {
  it("Bus.send() after close throws BusClosedError and changes no count", () => {
    const { ledger, tally } = witness();
    ledger.offer();
    ledger.bus.close();
    assertError(() => ledger.bus.send(99), BusClosedError, /closed/);
    assertError(() => ledger.bus.send(100), BusClosedError, /closed/);
    assert.equal(ledger.bus.stats().sent, 4, "no count moved");
    assert.equal(tally.sub.drain((value) => tally.see(value)), 1, "what was sent before close is still delivered");
    assert.equal(tally.sub.tryRecv(), CLOSED);
    ledger.leave(tally, "ended");
    ledger.finish();
  });

  it("Bus.subscribe() after close returns a subscriber that has already ended, and counts nobody", async () => {
    const bus = new Bus<number>();
    bus.close();
    const sub = bus.subscribe({ lag: "error" });
    assert.equal(bus.subscriberCount, 0);
    await assertEndedOnEveryPath(sub, bus);
  });

  it("Subscriber.read() after releaseLock() resolves done, and the other subscriber keeps its counts", async () => {
    const bus = witness();
    const released = bus.ledger.subscribe("released");
    bus.ledger.offer();
    released.sub.releaseLock();
    assert.deepEqual(await released.sub.read(), { value: undefined, done: true });
    assert.deepEqual(await released.sub.read(), { value: undefined, done: true });
    bus.ledger.leave(released, "closed");
    assertStillWorks(bus);
  });

  it("a readable's reader.read() after reader.releaseLock() rejects with TypeError, and a new reader goes on", async () => {
    const bus = witness();
    const streamed = bus.ledger.subscribe("streamed");
    const reader = streamed.sub.readable.getReader();
    bus.ledger.offer();
    streamed.see((await reader.read()).value!);
    reader.releaseLock();
    await assert.rejects(reader.read(), TypeError);
    assert.equal(bus.ledger.bus.subscriberCount, 2, "releasing the stream's reader keeps the subscription");
    bus.ledger.offer();
    const next = streamed.sub.readable.getReader();
    streamed.see((await next.read()).value!);
    assert.equal(streamed.received, 2);
    assertStillWorks(bus);
  });

  it("Bus.close() twice is the same as once", () => {
    const { ledger, tally } = witness();
    ledger.offer();
    ledger.bus.close();
    ledger.bus.close();
    assert.equal(ledger.bus.closed, true);
    assert.equal(tally.sub.drain((value) => tally.see(value)), 1);
    assert.equal(tally.sub.tryRecv(), CLOSED);
    ledger.bus.close();
    ledger.leave(tally, "ended");
    ledger.finish();
  });

  it("Subscriber.close() twice, and every other way of closing after it, leaves exactly once", () => {
    const bus = witness();
    const twice = bus.ledger.subscribe("twice");
    bus.ledger.offer();
    twice.sub.close();
    twice.sub.close();
    void twice.sub.cancel();
    twice.sub.releaseLock();
    twice.sub[Symbol.dispose]();
    assert.equal(bus.ledger.bus.subscriberCount, 1, "counted out once, not five times");
    bus.ledger.leave(twice, "closed");
    assertStillWorks(bus);
  });

  it("a closed subscriber gives its ended answer on every path", async () => {
    const bus = witness();
    const closed = bus.ledger.subscribe("closed");
    bus.ledger.offer();
    closed.sub.close();
    bus.ledger.leave(closed, "closed");
    await assertEndedOnEveryPath(closed.sub, bus.ledger.bus);
    assertStillWorks(bus);
  });

  it("a subscriber that read to the end of a closed bus gives its ended answer on every path", async () => {
    const { ledger, tally } = witness();
    ledger.offer();
    ledger.bus.close();
    tally.sub.drain((value) => tally.see(value));
    assert.equal(tally.sub.drain(() => assert.fail()), 0, "the read that finds the end leaves");
    assert.equal(ledger.bus.subscriberCount, 0);
    ledger.leave(tally, "ended");
    await assertEndedOnEveryPath(tally.sub, ledger.bus);
    ledger.finish();
  });
});

/** Every way of reading an ended subscriber: nothing read, nothing counted, nothing thrown but BusClosedError. */
async function assertEndedOnEveryPath(sub: ReturnType<Bus<number>["subscribe"]>, bus: Bus<number>): Promise<void> {
  const count = bus.subscriberCount;
  assert.equal(sub.tryRecv(), CLOSED);
  assert.equal(sub.drain(() => assert.fail("drain called fn")), 0);
  assert.equal(await sub.wait(), false);
  await assert.rejects(sub.recv(), BusClosedError);
  assert.deepEqual(await sub.read(), { value: undefined, done: true });
  for await (const _ of sub) assert.fail("for await iterated");
  const reader = sub.readable.getReader();
  assert.deepEqual(await reader.read(), { value: undefined, done: true });
  await reader.closed;
  assert.equal(await sub.closed, undefined);
  assert.equal(sub.missed, 0);
  sub.close();
  assert.equal(bus.subscriberCount, count, "reading or closing an ended subscriber changes no count");
}
