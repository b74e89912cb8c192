/**
 * `SharedBus` on one thread, and between two views of one bus on the same
 * thread (two `attach`es share memory exactly as two threads do, but wake
 * each other only through `Atomics`): options, codecs, handles, sequence
 * numbers across the 32-bit wrap and near 2^53, liveness, wake-ups and the
 * missing-`SharedArrayBuffer` (or `Atomics`) error. The law suite with real
 * workers is `shared_threads.test.ts`; the model test is
 * `shared_model.test.ts`.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BusClosedError,
  BusFullError,
  CLOSED,
  EMPTY,
  LaggedError,
  SharedBus,
  type SharedCodec,
  type Subscriber,
  toPrometheus,
} from "../mod.ts";
import { startSharedSequenceAt } from "../src/shared/bus.ts";
import { DATA_SIGNAL, EPOCH, READERS_ASLEEP } from "../src/shared/layout.ts";
import { PARK_TIMEOUT } from "../src/shared/wake.ts";
import { take } from "./_read.ts";
import { watchdog } from "./_watchdog.ts";
import { elsewhere } from "./_shared.ts";

const POLICIES = ["drop-oldest", "drop-newest", "wait"] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends on `bus` (a `"drop-newest"` one) every 10 ms until a subscriber is
 * released, and returns when, by `performance.now()`.
 */
async function releaseOf(bus: SharedBus<number>): Promise<number> {
  const deadline = performance.now() + 20_000;
  while (bus.stats().released === 0) {
    assert.ok(performance.now() < deadline, "no subscriber was released in 20 s");
    bus.send(0);
    if (bus.stats().released !== 0) break;
    await sleep(10);
  }
  return performance.now();
}

/** Whether this is a browser window's main thread (the browser suite's page), which may not block. */
const ON_WINDOW = typeof (globalThis as { document?: unknown }).document !== "undefined";

/** The whole message where `SharedArrayBuffer` or `Atomics` is missing: both headers, with both values of the second. */
const NO_SHARED_MEMORY = new RegExp(
  "^SharedArrayBuffer is not available here: browsers provide it only to cross-origin isolated pages " +
    "\\(serve them with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp " +
    "or credentialless\\)$",
);

