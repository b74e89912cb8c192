import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/transport-node";
import { Bus, toPrometheus } from "../mod.ts";
import { type Bridge, bridge, type Codec } from "../nats.ts";
import { createPacker } from "../src/nats/codec.ts";
import { HEADER_BYTES, type Origin, originOf, randomOrigin, writeHeader } from "../src/nats/envelope.ts";
import { connectTo, record, recorders, sleep, until } from "./_nats.ts";
import { natsMissing, type NatsServer, startNats } from "./_nats_server.ts";

/** Bun stops a test after 5 s by default; these may take longer on a loaded machine. */
const SLOW = { timeout: 60_000 };

/** A message as a bridge with `origin` would publish `values` from sequence number `first`. */
function envelope(origin: Origin, first: number, values: unknown[], goodbye = false): Uint8Array {
  const packer = createPacker<unknown>(undefined);
  for (const value of values) packer.add(value);
  const message = packer.take();
  writeHeader(message, packer.framing, origin, first, values.length, goodbye);
  return message;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

describe("bridge()", { skip: natsMissing("tests/nats_bridge.test.ts") }, () => {
  let server: NatsServer;
  const open: { close(): Promise<void> }[] = [];
  let subjects = 0;
  /** A subject no other test uses. */
  const fresh = () => `bridge.test.${subjects++}`;
  /** A connection that is closed after the suite. */
  const connection = async (options: { noEcho?: boolean } = {}): Promise<NatsConnection> => {
    const nc = await connectTo(server.url, options);
    open.push(nc);
    return nc;
  };
  /** A bridge closed after the suite, with its subscription in place at the server; no heartbeats unless asked. */
  const link = async <T>(bus: Bus<T>, nc: NatsConnection, options: Parameters<typeof bridge<T>>[2]) => {
    const made: Bridge = bridge(bus, nc, { heartbeat: 0, ...options });
    open.unshift(made);
    await nc.flush();
    return made;
  };

  before(async () => {
    server = await startNats();
  });
  after(async () => {
    for (const item of open) await item.close().catch(() => {});
    await server.stop();
  });

  it(
    "publishes every local send, even a burst 40x the ring, and another bus receives each once, in order",
    SLOW,
    async () => {
      const subject = fresh();
      const [a, b] = [new Bus<number>(64), new Bus<number>(64)];
      const [from, to] = await Promise.all([
        link(a, await connection(), { subject }),
        link(b, await connection(), { subject }),
      ]);
      const reading = record(b.subscribe());
      for (let burst = 0; burst < 4; burst++) {
        for (const n of range(burst * 2_560, (burst + 1) * 2_560)) a.send(n);
        await sleep(1);
      }
      await until(() => reading.values.length === 10_240, 10_000, "10,240 values at b");
      assert.deepEqual(reading.values, range(0, 10_240));
      assert.equal(reading.missed, 0);
      assert.equal(from.stats().published, 10_240);
      assert.ok(from.stats().publishedMessages < 100, `${from.stats().publishedMessages} messages: batched`);
      assert.deepEqual([to.stats().received, to.stats().gaps, to.stats().decodeErrors], [10_240, 0, 0]);
    },
  );

  it("two hosts both sending: every value reaches every subscriber on both exactly once; own echoes dropped", async () => {
    const subject = fresh();
    const [a, b] = [new Bus<string>(256), new Bus<string>(256)];
    const [la, lb] = [await link(a, await connection(), { subject }), await link(b, await connection(), { subject })];
    const [atA, atB] = [recorders(a, 2), recorders(b, 2)];
    for (let i = 0; i < 2_000; i++) {
      a.send(`a${i}`);
      b.send(`b${i}`);
      if (i % 100 === 99) await sleep(0);
    }
    await until(() => [...atA, ...atB].every((r) => r.values.length === 4_000), 10_000, "4,000 values everywhere");
    await sleep(50);
    for (const reading of [...atA, ...atB]) {
      assert.equal(reading.values.length, 4_000);
      assert.equal(new Set(reading.values).size, 4_000, "no duplicates");
      assert.deepEqual(reading.values.filter((v) => v[0] === "a"), range(0, 2_000).map((i) => `a${i}`));
      assert.deepEqual(reading.values.filter((v) => v[0] === "b"), range(0, 2_000).map((i) => `b${i}`));
    }
    for (const stats of [la.stats(), lb.stats()]) {
      assert.deepEqual([stats.published, stats.received, stats.echoes, stats.gaps], [2_000, 2_000, 2_000, 0]);
    }
  });

  it("a connection with noEcho: true never hears itself, and the counts agree", async () => {
    const subject = fresh();
    const [a, b] = [new Bus<number>(), new Bus<number>()];
    const la = await link(a, await connection({ noEcho: true }), { subject });
    const lb = await link(b, await connection({ noEcho: true }), { subject });
    a.send(1);
    b.send(2);
    await until(() => la.stats().received === 1 && lb.stats().received === 1);
    assert.equal(la.stats().echoes + lb.stats().echoes, 0);
  });

  it("never republishes a value that came from NATS, even through another bridge on the same bus", async () => {
    const [first, second] = [fresh(), fresh()];
    const bus = new Bus<number>();
    const nc = await connection();
    const [one, two] = [await link(bus, nc, { subject: first }), await link(bus, nc, { subject: second })];
    const heardOnSecond: number[] = [];
    const watcher = await connection();
    watcher.subscribe(second, { callback: () => void heardOnSecond.push(1) });
    await watcher.flush();
    const peer = await connection();
    peer.publish(first, envelope(randomOrigin(), 1, [10, 11, 12]));
    await until(() => one.stats().received === 3);
    bus.send(99); // a local send still goes out on both
    await until(() => two.stats().published === 1 && one.stats().published === 1);
    await watcher.flush();
    await sleep(20);
    assert.equal(heardOnSecond.length, 1, "only the local send reached the second subject");
    assert.equal(two.stats().received, 0);
  });

  it("sends a socket read larger than the ring in slices, so wait()+drain subscribers lose nothing", SLOW, async () => {
    const subject = fresh();
    const b = new Bus<number>(64);
    const to = await link(b, await connection(), { subject });
    const readers = recorders(b, 4);
    const peer = await connection();
    // 200 messages of 250 values published at once arrive in few socket reads: far more than 64 at a time.
    const origin = randomOrigin();
    for (let m = 0; m < 200; m++) peer.publish(subject, envelope(origin, 1 + m * 250, range(m * 250, (m + 1) * 250)));
    await peer.flush();
    await until(() => readers.every((r) => r.values.length === 50_000), 10_000, "50,000 values at each reader");
    for (const reading of readers) {
      assert.equal(reading.missed, 0);
      assert.deepEqual(reading.values, range(0, 50_000));
    }
    assert.deepEqual([to.stats().received, to.stats().gaps, b.stats().dropped], [50_000, 0, 0]);
  });

  it("counts every jump in each origin's sequence exactly, and a goodbye's trailing gap", async () => {
    const subject = fresh();
    const bus = new Bus<number>(1024);
    const to = await link(bus, await connection(), { subject });
    const reading = record(bus.subscribe());
    const peer = await connection();
    const [x, y] = [randomOrigin(), randomOrigin()];
    peer.publish(subject, envelope(x, 1, range(1, 11))); // x: 1..10
    peer.publish(subject, envelope(y, 500, range(500, 505))); // y starts at 500: no gap before its first
    peer.publish(subject, envelope(x, 21, range(21, 31))); // x: 11..20 lost
    peer.publish(subject, envelope(y, 508, [508])); // y: 505..507 lost
    peer.publish(subject, envelope(x, 41, [], true)); // x says goodbye at 41: 31..40 lost
    await peer.flush();
    await until(() => to.stats().receivedMessages === 5);
    assert.equal(to.stats().gaps, 10 + 3 + 10);
    assert.equal(to.stats().received, 26);
    assert.equal(to.stats().origins, 1, "x said goodbye; y is still tracked");
    await until(() => reading.values.length === 26);
  });

  it("forgets an origin silent for forgetAfter, so its count restarts: the documented blind spot", async () => {
    const subject = fresh();
    const bus = new Bus<number>();
    const to = await link(bus, await connection(), { subject, forgetAfter: 50 });
    const peer = await connection();
    const [x, y] = [randomOrigin(), randomOrigin()];
    peer.publish(subject, envelope(x, 1, [1]));
    peer.publish(subject, envelope(y, 1, [1]));
    await until(() => to.stats().origins === 2);
    await sleep(60);
    peer.publish(subject, envelope(y, 2, [2])); // y speaks: the sweep forgets x
    await until(() => to.stats().receivedMessages === 3);
    assert.equal(to.stats().origins, 1);
    peer.publish(subject, envelope(x, 10, [10])); // 2..9 lost while forgotten: not counted
    await until(() => to.stats().receivedMessages === 4);
    assert.deepEqual([to.stats().gaps, to.stats().origins, to.stats().received], [0, 2, 4]);
  });

  it("forgets an origin once silent for forgetAfter ms, checking at most once per forgetAfter", async () => {
    const subject = fresh();
    const [nc, peer] = [await connection(), await connection()];
    const realNow = Date.now;
    const start = realNow();
    let clock = start;
    Date.now = () => clock; // the bridge reads the clock: step it exactly
    try {
      const to = bridge(new Bus<number>(), nc, { subject, forgetAfter: 100, heartbeat: 0 });
      open.unshift(to);
      await nc.flush();
      let messages = 0;
      /** Publishes `origin`'s value number `n` with the clock at `start + at`, and waits until the bridge has it. */
      const hear = async (origin: Origin, n: number, at: number) => {
        clock = start + at;
        peer.publish(subject, envelope(origin, n, [n]));
        messages++;
        await until(() => to.stats().receivedMessages === messages, 2_000, `message ${messages}`);
      };
      const [x, y, w] = [randomOrigin(), randomOrigin(), randomOrigin()];
      await hear(x, 1, 0);
      await hear(y, 1, 50);
      await hear(w, 1, 100); // 100 ms since the bridge started: a sweep forgets x (silent 100 ms), not y (50 ms)
      assert.equal(to.stats().origins, 2, "x forgotten at exactly forgetAfter, y and w known");
      await hear(w, 2, 150); // y has been silent 100 ms, but the next sweep is not due until 200
      assert.equal(to.stats().origins, 2, "no sweep before forgetAfter has passed since the last");
      await hear(w, 3, 200); // the sweep is due: y goes
      assert.equal(to.stats().origins, 1);
      assert.deepEqual([to.stats().received, to.stats().gaps], [5, 0]);
    } finally {
      Date.now = realNow;
    }
  });

  it("publishes what another tap sends while the bridge forwards a value from NATS", async () => {
    const subject = fresh();
    const bus = new Bus<string>();
    const to = await link(bus, await connection(), { subject });
    bus.tap((value) => {
      if (value === "from nats") bus.send("reply"); // a local send, made inside the bridge's own send
    });
    const elsewhere = new Bus<string>();
    await link(elsewhere, await connection(), { subject });
    const reading = record(elsewhere.subscribe());
    const peer = await connection();
    peer.publish(subject, envelope(randomOrigin(), 1, ["from nats"]));
    await until(() => reading.values.length === 2, 2_000, "the other bus to hear both");
    assert.deepEqual(reading.values, ["from nats", "reply"]);
    assert.deepEqual([to.stats().received, to.stats().published], [1, 1]);
  });

  it("skips and counts values heard again", async () => {
    const subject = fresh();
    const bus = new Bus<number>();
    const to = await link(bus, await connection(), { subject });
    const reading = record(bus.subscribe());
    const peer = await connection();
    const origin = randomOrigin();
    peer.publish(subject, envelope(origin, 1, [1, 2, 3, 4]));
    peer.publish(subject, envelope(origin, 3, [3, 4, 5, 6])); // 3 and 4 again
    peer.publish(subject, envelope(origin, 1, [1, 2])); // all again
    await until(() => to.stats().receivedMessages === 3);
    assert.deepEqual([to.stats().received, to.stats().duplicates, to.stats().gaps], [6, 4, 0]);
    await until(() => reading.values.length === 6);
    assert.deepEqual(reading.values, [1, 2, 3, 4, 5, 6]);
  });

  it("a heartbeat reveals values lost at the end of a burst; an idle bridge sends them", async () => {
    const subject = fresh();
    const bus = new Bus<number>();
    const to = await link(bus, await connection(), { subject });
    const peer = await connection();
    const origin = randomOrigin();
    peer.publish(subject, envelope(origin, 1, [1, 2, 3]));
    peer.publish(subject, envelope(origin, 9, [])); // a heartbeat: next is 9, so 4..8 were lost
    await until(() => to.stats().receivedMessages === 2);
    assert.equal(to.stats().gaps, 5);
    // A real bridge beats when an interval goes by in silence, carrying its next sequence number.
    const quiet = fresh();
    const beats: number[] = [];
    const watcher = await connection();
    watcher.subscribe(quiet, { callback: (_error, msg) => void beats.push(msg.data.length) });
    await watcher.flush();
    const a = new Bus<number>();
    const beating = await link(a, await connection(), { subject: quiet, heartbeat: 20 });
    const listener = await link(new Bus<number>(), await connection(), { subject: quiet });
    a.send(1);
    a.send(2);
    const heartbeats = () => beats.filter((length) => length === 24).length; // a heartbeat is a bare envelope
    await until(() => heartbeats() >= 2 && beats.length > heartbeats(), 2_000, "a batch and two heartbeats");
    assert.equal(beats.length - heartbeats(), 1, "one batch; everything else heartbeats");
    assert.deepEqual([listener.stats().received, listener.stats().gaps, listener.stats().origins], [2, 0, 1]);
    assert.equal(beating.stats().publishedMessages, 1, "heartbeats are not counted as published messages");
  });

  it("an idle bridge's first heartbeat comes one interval after it starts", async () => {
    const subject = fresh();
    const beats: number[] = [];
    const watcher = await connection();
    watcher.subscribe(subject, { callback: () => void beats.push(performance.now()) });
    await watcher.flush();
    const nc = await connection();
    const started = performance.now();
    open.unshift(bridge(new Bus<number>(), nc, { subject, heartbeat: 500 }));
    await until(() => beats.length > 0, 3_000, "the first heartbeat");
    const after = (beats[0] ?? 0) - started;
    // Two intervals would be 1,000 ms: 400 ms of room for a loaded machine.
    assert.ok(after < 900, `first heartbeat after ${after.toFixed(0)} ms: one interval of 500, not two`);
  });

  it("a bridge that published within an interval sends no heartbeat for it", async () => {
    const subject = fresh();
    const messages: Uint8Array[] = [];
    const watcher = await connection();
    watcher.subscribe(subject, { callback: (_error, msg) => void messages.push(msg.data) });
    await watcher.flush();
    const a = new Bus<number>();
    const from = bridge(a, await connection(), { subject, heartbeat: 100 });
    open.unshift(from);
    const started = performance.now();
    let n = 0;
    while (performance.now() - started < 600) { // six intervals, a batch in every few milliseconds
      a.send(n++);
      await sleep(5);
    }
    await from.close();
    await watcher.flush();
    const heartbeats = messages.filter((m) => m.length === HEADER_BYTES && m[3] === 0).length;
    assert.equal(heartbeats, 0, `${heartbeats} heartbeats while batches went out`);
    assert.equal(from.stats().published, n);
  });

  it("counts and skips what fails to decode, and keeps working", async () => {
    const subject = fresh();
    const bus = new Bus<number>();
    const to = await link(bus, await connection(), { subject });
    const reading = record(bus.subscribe());
    const peer = await connection();
    const origin = randomOrigin();
    peer.publish(subject, "plain text, no envelope");
    const broken = envelope(origin, 1, [1, 2, 3]);
    broken.set(new TextEncoder().encode("?"), broken.length - 2); // [1,\n2,\n?] : the last value is bad
    peer.publish(subject, broken);
    peer.publish(subject, envelope(origin, 4, [4, 5]));
    await until(() => to.stats().receivedMessages === 3);
    assert.deepEqual([to.stats().decodeErrors, to.stats().received, to.stats().gaps], [2, 4, 0]);
    await until(() => reading.values.length === 4);
    assert.deepEqual(reading.values, [1, 2, 4, 5]);
  });

  it("a codec's decode that throws costs that value only; its encode that throws is counted, not published", async () => {
    const subject = fresh();
    const even: Codec<number> = {
      encode: (n) => {
        if (n < 0) throw new RangeError("negative");
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setFloat64(0, n, true);
        return bytes;
      },
      decode: (bytes) => {
        // Under Node the bytes are a Buffer, whose slice() is a view: read through a DataView.
        const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getFloat64(0, true);
        if (n % 2 === 1) throw new RangeError("odd");
        return n;
      },
    };
    const [a, b] = [new Bus<number>(), new Bus<number>()];
    const from = await link(a, await connection(), { subject, codec: even });
    const to = await link(b, await connection(), { subject, codec: even });
    const reading = record(b.subscribe());
    for (const n of [0, 1, 2, -1, 3, 4]) a.send(n);
    await until(() => to.stats().received + to.stats().decodeErrors === 5);
    assert.deepEqual([from.stats().encodeErrors, from.stats().published], [1, 5]);
    assert.deepEqual([to.stats().decodeErrors, to.stats().received, to.stats().gaps], [2, 3, 0]);
    await until(() => reading.values.length === 3);
    assert.deepEqual(reading.values, [0, 2, 4]);
  });

  it("a JSON value it cannot encode is counted in encodeErrors and leaves no hole in the sequence", async () => {
    const subject = fresh();
    const [a, b] = [new Bus<unknown>(), new Bus<unknown>()];
    const from = await link(a, await connection(), { subject });
    const to = await link(b, await connection(), { subject });
    a.send(1);
    a.send(2n);
    a.send(undefined);
    a.send(3);
    await until(() => to.stats().received === 2);
    await sleep(1);
    a.send(4);
    await until(() => to.stats().received === 3);
    assert.deepEqual([from.stats().encodeErrors, from.stats().published, to.stats().gaps], [2, 3, 0]);
  });

  describe("local policies", () => {
    it("drop-oldest: a slow local subscriber's losses are the bus's to count; the bridge received all", async () => {
      const subject = fresh();
      const b = new Bus<number>(16);
      const to = await link(b, await connection(), { subject });
      const slow = b.subscribe();
      const peer = await connection();
      peer.publish(subject, envelope(randomOrigin(), 1, range(0, 100)));
      await until(() => to.stats().received === 100);
      const read: number[] = [];
      slow.drain((n) => read.push(n));
      assert.equal(read.length + slow.missed, 100);
      assert.equal(b.stats().dropped, slow.missed);
      assert.deepEqual(read, range(100 - read.length, 100));
    });

    it("drop-newest: what the full bus discards is in its discarded count", async () => {
      const subject = fresh();
      const b = new Bus<number>({ capacity: 16, overflow: "drop-newest" });
      const to = await link(b, await connection(), { subject });
      const idle = b.subscribe();
      const peer = await connection();
      peer.publish(subject, envelope(randomOrigin(), 1, range(0, 100)));
      await until(() => to.stats().received === 100);
      assert.equal(b.stats().discarded, 84);
      const read: number[] = [];
      idle.drain((n) => read.push(n));
      assert.deepEqual(read, range(0, 16));
    });

    it("wait: queues up to maxQueued while the bus is full, counts the overflow, never blocks NATS", async () => {
      const subject = fresh();
      const b = new Bus<number>({ capacity: 16, overflow: "wait" });
      const nc = await connection();
      const to = await link(b, nc, { subject, maxQueued: 100 });
      const stuck = b.subscribe();
      const other: number[] = [];
      nc.subscribe(`${subject}.other`, { callback: () => void other.push(1) });
      const peer = await connection();
      const origin = randomOrigin();
      for (let m = 0; m < 10; m++) peer.publish(subject, envelope(origin, 1 + m * 50, range(m * 50, (m + 1) * 50)));
      for (let m = 0; m < 10; m++) peer.publish(`${subject}.other`, "still flowing");
      await peer.flush();
      await until(() => to.stats().receivedMessages === 10 && other.length === 10, 5_000, "both subscriptions");
      await sleep(10);
      const stats = to.stats();
      // 16 in the ring; at most 100 queued; the rest counted. What is dropped depends on how the messages were split
      // into socket reads (the queue frees room as the pump sends), but the first two messages always fit.
      assert.equal(stats.received, 16);
      assert.ok(stats.queued >= 84 && stats.queued <= 100, `queued ${stats.queued}`);
      assert.equal(stats.received + stats.queued + stats.overflowed, 500);
      const reading = record(stuck);
      await until(() => reading.values.length === 16 + stats.queued);
      assert.deepEqual(reading.values.slice(0, 100), range(0, 100));
      assert.ok(reading.values.every((n, i) => i === 0 || n > reading.values[i - 1]), "in order, no duplicates");
      assert.deepEqual([to.stats().received + to.stats().overflowed, to.stats().queued], [500, 0]);
      assert.equal(b.stats().dropped + b.stats().discarded, 0);
      assert.equal(b.stats().blocked, 0, "the bridge writes in turn: it never meets BusFullError");
    });
  });

  it("wait: a bus closed under the bridge's waiting writes counts each as overflowed, and the bridge closes", async () => {
    const subject = fresh();
    const b = new Bus<number>({ capacity: 16, overflow: "wait" });
    const to = await link(b, await connection(), { subject, maxQueued: 100 });
    const stuck = b.subscribe();
    const peer = await connection();
    peer.publish(subject, envelope(randomOrigin(), 1, range(0, 50)));
    await peer.flush();
    await until(() => to.stats().received === 16 && to.stats().queued === 34, 5_000, "a full ring and a queue");
    b.close();
    await until(() => to.closed, 2_000, "the bridge to close");
    assert.deepEqual([to.stats().received, to.stats().overflowed, to.stats().queued], [16, 34, 0]);
    const reading = record(stuck);
    await reading.done;
    assert.deepEqual(reading.values, range(0, 16), "what the ring held is still read after the close");
  });

  it("counts publishes that fail when the connection is closed", async () => {
    const subject = fresh();
    const a = new Bus<number>();
    const nc = await connectTo(server.url);
    const from = bridge(a, nc, { subject, heartbeat: 0 });
    a.send(1);
    await sleep(0);
    await nc.close();
    a.send(2);
    a.send(3);
    await sleep(0);
    assert.deepEqual([from.stats().published, from.stats().publishErrors], [1, 2]);
    await from.close();
  });

  it("a producer that awaits between sends (ready, for await, pipeTo) still fills batches", async () => {
    const subject = fresh();
    const [a, b] = [new Bus<number>(), new Bus<number>()];
    const from = await link(a, await connection(), { subject });
    const to = await link(b, await connection(), { subject });
    const reading = record(b.subscribe());
    for (let n = 0; n < 1_000; n++) {
      await a.ready;
      a.send(n);
    }
    async function* more() {
      for (let n = 1_000; n < 2_000; n++) yield n;
    }
    for await (const n of more()) a.send(n);
    await ReadableStream.from(more()).pipeTo(new WritableStream({ write: (n) => void a.send(n + 1_000) }));
    await until(() => reading.values.length === 3_000);
    assert.deepEqual(reading.values, range(0, 3_000));
    assert.equal(to.stats().gaps, 0);
    assert.ok(from.stats().publishedMessages <= 6, `${from.stats().publishedMessages} messages for 3,000 values`);
  });

  it("maxBatchBytes bounds a batch; 0 publishes each value alone", async () => {
    const subject = fresh();
    const a = new Bus<string>();
    const small = await link(a, await connection(), { subject, maxBatchBytes: 1_000 });
    for (let i = 0; i < 100; i++) a.send("x".repeat(98)); // 100 bytes each with separators
    await sleep(0);
    assert.equal(small.stats().publishedMessages, 10);
    const single = await link(new Bus<number>(), await connection(), { subject: fresh(), maxBatchBytes: 0 });
    await single.close();
    const b = new Bus<number>();
    const each = await link(b, await connection(), { subject: fresh(), maxBatchBytes: 0 });
    for (let i = 0; i < 7; i++) b.send(i);
    assert.equal(each.stats().publishedMessages, 7);
  });

  it("close(): publishes what is batched and a goodbye, stops both ways, is idempotent, keeps the connection", async () => {
    const subject = fresh();
    const [a, b] = [new Bus<number>(), new Bus<number>()];
    const nc = await connection();
    const from = await link(a, nc, { subject });
    const to = await link(b, await connection(), { subject });
    a.send(1);
    a.send(2);
    const closing = from.close();
    assert.equal(from.close(), closing);
    assert.equal(from.closed, true);
    await closing;
    a.send(3);
    await until(() => to.stats().receivedMessages === 2, 2_000, "the batch and the goodbye");
    assert.deepEqual([to.stats().received, to.stats().origins], [2, 0]);
    assert.equal(from.stats().published, 2);
    assert.equal(nc.isClosed(), false);
    b.send(4);
    await sleep(20);
    assert.equal(from.stats().received, 0);
  });

  it("close() unsubscribes: the connection hears nothing more on the subject", async () => {
    const subject = fresh();
    const nc = await connection({ noEcho: true });
    const to = await link(new Bus<number>(), nc, { subject });
    const peer = await connection();
    peer.publish(subject, envelope(randomOrigin(), 1, [1]));
    await until(() => to.stats().received === 1);
    await to.close();
    await nc.flush();
    const heard = nc.stats().inMsgs;
    peer.publish(subject, envelope(randomOrigin(), 1, [2]));
    await peer.flush();
    await nc.flush(); // the server sends the message, had it a subscription, before the flush's reply
    assert.equal(nc.stats().inMsgs, heard, "no message reached the connection after close()");
  });

  it("the handle: origin is the hex id its messages carry, ready is resolved, closed and asyncDispose", async () => {
    const subject = fresh();
    const heard: Uint8Array[] = [];
    const watcher = await connection();
    watcher.subscribe(subject, { callback: (_error, msg) => void heard.push(msg.data) });
    await watcher.flush();
    const a = new Bus<number>();
    const from = await link(a, await connection(), { subject });
    assert.match(from.origin, /^[0-9a-f]{16}$/);
    assert.ok(from.ready instanceof Promise, "ready is a promise");
    assert.equal(await Promise.race([from.ready.then(() => "ready"), sleep(50).then(() => "pending")]), "ready");
    assert.equal(from.closed, false);
    a.send(1);
    await until(() => heard.length === 1, 2_000, "the batch");
    const view = new DataView(heard[0]!.buffer, heard[0]!.byteOffset, HEADER_BYTES);
    assert.equal(originOf(view.getUint32(4, true), view.getUint32(8, true)).hex, from.origin);
    await from[Symbol.asyncDispose]();
    assert.equal(from.closed, true);
    await until(() => heard.length === 2, 2_000, "the goodbye");
    assert.equal(heard[1]![3], 1, "disposing closed it: a goodbye went out");
  });

  it("closes itself when the bus closes under it", async () => {
    const subject = fresh();
    const b = new Bus<number>();
    const to = await link(b, await connection(), { subject });
    b.close();
    const peer = await connection();
    peer.publish(subject, envelope(randomOrigin(), 1, [1]));
    await until(() => to.closed, 2_000, "the bridge to close");
    assert.equal(to.stats().received, 0);
  });

  it("toPrometheus() renders its counters as nats_* metrics under the prefix", async () => {
    const subject = fresh();
    const a = new Bus<number>();
    const from = await link(a, await connection(), { subject });
    a.send(1);
    await sleep(0);
    const text = toPrometheus(from, { prefix: "orders" });
    assert.match(text, /^# HELP orders_nats_published_total .+\n# TYPE orders_nats_published_total counter\n/);
    assert.match(text, /\norders_nats_published_total 1\n/);
    assert.match(text, /\n# TYPE orders_nats_gaps_total counter\norders_nats_gaps_total 0\n/);
    assert.match(text, /\n# TYPE orders_nats_queued gauge\norders_nats_queued 0\n/);
    assert.equal(text.split("\n# HELP ").length, 16);
  });

  it("rejects bad arguments, naming them", async () => {
    const nc = await connection();
    const bus = new Bus<number>();
    const cases: [unknown, unknown, string | RegExp, ErrorConstructor][] = [
      [
        bus,
        { subject: "a.*" },
        'Invalid subject: "a.*"; expected a NATS subject without wildcards, such as "ticks"',
        TypeError,
      ],
      [bus, { subject: "" }, /^Invalid subject: ""/, TypeError],
      [bus, { subject: "ok", sujbect: "typo" }, /^Unknown option in bridge options: "sujbect"/, TypeError],
      [bus, { subject: "ok", maxBatchBytes: -1 }, "Invalid maxBatchBytes: -1; expected an integer from 0", RangeError],
      [bus, { subject: "ok", maxQueued: "9" }, 'Invalid maxQueued: "9"; expected an integer from 1', TypeError],
      [bus, { subject: "ok", codec: { encode() {} } }, /^Invalid codec: an object/, TypeError],
      [{}, { subject: "ok" }, "Invalid bus: an object; expected a Bus from @ron/bus", TypeError],
      [bus, undefined, /^Invalid bridge options: undefined/, TypeError],
    ];
    for (const [target, options, message, type] of cases) {
      assert.throws(() => bridge(target as Bus<number>, nc, options as { subject: string }), (error: Error) => {
        assert.ok(error instanceof type, `${error.name} for ${JSON.stringify(options)}`);
        if (typeof message === "string") assert.equal(error.message, message);
        else assert.match(error.message, message);
        return true;
      });
    }
    assert.equal(bus.send(1), 0, "the bus is untouched");
  });
});
