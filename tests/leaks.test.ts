/**
 * Nothing leaks: after churn `subscriberCount` is back at its baseline, a
 * closed subscriber can be garbage-collected whichever way it left, and the
 * heap stays flat once warmed up. The GC checks need a forced GC: run Deno
 * with `--v8-flags=--expose-gc` and Node with `--expose-gc`; Bun has
 * `Bun.gc`. Without one they are skipped.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, CLOSED, type Subscriber } from "../mod.ts";
import { collectGarbage, forceGC, heapUsed, Ledger, macrotask, Prng, STALE_REFS } from "./_laws.ts";

const canCollect = forceGC();
/** Bun may keep the most recent subscriber alive from a stale stack slot (see STALE_REFS). */
const STALE = STALE_REFS;
const skip = canCollect ? false : "no forced GC here: run with --expose-gc";

/** Lets pending jobs finish (a WeakRef holds its target until then), then collects, a few times over. */
async function collect(): Promise<void> {
  await collectGarbage();
}

/** The ways a subscriber can leave; each returns once it has. */
const LEAVES: Record<string, (sub: Subscriber<number>, bus: Bus<number>) => Promise<void> | void> = {
  "close()": (sub) => sub.close(),
  "cancel()": (sub) => sub.cancel(),
  "releaseLock()": (sub) => sub.releaseLock(),
  "[Symbol.dispose]()": (sub) => sub[Symbol.dispose](),
  "close() while parked in recv()": async (sub) => {
    const parked = sub.recv().catch(() => undefined);
    await macrotask();
    sub.close();
    await parked;
  },
  "close() while parked in wait()": async (sub) => {
    const parked = sub.wait();
    await macrotask();
    sub.close();
    await parked;
  },
  "break out of for await": async (sub) => {
    for await (const _ of sub) break;
  },
  "throw out of for await": async (sub) => {
    try {
      for await (const _ of sub) throw new Error("consumer failed");
    } catch {
      // expected
    }
  },
  "readable cancelled while a read is parked": async (sub) => {
    const reader = sub.readable.getReader();
    await reader.read();
    const parked = reader.read();
    await macrotask();
    await reader.cancel();
    await parked;
  },
  "readable.pipeTo() aborted": async (sub) => {
    const controller = new AbortController();
    const pipe = sub.readable.pipeTo(new WritableStream(), { signal: controller.signal });
    await macrotask();
    controller.abort();
    await pipe.catch(() => undefined);
  },
  "bus.close() while parked, then read to the end": async (sub, bus) => {
    const parked = sub.read();
    await macrotask();
    bus.close();
    await parked;
    assert.equal(sub.tryRecv(), CLOSED);
  },
};

describe("Bus.subscriberCount", () => {
  it("returns to its baseline after 2000 subscribers left by every path, while values flow", async () => {
    const bus = new Bus<number>(16);
    const ledger = new Ledger(bus);
    const stays = ledger.subscribe("stays", { lossless: true });
    const rng = new Prng(21);
    const leaves = Object.entries(LEAVES).filter(([name]) => !name.startsWith("bus.close()"));
    for (let i = 0; i < 2000; i++) {
      const [name, leave] = leaves[i % leaves.length];
      const sub = bus.subscribe();
      for (let k = rng.int(4); k > 0; k--) ledger.offer();
      assert.equal(bus.subscriberCount, 2);
      ledger.offer(); // so that for await and the readable have a value to read
      await leave(sub, bus);
      assert.equal(bus.subscriberCount, 1, `after ${name}`);
      stays.sub.drain((value) => stays.see(value));
    }
    ledger.check();
    bus.close();
    assert.equal(stays.sub.drain(() => assert.fail()), 0);
    ledger.leave(stays, "ended");
    ledger.finish();
  });
});

