/**
 * The reading paths of a `SharedBus` subscriber, on one thread and between
 * two views of one bus (two `attach`es wake each other only through
 * `Atomics`, so a send from the other view settles a parked read later, as a
 * send from a Worker does): take, drain, wait, the hold of a parked read,
 * wake-ups of several parked readers and the process they keep alive,
 * re-entrant drain and decode callbacks (a send from one wakes again while
 * a wake-up runs), what close does to parked and caught-up readers, a slot
 * whose 32-bit mark names a reader's position again after 2^31 values, a
 * subscriber released as presumed dead that reads again, and a value claimed
 * but never written (a producer stopped in the middle of a send).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Bus, BusClosedError, BusFullError, CLOSED, EMPTY, LaggedError, SharedBus, type SharedCodec } from "../mod.ts";
import { startSharedSequenceAt } from "../src/shared/bus.ts";
import { startAt } from "../src/shared/memory.ts";
import { take } from "./_read.ts";
import { runScript } from "./_child.ts";
import { watchdog } from "./_watchdog.ts";
import { innerDrainEndsAtLastValue } from "./_both_buses.ts";
import { claimWithoutWriting, elsewhere } from "./_shared.ts";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const still = Symbol("pending");
  return await Promise.race([promise, sleep(ms).then(() => still)]) === still;
}

/** A string codec whose next decode first runs `hooks.next`: user code inside a read. */
function hookedCodec(): { codec: SharedCodec<string>; hooks: { next: (() => void) | undefined } } {
  const hooks: { next: (() => void) | undefined } = { next: undefined };
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const codec: SharedCodec<string> = {
    encode: (value) => encoder.encode(value),
    decode: (bytes) => {
      const hook = hooks.next;
      hooks.next = undefined;
      hook?.();
      return decoder.decode(bytes);
    },
  };
  return { codec, hooks };
}

describe("SharedBus parked reads", () => {
  it("while a recv() is parked, tryRecv() and drain() made before its wake-up get nothing: the parked read gets the value", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    const got = sub.recv();
    other.send(1); // wakes the parked read through Atomics: later, not in this call
    assert.equal(sub.tryRecv(), EMPTY);
    assert.equal(sub.drain(() => assert.fail("drain handed a value a parked read waits for")), 0);
    assert.equal(await watchdog(got, 2000, () => "recv did not wake"), 1);
    assert.equal(sub.tryRecv(), EMPTY);
  });

  it("a read queued behind a parked one, with a value there already, settles both without waiting for the wake-up", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    const first = sub.recv();
    other.send(1);
    const second = sub.recv(); // the value is there: this read does not wait for the Atomics wake-up to settle the first
    let settled = false;
    first.then(() => settled = true);
    for (let i = 0; i < 10 && !settled; i++) await Promise.resolve();
    assert.equal(settled, true, "the first read settled within microtasks");
    assert.equal(await first, 1);
    other.send(2); // the second read, parked again, still wakes
    assert.equal(await watchdog(second, 2000, () => "the second recv did not wake"), 2);
    const third = sub.recv();
    other.send(3);
    assert.equal(await watchdog(third, 2000, () => "a later recv did not wake"), 3);
  });

  it("wait() on a bus another view closed resolves false at once, and the subscriber has ended", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    other.send(1);
    assert.equal(sub.tryRecv(), 1);
    other.close();
    assert.equal(await watchdog(sub.wait(), 2000, () => "wait did not see the end"), false);
    await watchdog(sub.closed, 2000, () => "closed did not resolve");
    assert.equal(bus.subscriberCount, 0);
  });

  it("closing one of two parked subscribers leaves the other woken by sends from another view", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const a = bus.subscribe();
    const b = bus.subscribe();
    const gotA = a.recv();
    const gotB = b.recv();
    b.close();
    await assert.rejects(gotB, BusClosedError);
    await sleep(5);
    other.send(1);
    assert.equal(await watchdog(gotA, 2000, () => "the other parked recv did not wake"), 1);
  });

  it("a closed subscriber's parked reads no longer keep the process alive", { timeout: 60_000 }, async () => {
    const { code, output, errors } = await runScript(fileURLToPath(new URL("./_park_exit.ts", import.meta.url)));
    assert.equal(code, 0, errors);
    assert.equal(output, "", "the process outlived the close: its parked reads still held it open");
  });

  it("user code run while parked reads wake (a decode) may close another parked subscriber and park a new one", async () => {
    const { codec, hooks } = hookedCodec();
    const bus = new SharedBus<string>({ codec });
    const a = bus.subscribe();
    const b = bus.subscribe();
    const gotA = a.recv();
    const gotB = b.recv();
    let late: ReturnType<typeof bus.subscribe> | undefined;
    let gotLate: Promise<string> | undefined;
    hooks.next = () => {
      late = bus.subscribe();
      gotLate = late.recv();
      b.close();
    };
    assert.equal(bus.send("x"), 2); // wakes a, whose decode runs the hook, then b, closed meanwhile
    assert.equal(await gotA, "x");
    await assert.rejects(gotB, BusClosedError);
    bus.send("y");
    assert.equal(await watchdog(gotLate!, 2000, () => "the subscriber parked during the wake-ups did not wake"), "y");
    assert.deepEqual(take(a), ["y"]);
    late!.close();
  });
  it("a send from user code run while parked reads wake (a decode) wakes what parked meanwhile, and readers parked again still wake", async () => {
    const { codec, hooks } = hookedCodec();
    const bus = new SharedBus<string>({ codec });
    const a = bus.subscribe();
    const b = bus.subscribe();
    const gotA = a.recv();
    const gotB = [b.recv(), b.recv(), b.recv()]; // b parks again after the two values there are
    let late: ReturnType<typeof bus.subscribe> | undefined;
    let gotLate: Promise<string> | undefined;
    hooks.next = () => {
      late = bus.subscribe();
      gotLate = late.recv(); // parks while the wake-up of a and b runs
      bus.send("y"); // wakes it, in the middle of that wake-up
    };
    bus.send("x"); // wakes a, whose decode runs the hook, then b
    assert.equal(await gotA, "x");
    assert.equal(await gotLate!, "y");
    assert.deepEqual(await Promise.all(gotB.slice(0, 2)), ["x", "y"]);
    bus.send("z");
    assert.equal(await watchdog(gotB[2]!, 2000, () => "the read parked again did not wake"), "z");
    assert.deepEqual([take(a), take(late!)], [["y", "z"], ["z"]]);
    a.close();
    b.close();
    late!.close();
  });
});

