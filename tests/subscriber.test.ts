import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, CLOSED, EMPTY, type Subscriber } from "../mod.ts";
import { take, tick } from "./_read.ts";

describe("Subscriber.tryRecv()", () => {
  it("returns values in order, then EMPTY, without waiting", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.tryRecv(), 2);
    assert.equal(sub.tryRecv(), EMPTY);
  });

  it("EMPTY and CLOSED are distinct unique symbols", () => {
    assert.equal(typeof EMPTY, "symbol");
    assert.equal(typeof CLOSED, "symbol");
    assert.notEqual(EMPTY, CLOSED);
  });
});

describe("Subscriber.drain()", () => {
  it("hands every available value to fn and returns the count", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    const seen: number[] = [];
    assert.equal(sub.drain((value) => seen.push(value)), 5);
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(sub.drain(() => assert.fail("nothing left")), 0);
  });

  it("stops at max and leaves the rest for the next read", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    const seen: number[] = [];
    assert.equal(sub.drain((value) => seen.push(value), 2), 2);
    assert.equal(sub.drain((value) => seen.push(value), 0), 0);
    assert.deepEqual(seen, [0, 1]);
    assert.equal(sub.tryRecv(), 2);
    assert.equal(sub.drain((value) => seen.push(value), Infinity), 2);
    assert.deepEqual(seen, [0, 1, 3, 4]);
  });

  it("counts the value a throwing fn threw on as read, and never delivers it twice", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const other = bus.subscribe();
    for (let i = 0; i < 4; i++) bus.send(i);
    const seen: number[] = [];
    const boom = new Error("boom");
    assert.throws(() =>
      sub.drain((value) => {
        seen.push(value);
        if (value === 1) throw boom;
      }), (error) => error === boom);
    assert.deepEqual(seen, [0, 1]);
    assert.deepEqual(take(sub), [2, 3]);
    assert.deepEqual(take(other), [0, 1, 2, 3]);
    assert.equal(bus.stats().dropped, 0);
  });

  it("stops when fn closes the subscriber", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    const seen: number[] = [];
    const count = sub.drain((value) => {
      seen.push(value);
      if (value === 1) sub.close();
    });
    assert.equal(count, 2);
    assert.deepEqual(seen, [0, 1]);
    assert.equal(bus.subscriberCount, 0);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("stops when fn reads the same subscriber, so nothing is delivered twice", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    for (let i = 0; i < 5; i++) bus.send(i);
    const seen: unknown[] = [];
    sub.drain((value) => {
      seen.push(value);
      if (value === 1) seen.push(sub.tryRecv());
    });
    assert.deepEqual(seen, [0, 1, 2]);
    assert.deepEqual(take(sub), [3, 4]);
  });

  it("stops before values that fn's own sends overwrote, and reports them as missed", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 4; i++) bus.send(i);
    const seen: number[] = [];
    sub.drain((value) => {
      seen.push(value);
      if (value === 0) { for (let i = 100; i < 104; i++) bus.send(i); }
    });
    assert.deepEqual(seen, [0]);
    assert.deepEqual(take(sub), [100, 101, 102, 103]);
    assert.equal(sub.missed, 3);
  });

  it("stops before the next value when one send from fn overwrites it, and counts that one miss", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 4; i++) bus.send(i);
    const seen: number[] = [];
    // After value 0 is read the ring holds 1-3 and has one free slot: the first send fills it, the second overwrites 1.
    assert.equal(
      sub.drain((value) => {
        seen.push(value);
        if (value === 0) {
          bus.send(4);
          bus.send(5);
        }
      }),
      1,
    );
    assert.deepEqual(seen, [0]);
    assert.equal(sub.missed, 0, "the gap is counted when a read discovers it");
    assert.deepEqual(take(sub), [2, 3, 4, 5]);
    assert.equal(sub.missed, 1);
    assert.equal(bus.stats().dropped, 1);
  });

  it("goes on when a send from fn fills the room its own reads made, under every policy", () => {
    for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
      const bus = new Bus<number>({ capacity: 4, overflow });
      const sub = bus.subscribe();
      for (let i = 0; i < 4; i++) bus.send(i);
      const seen: number[] = [];
      const sent: number[] = [];
      const count = sub.drain((value) => {
        seen.push(value);
        if (value === 0) sent.push(bus.send(4));
      });
      assert.equal(count, 4, overflow);
      assert.deepEqual(seen, [0, 1, 2, 3], overflow);
      assert.deepEqual(sent, [1], overflow);
      assert.deepEqual(take(sub), [4], overflow);
      assert.deepEqual([sub.missed, bus.stats().discarded, bus.stats().blocked], [0, 0, 0], overflow);
    }
  });

  it("goes on when a send from fn overwrites another subscriber's unread value, not its own", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    const slow = bus.subscribe();
    for (let i = 0; i < 4; i++) bus.send(i);
    const seen: number[] = [];
    assert.equal(
      sub.drain((value) => {
        seen.push(value);
        if (value === 0) bus.send(4);
      }),
      4,
    );
    assert.deepEqual(seen, [0, 1, 2, 3]);
    assert.deepEqual(take(sub), [4]);
    assert.equal(sub.missed, 0);
    assert.deepEqual(take(slow), [1, 2, 3, 4]);
    assert.equal(slow.missed, 1);
  });

  it("goes on when fn subscribes someone else", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 4; i++) bus.send(i);
    const seen: number[] = [];
    const joined: Subscriber<number>[] = [];
    assert.equal(
      sub.drain((value) => {
        seen.push(value);
        if (value === 0) joined.push(bus.subscribe(), bus.subscribe({ from: "oldest" }));
      }),
      4,
    );
    assert.deepEqual(seen, [0, 1, 2, 3]);
    bus.send(4);
    assert.deepEqual(take(joined[0]), [4]);
    assert.deepEqual(take(joined[1]), [1, 2, 3, 4], "from the oldest value sub had not read when it joined");
  });

  it("goes on when fn refills the ring to the brim and then subscribes, or meets a full ring that overwrites nothing", () => {
    for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
      const bus = new Bus<number>({ capacity: 4, overflow });
      const sub = bus.subscribe();
      for (let i = 0; i < 4; i++) bus.send(i);
      const seen: number[] = [];
      const outcomes: unknown[] = [];
      const count = sub.drain((value) => {
        seen.push(value);
        if (value !== 0) return;
        outcomes.push(bus.send(4)); // fills the slot value 0 left: the next value, 1, is now the oldest retained
        outcomes.push(bus.subscribe().tryRecv());
        if (overflow === "drop-oldest") return; // a send would overwrite 1 here, which does stop the drain
        try {
          outcomes.push(bus.send(5));
        } catch (error) {
          outcomes.push((error as Error).name);
        }
      });
      assert.equal(count, 4, overflow);
      assert.deepEqual(seen, [0, 1, 2, 3], overflow);
      const refused = { "drop-oldest": [], "drop-newest": [0], "wait": ["BusFullError"] }[overflow];
      assert.deepEqual(outcomes, [1, EMPTY, ...refused], overflow);
      assert.deepEqual(take(sub), [4], overflow);
    }
  });

  it("ends for good when fn closes the subscriber and then sends into a full ring", () => {
    const bus = new Bus<number>(2);
    const sub = bus.subscribe();
    const other = bus.subscribe();
    bus.send(0);
    bus.send(1);
    const seen: number[] = [];
    assert.equal(
      sub.drain((value) => {
        seen.push(value);
        sub.close();
        bus.send(2); // overwrites 0, which other has not read
      }),
      1,
    );
    assert.deepEqual(seen, [0]);
    assert.equal(sub.tryRecv(), CLOSED);
    assert.equal(sub.drain(() => assert.fail("an ended subscriber delivers nothing")), 0);
    assert.equal(bus.subscriberCount, 1);
    assert.equal(bus.send(3), 1);
    assert.deepEqual(take(other), [2, 3]);
    assert.equal(other.missed, 2);
    assert.equal(bus.stats().dropped, 2);
  });

  it("counts each value as read before fn runs, so a send from fn finds room under every policy", () => {
    for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
      const bus = new Bus<number>({ capacity: 1, overflow });
      const sub = bus.subscribe();
      bus.send(0);
      const results: number[] = [];
      sub.drain(() => results.push(bus.send(1)));
      assert.deepEqual(results, [1], overflow);
      assert.equal(sub.tryRecv(), 1, overflow);
      assert.equal(bus.stats().discarded + bus.stats().blocked + sub.missed, 0, overflow);
    }
  });

  it("counts each value as read before fn runs, so a subscriber created in fn does not replay it", () => {
    const bus = new Bus<number>(4);
    const sub = bus.subscribe();
    for (let i = 0; i < 3; i++) bus.send(i);
    let late: Subscriber<number> | undefined;
    sub.drain((value) => {
      if (value === 1) late = bus.subscribe({ from: "oldest" });
    });
    assert.deepEqual(take(late!), [2]);
  });

  it("rejects a fn that is not a function, and a max that is not a non-negative integer", () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    assert.throws(() => sub.drain("x" as unknown as () => void), { name: "TypeError", message: /fn.*"x".*function/ });
    assert.throws(() => sub.drain(() => {}, -1), { name: "RangeError", message: /max.*-1.*non-negative integer/ });
    assert.throws(() => sub.drain(() => {}, 1.5), { name: "RangeError", message: /max.*1\.5/ });
    assert.throws(() => sub.drain(() => {}, NaN), { name: "RangeError", message: /max.*NaN/ });
    assert.throws(() => sub.drain(() => {}, "2" as unknown as number), { name: "TypeError", message: /max.*"2"/ });
    assert.equal(sub.tryRecv(), 1, "a rejected call consumes nothing");
  });
});

