/**
 * Wake-ups of a `SharedBus`, across threads and within one: a parked read
 * or write woken by a close on another view of the same memory (two
 * `attach`es wake each other only through `Atomics`, as two threads do),
 * `waitSync` (its timeout, a value committed just as it goes to sleep, no
 * sleep, and so no notify, when it need not wait, and the threads that may
 * not block), the polling that stands in for a missing
 * `Atomics.waitAsync`, one timer kept across a reader's wake-ups, a pending
 * wait that does not hold a dropped bus, and the process a parked read
 * keeps alive, which a finished one must not. The cases that change the
 * engine, or whose verdict is whether a process exits, run in a child
 * process (`_wake_process.ts`).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { BusClosedError, SharedBus } from "../mod.ts";
import { DATA_SIGNAL } from "../src/shared/layout.ts";
import { PARK_TIMEOUT } from "../src/shared/wake.ts";
import { type ChildRun, runScript } from "./_child.ts";
import { watchdog } from "./_watchdog.ts";
import { elsewhere } from "./_shared.ts";
import { collectGarbage, forceGC, macrotask } from "./_laws.ts";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The message `waitSync` throws where this thread may not block. */
const CANNOT_BLOCK =
  "Cannot block on this thread: Atomics.wait is not allowed here (a browser window's main thread); await sub.wait() instead";

/** Runs `tests/_wake_process.ts` on this runtime with `mode`. */
function runCase(mode: string): Promise<ChildRun> {
  return runScript(fileURLToPath(new URL("./_wake_process.ts", import.meta.url)), mode);
}

/**
 * Runs `fn` with `globals` defined on `globalThis` (`undefined` hides one
 * the runtime has), then puts every property back as it was.
 */
function withGlobals<R>(globals: Record<string, unknown>, fn: () => R): R {
  const saved = Object.keys(globals).map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const);
  for (const [name, value] of Object.entries(globals)) {
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true, enumerable: false });
  }
  try {
    return fn();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor === undefined) delete (globalThis as Record<string, unknown>)[name];
      else Object.defineProperty(globalThis, name, descriptor);
    }
  }
}

/** A `Window` class whose instance this global is, as a browser window's global is. */
class Window {
  static [Symbol.hasInstance](value: unknown): boolean {
    return value === globalThis;
  }
}

describe("SharedBus.close() wakes other threads", () => {
  it("a read parked on another view, and a write waiting for room there, end at once, not at the park timeout", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const other = elsewhere(bus);
    const sub = other.subscribe();
    const full = bus.subscribe(); // holds the ring full
    other.send(1);
    assert.equal(sub.tryRecv(), 1);
    const waiting = sub.wait();
    const writing = other.write(2);
    await sleep(5);
    const closed = performance.now();
    bus.close();
    const [waited, written] = await watchdog(
      Promise.all([waiting, writing.then(() => "sent", (error) => error)]),
      PARK_TIMEOUT * 4,
      () => "the other view's parked read or waiting write did not end",
    );
    const took = performance.now() - closed;
    assert.equal(waited, false);
    assert.ok(written instanceof BusClosedError, `the waiting write: ${written}`);
    // Notified at once: only a lost wake-up waits for the park timeout (500 ms) to look again.
    assert.ok(took < PARK_TIMEOUT * 0.8, `the close reached the other view after ${took} ms`);
    assert.equal(full.tryRecv(), 1);
  });
});

describe("SharedBus notifies only sleeping readers", () => {
  it("once per round of sleep: after a parked read woke, further sends notify nobody until a reader sleeps again", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const words = new Int32Array(bus.handle.buffer);
    const sub = bus.subscribe();
    const got = sub.recv();
    await sleep(5);
    const before = Atomics.load(words, DATA_SIGNAL);
    other.send(1);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before + 1, "one notify for the sleeper");
    assert.equal(await watchdog(got, 2000, () => "recv did not wake"), 1);
    for (let n = 2; n < 5; n++) other.send(n);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before + 1, "sends with nobody asleep notified");
    const next = sub.recv(); // the values are there: it does not sleep
    assert.equal(await next, 2);
    assert.equal(sub.drain(() => {}), 2, "3 and 4");
    const parked = sub.recv();
    await sleep(5);
    other.send(5);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before + 2, "one notify for the new round of sleep");
    assert.equal(await watchdog(parked, 2000, () => "recv did not wake again"), 5);
  });
});

