import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mod.ts";
import { eventStream } from "../sse.ts";
import { assertAccounted, type ParsedEvent, parseSse, splitId, SseReader } from "./_sse.ts";
import { canCollect, collectGarbage } from "./_gc.ts";

const quiet = { heartbeat: false } as const;

/** The positions in the events' ids, and that all carry one tag. */
function positions(events: ParsedEvent[]): number[] {
  const ids = events.map((event) => splitId(event.lastEventId));
  assert.equal(new Set(ids.map((id) => id.tag)).size, 1, "one tag for one bus");
  return ids.map((id) => id.position);
}

const summary = (events: ParsedEvent[]) =>
  events.map(({ type, data }) => type === "message" ? data : `${type} ${data}`);

/** A client's id after reading `count` values from a new stream of `bus`, and its stream, cancelled. */
async function idAfter(bus: Bus<number>, count: number, send: () => void): Promise<string> {
  const client = new SseReader(eventStream(bus, quiet));
  await client.until((parsed) => parsed.comments.length > 0, "the opening comment");
  send();
  const events = await client.events(count);
  await client.cancel();
  return events.at(-1)!.lastEventId;
}

/** Reads a stream (or what its reader has not read) to its end: an errored stream rejects with its own error (a Response's text() may not). */
async function readAll(source: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const reader = source instanceof ReadableStream ? source.getReader() : source;
  const decoder = new TextDecoder();
  let text = "";
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
  return text;
}

/** Counts the intervals set and not yet cleared while `body` runs, through the globals the stream calls. */
async function withIntervals(body: (live: Set<unknown>) => Promise<void>): Promise<void> {
  const { setInterval: set, clearInterval: clear } = globalThis;
  const live = new Set<unknown>();
  globalThis.setInterval = ((fn: () => void, ms?: number) => {
    const id = set(fn, ms);
    live.add(id);
    return id;
  }) as typeof setInterval;
  globalThis.clearInterval = ((id: Parameters<typeof clearInterval>[0]) => {
    live.delete(id);
    clear(id);
  }) as typeof clearInterval;
  try {
    await body(live);
  } finally {
    globalThis.setInterval = set;
    globalThis.clearInterval = clear;
  }
}

