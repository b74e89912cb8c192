/**
 * User code that runs inside the library: a value's `then` getter (read by
 * the promise machinery when `recv()` resolves with the value), drain
 * callbacks, taps, stream sources and sinks, and `ready` continuations. Any
 * of it may send, subscribe, read, or close either end, and nobody else may
 * be stranded by it. The model test drives the same re-entry at random.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, EMPTY, LaggedError, type Subscriber } from "../mod.ts";
import { take, tick } from "./_read.ts";

/** A value whose `then` getter runs `act` each time a promise resolves with it; it is not itself a thenable. */
function withGetter(n: number, act: () => void): { n: number } {
  return Object.defineProperty({ n }, "then", {
    get() {
      act();
      return undefined;
    },
  }) as { n: number };
}

/** {@linkcode withGetter}, but `act` runs only the first time. */
function withGetterOnce(n: number, act: () => void): { n: number } {
  let done = false;
  return withGetter(n, () => {
    if (done) return;
    done = true;
    act();
  });
}

/** How each parked recv() settled: the number it got, or the error's name. */
function settleAll(subs: Subscriber<{ n: number }>[]): Promise<(number | string)[]> {
  return Promise.all(subs.map((sub) => sub.recv().then((value) => value.n, (error: Error) => error.name)));
}