describe("Subscriber.recv()", () => {
  it("resolves at once when a value is available", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(7);
    assert.equal(await sub.recv(), 7);
  });

  it("parks until the next send", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const pending = sub.recv();
    await tick();
    bus.send(8);
    assert.equal(await pending, 8);
  });

  it("settles several parked calls in call order", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const first = sub.recv();
    const second = sub.recv();
    bus.send(1);
    bus.send(2);
    assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  });
});

describe("Subscriber.wait()", () => {
  it("resolves true at once when a value is already available", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    assert.equal(await sub.wait(), true);
    assert.equal(sub.tryRecv(), 1, "wait() consumes nothing");
  });

  it("resolves true once a value arrives, and false once the bus is closed and drained", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const arrived = sub.wait();
    bus.send(1);
    assert.equal(await arrived, true);
    const ended = sub.wait();
    bus.close();
    assert.equal(await ended, true, "the value sent before close is still there");
    assert.equal(sub.tryRecv(), 1);
    assert.equal(await sub.wait(), false);
  });

  it("pairs with drain for one await per batch", async () => {
    const bus = new Bus<number>(64);
    const sub = bus.subscribe();
    const producer = (async () => {
      for (let batch = 0; batch < 10; batch++) {
        for (let i = 0; i < 10; i++) bus.send(batch * 10 + i);
        await tick();
      }
      bus.close();
    })();
    const seen: number[] = [];
    let awaits = 0;
    while (await sub.wait()) {
      awaits++;
      sub.drain((value) => seen.push(value));
    }
    await producer;
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
    assert.ok(awaits <= 11, `one await per batch, got ${awaits}`);
  });
});

