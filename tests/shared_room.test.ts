/**
 * Room on a `SharedBus` under `"wait"` and `"drop-newest"`: which subscribers
 * hold producers (one still joining on another thread does; the memory after
 * the subscriber table, when every slot is taken and another thread's send is
 * half written, does not), subscribers released as presumed dead
 * (`releaseAfter`: only those holding the ring, only by a send that finds no
 * room, their slots taken again), and `write()` and `bus.ready` waiting for
 * room that readers on any view free (`ready` is one promise while nothing
 * changes, and waits behind this view's writes); a child process checks that
 * nothing is left running once the waits are over. What another thread
 * leaves halfway through a join or a send is written into the shared memory
 * by hand, the state a real race would freeze.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bus, BusFullError, EMPTY, SharedBus, type SharedCodec } from "../mod.ts";
import {
  ACTIVE,
  ENTRY_STATE,
  HEAD,
  RELEASED_SLOT,
  RESCAN_FLAG,
  STATUS,
  SUBSCRIBERS,
  TABLE_BYTE,
} from "../src/shared/layout.ts";
import { take } from "./_read.ts";
import { runScript } from "./_child.ts";
import { watchdog } from "./_watchdog.ts";
import { claimWithoutWriting, elsewhere, joinHalfway, JOINING, stallJoiner } from "./_shared.ts";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("SharedBus room: who holds producers", () => {
  for (const overflow of ["wait", "drop-newest"] as const) {
    it(`a subscriber still joining on another thread holds "${overflow}" producers at the cursor it published`, () => {
      const bus = new SharedBus<number>({ capacity: 2, overflow });
      bus.send(0);
      bus.send(1);
      joinHalfway(bus, 2); // at the tail
      assert.equal(bus.subscriberCount, 0, "not counted yet");
      bus.send(2);
      bus.send(3);
      if (overflow === "wait") assert.throws(() => bus.send(4), BusFullError);
      else assert.equal(bus.send(4), 0, "discarded");
      assert.deepEqual(
        [bus.stats().sent, bus.stats().blocked + bus.stats().discarded],
        [4, 1],
        "nothing it is about to read was overwritten",
      );
    });
  }

  it("with every subscriber slot taken and another thread's send half written, only subscribers hold producers", () => {
    // The word after the subscriber table is the first ring slot's mark: while a value is written there, its low
    // bits can read as a subscriber's status, and the payload length after it as a cursor. Producers must not scan
    // past the table.
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", maxSubscribers: 1 });
    for (let n = 0; n < 4; n++) bus.send(n); // slot 0 keeps the 1-byte payload of 0
    const sub = bus.subscribe(); // the only subscriber slot, at 4
    assert.equal(claimWithoutWriting(bus), 4, "stopped while writing slot 0");
    for (let n = 5; n < 8; n++) assert.equal(bus.send(n), 1, `room for ${n}: the subscriber reads from 4`);
    assert.throws(() => bus.send(8), BusFullError, "4 to 7 are held for it");
    assert.equal(sub.tryRecv(), EMPTY, "it waits at the value being written");
  });

  it("with every subscriber slot taken and another thread's send half written, a release counts only subscribers", () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", maxSubscribers: 1, releaseAfter: 0 });
    for (let n = 0; n < 3; n++) bus.send(n); // slot 0 keeps the 1-byte payload of 0
    const stuck = bus.subscribe(); // the only subscriber slot, at 3
    bus.send(3);
    assert.equal(claimWithoutWriting(bus), 4, "stopped while writing slot 0");
    assert.equal(bus.send(5), 1);
    assert.equal(bus.send(6), 1);
    assert.equal(bus.send(7), 0, "sent to nobody: the subscriber holding the ring was released");
    assert.deepEqual([bus.stats().released, bus.subscriberCount], [1, 0]);
    assert.equal(stuck.position, 3);
  });
});

describe("SharedBus room: subscribers released as presumed dead", () => {
  it("only a send that finds no room releases, only subscribers holding the ring, and their slots are taken again", () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0, maxSubscribers: 2 });
    const left = bus.subscribe();
    const stuck = bus.subscribe();
    bus.send(1);
    bus.send(2);
    left.close(); // its slot is free, its cursor still where it left, a full ring behind
    assert.deepEqual([bus.stats().released, bus.subscriberCount], [0, 1], "a subscriber leaving releases nobody");
    assert.equal(bus.send(3), 0, "sent at once, to nobody: the subscriber holding the ring was released");
    assert.deepEqual(
      [bus.stats().released, bus.subscriberCount, bus.stats().blocked],
      [1, 0, 0],
      "the slot the closed subscriber left is not a subscriber",
    );
    // Alive after all: it joins again where the ring still holds, and its old slot is free for a newcomer.
    assert.equal(stuck.tryRecv(), 2);
    assert.equal(stuck.missed, 1);
    const late = bus.subscribe();
    assert.equal(bus.subscriberCount, 2);
    assert.equal(bus.send(4), 2);
    assert.deepEqual([stuck.tryRecv(), stuck.tryRecv(), late.tryRecv()], [3, 4, 4]);
  });

  it("a released subscriber that reads again after its slot was taken leaves the new owner's cursor alone", () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0, maxSubscribers: 1 });
    const stuck = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(bus.send(3), 0, "sent to nobody: stuck was released");
    const late = bus.subscribe(); // the only slot, the one stuck was released from, at 3
    assert.equal(stuck.tryRecv(), 2, "alive after all: it reads on, though it finds no slot to join again in");
    assert.equal(stuck.missed, 1, "1 was overwritten while it stood still");
    assert.equal(
      bus.send(4),
      1,
      "late keeps its place: had stuck written its position there, late would hold the ring",
    );
    assert.equal(bus.send(5), 1);
    assert.deepEqual(take(late), [4, 5]);
    assert.deepEqual([bus.stats().released, bus.subscriberCount], [1, 1]);
    // Unguarded, stuck holds no producer back: what is overwritten before it reads it counts as missed.
    bus.send(6);
    assert.deepEqual(take(stuck), [5, 6]);
    assert.equal(stuck.missed, 3, "3 and 4 were overwritten too");
    // Once the slot frees, its next read joins it again, counted, and it holds producers again.
    late.close();
    assert.equal(bus.send(7), 0, "nobody counted yet");
    assert.equal(stuck.tryRecv(), 7);
    assert.equal(bus.subscriberCount, 1, "joined again at its read");
    assert.equal(bus.send(8), 1);
    assert.equal(bus.send(9), 1);
    assert.equal(bus.send(10), 0, "it held the ring again, so with releaseAfter 0 this send released it again");
    assert.equal(bus.stats().released, 2);
    assert.deepEqual(take(stuck), [9, 10]);
    assert.equal(stuck.missed, 4, "8 was overwritten by that send");
  });

  it("a joiner released mid-join, its slot taken by another, leaves the new owner's cursor alone", () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait", replay: true, maxSubscribers: 1 });
    bus.send(0);
    bus.send(1);
    const buffer = bus.handle.buffer;
    const atomics = Atomics as unknown as {
      compareExchange: (...args: [Int32Array, number, number, number]) => number;
    };
    const exchange = atomics.compareExchange;
    let thief: ReturnType<typeof bus.subscribe> | undefined;
    let released = false;
    // As the joiner flags producers to rescan (it is JOINING, its cursor at 0), a producer releases it (its
    // thread stood still for the grace) and another thread's join takes the slot, at 2.
    atomics.compareExchange = (array, index, expected, replacement) => {
      if (array.buffer === buffer && index === HEAD && (replacement & RESCAN_FLAG) !== 0 && !released) {
        released = true;
        const state = (TABLE_BYTE >> 2) + ENTRY_STATE;
        assert.equal(Atomics.load(array, state) & STATUS, JOINING);
        Atomics.store(array, state, (Atomics.load(array, state) & ~STATUS) | RELEASED_SLOT);
        thief = elsewhere(bus).subscribe();
      }
      return exchange(array, index, expected, replacement);
    };
    try {
      assert.throws(() => bus.subscribe({ from: "oldest" }), {
        name: "RangeError",
        message: /all 1 subscriber slots are in use/,
      }, "it joins again, and finds no slot");
    } finally {
      atomics.compareExchange = exchange;
    }
    assert.equal(thief?.position, 2);
    assert.deepEqual(
      [bus.send(2), bus.send(3), bus.send(4), bus.send(5)],
      [1, 1, 1, 1],
      "the thief holds 2 on, not 0 on",
    );
    assert.deepEqual(take(thief!), [2, 3, 4, 5]);
  });

  it("a write that goes out and leaves the ring full releases nobody: only a send that finds no room does", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    // A joiner frozen halfway holds producers but cannot be released yet: a write waits, even with releaseAfter 0.
    const state = joinHalfway(bus, 0);
    const sub = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(sub.tryRecv(), 1);
    const written = bus.write(3);
    await sleep(5);
    // The join completes (counted, then active, still at 0): the waiting producer releases it, and 3 goes out.
    const words = new Int32Array(bus.handle.buffer);
    Atomics.add(words, SUBSCRIBERS, 1);
    Atomics.store(words, state, (1 << 3) | ACTIVE);
    assert.equal(await watchdog(written, 5000, () => "the write did not go out"), 1);
    assert.deepEqual(
      [bus.stats().released, bus.subscriberCount],
      [1, 1],
      "sub holds the ring the write filled, but no send has found it full",
    );
    assert.deepEqual(take(sub), [2, 3]);
    assert.equal(sub.missed, 0);
  });
});

describe("SharedBus room: a join that never finishes", () => {
  it("a joiner stopped halfway (its worker terminated while subscribing) is released after 2 s, not before", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    bus.subscribe().close(); // slot 0 is free again, with its last cursor (0) still written there: never released
    const state = stallJoiner(bus, 0); // slot 1
    bus.send(1);
    bus.send(2);
    const started = performance.now();
    const written = bus.write(3);
    assert.equal(await watchdog(written, 10_000, () => "the write did not go out"), 0, "nobody counted");
    const waited = performance.now() - started;
    assert.ok(waited >= 1900, `released after ${waited.toFixed(0)} ms: a joiner has 2 s whatever releaseAfter says`);
    const words = new Int32Array(bus.handle.buffer);
    assert.equal(Atomics.load(words, state) & STATUS, RELEASED_SLOT);
    assert.deepEqual([bus.stats().released, bus.subscriberCount, bus.stats().sent], [1, 0, 3], "the joiner alone");
    const sub = bus.subscribe();
    assert.equal(bus.send(4), 1, "the ring has room again, and counts the new subscriber");
    assert.deepEqual(take(sub), [4]);
  });

  it("a joiner released while it joins (its thread stood still for the grace) joins again, counted once", () => {
    const bus = new SharedBus<number>({ capacity: 4, overflow: "wait" });
    const buffer = bus.handle.buffer;
    const atomics = Atomics as unknown as {
      compareExchange: (...args: [Int32Array, number, number, number]) => number;
    };
    const exchange = atomics.compareExchange;
    let releases = 0;
    // A producer's release lands between the joiner's last two steps: the state word is no longer JOINING.
    atomics.compareExchange = (array, index, expected, replacement) => {
      if (
        array.buffer === buffer && releases === 0 && (expected & STATUS) === JOINING &&
        (replacement & STATUS) === ACTIVE
      ) {
        releases++;
        Atomics.store(array, index, (expected & ~STATUS) | RELEASED_SLOT);
      }
      return exchange(array, index, expected, replacement);
    };
    let sub: ReturnType<typeof bus.subscribe>;
    try {
      sub = bus.subscribe();
    } finally {
      atomics.compareExchange = exchange;
    }
    assert.equal(releases, 1, "the joiner was released once, mid-join");
    assert.equal(bus.subscriberCount, 1, "counted once, in its second slot");
    bus.send(7);
    assert.equal(sub.tryRecv(), 7);
    sub.close();
    assert.equal(bus.subscriberCount, 0);
  });
});

describe("SharedBus room: write() waiting for room", () => {
  it("a write made and given up in a codec as the queue sends leaves later writes woken by readers on another view", async () => {
    // As 1 goes out, its encode has another view take the room, makes a write that waits for room behind 1 and
    // gives it up, and has the reader free the room: the queue empties while its wait for room is still open.
    const hooks: { next: (() => void) | undefined } = { next: undefined };
    const codec: SharedCodec<number> = {
      encode(n) {
        const hook = n === 1 ? hooks.next : undefined;
        hooks.next = undefined;
        hook?.();
        return Uint8Array.of(n);
      },
      decode: (bytes) => bytes[0]!,
    };
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait", codec });
    const thief = SharedBus.attach<number>(structuredClone(bus.handle), { codec });
    const sub = SharedBus.attach<number>(structuredClone(bus.handle), { codec }).subscribe();
    const seen: number[] = [];
    let given: Promise<number> | undefined;
    bus.send(0);
    const first = bus.write(1); // waits for room
    hooks.next = () => { // as 1 goes out
      thief.send(101); // another view takes the room
      const controller = new AbortController();
      given = bus.write(2, { signal: controller.signal }); // waits behind 1, for room
      controller.abort(new Error("given up"));
      seen.push(sub.tryRecv() as number); // 101: room for 1 again, freed on the reader's view
    };
    seen.push(sub.tryRecv() as number); // 0: room for the write
    assert.equal(await watchdog(first, 5000, () => "the first write did not go out"), 1);
    await assert.rejects(given!, /given up/);
    const later = bus.write(3); // 1 is unread: it waits
    seen.push(sub.tryRecv() as number);
    assert.equal(await watchdog(later, 5000, () => "the later write was never woken"), 1);
    seen.push(sub.tryRecv() as number);
    assert.deepEqual(seen, [0, 101, 1, 3]);
  });
});

describe("SharedBus room: bus.ready", () => {
  it("is one promise while nothing changes: the same resolved one with room, the same pending one while it waits", async () => {
    const buses = [
      ...(["drop-oldest", "drop-newest", "wait"] as const).map((overflow) =>
        new SharedBus<number>({ capacity: 1, overflow })
      ),
      new Bus<number>({ capacity: 1, overflow: "wait" }),
    ];
    for (const bus of buses) {
      assert.equal(bus.ready, bus.ready, `${bus.constructor.name} ${bus.overflow}: with room`);
    }
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const waiting = bus.ready;
    assert.equal(bus.ready, waiting, "while it waits");
    assert.equal(sub.tryRecv(), 0);
    await watchdog(waiting, 2000, () => "ready did not open");
    assert.equal(bus.ready, bus.ready, "with room again");
  });

  it("waits behind a write that room opened for but that has not gone out yet", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe();
    bus.send(0);
    const written = bus.write(1);
    assert.equal(sub.tryRecv(), 0); // room for the write, which goes out in a microtask
    let opened = false;
    const ready = bus.ready;
    ready.then(() => opened = true);
    assert.equal(await written, 1);
    await sleep(5);
    assert.equal(opened, false, "the write took the room: a ready-gated send would have overtaken it");
    assert.equal(sub.tryRecv(), 1);
    await watchdog(ready, 2000, () => "ready did not open");
  });

  it("waiting behind this view's writes, opens when a reader on another view frees room after they went out", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = elsewhere(bus).subscribe(); // only Atomics tell this view what it reads
    bus.send(0);
    const written = [bus.write(1), bus.write(2)];
    let opened = false;
    const ready = bus.ready;
    ready.then(() => opened = true);
    const seen: number[] = [];
    for (let n = 1; n <= 2; n++) {
      seen.push(sub.tryRecv() as number);
      assert.equal(await watchdog(written[n - 1]!, 5000, () => `write ${n} did not go out`), 1);
    }
    await sleep(5);
    assert.equal(opened, false, "the writes took the room");
    seen.push(sub.tryRecv() as number);
    await watchdog(ready, 5000, () => "ready did not open when a reader on another view freed room");
    assert.deepEqual(seen, [0, 1, 2]);
  });
});

/**
 * A program that waits for room on two buses, as `bus.ready` alone and as
 * `bus.ready` behind a `write`, each opened by a read on another view, and
 * then has nothing left to do. An unreferenced timer prints "lingered" only
 * if something still holds the process open when it is due (a producers'
 * sleeper left running holds it for its timeout, 500 ms).
 */
