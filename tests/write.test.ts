import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, CLOSED, type OverflowPolicy } from "../mod.ts";
import { take, tick } from "./_read.ts";

/** Reads everything in the background, one batch per macrotask: a consumer slower than its producers. */
async function consume<T>(sub: { wait(): Promise<boolean>; drain(fn: (value: T) => void): number }): Promise<T[]> {
  const seen: T[] = [];
  while (await sub.wait()) {
    sub.drain((value) => seen.push(value));
    await tick();
  }
  return seen;
}

describe("Bus.write()", () => {
  it("lets several producers share a 'wait' bus: nothing lost, no BusFullError, each producer's order kept", async () => {
    const bus = new Bus<string>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    const consumer = consume<string>(sub);
    const producer = async (name: string) => {
      for (let i = 0; i < 50; i++) await bus.write(`${name}:${i}`);
    };
    await Promise.all(["a", "b", "c", "d"].map(producer));
    bus.close();
    const seen = await consumer;
    assert.equal(seen.length, 200);
    for (const name of ["a", "b", "c", "d"]) {
      const mine = seen.filter((value) => value.startsWith(`${name}:`));
      assert.deepEqual(mine, Array.from({ length: 50 }, (_, i) => `${name}:${i}`));
    }
    assert.equal(bus.stats().blocked, 0);
    assert.equal(sub.missed, 0);
  });

  it("settles waiting writes in the order they were made", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const order: number[] = [];
    const writes = [1, 2, 3].map((n) => bus.write(n).then(() => order.push(n)));
    await tick();
    assert.deepEqual(order, [], "no room yet");
    for (let n = 0; n < 4; n++) {
      assert.equal(sub.tryRecv(), n);
      await tick();
    }
    await Promise.all(writes);
    assert.deepEqual(order, [1, 2, 3]);
  });

  it("resolves with how many subscribers will see the value, as send() returns", async () => {
    const bus = new Bus<number>({ overflow: "wait" });
    assert.equal(await bus.write(1), 0);
    bus.subscribe();
    bus.subscribe();
    assert.equal(await bus.write(2), 2);
  });

  for (const overflow of ["drop-oldest", "drop-newest"] as OverflowPolicy[]) {
    it(`sends at once under '${overflow}', as send() does`, async () => {
      const bus = new Bus<number>({ capacity: 1, overflow });
      const sub = bus.subscribe();
      assert.equal(await bus.write(1), 1);
      assert.equal(await bus.write(2), overflow === "drop-newest" ? 0 : 1);
      assert.deepEqual(take(sub), [overflow === "drop-newest" ? 1 : 2]);
    });
  }

  it("makes bus.ready wait behind it, so ready-gated sends do not overtake waiting writes", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const written = bus.write(1);
    let ready = false;
    bus.ready.then(() => ready = true);
    assert.equal(sub.tryRecv(), 0);
    await tick();
    assert.equal(await written, 1);
    assert.equal(ready, false, "the write took the room");
    assert.equal(sub.tryRecv(), 1);
    await tick();
    assert.equal(ready, true);
  });

  it("makes bus.ready wait behind it even once a read has freed its room, until the write has gone out", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const written = bus.write(1);
    assert.equal(sub.tryRecv(), 0, "room is free, and the waiting write has it");
    let ready = false;
    bus.ready.then(() => ready = true);
    assert.equal(await written, 1);
    await tick();
    assert.equal(ready, false, "the write took the room");
    assert.equal(sub.tryRecv(), 1);
    await tick();
    assert.equal(ready, true);
  });

  it("queues a write made as room opens behind the writes already waiting", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const waiting = bus.write(1);
    assert.equal(sub.tryRecv(), 0, "room opens; the waiting write goes out in a microtask");
    const late = bus.write(2);
    const seen: number[] = [];
    while (seen.length < 2) {
      sub.drain((value) => seen.push(value));
      await tick();
    }
    await Promise.all([waiting, late]);
    assert.deepEqual(seen, [1, 2]);
  });

  it("opens bus.ready once the waiting writes went out, if room is left", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    bus.send(1);
    const written = bus.write(2);
    let ready = false;
    bus.ready.then(() => ready = true);
    assert.deepEqual(take(sub), [0, 1]);
    assert.equal(await written, 1);
    await tick();
    assert.equal(ready, true, "one slot is free after the write");
    assert.deepEqual(take(sub), [2]);
  });

  it("rejects with the error a tap throws when it sends at once, the value sent once", async () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "wait" });
    const sub = bus.subscribe();
    bus.tap((value) => {
      if (value === 1) throw new RangeError("tap failed");
    });
    let outcome: unknown = "pending";
    bus.write(1).then((readers) => outcome = readers, (error) => outcome = error);
    await tick();
    assert.ok(outcome instanceof RangeError, `the write is ${String(outcome)}`);
    assert.deepEqual(take(sub), [1]);
    bus.send(2);
    assert.deepEqual(take(sub), [2]);
    await tick();
    assert.deepEqual(take(sub), [], "not sent again when room opens");
  });

  it("rejects a waiting write with the error a tap throws, as send() throws it, and sends the writes behind it", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.tap((value) => {
      if (value === 1) throw new RangeError("tap failed");
    });
    bus.send(0);
    const first = assert.rejects(bus.write(1), { name: "RangeError", message: "tap failed" });
    const second = bus.write(2);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      sub.drain((value) => seen.push(value));
      await tick();
    }
    await first;
    assert.equal(await second, 1);
    assert.deepEqual(seen, [0, 1, 2], "the tap's error does not unsend the value");
  });

  it("sends a write whose signal a tap aborts as it goes out, and the writes behind it", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    const controller = new AbortController();
    bus.tap((value) => {
      if (value === 1) controller.abort(new Error("too late"));
    });
    bus.send(0);
    const first = bus.write(1, { signal: controller.signal });
    const second = bus.write(2);
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) {
      sub.drain((value) => seen.push(value));
      await tick();
    }
    assert.deepEqual(seen, [0, 1, 2]);
    assert.deepEqual(await Promise.all([first, second]), [1, 1], "the first went out: the abort came too late");
  });

  it("resolves a waiting write whose value went out though a tap closed the bus as it did; the writes behind it fail", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.tap((value) => {
      if (value === 1) bus.close();
    });
    bus.send(0);
    const first = bus.write(1);
    const second = assert.rejects(bus.write(2), BusClosedError);
    assert.equal(sub.tryRecv(), 0);
    assert.equal(await first, 1, "sent, as a send() whose tap closes the bus returns");
    await second;
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("gives up when its signal aborts, sending nothing, and leaves the other writes in order", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const controller = new AbortController();
    const first = bus.write(1);
    const abandoned = bus.write(2, { signal: controller.signal });
    const third = bus.write(3);
    controller.abort(new Error("not needed"));
    await assert.rejects(abandoned, /not needed/);
    const seen: number[] = [];
    while (seen.length < 3) {
      sub.drain((value) => seen.push(value));
      await tick();
    }
    await Promise.all([first, third]);
    assert.deepEqual(seen, [0, 1, 3]);
  });

  it("rejects at once with the reason of a signal that already aborted", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    await assert.rejects(bus.write(1, { signal: AbortSignal.abort(new RangeError("too late")) }), RangeError);
    assert.deepEqual(take(sub), []);
  });

  it("rejects waiting writes with BusClosedError when the bus closes, and later writes at once", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const waiting = bus.write(1);
    bus.close();
    await assert.rejects(waiting, BusClosedError);
    await assert.rejects(bus.write(2), BusClosedError);
    assert.deepEqual(take(sub), [0]);
    assert.equal(bus.stats().sent, 1);
  });

  it("takes an options object without a signal, or with signal undefined, as no signal", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    assert.equal(await bus.write(1, {}), 1);
    assert.equal(await bus.write(2, { signal: undefined } as never), 1, "as a plain-JS caller may pass it");
    assert.deepEqual(take(sub), [1, 2]);
  });

  it("rejects bad options with a TypeError naming them, sending nothing", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    await assert.rejects(bus.write(1, { signal: "soon" } as never), {
      name: "TypeError",
      message: 'Invalid signal: "soon"; expected an AbortSignal',
    });
    await assert.rejects(bus.write(1, { timeout: 5 } as never), {
      name: "TypeError",
      message: 'Unknown option in write options: "timeout"; expected one of "signal"',
    });
    await assert.rejects(bus.write(1, 5 as never), {
      name: "TypeError",
      message: "Invalid write options: 5; expected an object",
    });
    assert.deepEqual(take(sub), []);
  });

  it("sends a write whose room was freed by a subscriber leaving", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const stuck = bus.subscribe();
    bus.send(0);
    const waiting = bus.write(1);
    stuck.close();
    assert.equal(await waiting, 0);
    assert.equal(bus.stats().sent, 2);
  });
});