describe("SharedBus.close() and parked reads", () => {
  for (
    const [name, make] of [["Bus", () => new Bus<number>()], ["SharedBus", () => new SharedBus<number>()]] as const
  ) {
    it(`${name}.close() ends each caught-up subscriber in turn: its closed promise, then its parked read`, async () => {
      const bus = make();
      const subs = [bus.subscribe(), bus.subscribe()];
      const log: string[] = [];
      subs.forEach((sub, i) => {
        sub.closed.then(() => log.push(`closed ${i}`));
        sub.recv().catch((error) => log.push(`recv ${i} ${error.name}`));
      });
      bus.close();
      await sleep(0);
      assert.deepEqual(log, ["closed 0", "recv 0 BusClosedError", "closed 1", "recv 1 BusClosedError"]);
    });
  }

  for (
    const [name, make] of [["Bus", () => new Bus<number>()], ["SharedBus", () => new SharedBus<number>()]] as const
  ) {
    it(`${name}.close() again, from a drain callback on the last value, changes nothing: the subscriber ends as the drain returns`, () => {
      const bus = make();
      const sub = bus.subscribe();
      bus.send(1);
      bus.close();
      const seen: unknown[] = [];
      assert.equal(
        sub.drain(() => {
          bus.close(); // idempotent: the first close did all there was to do
          seen.push(bus.subscriberCount, bus.stats().subscribers);
        }),
        1,
      );
      seen.push(bus.subscriberCount, sub.tryRecv());
      assert.deepEqual(seen, [1, 1, 0, CLOSED]);
    });
  }

  it("close() hands this thread's parked reads what another view sent before it, then ends them, without waiting for the wake-up", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    const log: unknown[] = [];
    sub.recv().then((value) => log.push(value));
    sub.recv().catch((error) => log.push(error.name));
    other.send(1); // its wake-up reaches this view through Atomics: later, not in this call
    bus.close();
    assert.equal(bus.subscriberCount, 0, "the parked read took the last value at close, so the subscriber ended");
    for (let i = 0; i < 10 && log.length < 2; i++) await Promise.resolve();
    assert.deepEqual(log, [1, "BusClosedError"]);
  });

  it("close() with every subscriber slot taken and a value claimed but never written still counts the subscriber that waits for it", () => {
    // One subscriber slot, so the table ends where the ring's first slot begins; that slot is being written.
    const bus = new SharedBus<string>({ codec: "string", capacity: 4, maxSubscribers: 1 });
    const sub = bus.subscribe();
    for (const value of ["first", "b", "c", "d"]) bus.send(value); // "first" takes 5 bytes: as many as values claimed
    assert.equal(claimWithoutWriting(bus, true), 4); // slot 0 again
    bus.close();
    assert.equal(bus.subscriberCount, 1, "the subscriber has not read everything: it is still counted");
    assert.deepEqual(take(sub), ["b", "c", "d"]);
    assert.equal(sub.missed, 1);
    assert.equal(sub.tryRecv(), EMPTY, "it waits at the value claimed but never written");
    assert.equal(bus.stats().subscribers, 1);
    sub.close();
    assert.equal(bus.subscriberCount, 0);
  });
});

