/**
 * Chaos: churn, lag, consumers that throw or walk away, and closing while
 * everyone is parked, each checked against the accounting laws of
 * `_laws.ts`. Time is simulated by events per tick, so nothing sleeps.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, BusFullError, CLOSED, EMPTY, LaggedError, type OverflowPolicy } from "../mod.ts";
import { Ledger, macrotask, Prng, type Tally } from "./_laws.ts";
import { soak } from "../soak/soak.ts";

const POLICIES: readonly OverflowPolicy[] = ["drop-oldest", "drop-newest", "wait"];

/** Reads everything available through `drain`, recording a `LaggedError` and going on. */
function drainAll(tally: Tally, max = Infinity): number {
  let total = 0;
  for (;;) {
    try {
      const n = tally.sub.drain((value) => tally.see(value), max - total);
      tally.catchUp(); // drain(fn, 0) still skips a gap
      total += n;
      if (n === 0 || total === max) return total;
    } catch (error) {
      tally.lagged(error);
    }
  }
}

/** Whether `promise` settles within one macrotask. */
async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await macrotask();
  return settled;
}

/** The asynchronous reading paths, each reading `tally` to the end. */
const READERS: Record<string, (tally: Tally) => Promise<void>> = {
  async "wait+drain"(tally) {
    while (await tally.sub.wait()) drainAll(tally);
  },
  async "for await"(tally) {
    for (;;) {
      try {
        for await (const value of tally.sub) tally.see(value);
        return;
      } catch (error) {
        tally.lagged(error);
      }
    }
  },
  async "recv()"(tally) {
    for (;;) {
      try {
        tally.see(await tally.sub.recv());
      } catch (error) {
        if (error instanceof BusClosedError) return;
        tally.lagged(error);
      }
    }
  },
  async "read()"(tally) {
    for (;;) {
      const result = await tally.sub.read();
      if (result.done) return;
      tally.see(result.value);
    }
  },
  async "readable"(tally) {
    const reader = tally.sub.readable.getReader();
    for (let result = await reader.read(); !result.done; result = await reader.read()) tally.see(result.value);
  },
  async "readable.pipeTo()"(tally) {
    await tally.sub.readable.pipeTo(new WritableStream({ write: (value) => tally.see(value) }));
  },
  async "tryRecv() polling"(tally) {
    for (;;) {
      let value;
      try {
        value = tally.sub.tryRecv();
      } catch (error) {
        tally.lagged(error);
        continue;
      }
      if (value === CLOSED) return;
      if (value === EMPTY) await macrotask();
      else tally.see(value);
    }
  },
};

describe("Bus.subscribe() and Subscriber.close() under churn", () => {
  // One simulated second is 20,000 events: 100 Hz is a churn every 200 events, 10 kHz one every 2.
  for (const [hz, events] of [[100, 20_000], [10_000, 6_000]]) {
    it(`keep every law with subscribers joining and leaving at ${hz} Hz on every path`, async () => {
      const result = await soak({
        events,
        subscribers: 12,
        churnHz: hz,
        simRate: 20_000,
        policy: "drop-oldest",
        capacity: 64,
        seed: hz,
        progressSeconds: 0,
        label: `churn ${hz} Hz`,
        log: () => {},
      });
      const churns = Math.floor((events - 1) / (20_000 / hz));
      assert.equal(result.churns, churns);
      assert.equal(result.departures, churns + 12, "every subscriber that came also went");
      assert.equal(result.sent, events);
      assert.ok(result.dropped > 0, "slow subscribers lagged");
    });
  }

  for (const policy of POLICIES) {
    it(`keep every law under ${policy} with lagging and churning subscribers`, async () => {
      const result = await soak({
        events: 3_000,
        subscribers: 10,
        churnHz: 1000,
        simRate: 100_000,
        policy,
        capacity: 32,
        seed: 4,
        progressSeconds: 0,
        label: policy,
        log: () => {},
      });
      assert.equal(result.sent, 3_000);
      assert.equal(result.attempts, 3_000 + result.discarded + result.blocked);
      if (policy === "drop-oldest") assert.ok(result.dropped > 0 && result.discarded + result.blocked === 0);
      if (policy === "drop-newest") assert.ok(result.discarded > 0 && result.dropped + result.blocked === 0);
      if (policy === "wait") assert.ok(result.blocked > 0 && result.dropped + result.discarded === 0);
    });
  }

  it("returns subscriberCount to its baseline after 1000 subscribers came and went", () => {
    const ledger = new Ledger(new Bus<number>(32));
    const stay = ledger.subscribe("stays", { lossless: true });
    const rng = new Prng(9);
    const churners: Tally[] = [];
    for (let i = 0; i < 1000; i++) {
      churners.push(ledger.subscribe(`churner ${i}`));
      for (let k = rng.int(20); k > 0; k--) ledger.offer();
      const leaving = churners.splice(rng.int(churners.length), 1)[0];
      drainAll(leaving, rng.int(8));
      leaving.sub.close();
      ledger.leave(leaving, "closed");
      drainAll(stay);
    }
    for (const tally of churners) {
      tally.sub.close();
      ledger.leave(tally, "closed");
    }
    ledger.check();
    assert.equal(ledger.bus.subscriberCount, 1);
    ledger.bus.close();
    drainAll(stay);
    ledger.leave(stay, "ended");
    ledger.finish();
    assert.equal(stay.received, ledger.accepted, "the subscriber that stayed saw everything");
  });
});