describe("eventStream() events", () => {
  it("eventStream() opens with a comment before any value is sent, so the first byte leaves at once", async () => {
    const bus = new Bus<number>();
    const client = new SseReader(eventStream(bus, quiet));
    const parsed = await client.until((p) => p.comments.length > 0, "a comment");
    assert.deepEqual(parsed, { events: [], comments: ["connected"], retry: undefined });
    await client.cancel();
  });

  it("eventStream() sends each value as JSON with an id of the bus's tag and the next sequence number", async () => {
    const bus = new Bus<{ n: number }>();
    const body = eventStream(bus, quiet);
    bus.send({ n: 0 });
    bus.send({ n: 1 });
    bus.close();
    const { events } = parseSse(await new Response(body).text());
    assert.deepEqual(summary(events), ['{"n":0}', '{"n":1}']);
    assert.deepEqual(positions(events), [1, 2]);
  });

  it("eventStream() numbers events by the bus's sequence, whatever was sent before it subscribed", async () => {
    const bus = new Bus<number>();
    for (let i = 0; i < 5; i++) bus.send(i);
    const body = eventStream(bus, quiet);
    bus.send(5);
    bus.close();
    assert.deepEqual(positions(parseSse(await new Response(body).text()).events), [6]);
  });

  it("eventStream() gives every stream of one bus the same tag, and another bus another tag", async () => {
    const a = new Bus<number>();
    const b = new Bus<number>();
    const streams = [eventStream(a, quiet), eventStream(a, quiet), eventStream(b, quiet)];
    a.send(1);
    b.send(1);
    a.close();
    b.close();
    const tags = await Promise.all(streams.map(async (body) => {
      const { events } = parseSse(await new Response(body).text());
      return splitId(events[0]!.lastEventId).tag;
    }));
    assert.equal(tags[0], tags[1]);
    assert.notEqual(tags[0], tags[2]);
  });

  it("eventStream() splits data with line breaks into data: lines, which the client joins with \\n", async () => {
    const bus = new Bus<string>();
    const body = eventStream(bus, { ...quiet, encode: (text) => text });
    for (const text of ["a\nb", "c\r\nd", "e\rf", "", "\n"]) bus.send(text);
    bus.close();
    const text = await new Response(body).text();
    assert.match(text, /^data: a\ndata: b\n\n/m);
    assert.deepEqual(parseSse(text).events.map((event) => event.data), ["a\nb", "c\nd", "e\nf", "", "\n"]);
  });

  it("eventStream() encodes with the encode option", async () => {
    const bus = new Bus<{ price: number }>();
    const body = eventStream(bus, { ...quiet, encode: (tick) => tick.price.toFixed(2) });
    bus.send({ price: 1.5 });
    bus.close();
    assert.deepEqual(summary(parseSse(await new Response(body).text()).events), ["1.50"]);
  });

  it("eventStream() names value events with the event option", async () => {
    const bus = new Bus<number>();
    const body = eventStream(bus, { ...quiet, event: "tick" });
    bus.send(7);
    bus.close();
    const text = await new Response(body).text();
    assert.match(text, /^event: tick\nid: [0-9a-z]{8}-1\ndata: 7\n\n/m);
    assert.deepEqual(summary(parseSse(text).events), ["tick 7"]);
  });

  it("eventStream() sends the retry option as a retry: field with the opening", async () => {
    const bus = new Bus<number>();
    const client = new SseReader(eventStream(bus, { ...quiet, retry: 250 }));
    const parsed = await client.until((p) => p.retry !== undefined, "a retry: field");
    assert.deepEqual(parsed, { events: [], comments: ["connected"], retry: 250 });
    await client.cancel();
  });

  it("eventStream() sends a heartbeat comment every heartbeat milliseconds", async () => {
    const bus = new Bus<number>();
    const client = new SseReader(eventStream(bus, { heartbeat: 10 }));
    const parsed = await client.until((p) => p.comments.length >= 4, "three heartbeats");
    assert.deepEqual(parsed.comments, ["connected", "heartbeat", "heartbeat", "heartbeat"]);
    bus.send(1);
    assert.equal((await client.events(1))[0]!.data, "1");
    await client.cancel();
  });

  it("eventStream() queues no more than one heartbeat for a reader that is not reading", async () => {
    const bus = new Bus<number>();
    const reader = eventStream(bus, { heartbeat: 1 }).getReader();
    await reader.read(); // the opening
    await new Promise((resolve) => setTimeout(resolve, 50)); // some 50 heartbeat periods, nothing read
    bus.send(1);
    bus.close();
    const { comments, events } = parseSse(await readAll(reader));
    assert.deepEqual(comments, ["heartbeat"]);
    assert.deepEqual(summary(events), ["1"]);
  });
});

