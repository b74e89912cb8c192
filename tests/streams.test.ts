import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, BusClosedError, CLOSED, EMPTY } from "../mod.ts";
import { readSlowly, take, tick } from "./_read.ts";

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const values: T[] = [];
  const reader = stream.getReader();
  for (let result = await reader.read(); !result.done; result = await reader.read()) values.push(result.value);
  return values;
}

/** Sends `value` unless the bus is full; says whether it did. */
function tryToSend(bus: Bus<number>, value: number): boolean {
  try {
    bus.send(value);
    return true;
  } catch {
    return false;
  }
}

describe("Subscriber.readable", () => {
  it("is a real ReadableStream, the same one on every access", () => {
    const sub = new Bus<number>().subscribe();
    assert.ok(sub.readable instanceof ReadableStream);
    assert.equal(sub.readable, sub.readable);
  });

  it("streams every value and closes when the bus closes", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const values = collect(sub.readable);
    for (let i = 0; i < 5; i++) {
      bus.send(i);
      if (i === 2) await tick();
    }
    bus.close();
    assert.deepEqual(await values, [0, 1, 2, 3, 4]);
  });

  it("pulls: the ring is its only buffer, so nothing is read ahead", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const reader = sub.readable.getReader();
    bus.send(1);
    bus.send(2);
    await tick();
    assert.deepEqual(await reader.read(), { value: 1, done: false });
    await tick();
    reader.releaseLock();
    assert.equal(sub.tryRecv(), 2, "the stream did not take value 2 into a queue of its own");
  });

  it("works with pipeThrough and new Response()", async () => {
    const bus = new Bus<string>();
    const sub = bus.subscribe();
    const response = new Response(sub.readable.pipeThrough(new TextEncoderStream()));
    bus.send("hello, ");
    bus.send("world");
    bus.close();
    assert.equal(await response.text(), "hello, world");
  });

  it("works with pipeTo", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const seen: number[] = [];
    const piped = sub.readable.pipeTo(new WritableStream({ write: (value) => void seen.push(value) }));
    bus.send(1);
    bus.send(2);
    bus.close();
    await piped;
    assert.deepEqual(seen, [1, 2]);
  });

  it("unsubscribes when cancelled, even mid-read", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const other = bus.subscribe();
    const reader = sub.readable.getReader();
    const pending = reader.read();
    await tick();
    await reader.cancel("enough");
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.equal(bus.subscriberCount, 1);
    bus.send(1);
    assert.equal(other.tryRecv(), 1);
  });

  it("unsubscribes when a pipe is aborted by a signal", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const controller = new AbortController();
    const piped = sub.readable.pipeTo(new WritableStream(), { signal: controller.signal });
    bus.send(1);
    await tick();
    controller.abort(new Error("stop"));
    await assert.rejects(piped, /stop/);
    assert.equal(bus.subscriberCount, 0);
  });

  it("closes when the subscriber is closed directly", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const values = collect(sub.readable);
    bus.send(1);
    await tick();
    sub.close();
    assert.deepEqual(await values, [1]);
  });
});