describe("a lagged subscriber", () => {
  // Capacity 8; one subscriber reads after every send, the other after every 20 attempts: 100 attempts in all.
  function run(policy: OverflowPolicy, lag: "skip" | "error" = "skip") {
    const ledger = new Ledger(new Bus<number>({ capacity: 8, overflow: policy }));
    const fast = ledger.subscribe("fast", { lossless: true });
    const slow = ledger.subscribe("slow", { lag });
    for (let attempt = 1; attempt <= 100; attempt++) {
      ledger.offer();
      drainAll(fast);
      if (attempt % 20 === 0) drainAll(slow);
      ledger.check(`attempt ${attempt}`);
    }
    ledger.bus.close();
    drainAll(fast);
    drainAll(slow);
    ledger.leave(fast, "ended");
    ledger.leave(slow, "ended");
    ledger.finish();
    return { ledger, fast, slow, stats: ledger.bus.stats() };
  }

  it("under drop-oldest misses exactly what the ring overwrote: 60 of 100", () => {
    const { fast, slow, stats } = run("drop-oldest");
    assert.deepEqual([fast.received, fast.missed], [100, 0]);
    assert.deepEqual([slow.received, slow.missed, slow.sub.missed], [40, 60, 60]);
    assert.deepEqual([stats.sent, stats.dropped, stats.discarded, stats.blocked], [100, 60, 0, 0]);
  });

  it("under drop-oldest with lag: 'error' is told of each gap by a LaggedError carrying its size", () => {
    const { slow, stats } = run("drop-oldest", "error");
    assert.deepEqual([slow.received, slow.missed, slow.lagErrors], [40, 60, 5]);
    assert.equal(stats.dropped, 60);
  });

  it("under drop-newest loses nothing, and the bus discards exactly 60 of 100", () => {
    const { fast, slow, stats } = run("drop-newest");
    assert.deepEqual([fast.received, slow.received, slow.missed], [40, 40, 0]);
    assert.deepEqual([stats.sent, stats.dropped, stats.discarded, stats.blocked], [40, 0, 60, 0]);
  });

  it("under wait loses nothing, and send refuses exactly 60 of 100 with BusFullError", () => {
    const { fast, slow, stats } = run("wait");
    assert.deepEqual([fast.received, slow.received, slow.missed], [40, 40, 0]);
    assert.deepEqual([stats.sent, stats.dropped, stats.discarded, stats.blocked], [40, 0, 0, 60]);
  });
});

