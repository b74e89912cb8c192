import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, LaggedError, type Subscriber } from "../mod.ts";
import { take } from "./_read.ts";

/** A bus of capacity 4 whose subscriber has fallen 6 values behind: values 0-9 sent, 6-9 retained. */
function lagged(lag: "skip" | "error"): { bus: Bus<number>; sub: Subscriber<number> } {
  const bus = new Bus<number>(4);
  const sub = bus.subscribe({ lag });
  for (let i = 0; i < 10; i++) bus.send(i);
  return { bus, sub };
}

describe("lag: 'skip'", () => {
  it("jumps to the oldest retained value and counts the gap exactly", () => {
    const { bus, sub } = lagged("skip");
    assert.equal(sub.missed, 0, "a gap is counted when a read discovers it");
    assert.deepEqual(take(sub), [6, 7, 8, 9]);
    assert.equal(sub.missed, 6);
    assert.equal(bus.stats().dropped, 6);
  });

  it("counts repeated gaps cumulatively", () => {
    const { bus, sub } = lagged("skip");
    sub.tryRecv();
    for (let i = 10; i < 20; i++) bus.send(i);
    assert.deepEqual(take(sub), [16, 17, 18, 19]);
    assert.equal(sub.missed, 6 + 9);
  });

  it("counts exactly on every path", async () => {
    const paths: [string, (sub: Subscriber<number>) => Promise<unknown> | unknown][] = [
      ["tryRecv", (sub) => sub.tryRecv()],
      ["drain", (sub) => sub.drain(() => {})],
      ["recv", (sub) => sub.recv()],
      ["read", (sub) => sub.read()],
      ["for await", async (sub) => {
        for await (const _ of sub) return;
      }],
      ["readable", async (sub) => {
        const reader = sub.readable.getReader();
        await reader.read();
        reader.releaseLock();
      }],
    ];
    for (const [path, read] of paths) {
      const { bus, sub } = lagged("skip");
      const other = bus.subscribe();
      bus.send(10);
      await read(sub);
      assert.equal(sub.missed, 7, path);
      assert.equal(bus.stats().dropped, 7, path);
      assert.equal(other.tryRecv(), 10, `${path}: other subscribers are untouched`);
      assert.equal(other.missed, 0, path);
    }
  });

  it("keeps the bus total when a lagged subscriber leaves, and adds nothing for one that never read", () => {
    const bus = new Bus<number>(2);
    const reader = bus.subscribe();
    const silent = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    reader.tryRecv();
    assert.equal(reader.missed, 3);
    reader.close();
    silent.close();
    assert.equal(bus.stats().dropped, 3);
  });

  it("forgets a lagged subscriber that leaves without reading: from 'oldest' replays nothing everyone has read", () => {
    for (const leave of ["close", "cancel", "releaseLock"] as const) {
      const bus = new Bus<number>(4);
      const lagger = bus.subscribe();
      const reader = bus.subscribe();
      for (let i = 0; i < 10; i++) {
        bus.send(i);
        assert.equal(reader.tryRecv(), i);
      }
      lagger[leave]();
      assert.equal(bus.subscriberCount, 1, leave);
      const late = bus.subscribe({ from: "oldest" });
      assert.deepEqual(take(late), [], leave);
      late.close();
      for (let i = 10; i < 20; i++) bus.send(i);
      assert.deepEqual(take(reader), [16, 17, 18, 19], leave);
      assert.deepEqual([reader.missed, bus.stats().dropped], [6, 6], `${leave}: only the reader's own gap counts`);
    }
  });

  it("counts, for a subscriber that keeps up, nothing", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 100; i++) {
      bus.send(i);
      assert.equal(sub.tryRecv(), i);
    }
    assert.equal(sub.missed, 0);
  });
});

describe("lag: 'error'", () => {
  function assertLagged(error: unknown, missed: number): true {
    assert.ok(error instanceof LaggedError);
    assert.equal(error.name, "LaggedError");
    assert.equal(error.missed, missed);
    assert.match(error.message, new RegExp(`missed ${missed} values`));
    return true;
  }

  it("LaggedError's message counts the values missed, in the singular for one", () => {
    assert.equal(new LaggedError(1).message, "Subscriber lagged and missed 1 value");
    assert.equal(new LaggedError(2).message, "Subscriber lagged and missed 2 values");
  });

  it("tryRecv() throws LaggedError once, then resumes at the oldest retained value", () => {
    const { bus, sub } = lagged("error");
    assert.throws(() => sub.tryRecv(), (error) => assertLagged(error, 6));
    assert.deepEqual(take(sub), [6, 7, 8, 9]);
    assert.equal(sub.missed, 6);
    assert.equal(bus.stats().dropped, 6);
  });

  it("drain() throws before delivering anything", () => {
    const { sub } = lagged("error");
    assert.throws(
      () => sub.drain(() => assert.fail("delivered before the lag was reported")),
      (e) => assertLagged(e, 6),
    );
    assert.deepEqual(take(sub), [6, 7, 8, 9]);
  });

  it("recv() and read() reject, then resume", async () => {
    const first = lagged("error");
    await assert.rejects(first.sub.recv(), (error) => assertLagged(error, 6));
    assert.equal(await first.sub.recv(), 6);
    const second = lagged("error");
    await assert.rejects(second.sub.read(), (error) => assertLagged(error, 6));
    assert.deepEqual(await second.sub.read(), { value: 6, done: false });
  });

  it("throws out of a for await loop rather than ending it silently, and the next loop resumes", async () => {
    const { bus, sub } = lagged("error");
    bus.close();
    await assert.rejects(async () => {
      for await (const _ of sub) assert.fail("the lag must come first");
    }, (error) => assertLagged(error, 6));
    assert.equal(bus.subscriberCount, 1, "a lag does not unsubscribe");
    const rest: number[] = [];
    for await (const value of sub) rest.push(value);
    assert.deepEqual(rest, [6, 7, 8, 9]);
  });

  it("errors the readable, which ends the subscription", async () => {
    const { bus, sub } = lagged("error");
    const reader = sub.readable.getReader();
    await assert.rejects(reader.read(), (error) => assertLagged(error, 6));
    await assert.rejects(reader.closed, LaggedError);
    assert.equal(bus.subscriberCount, 0);
  });

  it("wait() reports only that data is there; the read after it reports the lag", async () => {
    const { sub } = lagged("error");
    assert.equal(await sub.wait(), true);
    assert.throws(() => sub.tryRecv(), LaggedError);
  });

  it("reports a lag found by a parked recv()", async () => {
    const bus = new Bus<number>(2);
    const sub = bus.subscribe({ lag: "error" });
    const other = bus.subscribe();
    const pending = sub.recv();
    other.close();
    // The parked recv takes the first value at once, so lag the subscriber afterwards.
    bus.send(0);
    assert.equal(await pending, 0);
    for (let i = 1; i < 6; i++) bus.send(i);
    await assert.rejects(sub.recv(), (error) => assertLagged(error, 3));
  });
});