describe("SharedBus.waitSync()", () => {
  it("returns once its timeout passes, however short: it never sleeps longer than asked", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    const started = performance.now();
    assert.equal(bus.waitSync(sub, 10), true, "timed out: there may be something");
    const took = performance.now() - started;
    assert.ok(took >= 8, `returned after ${took} ms, before its timeout`);
    assert.ok(took < PARK_TIMEOUT * 0.8, `a 10 ms timeout took ${took} ms`);
  });

  it("sees a value another thread commits just as it goes to sleep, without sleeping", () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    // The clock is read as waitSync goes to sleep, after its first look found nothing: the other view's send lands
    // there, on the second reading, as another thread's may.
    const now = performance.now.bind(performance);
    let readings = 0;
    const started = now();
    const took = withClock(() => {
      if (++readings === 2) other.send(1);
      return now();
    }, () => {
      assert.equal(bus.waitSync(sub, 10_000), true);
      return now() - started;
    });
    assert.ok(readings >= 2, "waitSync read the clock as it went to sleep");
    assert.equal(sub.tryRecv(), 1);
    assert.ok(took < PARK_TIMEOUT * 0.8, `waitSync slept ${took} ms with a value there`);
  });

  // A send notifies only when some reader is asleep: a waitSync that had no need to sleep must not leave its thread
  // flagged asleep, or the next send notifies for nobody.
  it("with a value already there returns without going to sleep: the next send notifies nobody", () => {
    const bus = new SharedBus<number>();
    const words = new Int32Array(bus.handle.buffer);
    const sub = bus.subscribe();
    bus.send(1);
    const before = Atomics.load(words, DATA_SIGNAL);
    assert.equal(bus.waitSync(sub, 1000), true);
    assert.equal(sub.tryRecv(), 1);
    bus.send(2);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before, "the send notified a reader that never slept");
    assert.equal(sub.tryRecv(), 2);
  });

  it("with no time to wait returns without going to sleep, even on a coarse clock that has not ticked", () => {
    const bus = new SharedBus<number>();
    const words = new Int32Array(bus.handle.buffer);
    const sub = bus.subscribe();
    const before = Atomics.load(words, DATA_SIGNAL);
    // Coarsened to 100 ms, as some browsers coarsen performance.now(): the deadline and the next reading are equal.
    const now = performance.now.bind(performance);
    assert.equal(withClock(() => Math.floor(now() / 100) * 100, () => bus.waitSync(sub, 0)), true);
    bus.send(1);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before, "the send notified a reader that never slept");
    assert.equal(sub.tryRecv(), 1);
  });
});

/** Runs `fn` with `performance.now` replaced by `clock`, then restores it. */
function withClock<R>(clock: () => number, fn: () => R): R {
  const own = Object.getOwnPropertyDescriptor(performance, "now");
  Object.defineProperty(performance, "now", { value: clock, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (own === undefined) delete (performance as { now?: unknown }).now;
    else Object.defineProperty(performance, "now", own);
  }
}

describe("SharedBus.waitSync() and threads that may not block", () => {
  it("throws a TypeError that says to await sub.wait() on a browser window's main thread, even with a value to read", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    withGlobals({ Window, document: {} }, () => {
      assert.throws(() => bus.waitSync(sub), { name: "TypeError", message: CANNOT_BLOCK });
      assert.throws(() => bus.waitSync(sub, 0), { name: "TypeError", message: CANNOT_BLOCK });
    });
    assert.equal(sub.tryRecv(), 1, "the value is still there to read");
  });

  it("blocks where the global is a Window without a document, as Deno's main thread is", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    assert.equal(withGlobals({ Window, document: undefined }, () => bus.waitSync(sub, 0)), true);
    assert.equal(sub.tryRecv(), 1);
  });

  it("blocks where a document is global but the global is no Window (a DOM emulation in Node)", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    assert.equal(withGlobals({ Window: undefined, document: {} }, () => bus.waitSync(sub, 0)), true);
    assert.equal(sub.tryRecv(), 1);
  });

  it("throws the same TypeError where the engine refuses Atomics.wait (a service worker); awaiting reads still work", {
    timeout: 60_000,
  }, async () => {
    const { code, output, errors } = await runCase("no-blocking");
    assert.equal(code, 0, errors);
    assert.deepEqual(JSON.parse(output), { waitSync: `TypeError: ${CANNOT_BLOCK}`, waited: true, value: 1, parked: 2 });
  });
});