describe("SharedBus.close() on another view and sub.closed", () => {
  it("resolves the closed promise of a caught-up subscriber nobody reads, on a view that did not close", async () => {
    const bus = new SharedBus<number>();
    const other = SharedBus.attach<number>(bus.handle);
    const idle = other.subscribe();
    const behind = other.subscribe();
    bus.send(1);
    assert.equal(idle.tryRecv(), 1);
    let idleEnded = false;
    let behindEnded = false;
    idle.closed.then(() => idleEnded = true);
    behind.closed.then(() => behindEnded = true);
    bus.close();
    await watchdog(idle.closed, 2000, () => "the caught-up subscriber's closed promise never resolved");
    assert.equal(idleEnded, true);
    await sleep(20);
    assert.equal(behindEnded, false, "a subscriber with a value left ends only as it reads it");
    assert.equal(behind.tryRecv(), 1);
    await watchdog(behind.closed, 2000, () => "the closed promise of the one that read its last value never resolved");
    assert.deepEqual([other.subscriberCount, bus.subscriberCount], [0, 0]);
  });

  it("watching for the close does not keep the subscriber's view from noticing a close made on its own view", async () => {
    const bus = new SharedBus<number>();
    const other = SharedBus.attach<number>(bus.handle);
    const sub = other.subscribe();
    const closed = sub.closed;
    other.close();
    await watchdog(closed, 2000, () => "closed never resolved");
    assert.equal(sub.tryRecv(), CLOSED);
    assert.equal(bus.closed, true);
  });
});

describe("SharedBus slot reads and the 32-bit marks", () => {
  it("a subscriber 2^31 values behind, whose slot's mark names its position again, reads the newer value once and counts the gap", async () => {
    const bus = new SharedBus<string>({ codec: "string", capacity: 1 });
    const sub = bus.subscribe(); // at 0
    const parked = bus.subscribe();
    const got = parked.recv();
    // What 2^31 sends nobody read leave: the numbers past 2^31 and the one slot marked with the last of them.
    startAt(bus.handle.buffer, 2 ** 31);
    bus.send("new"); // number 2^31: a slot's mark holds the number modulo 2^31, so it reads as 0's
    assert.equal(sub.tryRecv(), "new");
    assert.equal(sub.missed, 2 ** 31);
    assert.equal(sub.position, 2 ** 31 + 1);
    assert.equal(sub.tryRecv(), EMPTY);
    assert.equal(await got, "new");
    assert.equal(parked.missed, 2 ** 31);
    assert.equal(parked.tryRecv(), EMPTY);
    assert.equal(bus.stats().dropped, 2 ** 32);
    sub.close();
    parked.close();
  });
});

