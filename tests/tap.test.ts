import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, BusFullError, EMPTY } from "../mod.ts";

describe("Bus.tap()", () => {
  it("sees every accepted value in order, with or without subscribers", () => {
    const bus = new Bus<number>(2);
    const seen: number[] = [];
    bus.tap((n) => seen.push(n));
    bus.send(0);
    const sub = bus.subscribe();
    for (let i = 1; i <= 5; i++) bus.send(i);
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
    assert.equal(sub.tryRecv(), 4, "the subscriber lagged; the tap did not");
  });

  it("does not see values drop-newest discards or wait refuses", () => {
    for (const overflow of ["drop-newest", "wait"] as const) {
      const bus = new Bus<number>({ capacity: 1, overflow });
      const seen: number[] = [];
      bus.tap((n) => seen.push(n));
      bus.subscribe();
      bus.send(1);
      if (overflow === "wait") assert.throws(() => bus.send(2), BusFullError);
      else assert.equal(bus.send(2), 0);
      assert.deepEqual(seen, [1], overflow);
    }
  });

  it("close() and using remove it; the same function tapped twice is two taps", () => {
    const bus = new Bus<number>();
    const seen: number[] = [];
    const fn = (n: number) => seen.push(n);
    const first = bus.tap(fn);
    {
      using _second = bus.tap(fn);
      bus.send(1);
    }
    bus.send(2);
    first.close();
    first.close();
    bus.send(3);
    assert.deepEqual(seen, [1, 1, 2]);
  });

  it("closing one tap leaves every other tap in place, in order", () => {
    const bus = new Bus<number>();
    const seen: string[] = [];
    const a = bus.tap((n) => seen.push(`a${n}`));
    const b = bus.tap((n) => seen.push(`b${n}`));
    const c = bus.tap((n) => seen.push(`c${n}`));
    bus.send(1);
    b.close();
    bus.send(2);
    a.close();
    bus.send(3);
    c.close();
    bus.send(4);
    assert.deepEqual(seen, ["a1", "b1", "c1", "a2", "c2", "c3"]);
  });

  it("a throwing tap does not stop the others or unsend the value; send rethrows the first error", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const seen: number[] = [];
    bus.tap(() => {
      throw new RangeError("first");
    });
    bus.tap(() => {
      throw new TypeError("second");
    });
    bus.tap((n) => seen.push(n));
    assert.throws(() => bus.send(7), RangeError);
    assert.deepEqual(seen, [7]);
    assert.equal(sub.tryRecv(), 7);
    assert.equal(bus.stats().sent, 1);
  });

  it("may send and tap from inside a tap; changes apply from the next value", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const seen: string[] = [];
    let added = false;
    bus.tap((n) => {
      seen.push(`a${n}`);
      if (n === 1) bus.send(10);
      if (!added) {
        added = true;
        bus.tap((m) => seen.push(`b${m}`));
      }
    });
    bus.send(1);
    assert.deepEqual(seen, ["a1", "a10"], "b was added while 10 went through, so it starts with the next value");
    bus.send(2);
    assert.deepEqual(seen, ["a1", "a10", "a2", "b2"]);
    assert.deepEqual([sub.tryRecv(), sub.tryRecv(), sub.tryRecv()], [1, 10, 2]);
  });

  it("a read parked while a tap comes and goes is still woken by the next send", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    let woken: number | undefined;
    const read = sub.recv().then((value) => woken = value);
    const tap = bus.tap(() => {});
    tap.close();
    bus.send(1);
    for (let i = 0; i < 3; i++) await Promise.resolve();
    assert.equal(woken, 1, "woken in the send's microtasks");
    await read;
  });

  it("rejects a tap that is not a function, naming the value", () => {
    const bus = new Bus<number>();
    assert.throws(() => bus.tap(42 as never), { name: "TypeError", message: "Invalid fn: 42; expected a function" });
    assert.equal(bus.send(1), 0);
  });

  it("tap.send() and tap.write() mark the value as from that tap for every tap; bus.send() marks nothing", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    const seen: [string, number, string][] = [];
    const name = (from: unknown) => from === a ? "a" : from === b ? "b" : "-";
    const a = bus.tap((n, from) => seen.push(["a", n, name(from)]));
    const b = bus.tap((n, from) => seen.push(["b", n, name(from)]));
    bus.send(1);
    sub.tryRecv();
    assert.equal(a.send(2), 1);
    sub.tryRecv();
    assert.deepEqual(seen, [["a", 1, "-"], ["b", 1, "-"], ["a", 2, "a"], ["b", 2, "a"]]);
    const written = b.write(3);
    const waiting = b.write(4); // the ring is full: it goes out later, still marked as from b
    assert.equal(await written, 1);
    sub.tryRecv();
    assert.equal(await waiting, 1);
    assert.deepEqual(seen.slice(4), [["a", 3, "b"], ["b", 3, "b"], ["a", 4, "b"], ["b", 4, "b"]]);
    assert.equal(sub.tryRecv(), 4);
  });

  it("tap.send() refuses what bus.send() refuses, sending nothing", () => {
    const bus = new Bus<unknown>();
    const tap = bus.tap(() => assert.fail("nothing is sent"));
    assert.throws(() => tap.send(EMPTY), TypeError);
    bus.close();
    assert.throws(() => tap.send(1), BusClosedError);
  });
});