describe("Subscriber.stream({ highWaterMark })", () => {
  it("streams every value in order and closes when the bus closes", async () => {
    const bus = new Bus<number>();
    const stream = bus.subscribe().stream({ highWaterMark: 16 });
    const values = collect(stream);
    for (let i = 0; i < 100; i++) {
      bus.send(i);
      if (i % 10 === 0) await tick();
    }
    bus.close();
    assert.deepEqual(await values, Array.from({ length: 100 }, (_, i) => i));
  });

  it("without options, or with highWaterMark 0, pulls as readable does: nothing is read ahead", async () => {
    const bus = new Bus<number>({ capacity: 8 });
    const subs = [bus.subscribe(), bus.subscribe()];
    const streams = [subs[0]!.stream(), subs[1]!.stream({ highWaterMark: 0 })];
    for (let i = 0; i < 3; i++) bus.send(i);
    await tick();
    for (const [i, stream] of streams.entries()) {
      const reader = stream.getReader();
      assert.deepEqual(await reader.read(), { value: 0, done: false });
      await tick();
      reader.releaseLock();
      assert.equal(subs[i]!.tryRecv(), 1, "the stream did not take value 1 into a queue of its own");
    }
  });

  it("takes up to highWaterMark values ahead into its own queue, and the ring lets go of them", async () => {
    const bus = new Bus<number>({ capacity: 8 });
    const sub = bus.subscribe();
    const stream = sub.stream({ highWaterMark: 3 });
    for (let i = 0; i < 5; i++) bus.send(i);
    await tick();
    assert.equal(sub.tryRecv(), 3, "the stream took 0, 1 and 2 ahead of any read");
    const reader = stream.getReader();
    assert.deepEqual(await reader.read(), { value: 0, done: false });
  });

  it("takes its values ahead in one pull, so the first read already finds them taken", async () => {
    const bus = new Bus<number>({ capacity: 8 });
    const sub = bus.subscribe();
    for (let i = 0; i < 6; i++) bus.send(i);
    const reader = sub.stream({ highWaterMark: 4 }).getReader();
    assert.deepEqual(await reader.read(), { value: 0, done: false });
    assert.equal(sub.position, 4, "the read's value and three more, in the pull that served it");
    await reader.cancel();
  });

  it("lets a 'wait' producer run highWaterMark values ahead of the stream's reader, and no further", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const stream = bus.subscribe().stream({ highWaterMark: 4 });
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      while (tryToSend(bus, sent)) sent++;
      await tick();
    }
    assert.equal(sent, 2 + 4, "capacity + highWaterMark");
    const reader = stream.getReader();
    assert.deepEqual(await reader.read(), { value: 0, done: false });
    reader.releaseLock();
    await stream.cancel();
  });

  it("under 'drop-oldest' loses only what the ring overwrote before the stream took it, and counts it", async () => {
    const bus = new Bus<number>({ capacity: 2 });
    const sub = bus.subscribe();
    const stream = sub.stream({ highWaterMark: 2 });
    bus.send(0);
    bus.send(1);
    await tick(); // the stream takes 0 and 1
    for (let i = 2; i < 8; i++) bus.send(i); // the ring keeps 6 and 7
    bus.close();
    assert.deepEqual(await collect(stream), [0, 1, 6, 7]);
    assert.equal(sub.missed, 4);
    assert.equal(bus.stats().dropped, 4);
  });

  it("under 'drop-newest' holds the producer back no more than the ring does", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "drop-newest" });
    const stream = bus.subscribe().stream({ highWaterMark: 2 });
    bus.send(0);
    bus.send(1);
    await tick();
    for (let i = 2; i < 6; i++) bus.send(i);
    bus.close();
    assert.deepEqual(await collect(stream), [0, 1, 2, 3]);
    assert.equal(bus.stats().discarded, 2);
  });

  it("errors, ending the subscription, on a lag under lag: 'error'", async () => {
    const bus = new Bus<number>({ capacity: 2 });
    const sub = bus.subscribe({ lag: "error" });
    const stream = sub.stream({ highWaterMark: 1 });
    for (let i = 0; i < 5; i++) bus.send(i);
    await assert.rejects(collect(stream), { name: "LaggedError" });
    assert.equal(bus.subscriberCount, 0);
  });

  it("closes the subscriber when cancelled", async () => {
    const bus = new Bus<number>();
    const stream = bus.subscribe().stream({ highWaterMark: 8 });
    await stream.cancel();
    assert.equal(bus.subscriberCount, 0);
  });

  it("rejects bad options, naming them", () => {
    const sub = new Bus<number>().subscribe();
    assert.throws(() => sub.stream({ highWaterMark: -1 }), {
      name: "RangeError",
      message: "Invalid highWaterMark: -1; expected a non-negative integer",
    });
    assert.throws(() => sub.stream({ highWaterMark: "8" as never }), {
      name: "TypeError",
      message: 'Invalid highWaterMark: "8"; expected a non-negative integer',
    });
    assert.throws(() => sub.stream({ size: 8 } as never), {
      name: "TypeError",
      message: 'Unknown option in stream options: "size"; expected one of "highWaterMark"',
    });
    assert.equal(sub.tryRecv(), EMPTY);
  });
});