describe("for await (const value of subscriber)", () => {
  it("yields every value and finishes when the bus closes", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    setTimeout(() => {
      for (let i = 0; i < 3; i++) bus.send(i);
      bus.close();
    }, 0);
    const seen: number[] = [];
    for await (const value of sub) seen.push(value);
    assert.deepEqual(seen, [0, 1, 2]);
  });

  it("gets an iterator that is itself async-iterable, so it can be handed to code that iterates", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const iterator = sub[Symbol.asyncIterator]();
    assert.equal(iterator[Symbol.asyncIterator](), iterator);
    bus.send(1);
    bus.send(2);
    bus.close();
    const seen: number[] = [];
    for await (const value of iterator) seen.push(value);
    assert.deepEqual(seen, [1, 2]);
  });

  it("unsubscribes on break", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    for await (const value of sub) {
      assert.equal(value, 1);
      break;
    }
    assert.equal(bus.subscriberCount, 0);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("unsubscribes when the loop body throws", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    await assert.rejects(async () => {
      for await (const _ of sub) throw new Error("body failed");
    }, /body failed/);
    assert.equal(bus.subscriberCount, 0);
  });
});

describe("Subscriber[Symbol.asyncIterator]()", () => {
  it("throw() ends the subscription as return() does, and rejects with the error", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const iterator = sub[Symbol.asyncIterator]();
    const error = new Error("stop");
    await assert.rejects(iterator.throw!(error), (thrown) => thrown === error);
    assert.equal(bus.subscriberCount, 0);
    assert.deepEqual(await iterator.next(), { value: undefined, done: true });
  });

  it("lets yield* pass an error thrown into the outer generator through, closing the subscriber", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    async function* outer() {
      yield* sub;
    }
    const generator = outer();
    bus.send(1);
    assert.deepEqual(await generator.next(), { value: 1, done: false });
    await assert.rejects(generator.throw(new RangeError("consumer gave up")), RangeError);
    assert.equal(bus.subscriberCount, 0);
  });

  it("is itself async-iterable", () => {
    const iterator = new Bus<number>().subscribe()[Symbol.asyncIterator]();
    assert.equal(iterator[Symbol.asyncIterator](), iterator);
  });

  it("shares one cursor between two loops at once: each value goes to exactly one of them", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const loop = async (seen: number[]) => {
      for await (const n of sub) {
        seen.push(n);
        await tick();
      }
    };
    const a: number[] = [];
    const b: number[] = [];
    const loops = Promise.all([loop(a), loop(b)]);
    for (let i = 0; i < 20; i++) {
      bus.send(i);
      if (i % 3 === 0) await tick();
    }
    bus.close();
    await loops;
    assert.deepEqual([...a, ...b].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i));
    for (const seen of [a, b]) assert.deepEqual(seen, [...seen].sort((x, y) => x - y), "each loop in order");
  });
});