describe("new SharedBus()", () => {
  it("defaults to 256 slots of 256 bytes, drop-oldest and the JSON codec", () => {
    const bus = new SharedBus();
    assert.deepEqual([bus.capacity, bus.maxBytes, bus.overflow, bus.closed, bus.subscriberCount], [
      256,
      256,
      "drop-oldest",
      false,
      0,
    ]);
    assert.equal(bus.handle.codec, "json");
    assert.ok(bus.handle.buffer instanceof SharedArrayBuffer);
  });

  it("reports the overflow policy it was made with, and so does every view attached to it", () => {
    for (const overflow of POLICIES) {
      const bus = new SharedBus({ overflow });
      assert.equal(bus.overflow, overflow);
      assert.equal(elsewhere(bus).overflow, overflow, `${overflow}: read from the shared memory`);
    }
  });

  it("rounds the capacity up to a power of two and sizes f64 records by their fields", () => {
    assert.equal(new SharedBus({ capacity: 100 }).capacity, 128);
    const records = new SharedBus({ codec: { f64: ["a", "b", "c"] } });
    assert.equal(records.maxBytes, 24);
  });

  it("rejects bad options with errors that name the option, the value and what is allowed", () => {
    const cases: [unknown, string, RegExp][] = [
      [{ capacty: 4 }, "TypeError", /^Unknown option in shared bus options: "capacty"; expected one of /],
      [{ capacity: 2 ** 25 }, "RangeError", /^Invalid capacity: 33554432; /],
      [{ maxBytes: 0 }, "RangeError", /^Invalid maxBytes: 0; expected an integer from 1 to 2\^24$/],
      [{ maxBytes: "8" }, "TypeError", /^Invalid maxBytes: "8"; /],
      [{ maxSubscribers: 5000 }, "RangeError", /^Invalid maxSubscribers: 5000; expected an integer from 1 to 4096$/],
      [{ releaseAfter: -1 }, "RangeError", /^Invalid releaseAfter: -1; expected milliseconds/],
      [{ codec: "xml" }, "TypeError", /^Invalid codec: "xml"; expected "json", "string", \{ f64/],
      [
        { codec: { f64: [] } },
        "TypeError",
        /^Invalid codec.f64: an array; expected an array of 1 to 4096 field names$/,
      ],
      [{ codec: { f64: ["a", "a"] } }, "TypeError", /^Invalid codec.f64: an array; field names must differ$/],
      [{ codec: { f64: ["a"] }, maxBytes: 16 }, "RangeError", /^Invalid maxBytes: 16; f64 records of 1 fields take 8/],
      [
        { capacity: 2 ** 24, maxBytes: 2 ** 10 },
        "RangeError",
        /^Invalid capacity and maxBytes: 16777216 slots of 1024 bytes and 64 subscriber slots need 17448309120 bytes /,
      ],
      [{ overflow: "block" }, "TypeError", /^Invalid overflow: "block"/],
      [42, "TypeError", /^Invalid shared bus options: 42; expected an object$/],
      [null, "TypeError", /^Invalid shared bus options: null; expected an object$/],
      [{ releaseAfter: "5" }, "TypeError", /^Invalid releaseAfter: "5"; expected milliseconds/],
      [{ releaseAfter: Number.NaN }, "RangeError", /^Invalid releaseAfter: NaN; expected milliseconds/],
      [{ maxSubscribers: 0 }, "RangeError", /^Invalid maxSubscribers: 0; expected an integer from 1 to 4096$/],
      [{ wakeBatch: 0 }, "RangeError", /^Invalid wakeBatch: 0; expected an integer from 1 to 2\^24$/],
      [{ wakeBatch: 1.5 }, "RangeError", /^Invalid wakeBatch: 1.5; expected an integer from 1 to 2\^24$/],
      [{ wakeBatch: 2 ** 24 + 1 }, "RangeError", /^Invalid wakeBatch: 16777217; expected an integer from 1 to 2\^24$/],
      [{ wakeBatch: "8" }, "TypeError", /^Invalid wakeBatch: "8"; expected an integer 1 to 2\^24$/],
      [
        { capacty: 4 },
        "TypeError",
        new RegExp(
          '^Unknown option in shared bus options: "capacty"; expected one of "capacity", "overflow", "replay", "codec", ' +
            '"maxBytes", "maxSubscribers", "releaseAfter", "wakeBatch"$',
        ),
      ],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => new SharedBus(options as never), { name, message }, JSON.stringify(options));
    }
  });

  it("takes each bound itself: 1 and 2^24 bytes a slot, 1 and 4096 subscribers, f64 records with their own size", () => {
    assert.deepEqual([new SharedBus({ maxBytes: 1, maxSubscribers: 1 }).maxBytes], [1]);
    assert.equal(new SharedBus({ capacity: 1, maxBytes: 2 ** 24, maxSubscribers: 4096 }).maxBytes, 2 ** 24);
    assert.equal(new SharedBus({ codec: { f64: ["a"] }, maxBytes: 8 }).maxBytes, 8);
  });

  it("refuses a bus whose memory would be exactly 2 GiB: it takes less than 2^31 bytes", () => {
    // 384 bytes of settings and counters, 4090 subscriber lines of 64 bytes (2^18 bytes in all), and 2^15 slots of
    // a 16-byte header and 65512 payload bytes (2^31 - 2^18): 2^31 bytes exactly. Totals are multiples of 8, so
    // this is the smallest total over the bound.
    assert.throws(() => new SharedBus({ capacity: 2 ** 15, maxBytes: 65512, maxSubscribers: 4090 }), {
      name: "RangeError",
      message: new RegExp(
        "^Invalid capacity and maxBytes: 32768 slots of 65512 bytes and 4090 subscriber slots need 2147483648 bytes " +
          "of shared memory; a SharedBus takes less than 2 GiB$",
      ),
    });
  });

  it("throws a clear TypeError, not a ReferenceError, where SharedArrayBuffer is missing", () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, "SharedArrayBuffer")!;
    const handle = new SharedBus().handle;
    delete (globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer;
    try {
      const isolation = /cross-origin isolated pages .*Cross-Origin-Opener-Policy: same-origin/;
      assert.throws(() => new SharedBus(), { name: "TypeError", message: /^SharedArrayBuffer is not available/ });
      assert.throws(() => new SharedBus(), { message: isolation });
      assert.throws(() => SharedBus.attach(handle), { name: "TypeError", message: isolation });
      assert.throws(() => new SharedBus(), { message: NO_SHARED_MEMORY });
    } finally {
      Object.defineProperty(globalThis, "SharedArrayBuffer", descriptor);
    }
  });

  it("throws the same TypeError where Atomics is missing, before touching the memory", () => {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, "Atomics")!;
    const handle = new SharedBus().handle;
    delete (globalThis as { Atomics?: unknown }).Atomics;
    try {
      assert.throws(() => new SharedBus(), { name: "TypeError", message: NO_SHARED_MEMORY });
      assert.throws(() => SharedBus.attach(handle), { name: "TypeError", message: NO_SHARED_MEMORY });
    } finally {
      Object.defineProperty(globalThis, "Atomics", descriptor);
    }
  });
});

