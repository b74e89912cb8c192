import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Bus, toPrometheus } from "../mod.ts";
import { type Bridge, bridgeJetStream, type JetStreamBridgeOptions, type JetStreamClientLike } from "../nats.ts";
import { createPacker } from "../src/nats/codec.ts";
import { type Origin, randomOrigin, writeHeader } from "../src/nats/envelope.ts";
import { connectTo, record, sleep, until } from "./_nats.ts";
import { natsMissing, type NatsServer, startNats } from "./_nats_server.ts";

/** Bun stops a test after 5 s by default; these may take longer on a loaded machine. */
const SLOW = { timeout: 60_000 };

/** One value as a JetStream bridge with `origin` publishes it: its own message. */
function envelope(origin: Origin, first: number, value: unknown): Uint8Array {
  const packer = createPacker<unknown>(undefined);
  packer.add(value);
  const message = packer.take();
  writeHeader(message, packer.framing, origin, first, 1);
  return message;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** Yields microtask turns (no I/O runs between them) until `condition()` holds, or fails after 100. */
async function turns(condition: () => boolean): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn === 100) assert.fail("no change within 100 microtask turns");
    await Promise.resolve();
  }
}

describe("bridgeJetStream()", { skip: natsMissing("tests/nats_jetstream.test.ts") }, () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const open: { close(): Promise<unknown> }[] = [];
  let streams = 0;

  /** A stream of one fresh subject, holding at most `max` messages, discarding the oldest. */
  const ring = async (max: number): Promise<{ stream: string; subject: string }> => {
    const n = streams++;
    const [stream, subject] = [`RING${n}`, `ring.${n}`];
    await jsm.streams.add({ name: stream, subjects: [subject], max_msgs: max, discard: "old", storage: "memory" });
    return { stream, subject };
  };
  /** A bridge closed after the suite. */
  const link = async <T>(bus: Bus<T>, options: JetStreamBridgeOptions<T>): Promise<Bridge> => {
    const made = await bridgeJetStream(bus, jetstream(nc), options);
    open.unshift(made);
    return made;
  };

  before(async () => {
    server = await startNats();
    nc = await connectTo(server.url);
    jsm = await jetstreamManager(nc);
  });
  after(async () => {
    for (const item of open) await item.close().catch(() => {});
    await nc?.close();
    await server.stop();
  });

  it("publishes each local send as one stream message, acknowledged, and another bus replays them from oldest", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>(64);
    const from = await link(a, { stream, subject });
    for (const n of range(0, 300)) a.send(n);
    await until(() => from.stats().published === 300, 5_000, "300 acknowledgements");
    assert.equal((await jsm.streams.info(stream)).state.messages, 300);
    const b = new Bus<number>(64);
    const reading = record(b.subscribe());
    const to = await link(b, { stream, subject, start: "oldest" });
    await until(() => reading.values.length === 300, 5_000, "the replay");
    assert.deepEqual(reading.values, range(0, 300));
    assert.deepEqual([to.stats().received, to.stats().gaps, reading.missed], [300, 0, 0]);
    assert.equal(from.stats().publishedMessages, 300);
  });

  it("starts from a sequence number, or from next; a start older than the stream holds counts the gap exactly", async () => {
    const { stream, subject } = await ring(100);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject });
    for (const n of range(0, 300)) a.send(n);
    await until(() => from.stats().published === 300);
    // The stream holds sequences 201..300, the values 200..299.
    const cases: [JetStreamBridgeOptions<number>["start"], number[], number][] = [
      [1, range(200, 300), 200],
      [251, range(250, 300), 0],
      ["oldest", range(200, 300), 0],
    ];
    for (const [start, expected, gaps] of cases) {
      const b = new Bus<number>(256);
      const reading = record(b.subscribe());
      const to = await link(b, { stream, subject, start });
      await until(() => reading.values.length === expected.length, 5_000, `start ${start}`);
      assert.deepEqual(reading.values, expected, `start ${start}`);
      assert.equal(to.stats().gaps, gaps, `start ${start}`);
      // The consumer starts at `start`: it hears exactly the messages from there, none twice.
      const { receivedMessages, duplicates } = to.stats();
      assert.deepEqual([receivedMessages, duplicates], [expected.length, 0], `start ${start}`);
    }
    const c = new Bus<number>();
    const later = record(c.subscribe());
    const next = await link(c, { stream, subject, start: "next" });
    for (const n of range(300, 305)) a.send(n);
    await until(() => later.values.length === 5);
    await sleep(20);
    assert.deepEqual(later.values, range(300, 305));
    assert.deepEqual([next.stats().gaps, next.stats().receivedMessages, next.stats().duplicates], [0, 5, 0]);
  });

  it("a reader lapped by discard-old counts exactly what the stream discarded before it read", SLOW, async () => {
    const { stream, subject } = await ring(20);
    const b = new Bus<number>(4_096);
    const reading = record(b.subscribe());
    const to = await link(b, { stream, subject, start: "next" });
    // A fast producer on another connection: core publishes that the stream captures, far faster than a pull
    // consumer reads, into a stream of 20.
    const producer = await connectTo(server.url);
    const origin = randomOrigin();
    const total = 5_000;
    for (let i = 0; i < total; i++) producer.publish(subject, envelope(origin, i + 1, i));
    await producer.flush();
    const info = await jsm.streams.info(stream);
    assert.equal(info.state.last_seq, total, "the stream stored every message");
    await until(() => to.stats().received + to.stats().gaps === total, 10_000, "the reader to reach the end");
    await until(() => reading.values.length === to.stats().received);
    const missing = total - new Set(reading.values).size;
    assert.ok(to.stats().gaps > 0, "the reader was lapped");
    assert.equal(to.stats().gaps, missing, "every value the stream discarded unread is counted");
    assert.deepEqual(reading.values, [...reading.values].sort((x, y) => x - y), "in order");
    assert.equal(reading.missed, 0);
    await producer.close();
  });

  it("keeps at most window acknowledgements in flight; ready resolves as they return", async () => {
    const { stream, subject } = await ring(10_000);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject, window: 4 });
    assert.equal(await Promise.race([from.ready.then(() => "open"), sleep(5).then(() => "parked")]), "open");
    for (const n of range(0, 4)) a.send(n);
    assert.equal(from.stats().backlog + from.stats().inFlight, 4);
    let opened = false;
    const ready = from.ready.then(() => opened = true);
    for (let turn = 0; turn < 10; turn++) await Promise.resolve(); // no I/O, so no acknowledgement yet
    assert.equal(opened, false, "ready waits while the window is full");
    await ready;
    assert.ok(from.stats().backlog + from.stats().inFlight < 4);
    for (const n of range(4, 504)) {
      await from.ready;
      a.send(n);
      const { backlog, inFlight } = from.stats();
      assert.ok(backlog + inFlight <= 4 && inFlight <= 4, `${backlog} waiting and ${inFlight} in flight`);
    }
    await until(() => from.stats().published === 504);
    assert.equal((await jsm.streams.info(stream)).state.messages, 504);
  });

  it("a producer that ignores ready fills the backlog to maxQueued, then counts publishOverflowed", async () => {
    const { stream, subject } = await ring(10_000);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject, window: 1, maxQueued: 10 });
    for (const n of range(0, 100)) a.send(n);
    assert.deepEqual([from.stats().backlog, from.stats().publishOverflowed], [10, 90]);
    await until(() => from.stats().published === 10);
    const b = new Bus<number>();
    const reading = record(b.subscribe());
    await link(b, { stream, subject, start: "oldest" });
    await until(() => reading.values.length === 10);
    assert.deepEqual(reading.values, range(0, 10));
  });

  it("drops its own echoes, and counts a foreign message it cannot decode without a gap", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const mine = record(a.subscribe());
    const from = await link(a, { stream, subject, start: "next" });
    for (const n of range(0, 10)) a.send(n);
    nc.publish(subject, "not an envelope");
    await until(() => from.stats().echoes === 10 && from.stats().decodeErrors === 1, 5_000, "echoes and the junk");
    assert.deepEqual([from.stats().received, from.stats().gaps], [0, 0]);
    await until(() => mine.values.length === 10);
    await sleep(20);
    assert.deepEqual(mine.values, range(0, 10), "each value once: the local send, not the echo");
  });

  it("rejects a stream that holds other subjects, another one or none (a mirror), and one that does not exist", async () => {
    await jsm.streams.add({ name: "MIXED", subjects: ["mixed.a", "mixed.b"], storage: "memory" });
    await assert.rejects(bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "MIXED", subject: "mixed.a" }), {
      name: "TypeError",
      message: 'Invalid stream: "MIXED" holds subjects ["mixed.a","mixed.b"]; expected exactly ["mixed.a"], ' +
        "so that its sequence numbers count the bridge's values",
    });
    await jsm.streams.add({ name: "OTHER", subjects: ["other.a"], storage: "memory" });
    await assert.rejects(bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "OTHER", subject: "other.b" }), {
      name: "TypeError",
      message: 'Invalid stream: "OTHER" holds subjects ["other.a"]; expected exactly ["other.b"], ' +
        "so that its sequence numbers count the bridge's values",
    });
    await jsm.streams.add({ name: "COPY", mirror: { name: "OTHER" }, storage: "memory" });
    await assert.rejects(bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "COPY", subject: "other.a" }), {
      name: "TypeError",
      message: 'Invalid stream: "COPY" holds subjects []; expected exactly ["other.a"], ' +
        "so that its sequence numbers count the bridge's values",
    });
    await assert.rejects(bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "NOPE", subject: "nope" }));
    await assert.rejects(
      bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "S", subject: "s", start: 0 }),
      { name: "RangeError", message: 'Invalid start: 0; expected "next", "oldest" or a sequence number from 1' },
    );
    await assert.rejects(
      bridgeJetStream(new Bus<number>(), jetstream(nc), { stream: "S", subject: "s", start: "first" as "next" }),
      { name: "TypeError", message: 'Invalid start: "first"; expected "next", "oldest" or a sequence number from 1' },
    );
  });

  it("a producer that ignores ready: window bounds the acknowledgements in flight, maxQueued the values still waiting", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject, window: 1, maxQueued: 10 });
    for (const n of range(0, 5)) a.send(n);
    await turns(() => from.stats().inFlight > 0);
    assert.deepEqual([from.stats().inFlight, from.stats().backlog], [1, 4], "one in flight, the rest waiting");
    for (const n of range(5, 15)) a.send(n);
    assert.deepEqual([from.stats().backlog, from.stats().publishOverflowed], [10, 4], "room for 6 more behind the 4");
    await until(() => from.stats().published === 11, 5_000, "11 acknowledgements");
    const b = new Bus<number>();
    const reading = record(b.subscribe());
    await link(b, { stream, subject, start: "oldest" });
    await until(() => reading.values.length === 11);
    assert.deepEqual(reading.values, range(0, 11));
  });

  it("holds sends a microtask apart in the backlog until the producer goes quiet, then publishes them together", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject });
    for (const n of range(0, 20)) {
      a.send(n);
      await Promise.resolve();
      assert.deepEqual([from.stats().backlog, from.stats().inFlight], [n + 1, 0], `after send ${n}`);
    }
    await turns(() => from.stats().inFlight > 0);
    assert.deepEqual([from.stats().backlog, from.stats().inFlight], [0, 20]);
    await until(() => from.stats().published === 20);
  });

  it("close() lets a producer past ready at once, while acknowledgements are still out", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const from = await link(a, { stream, subject, window: 1 });
    for (const n of range(0, 3)) a.send(n);
    await turns(() => from.stats().inFlight > 0);
    let parked = true;
    const waiting = from.ready.then(() => parked = false);
    const closing = from.close();
    let past = false;
    const ready = from.ready.then(() => past = true);
    for (let turn = 0; turn < 10; turn++) await Promise.resolve(); // no I/O, so no acknowledgement yet
    assert.deepEqual([parked, past, from.stats().inFlight], [false, true, 1]);
    await Promise.all([waiting, ready, closing]);
    assert.equal(from.stats().published, 3);
  });

  it("stops reading the moment close() is called, while it waits for its own acknowledgements", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const mine = record(a.subscribe());
    const from = await link(a, { stream, subject, start: "next", window: 1 });
    for (const n of range(0, 200)) a.send(n);
    const foreign = randomOrigin();
    for (const n of range(0, 5)) nc.publish(subject, envelope(foreign, n + 1, 1_000 + n));
    const heard = from.stats().receivedMessages;
    await from.close();
    assert.equal(from.stats().published, 200);
    assert.equal((await jsm.streams.info(stream)).state.messages, 205, "the foreign messages were in the stream");
    const { receivedMessages, received, echoes } = from.stats();
    assert.deepEqual([receivedMessages, received, echoes], [heard, 0, 0], "nothing read once close() was called");
    await sleep(10);
    assert.deepEqual(mine.values, range(0, 200));
  });

  it("closes itself when the bus closes under it", async () => {
    const { stream, subject } = await ring(1_000);
    const b = new Bus<number>();
    const to = await link(b, { stream, subject, start: "next" });
    assert.equal(to.closed, false);
    b.close();
    nc.publish(subject, envelope(randomOrigin(), 1, 1));
    await until(() => to.closed, 2_000, "the bridge to close");
    assert.equal(to.stats().received, 0);
  });

  it("origin is the id its stream messages carry; await using closes it, publishing what was sent", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    let held: Bridge | undefined;
    {
      await using from = await bridgeJetStream(a, jetstream(nc), { stream, subject });
      assert.equal(from.closed, false);
      held = from;
      a.send(1);
      a.send(2);
    }
    assert.equal((await jsm.streams.info(stream)).state.messages, 2, "both published before the block ended");
    assert.equal(held?.closed, true);
    const stored = await jsm.streams.getMessage(stream, { seq: 1 });
    const view = new DataView(stored!.data.buffer, stored!.data.byteOffset, stored!.data.byteLength);
    const hex = view.getUint32(8, true).toString(16).padStart(8, "0") +
      view.getUint32(4, true).toString(16).padStart(8, "0");
    assert.equal(held?.origin, hex);
    assert.match(held?.origin ?? "", /^[0-9a-f]{16}$/);
  });

  it("a client of the user's whose publish throws at once: that value counts in publishErrors, the rest go out", async () => {
    const { stream, subject } = await ring(100);
    const js = jetstream(nc);
    let calls = 0;
    // The structural client type lets a user wrap the real one; this wrapper refuses its second publish outright.
    const refusing: JetStreamClientLike = {
      streams: js.streams,
      consumers: js.consumers,
      publish: (to, payload) => {
        if (++calls === 2) throw new Error("refused before sending");
        return js.publish(to, payload);
      },
    };
    const bus = new Bus<number>();
    const made = await bridgeJetStream(bus, refusing, { stream, subject, window: 1 });
    open.unshift(made);
    for (const n of [1, 2, 3]) {
      await made.ready;
      bus.send(n);
    }
    await until(() => made.stats().published + made.stats().publishErrors === 3, 5_000, "three outcomes");
    assert.deepEqual([made.stats().published, made.stats().publishErrors, made.stats().inFlight], [2, 1, 0]);
    assert.equal((await jsm.streams.info(stream)).state.messages, 2);
  });

  it("close() waits for outstanding acknowledgements, stops reading, and renders in toPrometheus", async () => {
    const { stream, subject } = await ring(1_000);
    const a = new Bus<number>();
    const from = await bridgeJetStream(a, jetstream(nc), { stream, subject });
    for (const n of range(0, 50)) a.send(n);
    await from.close();
    assert.deepEqual([from.stats().published, from.stats().inFlight, from.closed], [50, 0, true]);
    assert.match(toPrometheus(from), /\nbus_nats_published_total 50\n/);
    const heard = from.stats().receivedMessages;
    nc.publish(subject, envelope(randomOrigin(), 1, 1));
    await sleep(50);
    assert.equal(from.stats().receivedMessages, heard, "nothing read after close");
  });
});