describe("a value's then getter, run while recv() resolves with it", () => {
  it("may fill the room its read freed on a 'wait' bus: bus.ready, pending before, opened when the read freed it", async () => {
    const bus = new Bus<{ n: number }>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    let sent = false;
    bus.send(withGetter(1, () => {
      if (!sent) {
        sent = true;
        bus.send({ n: 2 });
      }
    }));
    let opened = false;
    void bus.ready.then(() => opened = true);
    assert.equal((await sub.recv()).n, 1);
    assert.ok(sent, "the then getter sent");
    await tick();
    assert.ok(opened, "the read freed room before the getter filled it");
    assert.deepEqual(take(sub).map((v) => v.n), [2], "the getter's value went out");
    assert.equal(bus.stats().dropped, 0);
  });

  it("may close another parked subscriber without stranding a third", async () => {
    const bus = new Bus<{ n: number }>();
    const [a, b, c] = [bus.subscribe(), bus.subscribe(), bus.subscribe()];
    const settled = settleAll([a, b, c]);
    await tick();
    let calls = 0;
    bus.send(withGetter(1, () => {
      if (calls++ === 0) b.close();
    }));
    assert.deepEqual(await settled, [1, "BusClosedError", 1]);
    assert.equal(bus.subscriberCount, 2);
    bus.send({ n: 2 });
    assert.deepEqual([...take(a), ...take(c)].map((v) => v.n), [2, 2]);
  });

  it("may send: every parked reader gets both values, in order", async () => {
    const bus = new Bus<{ n: number }>();
    const subs = [bus.subscribe(), bus.subscribe(), bus.subscribe()];
    const first = settleAll(subs);
    await tick();
    let sent = false;
    bus.send(withGetter(1, () => {
      if (!sent) {
        sent = true;
        bus.send({ n: 2 });
      }
    }));
    assert.deepEqual(await first, [1, 1, 1]);
    assert.deepEqual(await settleAll(subs), [2, 2, 2]);
  });

  it("may read its own subscriber: the read queues behind those already parked", async () => {
    const bus = new Bus<{ n: number }>();
    const sub = bus.subscribe();
    const parked = [sub.recv(), sub.recv()];
    await tick();
    let inner: Promise<{ n: number }> | undefined;
    bus.send(withGetter(1, () => inner ??= sub.recv()));
    bus.send({ n: 2 });
    bus.send({ n: 3 });
    const got = await Promise.all([...parked, inner!]);
    assert.deepEqual(got.map((value) => value.n), [1, 2, 3], "first come, first served");
  });

  it("may park a new subscriber and send: that send and every later one wake every parked reader", async () => {
    const bus = new Bus<{ n: number }>();
    const [a, b] = [bus.subscribe(), bus.subscribe()];
    const first = settleAll([a, b]);
    await tick();
    let late: Subscriber<{ n: number }> | undefined;
    let inner: Promise<{ n: number }> | undefined;
    bus.send(withGetter(1, () => {
      if (late !== undefined) return;
      late = bus.subscribe();
      inner = late.recv();
      bus.send({ n: 2 });
    }));
    assert.deepEqual(await first, [1, 1]);
    assert.equal((await inner!).n, 2);
    assert.deepEqual([...take(a), ...take(b)].map((value) => value.n), [2, 2]);
    const later = settleAll([a, b, late!]);
    await tick();
    bus.send({ n: 3 });
    assert.deepEqual(await later, [3, 3, 3]);
  });

  it("sees tryRecv() and drain() hand over nothing while earlier reads are parked", async () => {
    const bus = new Bus<{ n: number }>();
    const sub = bus.subscribe();
    const parked = [sub.recv(), sub.recv()];
    await tick();
    const inside: unknown[] = [];
    bus.send(withGetterOnce(1, () => {
      inside.push(sub.tryRecv(), sub.drain(() => assert.fail("the value belongs to the parked read")));
    }));
    bus.send({ n: 2 });
    assert.deepEqual((await Promise.all(parked)).map((value) => value.n), [1, 2]);
    assert.equal(String(inside[0]), "Symbol(EMPTY)");
    assert.equal(inside[1], 0);
  });

  it("may send and then read its own subscriber: the sent value goes to the read already parked", async () => {
    const bus = new Bus<{ n: number }>();
    const sub = bus.subscribe();
    const log: string[] = [];
    void sub.recv().then((value) => log.push(`parked ${value.n}`));
    void sub.recv().then((value) => log.push(`parked ${value.n}`));
    await tick();
    const inside: unknown[] = [];
    bus.send(withGetterOnce(1, () => {
      bus.send({ n: 2 }); // the second parked recv() is owed this one
      inside.push(sub.tryRecv(), sub.drain(() => log.push("drained")));
      void sub.recv().then((value) => log.push(`recv ${value.n}`));
      void sub.read().then((result) => log.push(`read ${result.value?.n}`));
      void sub.wait().then((ready) => log.push(`wait ${ready}`));
    }));
    await tick();
    assert.deepEqual(log, ["parked 1", "parked 2"], "the later reads queued behind, and found nothing left");
    assert.equal(String(inside[0]), "Symbol(EMPTY)");
    assert.equal(inside[1], 0);
    for (let n = 3; n <= 5; n++) bus.send({ n });
    await tick();
    assert.deepEqual(log, ["parked 1", "parked 2", "recv 3", "read 4", "wait true"]);
  });

  it("may send past what a parked read is owed: under lag: 'error' that read rejects with LaggedError once", async () => {
    const bus = new Bus<{ n: number }>({ capacity: 2 });
    const sub = bus.subscribe({ lag: "error" });
    const first = sub.recv();
    const second = sub.recv().then((value) => value.n, (error: unknown) => error);
    await tick();
    bus.send(withGetterOnce(1, () => {
      for (let n = 2; n <= 4; n++) bus.send({ n }); // the ring keeps 3 and 4: 2 is lost
    }));
    assert.equal((await first).n, 1);
    const lagged = await second;
    assert.ok(lagged instanceof LaggedError, `the second read got ${lagged}`);
    assert.equal(lagged.missed, 1);
    assert.equal(sub.missed, 1);
    assert.deepEqual(take(sub).map((value) => value.n), [3, 4], "the read after it resumes at the oldest value held");
  });

  it("may read its own subscriber again: the subscriber parks anew once its reads have settled, behind one that parked meanwhile", async () => {
    const bus = new Bus<{ n: number }>();
    const [a, b] = [bus.subscribe(), bus.subscribe()];
    const first = a.recv();
    await tick();
    const woken: string[] = [];
    bus.send(withGetterOnce(1, () => {
      void a.recv().then(() => woken.push("a")); // a is still settling: it parks again when its loop ends
      b.tryRecv(); // b has read value 1
      void b.recv().then(() => woken.push("b")); // b parks now
    }));
    assert.equal((await first).n, 1);
    bus.send({ n: 2 });
    await tick();
    assert.deepEqual(woken, ["b", "a"], "a send wakes subscribers in the order they parked");
  });

  it("may close its own subscriber: the parked reads still settle in the order they were made", async () => {
    const bus = new Bus<{ n: number }>();
    const sub = bus.subscribe();
    const settled: (number | string)[] = [];
    const parked = [sub.recv(), sub.recv(), sub.recv()].map((read) =>
      read.then((value) => settled.push(value.n), (error: Error) => settled.push(error.name))
    );
    await tick();
    bus.send(withGetter(1, () => sub.close()));
    await Promise.all(parked);
    assert.deepEqual(settled, [1, "BusClosedError", "BusClosedError"]);
  });

  it("may close the bus: the others still get what was sent, then end", async () => {
    const bus = new Bus<{ n: number }>();
    const subs = [bus.subscribe(), bus.subscribe(), bus.subscribe()];
    const settled = settleAll(subs);
    await tick();
    bus.send(withGetter(1, () => bus.close()));
    assert.deepEqual(await settled, [1, 1, 1]);
    assert.deepEqual(await settleAll(subs), ["BusClosedError", "BusClosedError", "BusClosedError"]);
    assert.equal(bus.subscriberCount, 0);
  });

  it("may subscribe and park a new subscriber, which sees only later values", async () => {
    const bus = new Bus<{ n: number }>();
    const sub = bus.subscribe();
    const parked = sub.recv();
    await tick();
    let late: Promise<{ n: number }> | undefined;
    bus.send(withGetter(1, () => late ??= bus.subscribe().recv()));
    assert.equal((await parked).n, 1);
    bus.send({ n: 2 });
    assert.equal((await late!).n, 2);
  });
});

