import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, CLOSED, type Subscriber } from "../mod.ts";
import { tick } from "./_read.ts";
import { watchdog } from "./_watchdog.ts";
import { innerDrainEndsAtLastValue } from "./_both_buses.ts";

describe("Bus.close()", () => {
  it("lets every subscriber read what was retained for it, then end", async () => {
    const bus = new Bus<number>();
    const a = bus.subscribe();
    const b = bus.subscribe();
    bus.send(1);
    bus.send(2);
    bus.close();
    assert.equal(bus.closed, true);
    assert.equal(a.tryRecv(), 1);
    assert.equal(a.tryRecv(), 2);
    assert.equal(a.tryRecv(), CLOSED);
    assert.equal(await b.recv(), 1);
    assert.equal(await b.recv(), 2);
    await assert.rejects(b.recv(), BusClosedError);
    assert.equal(bus.subscriberCount, 0, "an ended subscriber has left");
  });

  it("ends every reading path", async () => {
    const bus = new Bus<number>();
    const subs = Array.from({ length: 6 }, () => bus.subscribe());
    bus.close();
    assert.equal(subs[0].tryRecv(), CLOSED);
    assert.equal(subs[1].drain(() => assert.fail()), 0);
    assert.equal(await subs[2].wait(), false);
    await assert.rejects(subs[3].recv(), { name: "BusClosedError", message: "Bus is closed" });
    assert.deepEqual(await subs[4].read(), { value: undefined, done: true });
    const reader = subs[5].readable.getReader();
    assert.deepEqual(await reader.read(), { value: undefined, done: true });
    await reader.closed;
    for await (const _ of bus.subscribe()) assert.fail("a subscriber created after close has ended");
  });

  it("wakes reads parked on every path", async () => {
    const bus = new Bus<number>();
    const subs = Array.from({ length: 5 }, () => bus.subscribe());
    const parked = [
      subs[0].recv().then(() => "value", (error) => error.name),
      subs[1].wait(),
      subs[2].read(),
      (async () => {
        for await (const _ of subs[3]) return "value";
        return "finished";
      })(),
      subs[4].readable.getReader().read(),
    ];
    await tick();
    bus.close();
    assert.deepEqual(await Promise.all(parked), [
      "BusClosedError",
      false,
      { value: undefined, done: true },
      "finished",
      { value: undefined, done: true },
    ]);
    assert.equal(bus.subscriberCount, 0);
  });

  it("ends a subscriber that reads inside a drain callback after the last value: tryRecv() there returns CLOSED", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    bus.close();
    const seen: unknown[] = [];
    const count = sub.drain((value) => {
      seen.push(value);
      if (value === 2) seen.push(sub.tryRecv(), bus.subscriberCount);
    });
    assert.deepEqual(seen, [1, 2, CLOSED, 0]);
    assert.equal(count, 2);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("ends a subscriber whose drain, called from its own drain callback, reads the last value: when that drain returns", async () => {
    await innerDrainEndsAtLastValue(new Bus<number>());
  });

  it("is idempotent", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.close();
    bus.close();
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("makes send() throw BusClosedError and lose nothing already sent", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.close();
    assert.throws(() => bus.send(2), BusClosedError);
    assert.equal(bus.stats().sent, 1);
    assert.equal(sub.tryRecv(), 1);
  });

  it("ends parked readers in the order they parked, not the order they subscribed", async () => {
    const bus = new Bus<number>();
    const first = bus.subscribe();
    const second = bus.subscribe();
    const ended: string[] = [];
    const parked = [
      second.recv().catch(() => ended.push("second")),
      first.recv().catch(() => ended.push("first")),
    ];
    await tick();
    bus.close();
    await Promise.all(parked);
    assert.deepEqual(ended, ["second", "first"]);
  });

  it("called again from a drain callback on the last value, changes nothing", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    bus.close();
    const counts: number[] = [];
    const read = sub.drain((value) => {
      if (value !== 2) return;
      counts.push(bus.subscriberCount);
      bus.close();
      counts.push(bus.subscriberCount);
    });
    assert.equal(read, 2);
    assert.deepEqual(counts, [1, 1], "the second close() ends nobody");
    assert.equal(bus.subscriberCount, 0, "the subscriber ends once its drain read the last value");
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("makes subscribe() return a subscriber that has already ended", async () => {
    const bus = new Bus<number>();
    bus.close();
    const sub = bus.subscribe();
    assert.equal(bus.subscriberCount, 0);
    assert.equal(sub.tryRecv(), CLOSED);
    assert.equal(await sub.wait(), false);
    await sub.closed;
  });
});

describe("Subscriber.close()", () => {
  it("unsubscribes: the bus stops counting it", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    sub.close();
    assert.equal(bus.subscriberCount, 0);
    assert.equal(bus.send(1), 0);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("is idempotent and leaves other subscribers alone", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const other = bus.subscribe();
    sub.close();
    sub.close();
    assert.equal(bus.subscriberCount, 1);
    bus.send(1);
    assert.equal(other.tryRecv(), 1);
  });

  it("settles its own parked reads as ended", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const recv = sub.recv();
    const wait = sub.wait();
    const read = sub.read();
    sub.close();
    await assert.rejects(recv, BusClosedError);
    assert.equal(await wait, false);
    assert.deepEqual(await read, { value: undefined, done: true });
  });

  it("gives a closed subscriber's reads their ended answers on every path", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    sub.close();
    assert.equal(sub.tryRecv(), CLOSED);
    assert.equal(sub.drain(() => assert.fail()), 0);
    assert.equal(await sub.wait(), false);
    assert.deepEqual(await sub.read(), { value: undefined, done: true });
    await assert.rejects(sub.recv(), BusClosedError);
    for await (const _ of sub) assert.fail();
  });

  it("resolves closed once the subscriber ends", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    let ended = false;
    const closed = sub.closed.then(() => ended = true);
    await tick();
    assert.equal(ended, false);
    bus.send(1);
    bus.close();
    await tick();
    assert.equal(ended, false, "a value is still retained for it");
    sub.tryRecv();
    sub.tryRecv();
    await closed;
    assert.equal(ended, true);
  });

  it("gives the same closed promise on every look, and resolves the first one as well as any later", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const first = sub.closed;
    assert.equal(sub.closed, first, "a second look made a new promise");
    sub.close();
    await watchdog(first, 1000, () => "the first closed promise never resolved");
  });

  it("resolves closed at bus.close() for a subscriber with nothing left, and the bus stops counting it", async () => {
    const bus = new Bus<number>();
    const caughtUp = bus.subscribe();
    const behind = bus.subscribe();
    bus.send(1);
    caughtUp.tryRecv();
    let ended = false;
    caughtUp.closed.then(() => ended = true);
    bus.close();
    await tick();
    assert.equal(ended, true, "nothing is retained for it, so it ended with the bus");
    assert.equal(bus.subscriberCount, 1);
    assert.equal(bus.stats().subscribers, 1);
    assert.equal(caughtUp.tryRecv(), CLOSED);
    behind.close();
  });

  it("ends a subscriber with values left at the read of its last one, on every path", async () => {
    const reads: Record<string, (sub: Subscriber<number>) => Promise<unknown> | unknown> = {
      "tryRecv()": (sub) => sub.tryRecv(),
      "drain()": (sub) => sub.drain(() => {}),
      "recv()": (sub) => sub.recv(),
      "read()": (sub) => sub.read(),
      "for await": async (sub) => {
        for await (const _ of sub) return;
      },
      "readable": (sub) => sub.readable.getReader().read(),
    };
    for (const [path, read] of Object.entries(reads)) {
      const bus = new Bus<number>();
      const sub = bus.subscribe();
      let ended = false;
      sub.closed.then(() => ended = true);
      bus.send(1);
      bus.close();
      await tick();
      assert.equal(ended, false, `${path}: a value is left for it`);
      assert.equal(bus.subscriberCount, 1, path);
      await read(sub);
      await tick();
      assert.equal(ended, true, `${path}: it read its last value`);
      assert.equal(bus.subscriberCount, 0, path);
    }
  });

  it("settles reads parked on every subscriber when the bus closes, and counts none of them", async () => {
    const bus = new Bus<number>();
    const subs = Array.from({ length: 3 }, () => bus.subscribe());
    const parked = [subs[0].recv().catch((error) => error.name), subs[1].wait(), subs[2].read()];
    await tick();
    bus.close();
    assert.equal(bus.subscriberCount, 0, "counted out at once, before any await");
    assert.deepEqual(await Promise.all(parked), ["BusClosedError", false, { value: undefined, done: true }]);
  });

  it("runs at the end of a using block", () => {
    const bus = new Bus<number>();
    let seen: Subscriber<number>;
    {
      using sub = bus.subscribe();
      seen = sub;
      assert.equal(bus.subscriberCount, 1);
    }
    assert.equal(bus.subscriberCount, 0);
    assert.equal(seen.tryRecv(), CLOSED);
  });
});
