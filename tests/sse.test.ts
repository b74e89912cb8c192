import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { Bus } from "../mod.ts";
import { sseResponse, type SseResponseOptions } from "../sse.ts";
import { assertAccounted, type ParsedEvent, splitId, SseReader } from "./_sse.ts";
import { serve, type Served } from "./_serve.ts";

/** Waits until `condition()` holds, polling, or fails after two seconds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

const summary = (events: ParsedEvent[]) =>
  events.map(({ type, data }) => type === "message" ? data : `${type} ${data}`);

/** Serves `sseResponse(bus, request, options)` on loopback for the length of `body`. */
async function serving<T>(
  bus: Bus<T>,
  options: SseResponseOptions<T>,
  body: (server: Served) => Promise<void>,
): Promise<void> {
  const server = await serve((request) => sseResponse(bus, request, options));
  try {
    await body(server);
  } finally {
    bus.close();
    await server.close();
  }
}

/** Connects, with a watchdog, and returns the stream as an SSE reader once the opening comment is in. */
async function connectTo(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  const client = new SseReader(response.body!);
  await client.until((parsed) => parsed.comments.includes("connected"), "the opening comment");
  return client;
}

/**
 * A TCP proxy that closes any connection quiet for `idleMs`, as nginx, load
 * balancers and Bun's own server do: what heartbeats are for.
 */