describe("SharedBus parked reads and the process", () => {
  it("without Atomics.waitAsync, a parked read polls: sends from another view reach it long before the park timeout", {
    timeout: 60_000,
  }, async () => {
    const { code, output, errors } = await runCase("no-wait-async");
    assert.equal(code, 0, errors);
    const { values, ms } = JSON.parse(output);
    assert.deepEqual(values, [0, 1, 2, 3, 4]);
    // Five wake-ups: polling every few ms, not a park timeout (500 ms) each.
    assert.ok(ms < 5 * PARK_TIMEOUT * 0.8, `five wake-ups took ${ms} ms`);
  });

  it(
    "however many subscribers' closed promises are awaited, a thread keeps one watch for a close, drops it when they have all left, and starts it again for the next",
    {
      timeout: 60_000,
    },
    async () => {
      const { code, output, errors } = await runCase("close-watch");
      assert.equal(code, 0, errors);
      assert.deepEqual(JSON.parse(output), {
        looked: 2, // 50 subscribers' closed: one watch, which found the signal moved and so looked and watched again
        woken: 3, // the signal moved (a wake-up for another view's read): one watch again, not one per subscriber
        left: 3, // the signal moved with no subscriber left here: no watch
        late: 4, // a new subscriber's closed: watching again
        ended: true, // and it saw the other view's close
      });
    },
  );

  it("without Atomics.waitAsync, a close on another view is noticed at the next look at any subscriber's closed", {
    timeout: 60_000,
  }, async () => {
    const { code, output, errors } = await runCase("closed-without-wait-async");
    assert.equal(code, 0, errors);
    // Nothing can watch: until something reads or looks, the caught-up subscriber's closed waits (documented).
    assert.deepEqual(JSON.parse(output), { before: false, after: true });
  });

  it("a read woken again and again from another view keeps one timer, not one per sleep", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    const real = globalThis.setTimeout;
    let timers = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timers++;
      return real(...args);
    }) as typeof setTimeout;
    try {
      for (let n = 0; n < 200; n++) {
        const got = sub.recv(); // parks: nothing to read
        other.send(n); // a notify: the parked read wakes through Atomics.waitAsync, as from another thread
        assert.equal(await got, n);
      }
    } finally {
      globalThis.setTimeout = real;
    }
    sub.close();
    bus.close();
    // One timer, and one more each time it fires (every PARK_TIMEOUT) while a read is parked.
    assert.ok(timers <= 3, `${timers} timers for 200 sleeps`);
  });

  it("a bus dropped while this thread's wait on it is still pending can be collected", {
    skip: forceGC() ? false : "no forced GC here: run with --expose-gc",
  }, async () => {
    let collected = false;
    const registry = new FinalizationRegistry(() => collected = true);
    await (async () => {
      const bus = new SharedBus<number>();
      const words = new Int32Array(bus.handle.buffer);
      const sub = elsewhere(bus).subscribe();
      const parked = sub.recv().catch(() => undefined);
      await macrotask();
      const signal = Atomics.load(words, DATA_SIGNAL);
      sub.close();
      await parked;
      // Nothing notified the word: the parked read's Atomics.waitAsync, which has no timeout, is still pending.
      assert.equal(Atomics.load(words, DATA_SIGNAL), signal);
      registry.register(bus.handle.buffer, "memory");
    })();
    for (let round = 0; round < 10 && !collected; round++) await collectGarbage();
    assert.ok(collected, "the pending wait held the bus's memory");
  });

  it("parked reads that finished no longer keep the process alive", { timeout: 60_000 }, async () => {
    const { code, output, errors } = await runCase("finished");
    assert.equal(code, 0, errors);
    assert.equal(output, "[1,1]", "the process outlived its reads: a finished parked read still held it open");
  });
});