describe("Subscriber.drain() with a callback that throws", () => {
  it("propagates the error, counts the value it threw on as read, and resumes after it", () => {
    const ledger = new Ledger(new Bus<number>(16));
    const thrower = ledger.subscribe("thrower");
    const other = ledger.subscribe("other");
    for (let i = 0; i < 10; i++) ledger.offer();
    const boom = new Error("boom");
    assert.throws(() =>
      thrower.sub.drain((value) => {
        thrower.see(value);
        if (value === 3) throw boom;
      }), boom);
    assert.equal(thrower.received, 4);
    assert.equal(drainAll(thrower), 6, "the next drain starts after the value it threw on");
    assert.equal(drainAll(other), 10);
    ledger.check();
  });

  it("keeps every law when callbacks throw at random while the ring laps them", () => {
    const ledger = new Ledger(new Bus<number>(8));
    const rng = new Prng(3);
    const subs = [ledger.subscribe("a"), ledger.subscribe("b", { lag: "error" }), ledger.subscribe("c")];
    let thrown = 0;
    for (let round = 0; round < 500; round++) {
      for (let k = rng.int(12); k > 0; k--) ledger.offer();
      for (const tally of subs) {
        try {
          tally.sub.drain((value) => {
            tally.see(value);
            if (rng.int(4) === 0) throw new RangeError("consumer failed");
          }, rng.int(10));
        } catch (error) {
          if (error instanceof LaggedError) tally.lagged(error);
          else if (error instanceof RangeError) thrown++;
          else throw error;
        }
        tally.catchUp();
      }
      ledger.check(`round ${round}`);
    }
    assert.ok(thrown > 100 && ledger.bus.stats().dropped > 0);
    ledger.bus.close();
    for (const tally of subs) {
      drainAll(tally);
      ledger.leave(tally, "ended");
    }
    ledger.finish();
  });
});

describe("Subscriber[Symbol.asyncIterator]()", () => {
  for (const exit of ["break", "throw", "return"] as const) {
    it(`unsubscribes when a for await loop ends with ${exit}`, async () => {
      const ledger = new Ledger(new Bus<number>(8));
      const leaver = ledger.subscribe("leaver");
      const other = ledger.subscribe("other");
      for (let i = 0; i < 5; i++) ledger.offer();
      const loop = async () => {
        for await (const value of leaver.sub) {
          leaver.see(value);
          if (value !== 2) continue;
          if (exit === "break") break;
          if (exit === "throw") throw new TypeError("consumer failed");
          return value;
        }
      };
      if (exit === "throw") await assert.rejects(loop(), TypeError);
      else await loop();
      assert.equal(leaver.received, 3);
      assert.equal(ledger.bus.subscriberCount, 1);
      ledger.leave(leaver, "closed");
      ledger.offer();
      assert.equal(drainAll(other), 6, "the other subscriber keeps its counts");
      ledger.check();
    });
  }
});

describe("Subscriber.readable", () => {
  it("cancelled mid-read settles the parked read as done and unsubscribes", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const streamed = ledger.subscribe("streamed");
    const other = ledger.subscribe("other");
    const reader = streamed.sub.readable.getReader();
    for (let i = 0; i < 3; i++) ledger.offer();
    for (let i = 0; i < 3; i++) streamed.see((await reader.read()).value!);
    const parked = reader.read();
    assert.equal(await settlesSoon(parked), false, "the read is parked");
    await reader.cancel("enough");
    assert.deepEqual(await parked, { value: undefined, done: true });
    assert.equal(ledger.bus.subscriberCount, 1);
    ledger.leave(streamed, "closed");
    ledger.offer();
    assert.equal(drainAll(other), 4);
    ledger.check();
  });

  it("cancelled while values are still unread releases them and leaves other readers whole", async () => {
    const ledger = new Ledger(new Bus<number>({ capacity: 4, overflow: "wait" }));
    const streamed = ledger.subscribe("streamed");
    const other = ledger.subscribe("other");
    const reader = streamed.sub.readable.getReader();
    for (let i = 0; i < 4; i++) ledger.offer();
    streamed.see((await reader.read()).value!);
    drainAll(other);
    assert.equal(ledger.offer(), true, "the streamed subscriber read one, so one slot is free");
    assert.equal(ledger.offer(), false, "it still owes three");
    await reader.cancel();
    ledger.leave(streamed, "closed");
    assert.equal(ledger.offer(), true, "cancelling released what it owed");
    assert.equal(drainAll(other), 2);
    ledger.check();
  });

  it("piped with pipeTo() and aborted by an AbortSignal unsubscribes", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const piped = ledger.subscribe("piped");
    const other = ledger.subscribe("other");
    const controller = new AbortController();
    const pipe = piped.sub.readable.pipeTo(new WritableStream({ write: (value) => piped.see(value) }), {
      signal: controller.signal,
    });
    for (let i = 0; i < 3; i++) ledger.offer();
    await macrotask();
    assert.equal(piped.received, 3);
    controller.abort(new Error("stop"));
    await assert.rejects(pipe, { message: "stop" });
    assert.equal(ledger.bus.subscriberCount, 1);
    ledger.leave(piped, "closed");
    ledger.offer();
    assert.equal(drainAll(other), 4);
    ledger.check();
  });
});