describe("Bus.writable", () => {
  it("is a real WritableStream, the same one on every access", () => {
    const bus = new Bus<number>();
    assert.ok(bus.writable instanceof WritableStream);
    assert.equal(bus.writable, bus.writable);
  });

  it("publishes a piped stream and closes the bus when the source ends", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < 3; i++) controller.enqueue(i);
        controller.close();
      },
    });
    await source.pipeTo(bus.writable);
    assert.equal(bus.closed, true);
    assert.deepEqual(await collect(sub.readable), [0, 1, 2]);
  });

  it("keeps the bus open with { preventClose: true }", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    const source = new ReadableStream<number>({
      start(controller) {
        controller.enqueue(1);
        controller.close();
      },
    });
    await source.pipeTo(bus.writable, { preventClose: true });
    assert.equal(bus.closed, false);
    bus.send(2);
    assert.deepEqual(take(sub), [1, 2]);
  });

  it("closes the bus when aborted", async () => {
    const bus = new Bus<number>();
    await bus.writable.abort(new Error("source failed"));
    assert.equal(bus.closed, true);
  });

  it("waits for room under overflow 'wait', so a fast source loses nothing to a slow consumer", async () => {
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    const consumer = readSlowly(sub);
    let next = 0;
    const source = new ReadableStream<number>({
      pull(controller) {
        if (next === 20) controller.close();
        else controller.enqueue(next++);
      },
    });
    await source.pipeTo(bus.writable);
    const seen = await consumer;
    assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(bus.stats().blocked, 0);
  });

  it("gives up a write waiting for room at once when the writer aborts, and closes the bus", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const sub = bus.subscribe(); // never reads, so the second write waits for good
    const writer = bus.writable.getWriter();
    await writer.write(1);
    const waiting = writer.write(2);
    await tick();
    const reason = new Error("producer gave up");
    await writer.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    assert.equal(bus.closed, true);
    assert.equal(bus.stats().sent, 1, "the write that waited was not sent");
    assert.equal(sub.tryRecv(), 1);
    assert.equal(sub.tryRecv(), CLOSED);
  });

  it("ends a blocked pipeTo whose signal aborted once its write in flight goes out, and closes the bus", async () => {
    // The streams spec lets an aborted pipe finish the write in flight before it aborts the destination, so the
    // chunk the pipe already took from the source is sent, not lost, as soon as there is room for it.
    const bus = new Bus<number>({ capacity: 2, overflow: "wait" });
    const sub = bus.subscribe();
    let next = 0;
    const source = new ReadableStream<number>({ pull: (controller) => controller.enqueue(next++) });
    const controller = new AbortController();
    let settled = false;
    const piped = source.pipeTo(bus.writable, { signal: controller.signal }).finally(() => settled = true);
    for (let i = 0; i < 20 && bus.stats().sent < 2; i++) await tick();
    controller.abort(new Error("stop"));
    await tick();
    assert.equal(settled, false, "the write in flight still waits for room");
    assert.equal(sub.tryRecv(), 0); // room for the chunk in flight
    await assert.rejects(piped, /stop/);
    assert.equal(bus.closed, true);
    assert.deepEqual(take(sub), [1, 2], "the chunk in flight went out; nothing after it");
    assert.equal(bus.stats().blocked, 0, "the pipe waited; it never hit BusFullError");
  });

  it("ends a blocked, aborted pipeTo at once when the bus closes", async () => {
    const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
    const stuck = bus.subscribe(); // never reads; held, so the GC cannot unsubscribe it
    let next = 0;
    const source = new ReadableStream<number>({ pull: (controller) => controller.enqueue(next++) });
    const controller = new AbortController();
    const piped = source.pipeTo(bus.writable, { signal: controller.signal });
    for (let i = 0; i < 20 && bus.stats().sent < 1; i++) await tick();
    controller.abort(new Error("stop"));
    bus.close();
    // Deno and Bun reject with the abort reason, Node with the failed write's error: both end the pipe at once.
    await assert.rejects(piped, (error) => /stop|Bus is closed/.test(String(error)));
    assert.equal(bus.stats().sent, 1);
    assert.equal(stuck.tryRecv(), 0);
  });

  it("errors a write after the bus was closed", async () => {
    const bus = new Bus<number>();
    bus.close();
    const writer = bus.writable.getWriter();
    await assert.rejects(writer.write(1), BusClosedError);
  });
});