describe("SharedBus drain() re-entrancy", () => {
  it("a subscriber closed in its own drain callback stays closed when the callback subscribes another", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    bus.send(1);
    let joined: ReturnType<typeof bus.subscribe> | undefined;
    assert.equal(
      sub.drain(() => {
        sub.close();
        joined = bus.subscribe();
      }),
      1,
    );
    assert.equal(bus.subscriberCount, 1);
    assert.equal(bus.stats().subscribers, 1);
    joined!.close();
    assert.equal(bus.subscriberCount, 0);
  });
  it("ends a subscriber whose drain, called from its own drain callback, reads the last value: when that drain returns", async () => {
    await innerDrainEndsAtLastValue(new SharedBus<number>());
  });
});

describe("SharedBus released subscribers", () => {
  it(`a released subscriber that drains again holds "wait" producers from where it is, even mid-drain`, async () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", releaseAfter: 20 });
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    for (let n = 0; n < 4; n++) bus.send(n);
    assert.throws(() => bus.send(4), BusFullError);
    await watchdog(bus.ready, 5000, () => "the subscriber was not released");
    assert.equal(bus.stats().released, 1);
    bus.send(4); // overwrites 0
    const got: number[] = [];
    let refused = 0;
    sub.drain((value) => {
      if (got.length === 0) {
        for (let i = 0; i < 2; i++) {
          try {
            other.send(100 + i);
          } catch (error) {
            assert.ok(error instanceof BusFullError);
            refused++;
          }
        }
      }
      got.push(value);
    });
    got.push(...take(sub));
    assert.deepEqual(got, [1, 2, 3, 4]);
    assert.equal(refused, 2, "the other view's sends wait for the subscriber that joined again");
    assert.equal(sub.missed, 1);
    assert.equal(bus.subscriberCount, 1);
  });
  it("a released subscriber joins again at its next read, even one that reports the values its numbered start owes", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 20 });
    startSharedSequenceAt(bus, 10);
    const sub = bus.subscribe({ from: 5, lag: "error" }); // 5 to 9 were never retained: owed as missed
    bus.send(10);
    bus.send(11);
    assert.throws(() => bus.send(12), BusFullError);
    await watchdog(bus.ready, 5000, () => "the subscriber was not released");
    assert.equal(bus.subscriberCount, 0);
    assert.throws(() => sub.tryRecv(), (error) => error instanceof LaggedError && error.missed === 5);
    assert.equal(bus.subscriberCount, 1, "alive after all: it joined again where it was");
    assert.throws(() => bus.send(12), BusFullError);
    assert.deepEqual(take(sub), [10, 11]);
    assert.equal(sub.missed, 5);
  });
});

describe("SharedBus and a value claimed but never written", () => {
  it("readers wait at it, by every path, even after the bus closes", async () => {
    const bus = new SharedBus<number>({ capacity: 2 });
    const sub = bus.subscribe();
    const second = bus.subscribe();
    assert.equal(claimWithoutWriting(bus, true), 0);
    bus.send(1);
    assert.equal(bus.stats().sent, 2);
    assert.equal(sub.tryRecv(), EMPTY);
    assert.equal(sub.drain(() => assert.fail("drain handed a value past the unwritten one")), 0);
    const waiting = sub.wait();
    assert.equal(await pendingAfter(waiting, 30), true, "wait() resolved with nothing to read");
    bus.close();
    assert.equal(second.tryRecv(), EMPTY, "the unwritten value was claimed: its reader waits for it");
    const waitingAfterClose = second.wait();
    assert.equal(await pendingAfter(waitingAfterClose, 30), true, "wait() saw an end while a value is owed");
    assert.equal(await pendingAfter(waiting, 0), true);
    assert.equal(bus.subscriberCount, 2);
    sub.close();
    second.close();
    assert.equal(await waiting, false);
    assert.equal(await waitingAfterClose, false);
  });

  it("once the ring laps it, readers skip it as a lag of one", async () => {
    const bus = new SharedBus<number>({ capacity: 2 });
    const sub = bus.subscribe();
    claimWithoutWriting(bus, true); // 0, never written
    bus.send(1);
    claimWithoutWriting(bus, false); // 2: its producer waits for the slot 0 still holds
    assert.equal(await watchdog(sub.wait(), 1000, () => "wait did not see the lag"), true);
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.missed, 1);
    assert.equal(bus.stats().dropped, 1);
    assert.equal(sub.tryRecv(), EMPTY);
  });
});