describe("Bus.writable", () => {
  it("piped from a source and aborted by an AbortSignal closes the bus, and subscribers read what was sent", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const sub = ledger.subscribe("sub");
    const controller = new AbortController();
    let next = 0;
    const source = new ReadableStream<number>({
      pull: (c) => next < 3 ? c.enqueue(next++) : new Promise<void>(() => {}),
    });
    const pipe = source.pipeTo(ledger.bus.writable, { signal: controller.signal });
    await macrotask();
    controller.abort();
    await assert.rejects(pipe);
    assert.equal(ledger.bus.closed, true);
    ledger.accepted = 3; // the writable sent them, not ledger.offer()
    assert.equal(drainAll(sub), 3);
    assert.equal(sub.sub.tryRecv(), CLOSED);
    ledger.leave(sub, "ended");
    ledger.finish();
  });

  it("piped with { preventAbort: true } and aborted leaves the bus open for other producers", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const sub = ledger.subscribe("sub");
    const controller = new AbortController();
    const pipe = new ReadableStream<number>({ pull: () => new Promise<void>(() => {}) })
      .pipeTo(ledger.bus.writable, { signal: controller.signal, preventAbort: true });
    controller.abort();
    await assert.rejects(pipe);
    assert.equal(ledger.bus.closed, false);
    ledger.offer();
    assert.equal(drainAll(sub), 1);
    ledger.check();
  });
});

describe("Bus.close() with everyone parked", () => {
  it("wakes readers parked on every path; each ends having read everything", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const tallies = Object.keys(READERS).map((path) => ledger.subscribe(path));
    const reading = tallies.map((tally) => READERS[tally.label](tally));
    for (let i = 0; i < 5; i++) {
      ledger.offer();
      await macrotask();
    }
    assert.deepEqual(tallies.map((tally) => tally.received), tallies.map(() => 5));
    for (const done of reading) assert.equal(await settlesSoon(done), false, "every reader is parked");
    ledger.bus.close();
    await Promise.all(reading);
    for (const tally of tallies) ledger.leave(tally, "ended");
    ledger.finish();
  });

  it("lets parked readers read what was retained before they end", async () => {
    const ledger = new Ledger(new Bus<number>(8));
    const tallies = Object.keys(READERS).map((path) => ledger.subscribe(path));
    const reading = tallies.map((tally) => READERS[tally.label](tally));
    await macrotask();
    for (let i = 0; i < 6; i++) ledger.offer();
    ledger.bus.close(); // before any parked reader ran
    await Promise.all(reading);
    assert.deepEqual(tallies.map((tally) => tally.received), tallies.map(() => 6));
    for (const tally of tallies) ledger.leave(tally, "ended");
    ledger.finish();
  });

  it("unparks a wait-policy producer parked on bus.ready; its next send throws BusClosedError", async () => {
    const ledger = new Ledger(new Bus<number>({ capacity: 4, overflow: "wait" }));
    const reader = ledger.subscribe("reader");
    for (let i = 0; i < 4; i++) assert.equal(ledger.offer(), true);
    assert.equal(ledger.offer(), false);
    const producer = (async () => {
      await ledger.bus.ready;
      return ledger.offer();
    })();
    assert.equal(await settlesSoon(producer), false, "the producer is parked");
    ledger.bus.close();
    await assert.rejects(producer, BusClosedError);
    assert.equal(drainAll(reader), 4, "what was sent is still delivered");
    assert.equal(reader.sub.tryRecv(), CLOSED);
    ledger.leave(reader, "ended");
    ledger.finish();
  });

  it("rejects a write parked in bus.writable with BusClosedError", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    const writer = bus.writable.getWriter();
    await writer.write(0);
    await writer.write(1);
    const parked = writer.write(2);
    assert.equal(await settlesSoon(parked), false, "the write waits for room");
    bus.close();
    await assert.rejects(parked, BusClosedError);
    assert.deepEqual([sub.tryRecv(), sub.tryRecv(), sub.tryRecv()], [0, 1, CLOSED]);
    assert.deepEqual(bus.stats().sent, 2);
  });
});