describe("Subscriber", { skip }, () => {
  for (const [name, leave] of Object.entries(LEAVES)) {
    it(`becomes collectable after ${name}`, async () => {
      const closesBus = name.startsWith("bus.close()");
      // Every bus stays reachable: what is collected, the bus did not hold.
      const buses = [new Bus<number>(32)];
      const keep = buses[0].subscribe();
      let finalized = 0;
      const registry = new FinalizationRegistry<null>(() => finalized++);
      const refs: WeakRef<Subscriber<number>>[] = [];
      // In a function of its own, so no stack slot of the test holds a subscriber.
      const churn = async () => {
        for (let i = 0; i < 20; i++) {
          const bus = closesBus ? buses[buses.push(new Bus<number>(8)) - 1] : buses[0];
          const sub = bus.subscribe();
          registry.register(sub, null);
          refs.push(new WeakRef(sub));
          bus.send(i);
          await leave(sub, bus);
          assert.equal(bus.subscriberCount, bus === buses[0] ? 1 : 0);
        }
      };
      await churn();
      const alive = () => refs.filter((ref) => ref.deref() !== undefined).length;
      for (let i = 0; i < 10 && alive() > STALE; i++) await collect();
      assert.ok(alive() <= STALE, `${alive()} of 20 subscribers that left by ${name} survived 10 full GCs`);
      for (let i = 0; i < 10 && finalized < 20 - STALE; i++) await collect();
      assert.ok(finalized >= 20 - STALE, `only ${finalized} of 20 subscribers were finalized`);
      assert.equal(keep.drain(() => {}), closesBus ? 0 : 20, "the subscriber that stayed is whole");
    });
  }

  it("is held while subscribed and parked, so collectability is not vacuous", async () => {
    const bus = new Bus<number>(8);
    const refs: WeakRef<Subscriber<number>>[] = [];
    const pending: Promise<unknown>[] = [];
    (() => {
      for (let i = 0; i < 5; i++) {
        const sub = bus.subscribe();
        pending.push(sub.recv());
        refs.push(new WeakRef(sub));
      }
    })();
    await collect();
    assert.equal(refs.filter((ref) => ref.deref() !== undefined).length, 5, "a parked subscriber is reachable");
    bus.send(1);
    assert.deepEqual(await Promise.all(pending), [1, 1, 1, 1, 1]);
  });
});

describe("a subscriber dropped without close()", { skip }, () => {
  it("is unsubscribed once collected: no longer counted, holding values, or blocking a 'wait' producer", async () => {
    const bus = new Bus<number>({ capacity: 4, overflow: "wait" });
    const keep = bus.subscribe();
    // Forgotten in a function of their own, so no stack slot of the test holds them.
    (() => {
      for (let i = 0; i < 20; i++) bus.subscribe();
    })();
    for (let i = 0; i < 4; i++) bus.send(i);
    keep.drain(() => {});
    assert.equal(bus.subscriberCount, 21);
    assert.equal(bus.stats().blocked, 0);
    assert.throws(() => bus.send(4), { name: "BusFullError" }, "the forgotten subscribers hold the ring");
    const ready = bus.ready;
    const counted = (): number => bus.subscriberCount;
    for (let i = 0; i < 20 && counted() > 1 + STALE; i++) await collect();
    assert.ok(counted() <= 1 + STALE, `${counted() - 1} of 20 forgotten subscribers still counted`);
    if (counted() === 1) {
      await ready;
      assert.equal(bus.send(4), 1, "the producer goes on");
      assert.deepEqual([keep.tryRecv()], [4]);
    }
  });

  it("costs the subscribers still in use nothing: they are never collected from under a reader", async () => {
    const bus = new Bus<number>();
    const kept = Array.from({ length: 5 }, () => bus.subscribe());
    await collect();
    assert.equal(bus.subscriberCount, 5);
    bus.send(1);
    assert.deepEqual(kept.map((sub) => sub.tryRecv()), [1, 1, 1, 1, 1]);
  });
});

describe("the heap", { skip }, () => {
  it("stays flat after warm-up while subscribers churn and values flow", async () => {
    const bus = new Bus<{ n: number }>(64);
    const rng = new Prng(5);
    const subs: Subscriber<{ n: number }>[] = [];
    const round = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        subs.push(bus.subscribe());
        for (let k = 0; k < 50; k++) bus.send({ n: k });
        for (const sub of subs) sub.drain(() => {}, rng.int(80));
        if (subs.length > 8) subs.splice(rng.int(subs.length), 1)[0].close();
        if (r % 100 === 0) await macrotask();
      }
    };
    await round(2_000);
    await collect();
    const warm = heapUsed();
    await round(20_000);
    await collect();
    const after = heapUsed();
    // 10^6 payloads and 20,000 subscribers went through: a leak of a word per payload, or of a small object
    // per subscriber, would pass 512 KB; the measured growth is about 10 KB.
    assert.ok(after - warm < 512 * 1024, `heap grew by ${((after - warm) / 1024).toFixed(0)} KB after warm-up`);
    assert.equal(bus.subscriberCount, subs.length);
  });

  it("stays flat while subscribers come and go one at a time", async () => {
    const bus = new Bus<number>(8);
    const keep = bus.subscribe();
    const churn = async (rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        bus.subscribe().close(); // the newest subscriber leaves, each time
        bus.send(r);
        if (r % 1000 === 0) await macrotask();
      }
      keep.drain(() => {});
    };
    // Warmed up with as many subscribers as are measured: Bun's FinalizationRegistry keeps its table at the
    // high-water mark of entries awaiting cleanup (680 KB for 20,000, then flat over 100,000 more).
    await churn(20_000);
    await collect();
    const warm = heapUsed();
    await churn(20_000);
    await collect();
    const after = heapUsed();
    // 20,000 more subscribers went through: a small object kept per subscriber would pass 512 KB.
    assert.ok(after - warm < 512 * 1024, `heap grew by ${((after - warm) / 1024).toFixed(0)} KB after warm-up`);
    assert.equal(bus.subscriberCount, 1);
  });
});