describe("thenable values", () => {
  it("recv() adopts a sent promise, as any promise does; read(), for await and tryRecv() hand it over as is", async () => {
    const bus = new Bus<Promise<number>>();
    const viaRecv = bus.subscribe();
    const viaRead = bus.subscribe();
    const viaTry = bus.subscribe();
    const sent = Promise.resolve(42);
    bus.send(sent);
    assert.equal(await viaRecv.recv() as unknown, 42);
    const result = await viaRead.read();
    assert.equal(result.value, sent);
    assert.equal(viaTry.tryRecv(), sent);
  });

  it("recv() never settles for a thenable that never does, while read() still hands it over", async () => {
    const bus = new Bus<PromiseLike<number>>();
    const viaRecv = bus.subscribe();
    const viaRead = bus.subscribe();
    const forever: PromiseLike<number> = { then: () => forever as never };
    bus.send(forever);
    let settled = false;
    viaRecv.recv().then(() => settled = true, () => settled = true);
    assert.equal((await viaRead.read()).value, forever);
    await tick();
    assert.equal(settled, false);
    viaRecv.close();
  });
});

describe("Subscriber as a stream reader", () => {
  it("read() resolves { value, done: false }, then { done: true } at the end", async () => {
    const bus = new Bus<string>();
    const sub = bus.subscribe();
    bus.send("a");
    bus.close();
    assert.deepEqual(await sub.read(), { value: "a", done: false });
    assert.deepEqual(await sub.read(), { value: undefined, done: true });
  });

  it("read() parks until a value arrives", async () => {
    const bus = new Bus<string>();
    const sub = bus.subscribe();
    const pending = sub.read();
    bus.send("b");
    assert.deepEqual(await pending, { value: "b", done: false });
  });

  it("is accepted by code written for a ReadableStreamDefaultReader", async () => {
    async function collect(reader: ReadableStreamDefaultReader<number>): Promise<number[]> {
      const values: number[] = [];
      for (let result = await reader.read(); !result.done; result = await reader.read()) values.push(result.value);
      reader.releaseLock();
      await reader.closed;
      return values;
    }
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    bus.close();
    assert.deepEqual(await collect(sub as unknown as ReadableStreamDefaultReader<number>), [1, 2]);
  });

  it("cancel() and releaseLock() end the subscription", async () => {
    const bus = new Bus<number>();
    const a = bus.subscribe();
    const b = bus.subscribe();
    await a.cancel("done");
    b.releaseLock();
    assert.equal(bus.subscriberCount, 0);
    assert.deepEqual(await a.read(), { value: undefined, done: true });
    assert.deepEqual(await b.read(), { value: undefined, done: true });
  });
});

describe("several subscribers", () => {
  it("read one bus at different speeds through different paths", async () => {
    const bus = new Bus<number>(1024);
    const fast = bus.subscribe();
    const slow = bus.subscribe();
    const fastSeen: number[] = [];
    const slowSeen: number[] = [];
    const fastLoop = (async () => {
      for await (const value of fast) fastSeen.push(value);
    })();
    const slowLoop = (async () => {
      while (await slow.wait()) {
        slow.drain((value) => slowSeen.push(value), 3);
        await tick();
      }
    })();
    for (let i = 0; i < 300; i++) {
      bus.send(i);
      if (i % 50 === 0) await tick();
    }
    bus.close();
    await Promise.all([fastLoop, slowLoop]);
    const all = Array.from({ length: 300 }, (_, i) => i);
    assert.deepEqual(fastSeen, all);
    assert.deepEqual(slowSeen, all);
  });
});