describe("eventStream() resuming", () => {
  it("eventStream() resumes after a Last-Event-ID this bus gave, with the values the ring still holds", async () => {
    const bus = new Bus<number>({ capacity: 8, replay: true });
    const lastEventId = await idAfter(bus, 2, () => [0, 1].forEach((n) => bus.send(n)));
    for (let n = 2; n < 6; n++) bus.send(n); // while the client is away
    const body = eventStream(bus, { ...quiet, lastEventId });
    bus.send(6);
    bus.close();
    const { events } = parseSse(await new Response(body).text());
    assert.deepEqual(summary(events), ["2", "3", "4", "5", "6"]);
    assert.deepEqual(positions(events), [3, 4, 5, 6, 7]);
  });

  it("eventStream() resumes past what the ring holds with a gap event of the exact count first", async () => {
    const bus = new Bus<number>({ capacity: 4, replay: true });
    const lastEventId = await idAfter(bus, 1, () => bus.send(0));
    for (let n = 1; n < 11; n++) bus.send(n); // 10 sent while away; the ring keeps the last 4
    const body = eventStream(bus, { ...quiet, lastEventId });
    bus.close();
    const { events } = parseSse(await new Response(body).text());
    assert.deepEqual(summary(events), ['gap {"missed":6}', "7", "8", "9", "10"]);
    // The gap's id is where the values after it start, so a client that reconnects after it counts nothing twice.
    assert.deepEqual(positions(events), [7, 8, 9, 10, 11]);
  });

  it("eventStream() reports a gap even when the ring holds nothing after it", async () => {
    const bus = new Bus<number>({ capacity: 4 }); // no replay: nothing is kept while nobody listens
    const lastEventId = await idAfter(bus, 1, () => bus.send(0));
    for (let n = 1; n < 4; n++) bus.send(n);
    const client = new SseReader(eventStream(bus, { ...quiet, lastEventId }));
    const [gap] = await client.events(1);
    assert.deepEqual([gap!.type, gap!.data, splitId(gap!.lastEventId).position], ["gap", '{"missed":3}', 4]);
    bus.send(4);
    assert.deepEqual(summary(await client.events(2)), ['gap {"missed":3}', "4"]);
    await client.cancel();
  });

  it("eventStream() resumes after an id whose position has several digits", async () => {
    const bus = new Bus<number>({ capacity: 16, replay: true });
    const lastEventId = await idAfter(bus, 12, () => {
      for (let n = 0; n < 12; n++) bus.send(n);
    });
    assert.equal(splitId(lastEventId).position, 12);
    bus.send(12); // while the client is away
    const body = eventStream(bus, { ...quiet, lastEventId });
    bus.send(13);
    bus.close();
    const { events } = parseSse(await new Response(body).text());
    assert.deepEqual(summary(events), ["12", "13"]);
    assert.deepEqual(positions(events), [13, 14]);
  });

  it("eventStream() resumes with nothing to report when the client had read everything", async () => {
    const bus = new Bus<number>({ replay: true });
    const lastEventId = await idAfter(bus, 2, () => [0, 1].forEach((n) => bus.send(n)));
    const body = eventStream(bus, { ...quiet, lastEventId });
    bus.send(2);
    bus.close();
    assert.deepEqual(summary(parseSse(await new Response(body).text()).events), ["2"]);
  });

  it("eventStream() answers an id this bus never gave with a reset event, then streams as to a new client", async () => {
    const bus = new Bus<number>({ replay: true });
    const other = new Bus<number>();
    const otherId = await idAfter(other, 1, () => other.send(0));
    for (let n = 0; n < 3; n++) bus.send(n);
    const tag = splitId(await idAfter(bus, 1, () => bus.send(3))).tag;
    const never = [
      otherId, // another bus: a restarted server, another instance
      `${tag}-5`, // ahead of stats().sent, which is 4
      `${tag}-04`,
      `${tag}-4.0`,
      `${tag}--1`,
      `${tag}-1e1`,
      `x${tag}-4`, // an id of this bus with something before it
      "4",
      "not a number",
    ];
    for (const lastEventId of never) {
      const body = eventStream(bus, { ...quiet, lastEventId });
      const { events } = parseSse(new TextDecoder().decode((await body.getReader().read()).value));
      assert.deepEqual(summary(events), [`reset ${JSON.stringify({ lastEventId })}`], lastEventId);
      assert.equal(events[0]!.lastEventId, `${tag}-4`, "the reset's id is where the stream starts");
    }
    // As a new client: from "next" by default, or from the oldest value retained.
    const next = eventStream(bus, { ...quiet, lastEventId: "x" });
    const oldest = eventStream(bus, { ...quiet, lastEventId: "x", from: "oldest" });
    bus.send(4);
    bus.close();
    assert.deepEqual(summary(parseSse(await new Response(next).text()).events), ['reset {"lastEventId":"x"}', "4"]);
    const fromOldest = parseSse(await new Response(oldest).text()).events;
    assert.deepEqual(summary(fromOldest), ['reset {"lastEventId":"x"}', "0", "1", "2", "3", "4"]);
    assert.deepEqual(positions(fromOldest), [0, 1, 2, 3, 4, 5]);
  });

  it("eventStream() treats an empty, null or undefined lastEventId as none", async () => {
    for (const lastEventId of ["", null, undefined]) {
      const bus = new Bus<number>();
      const body = eventStream(bus, { ...quiet, lastEventId });
      bus.send(1);
      bus.close();
      assert.deepEqual(summary(parseSse(await new Response(body).text()).events), ["1"], String(lastEventId));
    }
  });

  it("eventStream() starts a new client at the oldest retained value with from: oldest", async () => {
    const bus = new Bus<number>({ capacity: 2, replay: true });
    for (let n = 0; n < 5; n++) bus.send(n);
    const body = eventStream(bus, { ...quiet, from: "oldest" });
    bus.close();
    const { events } = parseSse(await new Response(body).text());
    assert.deepEqual(summary(events), ["3", "4"]);
    assert.deepEqual(positions(events), [4, 5]);
  });
});