describe("SharedBus.attach()", () => {
  it("gives another view of the same bus: sends, subscribers, stats and close are shared", () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    assert.equal(other.subscriberCount, 1);
    assert.equal(other.send(1), 1);
    assert.equal(sub.tryRecv(), 1);
    assert.deepEqual(other.stats(), bus.stats());
    other.close();
    assert.equal(bus.closed, true);
    assert.throws(() => bus.send(2), BusClosedError);
  });

  it("rejects what is not a handle, and a custom codec's bus without its codec", () => {
    assert.throws(() => SharedBus.attach({} as never), { name: "TypeError", message: /^Invalid handle: expected/ });
    const foreign = { buffer: new SharedArrayBuffer(1024), codec: "json" } as const;
    assert.throws(() => SharedBus.attach(foreign), {
      name: "TypeError",
      message: /^Invalid handle: its memory is not/,
    });
    const codec: SharedCodec<string> = { encode: (s) => new TextEncoder().encode(s), decode: (b) => `${b.length}` };
    const bus = new SharedBus<string>({ codec });
    assert.equal(bus.handle.codec, "custom");
    assert.throws(() => SharedBus.attach(bus.handle), { name: "TypeError", message: /^Missing codec: / });
    assert.throws(
      () => SharedBus.attach(new SharedBus().handle, { codec }),
      /^TypeError: Invalid codec: this bus uses the "json" codec/,
    );
    const other = elsewhere(bus, codec);
    const sub = other.subscribe();
    bus.send("four");
    assert.equal(sub.tryRecv(), "4");
  });

  it("rejects a handle that is null, too small for the settings, not a bus's memory, or of another layout", () => {
    const expected = /^Invalid handle: expected the `handle` of a SharedBus, sent as it is \(it holds its memory\)$/;
    for (const handle of [null, undefined, 42, { buffer: new ArrayBuffer(1024) }]) {
      assert.throws(() => SharedBus.attach(handle as never), { name: "TypeError", message: expected }, String(handle));
    }
    // 64 bytes hold the settings words: a smaller buffer is refused before any is read, a blank one for its magic.
    assert.throws(() => SharedBus.attach({ buffer: new SharedArrayBuffer(60), codec: "json" }), {
      name: "TypeError",
      message: expected,
    });
    assert.throws(() => SharedBus.attach({ buffer: new SharedArrayBuffer(64), codec: "json" }), {
      name: "TypeError",
      message: /^Invalid handle: its memory is not a SharedBus's$/,
    });
    // A bus of a later layout: a copy of a real one's memory, with its version word (the second) changed.
    const { buffer } = new SharedBus<number>({ capacity: 2 }).handle;
    const later = new SharedArrayBuffer(buffer.byteLength);
    new Uint8Array(later).set(new Uint8Array(buffer));
    const version = new Int32Array(later)[1]!;
    new Int32Array(later)[1] = version + 1;
    assert.throws(() => SharedBus.attach({ buffer: later, codec: "json" }), {
      name: "TypeError",
      message: new RegExp(
        `^Invalid handle: made by a SharedBus of layout ${version + 1}; this one reads layout ${version}$`,
      ),
    });
    new Int32Array(later)[1] = version;
    assert.equal(SharedBus.attach<number>({ buffer: later, codec: "json" }).capacity, 2, "the copy, as it was");
  });
});

describe("SharedBus codecs", () => {
  it("JSON carries what JSON.stringify encodes, decoded into each reader's own objects", () => {
    const bus = new SharedBus<unknown>();
    const a = bus.subscribe();
    const b = bus.subscribe();
    const value = { price: 101, tags: ["a", "b"], nested: { ok: true }, text: "naïve ✓" };
    bus.send(value);
    const got = a.tryRecv();
    assert.deepEqual(got, value);
    assert.notEqual(got, value);
    assert.notEqual(b.tryRecv(), got, "every reader decodes its own copy");
  });

  it("strings go through TextEncoder.encodeInto; a non-string is refused", () => {
    const bus = new SharedBus<string>({ codec: "string", maxBytes: 16 });
    const sub = bus.subscribe();
    bus.send("héllo ✓");
    assert.equal(sub.tryRecv(), "héllo ✓");
    assert.throws(() => bus.send(42 as never), {
      name: "TypeError",
      message: /^Invalid value: 42; the "string" codec/,
    });
  });

  it("f64 records are read field by field, keeping NaN, -0 and infinities", () => {
    const bus = new SharedBus<{ a: number; b: number }>({ codec: { f64: ["a", "b"] } });
    const sub = bus.subscribe();
    for (const [a, b] of [[1.5, -2], [NaN, -0], [Infinity, -Infinity]]) bus.send({ a, b });
    assert.deepEqual(take(sub), [{ a: 1.5, b: -2 }, { a: NaN, b: -0 }, { a: Infinity, b: -Infinity }]);
    assert.throws(() => bus.send({ a: 1 } as never), { name: "TypeError", message: /^Invalid value.b: undefined/ });
  });

  it("a custom codec's decode gets its own copy of the bytes, which it may keep", () => {
    const codec: SharedCodec<Uint8Array> = { encode: (bytes) => bytes, decode: (bytes) => bytes };
    const bus = new SharedBus<Uint8Array>({ codec, maxBytes: 4 });
    const sub = bus.subscribe();
    bus.send(new Uint8Array([1, 2, 3]));
    bus.send(new Uint8Array([9, 9]));
    const first = sub.tryRecv() as Uint8Array;
    const second = sub.tryRecv() as Uint8Array;
    assert.deepEqual([...first], [1, 2, 3], "not overwritten by the next read");
    assert.deepEqual([...second], [9, 9]);
    assert.equal(first.buffer instanceof SharedArrayBuffer, false, "private memory");
  });

  it("a value too large for a slot is refused with a RangeError before anything is sent", () => {
    for (const overflow of POLICIES) {
      const bus = new SharedBus<string>({ codec: "string", maxBytes: 8, overflow, capacity: 2 });
      const sub = bus.subscribe();
      assert.throws(() => bus.send("nine char"), {
        name: "RangeError",
        message: "Value too large: it encodes to 9 bytes, and this bus's slots hold 8 (maxBytes)",
      });
      assert.throws(() => bus.send("ü".repeat(5)), { name: "RangeError", message: /encodes to 10 bytes/ });
      assert.equal(bus.stats().sent, 0, overflow);
      assert.equal(sub.tryRecv(), EMPTY);
      bus.send("8 bytes!");
      assert.equal(sub.tryRecv(), "8 bytes!", "the bus goes on");
    }
  });

  it("JSON refuses what it cannot encode, and every bus refuses EMPTY and CLOSED", () => {
    const bus = new SharedBus<unknown>();
    bus.subscribe();
    assert.throws(() => bus.send(undefined), { name: "TypeError", message: /^Invalid value: undefined; the "json"/ });
    assert.throws(() => bus.send(EMPTY), { name: "TypeError", message: /a bus cannot carry EMPTY or CLOSED/ });
    assert.throws(() => bus.send(CLOSED), TypeError);
    assert.equal(bus.stats().sent, 0);
  });

  it("a decode that throws counts its value as read, and the next read goes on", () => {
    const codec: SharedCodec<number> = {
      encode: (n) => new Uint8Array([n]),
      decode: (bytes) => {
        if (bytes[0] === 13) throw new RangeError("unlucky");
        return bytes[0];
      },
    };
    const bus = new SharedBus<number>({ codec });
    const sub = bus.subscribe();
    for (const n of [12, 13, 14]) bus.send(n);
    assert.equal(sub.tryRecv(), 12);
    assert.throws(() => sub.tryRecv(), /unlucky/);
    assert.equal(sub.tryRecv(), 14);
  });
});