describe("a drain callback", () => {
  it("may close another subscriber parked in recv(), which then settles as ended", async () => {
    const bus = new Bus<number>();
    const draining = bus.subscribe();
    const parked = bus.subscribe();
    const other = bus.subscribe();
    bus.send(1);
    parked.tryRecv();
    other.tryRecv();
    const waiting = parked.recv();
    const otherWaiting = other.recv();
    draining.drain(() => {
      parked.close();
      bus.send(2);
    });
    await assert.rejects(waiting, BusClosedError);
    assert.equal(await otherWaiting, 2);
  });

  it("may send into the room it freed on a 'wait' bus and look at bus.ready: the drain still hands over every value", () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    const seen: number[] = [];
    const read = sub.drain((value) => {
      seen.push(value);
      if (value !== 1) return;
      bus.send(3);
      void bus.ready;
    });
    assert.equal(read, 2);
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(take(sub), [3]);
  });

  it("may close its own subscriber and then subscribe: the others still get every value", () => {
    const bus = new Bus<number>({ capacity: 4 });
    const draining = bus.subscribe();
    const other = bus.subscribe();
    bus.send(1);
    bus.send(2);
    let late: Subscriber<number> | undefined;
    const count = draining.drain(() => {
      draining.close();
      late = bus.subscribe();
    });
    assert.equal(count, 1);
    assert.deepEqual(take(other), [1, 2]);
    bus.send(3);
    assert.deepEqual(take(other), [3]);
    assert.deepEqual(take(late!), [3]);
  });
});

describe("a tap", () => {
  it("may close the bus from inside send(): the value is sent, parked readers get it, then end", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const parked = sub.recv();
    await tick();
    bus.tap(() => bus.close());
    assert.equal(bus.send(1), 1);
    assert.equal(await parked, 1);
    await assert.rejects(sub.recv(), BusClosedError);
  });

  it("may read a subscriber whose recv() is parked: tryRecv() and drain() get nothing, the parked recv() the value", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const parked = sub.recv();
    await tick();
    const seen: unknown[] = [];
    const tap = bus.tap(() => {
      seen.push(sub.tryRecv());
      seen.push(sub.drain((value) => seen.push(value)));
    });
    bus.send(1);
    tap.close();
    assert.deepEqual(seen, [EMPTY, 0]);
    assert.equal(await parked, 1);
    bus.send(2);
    assert.equal(sub.tryRecv(), 2, "once its reads have settled, tryRecv() reads again");
  });

  it("may read a subscriber with a recv() still parked after another settled: the parked one gets the value", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const [first, second] = [sub.recv(), sub.recv()];
    await tick();
    bus.send(1);
    assert.equal(await first, 1);
    const seen: unknown[] = [];
    const tap = bus.tap(() => seen.push(sub.tryRecv()));
    bus.send(2);
    tap.close();
    assert.deepEqual(seen, [EMPTY]);
    assert.equal(await second, 2);
  });

  it("may close the subscriber a send is about to wake", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const other = bus.subscribe();
    const parked = sub.recv();
    const otherParked = other.recv();
    await tick();
    bus.tap(() => sub.close());
    bus.send(1);
    await assert.rejects(parked, BusClosedError);
    assert.equal(await otherParked, 1);
  });
});

describe("stream sources and sinks", () => {
  it("a sink may send and close other subscribers while the stream pulls", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const victim = bus.subscribe();
    const watcher = bus.subscribe();
    const seen: number[] = [];
    const piped = sub.readable.pipeTo(
      new WritableStream({
        write(value) {
          seen.push(value);
          if (value === 1) {
            victim.close();
            bus.send(2);
          }
          if (value === 2) bus.close();
        },
      }),
    );
    bus.send(1);
    await piped;
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(take(watcher), [1, 2]);
    assert.equal(bus.subscriberCount, 0);
  });

  it("a source may close the bus it is piped into", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    let n = 0;
    const source = new ReadableStream<number>({
      pull(controller) {
        if (n === 2) bus.close();
        controller.enqueue(n++);
      },
    });
    await assert.rejects(source.pipeTo(bus.writable), BusClosedError);
    // How far the pipe read ahead of its writes is the runtime's choice; what went out is a prefix, in order.
    const got = take(sub);
    assert.ok(got.length >= 1 && got.length <= 2, `got ${got}`);
    assert.deepEqual(got, [0, 1].slice(0, got.length));
    assert.equal(bus.stats().sent, got.length);
  });
});

describe("a bus.ready continuation", () => {
  it("may send, read and close while a drain frees room", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(1);
    const done = bus.ready.then(() => {
      bus.send(2);
      const got = sub.tryRecv();
      bus.close();
      return got;
    });
    assert.equal(sub.drain(() => {}), 1);
    assert.equal(await done, 2);
    assert.equal(bus.subscriberCount, 0);
  });
});