describe("eventStream() lagging", () => {
  it("eventStream() sends a gap event with the exact count when the client falls a ring behind", async () => {
    const bus = new Bus<number>({ capacity: 4 });
    const client = new SseReader(eventStream(bus, quiet));
    bus.send(0);
    await client.events(1);
    for (let n = 1; n < 12; n++) bus.send(n); // 11 while the client reads nothing; the ring keeps 4
    bus.send(12);
    const events = await client.events(1 + 1 + 4);
    assert.deepEqual(summary(events), ["0", 'gap {"missed":8}', "9", "10", "11", "12"]);
    assert.deepEqual(positions(events), [1, 9, 10, 11, 12, 13]);
    bus.send(13);
    assert.deepEqual(summary(await client.events(7)).slice(6), ["13"]);
    await client.cancel();
  });

  it("eventStream() accounts for every value under lag: each is received or counted in a gap, once", async () => {
    const bus = new Bus<number>({ capacity: 8 });
    const client = new SseReader(eventStream(bus, quiet));
    let sent = 0;
    for (let round = 0; round < 60; round++) {
      const burst = (round * 7) % 13; // bursts of 0 to 12 against a ring of 8
      for (let i = 0; i < burst; i++) bus.send(sent++);
      // Every third round the client catches up; in between it reads nothing, so unread bursts pile up.
      if (round % 3 === 2) {
        await client.until(
          (p) => p.events.length > 0 && splitId(p.events.at(-1)!.lastEventId).position === sent,
          "caught up",
        );
      }
    }
    bus.close();
    const { events } = await client.end();
    const gaps = assertAccounted(events, 0, sent);
    assert.ok(gaps > 0, "the bursts made the client lag");
  });
});