describe("SharedBus sequence numbers", () => {
  // HEAD keeps 30 bits, slot marks 31, cursors 32, EPOCH moves every 2^29: start just below each edge.
  const STARTS = [2 ** 29 - 5, 2 ** 30 - 5, 2 ** 31 - 5, 2 ** 32 - 5, 2 ** 33 - 5, 2 ** 53 - 2 ** 30 - 5];

  for (const overflow of POLICIES) {
    it(`SharedBus numbers, orders and counts values across every wrap under "${overflow}"`, () => {
      for (const start of STARTS) {
        const bus = new SharedBus<number>({ capacity: 4, overflow });
        startSharedSequenceAt(bus, start);
        const fast = bus.subscribe();
        const slow = bus.subscribe({ lag: "error" });
        const seen: number[] = [];
        let slowReceived = 0;
        let refused = 0;
        const readSlow = () => {
          for (;;) {
            try {
              slowReceived += take(slow).length;
              return;
            } catch (error) {
              assert.ok(error instanceof LaggedError, `${start}: ${error}`);
            }
          }
        };
        for (let i = 0; i < 40; i++) {
          try {
            if (bus.send(i) === 0) refused++;
          } catch (error) {
            assert.ok(error instanceof BusFullError);
            refused++;
          }
          fast.drain((n) => seen.push(n));
          if (i % 8 === 7) readSlow();
        }
        readSlow();
        const sent = 40 - refused;
        assert.equal(bus.stats().sent, start + sent, `${start}: stats().sent counts from the start`);
        assert.equal(fast.position, start + sent, `${start}: position`);
        assert.equal(seen.length, sent, `${start}: the fast reader saw every value`);
        for (let k = 1; k < seen.length; k++) assert.ok(seen[k - 1] < seen[k], `${start}: order`);
        assert.equal(slowReceived + slow.missed, sent, `${start}: received + missed == sent`);
        assert.equal(bus.stats().dropped, slow.missed, `${start}: dropped`);
        if (overflow !== "drop-oldest") assert.equal(slow.missed, 0, `${start}: no loss under ${overflow}`);
      }
    });
  }

  it("the send that claims the last number of a 2^29-block moves EPOCH on, so numbers stay exact past 2^30 values", () => {
    // stats().sent and every position are rebuilt from HEAD's 30 bits and EPOCH, which may lag by a block: an EPOCH
    // that never moved would give wrong numbers only 2^29 sends later, too many for a test, so look at the word.
    for (const start of [2 ** 29 - 2, 2 ** 30 - 2, 2 ** 53 - 2 ** 29 - 2]) {
      const bus = new SharedBus<number>({ capacity: 4 });
      startSharedSequenceAt(bus, start);
      const words = new Int32Array(bus.handle.buffer);
      const sub = bus.subscribe();
      for (let i = 0; i < 4; i++) {
        bus.send(i);
        const sent = start + i + 1;
        assert.equal(bus.stats().sent, sent, `${start} + ${i + 1}: sent`);
        assert.equal(Atomics.load(words, EPOCH), Math.floor(sent / 2 ** 29), `${start} + ${i + 1}: complete blocks`);
      }
      assert.deepEqual(take(sub), [0, 1, 2, 3]);
      assert.equal(sub.position, start + 4);
    }
  });

  it("subscribe({ from: n }) starts at n near the wrap, and counts values already gone as missed", () => {
    const start = 2 ** 32 - 3;
    const bus = new SharedBus<number>({ capacity: 4, replay: true });
    startSharedSequenceAt(bus, start);
    for (let i = 0; i < 10; i++) bus.send(i);
    const at = bus.subscribe({ from: start + 7 });
    assert.deepEqual(take(at), [7, 8, 9]);
    const early = bus.subscribe({ from: start + 2, lag: "error" });
    assert.throws(() => early.tryRecv(), (error: unknown) => error instanceof LaggedError && error.missed === 4);
    assert.deepEqual(take(early), [6, 7, 8, 9]);
    assert.throws(() => bus.subscribe({ from: start + 11 }), { name: "RangeError", message: /^Invalid from: / });
  });
});