function idleTimeoutProxy(target: string, idleMs: number): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(new URL(target).port), "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    }
    client.pipe(upstream).pipe(client);
    client.setTimeout(idleMs, () => {
      client.destroy();
      upstream.destroy();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe("sseResponse() over HTTP", () => {
  it("sseResponse() streams values to a fetch client as Server-Sent Events until the bus closes", async () => {
    const bus = new Bus<{ n: number }>();
    await serving(bus, {}, async (server) => {
      const response = await fetch(server.url, { signal: AbortSignal.timeout(10_000) });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      assert.equal(response.headers.get("cache-control"), "no-cache");
      assert.equal(response.headers.get("x-accel-buffering"), "no");
      assert.equal(response.headers.get("access-control-allow-origin"), null);
      assert.equal(bus.subscriberCount, 1);
      for (let n = 0; n < 3; n++) bus.send({ n });
      bus.close();
      const text = await response.text();
      assert.match(
        text,
        /^: connected\n\nid: ([0-9a-z]{8})-1\ndata: \{"n":0\}\n\nid: \1-2\ndata: \{"n":1\}\n\nid: \1-3\n/,
      );
    });
  });

  it("sseResponse() sends the opening at once, before any value, so the headers are not held", async () => {
    const bus = new Bus<number>();
    await serving(bus, { retry: 500 }, async (server) => {
      const client = await connectTo(server.url); // the watchdog fails this if no byte comes
      assert.deepEqual(client.parsed, { events: [], comments: ["connected"], retry: 500 });
      await client.cancel();
    });
  });

  it("sseResponse() resumes from the Last-Event-ID header with what the ring still holds", async () => {
    const bus = new Bus<number>({ capacity: 8, replay: true });
    await serving(bus, { heartbeat: false }, async (server) => {
      const first = await connectTo(server.url);
      bus.send(0);
      bus.send(1);
      const lastEventId = (await first.events(2))[1]!.lastEventId;
      await first.cancel();
      for (let n = 2; n < 5; n++) bus.send(n);
      const second = await connectTo(server.url, { "last-event-id": lastEventId });
      const events = await second.events(3);
      assert.deepEqual(summary(events), ["2", "3", "4"]);
      assert.deepEqual(events.map((event) => splitId(event.lastEventId).position), [3, 4, 5]);
      await second.cancel();
    });
  });

  it("sseResponse() resumes past what the ring holds with a gap event of the exact count", async () => {
    const bus = new Bus<number>({ capacity: 4, replay: true });
    await serving(bus, { heartbeat: false }, async (server) => {
      const first = await connectTo(server.url);
      bus.send(0);
      const lastEventId = (await first.events(1))[0]!.lastEventId;
      await first.cancel();
      for (let n = 1; n < 11; n++) bus.send(n);
      const second = await connectTo(server.url, { "last-event-id": lastEventId });
      const events = await second.events(5);
      assert.deepEqual(summary(events), ['gap {"missed":6}', "7", "8", "9", "10"]);
      assert.deepEqual(events.map((event) => splitId(event.lastEventId).position), [7, 8, 9, 10, 11]);
      await second.cancel();
    });
  });

  it("sseResponse() answers a Last-Event-ID this bus never gave with a reset event, then streams from now", async () => {
    const bus = new Bus<number>({ replay: true });
    await serving(bus, { heartbeat: false }, async (server) => {
      bus.send(0);
      const client = await connectTo(server.url, { "last-event-id": "abcdefgh-1" });
      const [reset] = await client.events(1);
      assert.deepEqual(summary([reset!]), ['reset {"lastEventId":"abcdefgh-1"}']);
      assert.equal(splitId(reset!.lastEventId).position, 1);
      bus.send(1);
      assert.deepEqual(summary(await client.events(2)), ['reset {"lastEventId":"abcdefgh-1"}', "1"]);
      await client.cancel();
    });
  });

  it("sseResponse() sends a gap event with the exact count when a streaming client lags", async () => {
    const bus = new Bus<number>({ capacity: 4 });
    await serving(bus, { heartbeat: false }, async (server) => {
      const client = await connectTo(server.url);
      bus.send(0);
      await client.events(1);
      for (let n = 1; n < 20; n++) bus.send(n); // at once: the server cannot read any of them before the ring wraps
      const events = await client.events(6);
      assert.deepEqual(summary(events), ["0", 'gap {"missed":15}', "16", "17", "18", "19"]);
      assert.deepEqual(events.map((event) => splitId(event.lastEventId).position), [1, 16, 17, 18, 19, 20]);
      await client.cancel();
    });
  });

  it("sseResponse() counts exactly what a client too slow to read loses, once its connection pushes back", async () => {
    const bus = new Bus<number>({ capacity: 8 });
    const padding = "x".repeat(64 * 1024);
    // Each event carries 64 KiB: the 19 MB sent are far more than the sockets and the client's fetch buffer while it
    // reads nothing (about 5 MB on this machine), so the server's writes stall, it stops pulling, and the ring wraps.
    await serving(bus, { heartbeat: false, encode: (n) => `${n}\n${padding}` }, async (server) => {
      const client = await connectTo(server.url);
      const sent = 300;
      for (let n = 0; n < sent; n++) {
        bus.send(n);
        if (n % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 1)); // the server writes what it can
      }
      bus.close();
      const { events } = await client.end(20_000);
      const unpadded = events.map((event) => ({ ...event, data: event.data.split("\n")[0]! }));
      assert.ok(assertAccounted(unpadded, 0, sent) > 0, "the client lagged");
    });
  });

  it("sseResponse() keeps a quiet connection open through an idle timeout with heartbeats", async () => {
    const bus = new Bus<number>();
    await serving(bus, { heartbeat: 40 }, async (server) => {
      const proxy = await idleTimeoutProxy(server.url, 250);
      try {
        const client = await connectTo(proxy.url);
        await new Promise((resolve) => setTimeout(resolve, 800)); // three idle timeouts
        bus.send(1);
        assert.deepEqual(summary(await client.events(1)), ["1"]);
        assert.ok(client.parsed.comments.filter((c) => c === "heartbeat").length >= 5, "heartbeats came through");
        await client.cancel();
      } finally {
        await proxy.close();
      }
    });
  });

  it("sseResponse() without heartbeats loses a quiet connection to an idle timeout (the proxy test's control)", async () => {
    const bus = new Bus<number>();
    await serving(bus, { heartbeat: false }, async (server) => {
      const proxy = await idleTimeoutProxy(server.url, 250);
      try {
        const client = await connectTo(proxy.url);
        // The proxy cuts it: the body ends, or fails as a dropped connection does; either way, not still open.
        const outcome = await client.end(3000).then(
          () => "cut",
          (error) => error instanceof assert.AssertionError ? "still open after 3 s" : "cut",
        );
        assert.equal(outcome, "cut");
      } finally {
        await proxy.close();
      }
    });
  });

  it("sseResponse() unsubscribes a client that disconnects", async () => {
    const bus = new Bus<{ n: number }>();
    await serving(bus, {}, async (server) => {
      const controller = new AbortController();
      const response = await fetch(server.url, { signal: controller.signal });
      assert.equal(bus.subscriberCount, 1);
      bus.send({ n: 1 });
      const client = new SseReader(response.body!);
      assert.deepEqual(summary(await client.events(1)), ['{"n":1}']);
      controller.abort();
      await client.cancel();
      // Where the runtime aborts request.signal, at once; elsewhere the server notices on its next write.
      await until(() => {
        bus.send({ n: 2 });
        return bus.subscriberCount === 0;
      }, "the subscriber to leave");
    });
  });

  it("sseResponse() answers 204 once the bus is closed, so EventSource stops reconnecting", async () => {
    const bus = new Bus<number>();
    await serving(bus, { allowOrigin: "*" }, async (server) => {
      bus.close();
      const response = await fetch(server.url, { headers: { "last-event-id": "abcdefgh-0" } });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      assert.equal(await response.text(), "");
    });
  });

  it("sseResponse() sends the CORS headers allowOrigin asks for", async () => {
    const bus = new Bus<number>();
    await serving(
      bus,
      { allowOrigin: ["http://a.example", "http://b.example:8080"], allowCredentials: true },
      async (server) => {
        const response = await fetch(server.url, { headers: { origin: "http://b.example:8080" } });
        assert.equal(response.headers.get("access-control-allow-origin"), "http://b.example:8080");
        assert.equal(response.headers.get("access-control-allow-credentials"), "true");
        assert.equal(response.headers.get("vary"), "origin");
        await response.body!.cancel();
      },
    );
  });
});

describe("sseResponse() headers", () => {
  const request = (headers: Record<string, string> = {}) => new Request("http://127.0.0.1/", { headers });
  const corsOf = (response: Response) => {
    void response.body?.cancel();
    return ["access-control-allow-origin", "access-control-allow-credentials", "vary"].map((name) =>
      response.headers.get(name)
    );
  };

  it('sseResponse() allows any origin with allowOrigin: "*"', () => {
    const bus = new Bus<number>();
    assert.deepEqual(corsOf(sseResponse(bus, request({ origin: "https://x.example" }), { allowOrigin: "*" })), [
      "*",
      null,
      null,
    ]);
    assert.deepEqual(corsOf(sseResponse(bus, request(), { allowOrigin: "*" })), ["*", null, null]);
  });

  it("sseResponse() echoes an allowed origin with Vary: Origin, and names no other", () => {
    const bus = new Bus<number>();
    const allowOrigin = ["https://app.example", "http://127.0.0.1:8080"];
    const cases: [Record<string, string>, (string | null)[]][] = [
      [{ origin: "https://app.example" }, ["https://app.example", null, "origin"]],
      [{ origin: "http://127.0.0.1:8080" }, ["http://127.0.0.1:8080", null, "origin"]],
      [{ origin: "https://evil.example" }, [null, null, "origin"]],
      [{ origin: "https://app.example.evil" }, [null, null, "origin"]],
      [{ origin: "null" }, [null, null, "origin"]],
      [{}, [null, null, "origin"]],
    ];
    for (const [headers, expected] of cases) {
      assert.deepEqual(corsOf(sseResponse(bus, request(headers), { allowOrigin })), expected, JSON.stringify(headers));
    }
    const one = sseResponse(bus, request({ origin: "https://app.example" }), { allowOrigin: "https://app.example" });
    assert.deepEqual(corsOf(one), ["https://app.example", null, "origin"]);
  });

  it("sseResponse() allows credentials for an allowed origin with allowCredentials", () => {
    const bus = new Bus<number>();
    const options = { allowOrigin: "https://app.example", allowCredentials: true };
    assert.deepEqual(corsOf(sseResponse(bus, request({ origin: "https://app.example" }), options)), [
      "https://app.example",
      "true",
      "origin",
    ]);
    assert.deepEqual(corsOf(sseResponse(bus, request({ origin: "https://other.example" }), options)), [
      null,
      null,
      "origin",
    ]);
  });

  it("sseResponse() sends no CORS headers without allowOrigin", () => {
    const bus = new Bus<number>();
    assert.deepEqual(corsOf(sseResponse(bus, request({ origin: "https://app.example" }))), [null, null, null]);
    assert.equal(bus.subscriberCount, 0);
  });

  it("sseResponse() takes Last-Event-ID from the request, so its options refuse one", () => {
    const bus = new Bus<number>();
    assert.throws(() => sseResponse(bus, request(), { lastEventId: "x" } as never), {
      name: "TypeError",
      message: /^Unknown option in SSE response options: "lastEventId"; expected one of "from", /,
    });
  });
});

describe("sseResponse() bad input", () => {
  it("sseResponse() names the argument or option, the value and what is allowed, and subscribes nothing", () => {
    const bus = new Bus<number>();
    const request = new Request("http://127.0.0.1/");
    assert.throws(() => sseResponse({} as Bus<number>, request), {
      name: "TypeError",
      message: "Invalid bus: an object; expected a Bus",
    });
    assert.throws(() => sseResponse(bus, "http://127.0.0.1/" as unknown as Request), {
      name: "TypeError",
      message: 'Invalid request: "http://127.0.0.1/"; expected a Request',
    });
    const origins = 'expected "*", an origin such as "https://app.example", or a non-empty array of origins';
    const cases: [unknown, string, string | RegExp][] = [
      [1, "TypeError", "Invalid SSE response options: 1; expected an object"],
      [{ allowOrigins: "*" }, "TypeError", /^Unknown option in SSE response options: "allowOrigins"; expected one of /],
      [{ allowOrigin: true }, "TypeError", `Invalid allowOrigin: true; ${origins}`],
      [{ allowOrigin: "app.example" }, "TypeError", `Invalid allowOrigin: "app.example"; ${origins}`],
      [{ allowOrigin: "https://app.example/" }, "TypeError", `Invalid allowOrigin: "https://app.example/"; ${origins}`],
      [
        { allowOrigin: "https://app.example/events" },
        "TypeError",
        `Invalid allowOrigin: "https://app.example/events"; ${origins}`,
      ],
      [{ allowOrigin: [] }, "TypeError", `Invalid allowOrigin: an empty array; ${origins}`],
      [{ allowOrigin: ["*"] }, "TypeError", `Invalid allowOrigin: "*"; ${origins}`],
      [{ allowOrigin: ["https://a.example", 1] }, "TypeError", `Invalid allowOrigin: 1; ${origins}`],
      [{ allowCredentials: "yes" }, "TypeError", 'Invalid allowCredentials: "yes"; expected true or false'],
      [
        { allowOrigin: "*", allowCredentials: true },
        "TypeError",
        'Invalid allowCredentials: true with allowOrigin "*"; browsers refuse credentials with "*", so name the origins',
      ],
      [{ heartbeat: -5 }, "RangeError", /^Invalid heartbeat: -5; /],
      [{ retry: "soon" }, "TypeError", /^Invalid retry: "soon"; /],
      [{ event: "gap" }, "TypeError", /^Invalid event: "gap"; /],
      [{ from: 3 }, "TypeError", /^Invalid from: 3; /],
    ];
    for (const [options, name, message] of cases) {
      assert.throws(() => sseResponse(bus, request, options as never), { name, message }, JSON.stringify(options));
    }
    assert.equal(bus.subscriberCount, 0);
  });

  it("sseResponse() refuses an allowOrigin that is not a string without converting it to one", () => {
    const bus = new Bus<number>();
    let converted = 0;
    const lookalike = {
      toString() {
        converted++;
        return "https://app.example";
      },
    };
    const message = 'Invalid allowOrigin: an object; expected "*", an origin such as "https://app.example", or a ' +
      "non-empty array of origins";
    for (const allowOrigin of [lookalike, [lookalike]]) {
      assert.throws(() => sseResponse(bus, new Request("http://127.0.0.1/"), { allowOrigin } as never), {
        name: "TypeError",
        message,
      });
    }
    assert.equal(converted, 0);
    assert.equal(bus.subscriberCount, 0);
  });
});