describe("eventStream() ending", () => {
  it("eventStream() ends after the values retained for it once the bus is closed", async () => {
    const bus = new Bus<number>();
    const client = new SseReader(eventStream(bus, quiet));
    bus.send(1);
    bus.close();
    const { events } = await client.end();
    assert.deepEqual(summary(events), ["1"]);
    assert.equal(bus.subscriberCount, 0);
  });

  it("eventStream() of a closed bus opens and ends", async () => {
    const bus = new Bus<number>();
    bus.close();
    assert.equal(await new Response(eventStream(bus, quiet)).text(), ": connected\n\n");
  });

  it("eventStream() ends when its signal aborts, after what is queued, and unsubscribes", async () => {
    const bus = new Bus<number>();
    const stop = new AbortController();
    const client = new SseReader(eventStream(bus, { ...quiet, signal: stop.signal }));
    bus.send(1);
    await client.events(1);
    stop.abort();
    assert.equal(bus.subscriberCount, 0);
    assert.deepEqual(summary((await client.end()).events), ["1"]);
    assert.equal(bus.send(2), 0);
  });

  it("eventStream() ends when its signal aborts while a reader waits, after the heartbeat queued for it", async () => {
    const bus = new Bus<number>();
    const stop = new AbortController();
    const reader = eventStream(bus, { heartbeat: 1, signal: stop.signal }).getReader();
    await reader.read(); // the opening
    // A read that waits for a value gets a heartbeat instead; the next heartbeat waits in the queue.
    assert.equal(new TextDecoder().decode((await reader.read()).value), ": heartbeat\n\n");
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop.abort();
    await new Promise((resolve) => setTimeout(resolve, 0)); // the stream's own read of the bus settles
    assert.equal(await readAll(reader), ": heartbeat\n\n");
    assert.equal(bus.subscriberCount, 0);
  });

  it("eventStream() with a signal already aborted opens and ends", async () => {
    const bus = new Bus<number>();
    const body = eventStream(bus, { signal: AbortSignal.abort() });
    assert.equal(await new Response(body).text(), ": connected\n\n");
    assert.equal(bus.subscriberCount, 0);
  });

  it("eventStream() unsubscribes when the stream is cancelled", async () => {
    const bus = new Bus<number>();
    const body = eventStream(bus, quiet);
    assert.equal(bus.subscriberCount, 1);
    await body.cancel();
    assert.equal(bus.subscriberCount, 0);
  });

  it("eventStream() errors when the encoder throws or returns no string, and unsubscribes", async () => {
    const failures: [string, (n: number) => string, RegExp][] = [
      ["throws", () => {
        throw new Error("cannot encode");
      }, /cannot encode/],
      [
        "returns undefined",
        () => undefined as unknown as string,
        /returned undefined for value number 0; expected a string/,
      ],
      ["JSON cannot", (n) => JSON.stringify(BigInt(n)), /BigInt/],
    ];
    for (const [what, encode, message] of failures) {
      const bus = new Bus<number>();
      const body = eventStream(bus, { ...quiet, encode });
      bus.send(0);
      await assert.rejects(readAll(body), message, what); // the reader sees the stream's own error
      assert.equal(bus.subscriberCount, 0, what);
    }
    const bus = new Bus<unknown>();
    const body = eventStream(bus, quiet);
    bus.send(undefined); // JSON.stringify(undefined) is undefined
    await assert.rejects(readAll(body), /returned undefined/);
  });

  it("eventStream() clears its heartbeat timer and unsubscribes however the stream ends", async () => {
    await withIntervals(async (live) => {
      const ends: [string, (bus: Bus<number>, stop: AbortController, body: ReadableStream) => Promise<unknown>][] = [
        ["cancelled", (_bus, _stop, body) => body.cancel()],
        ["bus closed", (bus, _stop, body) => {
          bus.close();
          return new Response(body).text();
        }],
        ["signal aborted", (_bus, stop, body) => {
          stop.abort();
          return new Response(body).text();
        }],
        ["encoder threw", (bus, _stop, body) => {
          bus.send(-1);
          return new Response(body).text().catch(() => {});
        }],
      ];
      const encode = (n: number): string => {
        if (n < 0) throw new Error("cannot encode");
        return String(n);
      };
      for (const [how, finish] of ends) {
        const bus = new Bus<number>();
        const stop = new AbortController();
        const body = eventStream(bus, { heartbeat: 1000, signal: stop.signal, encode });
        assert.equal(live.size, 1, `${how}: a timer while it runs`);
        await finish(bus, stop, body);
        assert.equal(live.size, 0, `${how}: no timer left`);
        assert.equal(bus.subscriberCount, 0, `${how}: no subscriber left`);
      }
      const body = eventStream(new Bus<number>(), { heartbeat: false });
      assert.equal(live.size, 0, "heartbeat: false sets no timer");
      await body.cancel();
    });
  });
});

describe("eventStream() memory", { skip: !canCollect && "no garbage collector exposed" }, () => {
  it("eventStream() that has ended is not kept alive by a signal that lives on", async () => {
    const stop = new AbortController(); // a server's shutdown signal, shared by every stream
    /** Opens a stream with a fresh encoder, ends it, and keeps only a weak reference to the encoder. */
    const openAndEnd = async (bus: Bus<number>, end: (body: ReadableStream<Uint8Array>) => Promise<unknown>) => {
      const encode = (n: number): string => String(n);
      const body = eventStream(bus, { heartbeat: false, signal: stop.signal, encode });
      await end(body);
      return new WeakRef(encode);
    };
    const bus = new Bus<number>();
    const cancelled = await openAndEnd(bus, (body) => body.cancel());
    const closing = new Bus<number>();
    const closed = await openAndEnd(closing, (body) => {
      closing.send(1);
      closing.close();
      return readAll(body);
    });
    await collectGarbage();
    assert.equal(cancelled.deref(), undefined, "cancelled");
    assert.equal(closed.deref(), undefined, "ended with the bus");
    assert.equal(stop.signal.aborted, false);
  });
});