describe("SharedBus liveness", () => {
  it("a subscriber that holds a full ring without reading for releaseAfter is released, and counted", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 50 });
    const stuck = bus.subscribe();
    const other = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.throws(() => bus.send(3), BusFullError);
    take(other);
    const started = performance.now();
    await watchdog(bus.ready, 5000, () => "ready did not open");
    assert.ok(performance.now() - started >= 40, "not before releaseAfter");
    assert.deepEqual(bus.stats(), {
      capacity: 2,
      subscribers: 1,
      sent: 2,
      dropped: 0,
      discarded: 0,
      blocked: 1,
      released: 1,
    });
    for (let n = 3; n <= 6; n++) {
      bus.send(n);
      take(other);
    }
    // It was alive after all: it joins again where it was, and counts what was overwritten meanwhile.
    assert.equal(stuck.tryRecv(), 5);
    assert.equal(stuck.missed, 4);
    assert.equal(bus.subscriberCount, 2);
    assert.equal(bus.stats().dropped, 4);
    assert.deepEqual(take(stuck), [6]);
  });

  it("a subscriber that is caught up is never released, however long it sleeps", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    const idle = bus.subscribe();
    await sleep(20);
    bus.send(1);
    assert.equal(bus.stats().released, 0);
    assert.equal(idle.tryRecv(), 1);
  });

  it("releaseAfter: 0 releases a subscriber holding a full ring at the first send that finds no room", () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 0 });
    const stuck = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(bus.send(3), 0, "sent, to nobody: the only subscriber was released");
    assert.deepEqual([bus.stats().released, bus.stats().blocked, bus.stats().sent], [1, 0, 3]);
    assert.equal(stuck.tryRecv(), 2, "it joins again where the ring still holds");
  });

  it("times releaseAfter from when this subscriber held the ring, not another before it in the same slot", {
    timeout: 30_000,
  }, async () => {
    const releaseAfter = 800;
    const bus = new SharedBus<number>({ capacity: 2, overflow: "drop-newest", releaseAfter, replay: true });
    const first = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(bus.send(3), 0, "discarded: the first subscriber holds the ring");
    await sleep(releaseAfter / 2);
    first.close();
    // Takes the slot the first one left, at the same position, and holds the ring as it did.
    const second = bus.subscribe({ from: "oldest" });
    assert.equal(second.position, 0);
    const held = performance.now();
    const released = await releaseOf(bus);
    assert.ok(released - held >= releaseAfter, `released ${released - held} ms after it held the ring`);
    assert.equal(bus.stats().released, 1);
    second.close(); // held until here: a subscriber the collector frees is closed, which opens the ring too
  });

  it("times releaseAfter from a subscriber's last read, even when another view fills the ring again at once", {
    timeout: 30_000,
  }, async () => {
    const releaseAfter = 800;
    const bus = new SharedBus<number>({ capacity: 2, overflow: "drop-newest", releaseAfter });
    const other = elsewhere(bus);
    const slow = bus.subscribe();
    bus.send(1);
    bus.send(2);
    assert.equal(bus.send(3), 0, "discarded: the subscriber holds the ring");
    await sleep(releaseAfter / 2);
    assert.equal(slow.tryRecv(), 1);
    assert.equal(other.send(3), 1, "the read made room, and the other view took it");
    const read = performance.now();
    const released = await releaseOf(bus);
    assert.ok(released - read >= releaseAfter, `released ${released - read} ms after its last read`);
    assert.equal(bus.stats().released, 1);
    slow.close(); // held until here, as above
  });

  it("releaseAfter: Infinity never releases", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait", releaseAfter: Infinity });
    const held = bus.subscribe(); // kept: a subscriber the collector frees is closed, which opens the ring too
    bus.send(1);
    let opened = false;
    bus.ready.then(() => opened = true);
    await sleep(PARK_TIMEOUT + 100);
    assert.equal(opened, false);
    assert.equal(bus.stats().released, 0);
    bus.close();
    await bus.ready;
    assert.equal(held.tryRecv(), 1);
  });
});

describe("toPrometheus() with a SharedBus", () => {
  it("renders stats().released as bus_subscribers_released_total, and a Bus's metrics as for a Bus", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait", releaseAfter: 20 });
    const stuck = bus.subscribe(); // does not read until released; held, so the collector cannot close it first
    bus.send(1);
    await watchdog(bus.ready, 5000, () => "the stuck subscriber was not released");
    const lines = toPrometheus(bus, { prefix: "ticks" }).split("\n");
    assert.ok(lines.includes("# TYPE ticks_subscribers_released_total counter"), lines.join("\n"));
    assert.ok(lines.includes("ticks_subscribers_released_total 1"), lines.join("\n"));
    const { released, ...plain } = bus.stats();
    assert.equal(released, 1);
    assert.deepEqual(
      lines.filter((line) => !line.includes("_subscribers_released_total")),
      toPrometheus({ stats: () => plain }, { prefix: "ticks" }).split("\n"),
      "the other metrics, as a bus with the same counters renders them",
    );
    assert.equal(stuck.tryRecv(), 1);
  });
});