const ROOM_EXIT = `
import { setTimeout as timer } from "node:timers";
import { SharedBus } from MOD;

{
  const bus = new SharedBus({ capacity: 1, overflow: "wait" });
  const sub = SharedBus.attach(structuredClone(bus.handle)).subscribe();
  bus.send(0);
  const ready = bus.ready;
  await new Promise((resolve) => setTimeout(resolve, 5));
  sub.tryRecv();
  await ready;
  globalThis.subs = [sub];
}
{
  const bus = new SharedBus({ capacity: 2, overflow: "wait" });
  const sub = SharedBus.attach(structuredClone(bus.handle)).subscribe();
  bus.send(0);
  bus.send(1);
  const written = bus.write(2);
  const ready = bus.ready;
  await new Promise((resolve) => setTimeout(resolve, 5));
  sub.drain(() => {}); // two slots: one for the write, one left, so ready opens once the write went out
  await written;
  await ready;
  globalThis.subs.push(sub);
}
timer(() => console.log("lingered"), 200).unref();
`;

describe("SharedBus room: the process after the waits", () => {
  it("once bus.ready and this view's writes have settled, nothing of the bus holds the process open", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "ron-bus-room-"));
    try {
      const script = join(dir, "room_exit.mts");
      writeFileSync(script, ROOM_EXIT.replace("MOD", JSON.stringify(new URL("../mod.ts", import.meta.url).href)));
      const { code, output, errors } = await runScript(script);
      assert.equal(code, 0, errors);
      assert.equal(output, "", "the process outlived the waits: a producers' sleeper still held it open");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