describe("Bus.ready", () => {
  it("parks a wait-policy producer behind a subscriber that never reads, until that subscriber closes", async () => {
    const ledger = new Ledger(new Bus<number>({ capacity: 4, overflow: "wait" }));
    const idle = ledger.subscribe("never reads");
    const reader = ledger.subscribe("reader", { lossless: true });
    let parks = 0;
    const producer = (async () => {
      while (ledger.accepted < 10) {
        if (ledger.offer()) continue;
        parks++;
        await ledger.bus.ready;
      }
    })();
    const reading = READERS["for await"](reader);
    for (let i = 0; i < 5; i++) await macrotask();
    assert.equal(ledger.accepted, 4, "the producer parked behind the idle subscriber");
    assert.equal(reader.received, 4);
    assert.equal(parks, 1);
    idle.sub.close();
    ledger.leave(idle, "closed");
    await producer;
    ledger.bus.close();
    await reading;
    assert.equal(reader.received, 10, "once unparked, the producer finished");
    ledger.leave(reader, "ended");
    ledger.finish();
    assert.equal(ledger.bus.stats().blocked, parks);
  });
});

describe("Bus.send() from 4 producers to 8 subscribers", () => {
  for (const policy of POLICIES) {
    it(`interleaved through await points under ${policy} keeps every law`, async () => {
      const ledger = new Ledger(new Bus<number>({ capacity: 16, overflow: policy }));
      const rng = new Prng(48);
      const paths = [...Object.keys(READERS), "drain at random"];
      const tallies = paths.map((path) => ledger.subscribe(path, { lag: path === "for await" ? "error" : "skip" }));
      const reading = tallies.map((tally) =>
        tally.label === "drain at random"
          ? (async () => {
            // A slow synchronous reader: a few values per macrotask.
            do {
              drainAll(tally, 1 + rng.int(8));
              await macrotask();
            } while (!ledger.bus.closed || drainAll(tally) !== 0 || tally.sub.tryRecv() !== CLOSED);
          })()
          : READERS[tally.label](tally)
      );
      const producer = async (id: number) => {
        const prng = new Prng(id);
        let sent = 0;
        while (sent < 500) {
          if (ledger.offer()) sent++;
          else if (policy === "drop-newest") sent++; // a discarded attempt counts: the producer moves on
          else await ledger.bus.ready;
          const pause = prng.int(8);
          if (pause === 0) await macrotask();
          else if (pause === 1) await null;
        }
      };
      await Promise.all([0, 1, 2, 3].map(producer));
      await macrotask();
      ledger.check("all producers done");
      ledger.bus.close();
      await Promise.all(reading);
      for (const tally of tallies) ledger.leave(tally, "ended");
      ledger.finish();
      const stats = ledger.bus.stats();
      assert.equal(stats.sent + stats.discarded, policy === "drop-newest" ? 2000 : stats.sent);
      if (policy !== "drop-newest") assert.equal(stats.sent, 2000);
      for (const tally of tallies) {
        assert.equal(tally.received + tally.missed, stats.sent, `${tally.label} accounts for every value sent`);
        if (policy !== "drop-oldest") assert.equal(tally.missed, 0);
      }
    });
  }
});

describe("BusFullError", () => {
  it("is thrown by send under wait and counted in stats().blocked, without changing anything else", () => {
    const ledger = new Ledger(new Bus<number>({ capacity: 2, overflow: "wait" }));
    const sub = ledger.subscribe("sub");
    ledger.offer();
    ledger.offer();
    assert.throws(() => ledger.bus.send(99), (error) => error instanceof BusFullError && error.capacity === 2);
    ledger.blocked++;
    ledger.check();
    assert.equal(drainAll(sub), 2);
  });
});