describe("SharedBus wake-ups", () => {
  it("a parked read wakes on a send from another view, through Atomics, and on close from it", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const sub = bus.subscribe();
    const got = sub.recv();
    await sleep(5);
    other.send(7);
    assert.equal(await watchdog(got, 2000, () => "recv did not wake"), 7);
    const ended = sub.recv();
    await sleep(5);
    other.close();
    await assert.rejects(watchdog(ended, 2000, () => "recv did not wake on close"), BusClosedError);
    assert.equal(bus.subscriberCount, 0);
  });

  it("a lost wake-up only delays a parked read: its wait times out and looks again", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const words = new Int32Array(bus.handle.buffer);
    const sub = bus.subscribe();
    const got = sub.recv();
    await sleep(5);
    assert.equal(Atomics.load(words, READERS_ASLEEP), 1, "the reader flags itself asleep");
    Atomics.store(words, READERS_ASLEEP, 0); // the producer will not see it: no notify
    const signal = Atomics.load(words, DATA_SIGNAL);
    other.send(7);
    assert.equal(Atomics.load(words, DATA_SIGNAL), signal, "no notify went out");
    const started = performance.now();
    assert.equal(await watchdog(got, PARK_TIMEOUT * 4, () => "the timeout did not rescue the read"), 7);
    assert.ok(performance.now() - started <= PARK_TIMEOUT * 3);
  });

  it("a send notifies only when a reader is asleep", async () => {
    const bus = new SharedBus<number>({ capacity: 1024 });
    const words = new Int32Array(bus.handle.buffer);
    const sub = bus.subscribe();
    const before = Atomics.load(words, DATA_SIGNAL);
    for (let i = 0; i < 1000; i++) bus.send(i);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before, "1000 sends, nobody asleep, no notify");
    take(sub);
    const got = sub.recv();
    await sleep(5);
    elsewhere(bus).send(1);
    assert.equal(Atomics.load(words, DATA_SIGNAL), before + 1, "one notify for the sleeper");
    assert.equal(await got, 1);
  });

  it("under wakeBatch, a task's first send wakes sleeping readers, later ones once per wakeBatch and at its end", async () => {
    const bus = new SharedBus<number>({ capacity: 1024, wakeBatch: 4 });
    const other = elsewhere(bus); // another thread's view: its sends wake this thread's readers only by notify
    const words = new Int32Array(bus.handle.buffer);
    const signal = () => Atomics.load(words, DATA_SIGNAL);
    const sub = bus.subscribe();
    const got = sub.recv();
    await sleep(5);
    const before = signal();
    other.send(1);
    assert.equal(signal(), before + 1, "the task's first send notifies at once");
    Atomics.store(words, READERS_ASLEEP, 1); // as a reader on another thread does when it falls asleep again
    for (let i = 2; i <= 4; i++) other.send(i);
    assert.equal(signal(), before + 1, "3 more sends of the same task: no notify yet");
    other.send(5);
    assert.equal(signal(), before + 2, "the 4th notifies");
    Atomics.store(words, READERS_ASLEEP, 1);
    other.send(6);
    assert.equal(signal(), before + 2, "one more: it waits for the task to end");
    await Promise.resolve();
    assert.equal(signal(), before + 3, "the task ended: the notify went out");
    assert.equal(await watchdog(got, 2000, () => "recv did not wake"), 1);
    assert.deepEqual([2, 3, 4, 5, 6].map(() => sub.tryRecv()), [2, 3, 4, 5, 6]);
    const next = sub.recv();
    await sleep(5);
    other.send(7);
    assert.equal(signal(), before + 4, "a new task's first send notifies at once");
    Atomics.store(words, READERS_ASLEEP, 1);
    await Promise.resolve();
    assert.equal(signal(), before + 4, "no send since that notify: the task's end adds none");
    Atomics.store(words, READERS_ASLEEP, 0);
    assert.equal(await watchdog(next, 2000, () => "recv did not wake"), 7);
    other.send(8); // nobody asleep: this does not count as the task's first wake-up
    Atomics.store(words, READERS_ASLEEP, 1);
    other.send(9);
    assert.equal(signal(), before + 5, "the first send of a task that finds readers asleep notifies at once");
    await Promise.resolve();
    assert.deepEqual([sub.tryRecv(), sub.tryRecv()], [8, 9]);
    for (let i = 10; i < 1000; i++) other.send(i);
    await Promise.resolve();
    assert.equal(signal(), before + 5, "nobody asleep: no notify");
    const local = bus.subscribe();
    const here = local.recv();
    bus.send(1000);
    assert.equal(await here, 1000, "a reader on the sending thread is woken at once");
  });

  it("waitSync() blocks until a value, the end, or the timeout", {
    skip: ON_WINDOW ? "a browser window's main thread may not block: see the next test" : false,
  }, () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    const started = performance.now();
    assert.equal(bus.waitSync(sub, 30), true, "timed out: there may be something");
    assert.ok(performance.now() - started >= 25);
    assert.equal(sub.tryRecv(), EMPTY);
    bus.send(1);
    assert.equal(bus.waitSync(sub), true);
    assert.equal(sub.tryRecv(), 1);
    bus.close();
    assert.equal(bus.waitSync(sub), false);
    const foreign = new SharedBus<number>().subscribe() as Subscriber<number>;
    assert.throws(() => bus.waitSync(foreign), { name: "TypeError", message: /^Invalid sub: / });
  });

  it("waitSync() refuses a timeout that is not a number of milliseconds, naming the value, and reads nothing", () => {
    const bus = new SharedBus<number>();
    const sub = bus.subscribe();
    bus.send(1); // something to read: a timeout let through returns at once rather than blocking
    const cases: [unknown, string][] = [
      ["10", '"10"'],
      [Number.NaN, "NaN"],
      [null, "null"],
      [new Number(10), "a boxed number \\(10\\)"],
    ];
    for (const [timeout, shown] of cases) {
      assert.throws(() => bus.waitSync(sub, timeout as number), {
        name: "TypeError",
        message: new RegExp(`^Invalid timeout: ${shown}; expected milliseconds$`),
      }, String(timeout));
    }
    assert.equal(sub.tryRecv(), 1);
  });

  it("waitSync() on a browser window's main thread throws a clear TypeError, and nothing calls Atomics.wait there", {
    skip: ON_WINDOW ? false : "runs on a browser window's main thread: npm run test:browser",
  }, async () => {
    // Every call counted, and passed on (a window's engine throws).
    const atomics = Atomics as unknown as { wait: (...args: unknown[]) => unknown };
    const wait = atomics.wait;
    let calls = 0;
    atomics.wait = (...args) => {
      calls++;
      return wait.apply(Atomics, args);
    };
    try {
      const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
      const other = elsewhere(bus);
      const sub = bus.subscribe();
      bus.send(1);
      const blocking = { name: "TypeError", message: /^Cannot block on this thread: .*; await sub\.wait\(\) instead$/ };
      assert.throws(() => bus.waitSync(sub), blocking, "with a value to read");
      assert.throws(() => bus.waitSync(sub, 0), blocking, "with no time to wait");
      // The rest waits through Atomics.waitAsync: a write for room a read frees, a parked read another view wakes.
      const written = bus.write(2);
      assert.equal(sub.tryRecv(), 1);
      assert.equal(await watchdog(written, 5000, () => "the write did not go out"), 1);
      assert.equal(sub.tryRecv(), 2);
      const parked = sub.recv();
      await sleep(5);
      other.send(3);
      assert.equal(await watchdog(parked, 5000, () => "recv did not wake"), 3);
      assert.equal(calls, 0, "Atomics.wait was called on the window's main thread");
    } finally {
      atomics.wait = wait;
    }
  });
});