describe("eventStream() bad input", () => {
  it("eventStream() refuses what is not a bus", () => {
    for (const bus of [undefined, null, 1, {}, { subscribe() {} }, { stats() {} }]) {
      assert.throws(() => eventStream(bus as unknown as Bus<number>), {
        name: "TypeError",
        message: /^Invalid bus: .*; expected a Bus$/,
      });
    }
  });

  it("eventStream() names the option, the value and what is allowed, and subscribes nothing", () => {
    const bus = new Bus<number>();
    const cases: [unknown, string, RegExp][] = [
      ["options", "TypeError", /^Invalid event stream options: "options"; expected an object$/],
      [
        { heartbeet: 1 },
        "TypeError",
        /^Unknown option in event stream options: "heartbeet"; expected one of "lastEventId", /,
      ],
      [{ allowOrigin: "*" }, "TypeError", /^Unknown option in event stream options: "allowOrigin"/],
      [{ lastEventId: 5 }, "TypeError", /^Invalid lastEventId: 5; expected a string, null or undefined$/],
      [{ from: 0 }, "TypeError", /^Invalid from: 0; expected "next" or "oldest"$/],
      [{ from: "latest" }, "TypeError", /^Invalid from: "latest"/],
      [
        { event: "" },
        "TypeError",
        /^Invalid event: ""; expected a non-empty name without line breaks, other than "gap" and "reset"$/,
      ],
      [{ event: "a\nb" }, "TypeError", /^Invalid event: "a\\nb"/],
      [{ event: "a\rb" }, "TypeError", /^Invalid event: "a\\rb"/],
      [{ event: "gap" }, "TypeError", /^Invalid event: "gap"/],
      [{ event: "reset" }, "TypeError", /^Invalid event: "reset"/],
      [{ event: 1 }, "TypeError", /^Invalid event: 1/],
      [{ encode: "json" }, "TypeError", /^Invalid encode: "json"; expected a function from a value to a string$/],
      [
        { heartbeat: "5s" },
        "TypeError",
        /^Invalid heartbeat: "5s"; expected an integer number of milliseconds from 1 to 2\^31 - 1 or false$/,
      ],
      [{ heartbeat: true }, "TypeError", /^Invalid heartbeat: true/],
      [{ heartbeat: 0 }, "RangeError", /^Invalid heartbeat: 0; expected an integer number of milliseconds from 1/],
      [{ heartbeat: -1 }, "RangeError", /^Invalid heartbeat: -1/],
      [{ heartbeat: 1.5 }, "RangeError", /^Invalid heartbeat: 1.5/],
      [{ heartbeat: NaN }, "RangeError", /^Invalid heartbeat: NaN/],
      [{ heartbeat: Infinity }, "RangeError", /^Invalid heartbeat: Infinity/],
      [{ heartbeat: 2 ** 31 }, "RangeError", /^Invalid heartbeat: 2147483648/],
      [
        { retry: "1s" },
        "TypeError",
        /^Invalid retry: "1s"; expected an integer number of milliseconds from 0 to 2\^31 - 1$/,
      ],
      [{ retry: -1 }, "RangeError", /^Invalid retry: -1/],
      [{ retry: 0.5 }, "RangeError", /^Invalid retry: 0.5/],
      [{ signal: {} }, "TypeError", /^Invalid signal: an object; expected an AbortSignal$/],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => eventStream(bus, options as never), { name, message }, JSON.stringify(options));
    }
    assert.equal(bus.subscriberCount, 0);
    // The edges that are allowed.
    for (const options of [{ heartbeat: 1 }, { heartbeat: 2 ** 31 - 1 }, { retry: 0 }, { event: "message" }, {}]) {
      void eventStream(bus, options).cancel();
    }
    assert.equal(bus.subscriberCount, 0);
  });
});
