import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Bus } from "../mod.ts";
import { canCollect, collectGarbage } from "./_gc.ts";

/** Sends a fresh payload and returns a weak reference to it. */
function sendPayload(bus: Bus<object>): WeakRef<object> {
  const payload = { data: new Array(1000).fill(1) };
  bus.send(payload);
  return new WeakRef(payload);
}

describe("memory", { skip: !canCollect && "no garbage collector exposed" }, () => {
  it("a value every subscriber has read is no longer referenced by the bus", async () => {
    const bus = new Bus<object>(8);
    const a = bus.subscribe();
    const b = bus.subscribe();
    const ref = sendPayload(bus);
    a.tryRecv();
    await collectGarbage();
    assert.notEqual(ref.deref(), undefined, "b has not read it yet");
    b.drain(() => {});
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
  });

  it("a value is released when the last subscriber that owed it leaves", async () => {
    const bus = new Bus<object>(8);
    const sub = bus.subscribe();
    const ref = sendPayload(bus);
    sub.close();
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
  });

  it("a value sent while nobody listens is not kept", async () => {
    const bus = new Bus<object>(8);
    const ref = sendPayload(bus);
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
  });

  it("with replay, the last capacity values stay until overwritten", async () => {
    const bus = new Bus<object>({ capacity: 2, replay: true });
    const sub = bus.subscribe();
    const first = sendPayload(bus);
    sub.drain(() => {});
    await collectGarbage();
    assert.notEqual(first.deref(), undefined);
    sendPayload(bus);
    sendPayload(bus);
    await collectGarbage();
    assert.equal(first.deref(), undefined);
  });

  it("a bus dropped with replayed values lets them go, and a later bus of its capacity starts empty", async () => {
    // 2048: no other test here makes a ring of that capacity, so this bus is the first, whose empty slots are copied.
    const replayed = (() => {
      const bus = new Bus<object>({ capacity: 2048, replay: true });
      const ref = sendPayload(bus);
      bus.close();
      return ref;
    })();
    const later = new Bus<object>({ capacity: 2048, replay: true });
    const sub = later.subscribe({ from: "oldest" });
    await collectGarbage();
    assert.equal(replayed.deref(), undefined);
    assert.equal(sub.drain(() => assert.fail("nothing was sent on this bus")), 0);
  });

  // Bun's heapUsed stays 34 MB up after the bus goes and Bun.gc(true) runs, so there it measures nothing.
  const heapFalls = !("Bun" in globalThis);
  it("a large ring's empty slots go with its bus: only rings up to 4,096 slots share a kept template", {
    skip: !heapFalls && "Bun's heapUsed does not fall after a collection",
  }, async () => {
    const capacity = 2 ** 21; // no other test makes one: a template kept by an earlier test cannot hide one kept here
    await collectGarbage();
    const before = process.memoryUsage().heapUsed;
    (() => {
      const bus = new Bus<number>(capacity);
      bus.subscribe();
      for (let i = 0; i < capacity; i++) bus.send(i); // unread values grow the ring to its capacity
    })();
    await collectGarbage();
    const kept = process.memoryUsage().heapUsed - before;
    assert.ok(kept < capacity, `${kept} bytes still used; the slots alone take at least ${4 * capacity}`);
  });

  it("a dropped subscriber whose parked reads have all settled becomes collectable before anything else is sent", async () => {
    const bus = new Bus<number>();
    let sub: ReturnType<typeof bus.subscribe> | undefined = bus.subscribe();
    const pending = [sub.wait(), sub.recv(), sub.read()];
    const ref = new WeakRef(sub);
    sub = undefined;
    bus.send(1);
    bus.send(2);
    assert.deepEqual(await Promise.all(pending), [true, 1, { value: 2, done: false }]);
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
  });

  it("a write's signal does not keep its value once the write went out, aborted or failed", async () => {
    const bus = new Bus<object>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    const [sent, aborted, closed] = [new AbortController(), new AbortController(), new AbortController()];
    const write = (signal: AbortSignal): [Promise<unknown>, WeakRef<object>] => {
      const payload = { data: new Array(1000).fill(1) };
      return [bus.write(payload, { signal }).catch(() => "failed"), new WeakRef(payload)];
    };
    bus.send({});
    const [first, firstRef] = write(sent.signal);
    const [second, secondRef] = write(aborted.signal);
    aborted.abort();
    sub.tryRecv();
    assert.equal(await first, 1);
    assert.equal(await second, "failed");
    sub.tryRecv();
    bus.send({});
    const [third, thirdRef] = write(closed.signal);
    bus.close();
    assert.equal(await third, "failed");
    await collectGarbage();
    assert.equal(firstRef.deref(), undefined, "sent and read");
    assert.equal(secondRef.deref(), undefined, "aborted");
    assert.equal(thirdRef.deref(), undefined, "failed as the bus closed");
    assert.ok(!sent.signal.aborted && aborted.signal.aborted && !closed.signal.aborted, "the signals are still held");
  });

  it("a closed subscriber becomes collectable", async () => {
    const bus = new Bus<number>();
    let sub: ReturnType<typeof bus.subscribe> | undefined = bus.subscribe();
    const pending = sub.recv().catch(() => "closed");
    const ref = new WeakRef(sub);
    sub.close();
    sub = undefined;
    assert.equal(await pending, "closed");
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
  });
  it("a subscriber closed with several reads parked becomes collectable before anything else is sent", async () => {
    const bus = new Bus<number>();
    const keep = bus.subscribe();
    let sub: ReturnType<typeof bus.subscribe> | undefined = bus.subscribe();
    const pending = [sub.recv().catch(() => "closed"), sub.wait(), sub.read(), keep.recv()];
    const ref = new WeakRef(sub);
    sub.close();
    sub = undefined;
    assert.deepEqual(await Promise.all(pending.slice(0, 3)), ["closed", false, { value: undefined, done: true }]);
    await collectGarbage();
    assert.equal(ref.deref(), undefined);
    bus.send(1);
    assert.equal(await pending[3], 1, "the subscriber that stayed still wakes");
  });
});

describe("churn", () => {
  it("subscribers coming and going leave the bus as it was", () => {
    const bus = new Bus<number>(16);
    const steady = bus.subscribe();
    let received = 0;
    for (let i = 0; i < 10_000; i++) {
      const visitor = bus.subscribe(i % 2 ? { from: "oldest" } : undefined);
      bus.send(i);
      visitor.tryRecv();
      visitor.close();
      received += steady.drain(() => {});
    }
    assert.equal(bus.subscriberCount, 1);
    assert.equal(received, 10_000);
    assert.equal(steady.missed, 0);
  });
});