describe("SharedBus.close()", () => {
  it("ends caught-up subscribers at once, the others as they read their last value", async () => {
    const bus = new SharedBus<number>();
    const other = elsewhere(bus);
    const caughtUp = bus.subscribe();
    const behind = bus.subscribe();
    const remote = other.subscribe();
    bus.send(1);
    caughtUp.tryRecv();
    remote.tryRecv();
    let ended = false;
    caughtUp.closed.then(() => ended = true);
    bus.close();
    await sleep(0);
    assert.equal(ended, true);
    assert.equal(bus.subscriberCount, 1, "the other view's caught-up subscriber's slot is freed at once too");
    assert.equal(behind.tryRecv(), 1);
    assert.equal(bus.subscriberCount, 0);
    assert.equal(remote.tryRecv(), CLOSED);
    assert.equal(bus.subscribe().tryRecv(), CLOSED, "a subscriber made after close has ended");
  });
});

/** Every value of `sub` until it ends, one batch per macrotask: a reader slower than the writers. */
async function readAll<T>(sub: Subscriber<T>): Promise<T[]> {
  const seen: T[] = [];
  while (await sub.wait()) {
    sub.drain((value) => seen.push(value), 1);
    await sleep(0);
  }
  return seen;
}

describe("SharedBus.write()", () => {
  it("waits for room a reader on another view frees: nothing lost, no BusFullError, each producer's order kept", async () => {
    const bus = new SharedBus<string>({ codec: "string", capacity: 2, overflow: "wait" });
    const sub = elsewhere(bus).subscribe();
    const reading = readAll(sub);
    const producer = async (name: string) => {
      for (let i = 0; i < 30; i++) await bus.write(`${name}:${i}`);
    };
    await watchdog(Promise.all(["a", "b", "c"].map(producer)), 10_000, () => "the writes did not all go out");
    bus.close();
    const seen = await watchdog(reading, 10_000, () => "the reader did not end");
    for (const name of ["a", "b", "c"]) {
      const mine = seen.filter((value) => value.startsWith(`${name}:`));
      assert.deepEqual(mine, Array.from({ length: 30 }, (_, i) => `${name}:${i}`), `producer ${name}`);
    }
    assert.equal(seen.length, 90);
    assert.deepEqual([bus.stats().blocked, sub.missed], [0, 0]);
  });

  it("keeps its place when another view takes the room first, and is not counted as blocked", async () => {
    // A codec whose encode sends on another view takes the room between the write's look and its claim: the
    // race of two threads, made to happen on one. It fires for the first write as it is made, and for the
    // second as it leaves the queue.
    const views: { other?: SharedBus<number> } = {};
    const thieves = new Map([[1, 101], [2, 102]]);
    const codec: SharedCodec<number> = {
      encode: (n) => {
        const thief = thieves.get(n);
        thieves.delete(n);
        if (thief !== undefined) views.other!.send(thief);
        return new Uint8Array([n]);
      },
      decode: (bytes) => bytes[0],
    };
    const bus = new SharedBus<number>({ codec, capacity: 1, overflow: "wait" });
    const other = views.other = elsewhere(bus, codec);
    const sub = other.subscribe();
    const first = bus.write(1);
    const second = bus.write(2);
    const seen: number[] = [];
    const reading = (async () => {
      while (seen.length < 4 && await sub.wait()) sub.drain((n) => seen.push(n));
    })();
    assert.deepEqual(await watchdog(Promise.all([first, second]), 5000, () => "the writes did not go out"), [1, 1]);
    await watchdog(reading, 5000, () => `the reader saw only ${seen}`);
    assert.deepEqual(seen, [101, 1, 102, 2], "each thief went first; the writes kept their order");
    assert.equal(bus.stats().blocked, 0, "a write that lost the race waits; it is not a refused send");
  });

  it("gives up when its signal aborts, sending nothing, and leaves the other writes in order", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = elsewhere(bus).subscribe();
    bus.send(0);
    const controller = new AbortController();
    const writes = [bus.write(1), bus.write(2, { signal: controller.signal }), bus.write(3)];
    controller.abort(new Error("not needed"));
    await assert.rejects(writes[1], /not needed/);
    await assert.rejects(bus.write(4, { signal: AbortSignal.abort(new RangeError("too late")) }), RangeError);
    const reading = readAll(sub);
    await watchdog(Promise.all([writes[0], writes[2]]), 5000, () => "the writes did not go out");
    bus.close();
    assert.deepEqual(await reading, [0, 1, 3]);
  });

  it("gives up a waiting write whose encode aborts its signal while another view takes the room", async () => {
    const controller = new AbortController();
    const codec: SharedCodec<number> = {
      encode(value) {
        if (value === 1) {
          controller.abort(new Error("aborted in encode"));
          other.send(2); // takes the room the write was about to claim
        }
        return Uint8Array.of(value);
      },
      decode: (bytes) => bytes[0]!,
    };
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait", codec });
    const other = elsewhere(bus, codec); // encode runs only once this exists
    const sub = elsewhere(bus, codec).subscribe();
    bus.send(0);
    const write = bus.write(1, { signal: controller.signal });
    assert.equal(sub.tryRecv(), 0);
    await assert.rejects(watchdog(write, 5000, () => "the write hung"), /aborted in encode/);
    assert.equal(sub.tryRecv(), 2);
    assert.equal(sub.tryRecv(), EMPTY, "1 never went out");
  });

  it("rejects this view's waiting writes with BusClosedError when another view closes the bus, and later writes at once", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const other = elsewhere(bus);
    const sub = other.subscribe();
    bus.send(0);
    const waiting = [bus.write(1), bus.write(2)];
    await sleep(5);
    other.close();
    for (const write of waiting) {
      await assert.rejects(watchdog(write, 5000, () => "the close did not reach the waiting write"), BusClosedError);
    }
    await assert.rejects(bus.write(3), BusClosedError);
    assert.deepEqual(take(sub), [0]);
    assert.equal(bus.stats().sent, 1);
  });

  it("makes bus.ready wait behind this view's writes, so ready-gated sends do not overtake them", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = elsewhere(bus).subscribe();
    bus.send(0);
    const written = bus.write(1);
    let ready = false;
    bus.ready.then(() => ready = true);
    assert.equal(sub.tryRecv(), 0);
    assert.equal(await watchdog(written, 5000, () => "the write did not go out"), 1);
    await sleep(5);
    assert.equal(ready, false, "the write took the room");
    assert.equal(sub.tryRecv(), 1);
    await watchdog(bus.ready, 5000, () => "ready did not open");
  });

  it("rejects what cannot be sent, sending nothing: a value too large, EMPTY, bad options", async () => {
    const bus = new SharedBus<string>({ codec: "string", maxBytes: 4, overflow: "wait" });
    const sub = bus.subscribe();
    await assert.rejects(bus.write("too long"), { name: "RangeError", message: /^Value too large: / });
    await assert.rejects(bus.write(EMPTY as never), { name: "TypeError", message: /cannot carry EMPTY or CLOSED/ });
    await assert.rejects(bus.write("ok", { signal: "soon" } as never), {
      name: "TypeError",
      message: 'Invalid signal: "soon"; expected an AbortSignal',
    });
    assert.equal(await bus.write("ok"), 1);
    assert.deepEqual(take(sub), ["ok"]);
  });
});

describe("SharedBus.writable", () => {
  it("publishes a piped stream through waits for room, then closes the bus for every view", async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait" });
    assert.ok(bus.writable instanceof WritableStream);
    assert.equal(bus.writable, bus.writable);
    const other = elsewhere(bus);
    const reading = readAll(other.subscribe());
    let next = 0;
    const source = new ReadableStream<number>({ pull: (c) => next === 20 ? c.close() : c.enqueue(next++) });
    await watchdog(source.pipeTo(bus.writable), 10_000, () => "the pipe did not finish");
    assert.equal(other.closed, true);
    assert.deepEqual(await reading, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(bus.stats().blocked, 0);
  });

  it("gives up a write waiting for room at once when the writer aborts, and closes the bus", async () => {
    const bus = new SharedBus<number>({ capacity: 1, overflow: "wait" });
    const sub = elsewhere(bus).subscribe(); // never reads, so the second write waits for good
    const writer = bus.writable.getWriter();
    await writer.write(1);
    const waiting = writer.write(2);
    await sleep(0);
    const reason = new Error("producer gave up");
    await writer.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(bus.closed, true);
    assert.equal(bus.stats().sent, 1, "the write that waited was not sent");
    assert.deepEqual(take(sub), [1]);
    assert.equal(sub.tryRecv(), CLOSED);
  });
});
