/**
 * `npm run test:eventsource`: `@ron/bus/sse` against a real `EventSource`
 * in headless Chromium. `deno serve` runs the SSE endpoint (`server.ts`, and
 * `examples/sse.ts` itself) on 127.0.0.1; the pages that connect to it are
 * served from other origins, by this process, so every request is
 * cross-origin. The browser's own reconnects are what is tested: after the
 * server closes a connection, with the `Last-Event-ID` it chose to send.
 *
 * Node runs this file alone (`node --test`); it is not named `*.test.ts`, so
 * the Deno, Bun and browser runs leave it out. Without Chromium it skips
 * loudly, except under `CI=true`, where a missing browser is a failure.
 *
 * @module
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_FLAGS } from "../browser/_chromium.ts";
import { denoServe, type DenoServer } from "./_deno_serve.ts";

const missing = existsSync(CHROMIUM)
  ? false
  : `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set $CHROMIUM`;
if (missing && process.env.CI === "true") throw new Error(`${missing}. CI must run the EventSource tests`);
if (missing) {
  console.error(`\n${"!".repeat(100)}\n!! SKIPPED: EventSource in Chromium. ${missing}.\n${"!".repeat(100)}\n`);
}

/** How long a page may take to see what the test waits for, and how often the test looks. */
const WAIT_MS = 10_000;
const POLL_MS = 20;

/** What the page records, in order: the EventSource's open and error events, and every event it delivers. */
interface Logged {
  type: string;
  data?: string;
  id?: string;
  readyState?: number;
}

/**
 * The page: opens `new EventSource(?events, { withCredentials: ?credentials })`
 * and records everything it sees in `window.logged`.
 */
const PAGE = `<!doctype html><meta charset="utf-8"><title>EventSource</title>
<script type="module">
const params = new URLSearchParams(location.search);
const logged = window.logged = [];
const source = window.source = new EventSource(params.get("events"), { withCredentials: params.has("credentials") });
source.onopen = () => logged.push({ type: "open" });
source.onerror = () => logged.push({ type: "error", readyState: source.readyState });
const record = (event) => logged.push({ type: event.type, data: event.data, id: event.lastEventId });
for (const type of ["message", "gap", "reset"]) source.addEventListener(type, record);
</script>`;

/** A server for the page, on an origin of its own. */
function servePage(): Promise<{ server: Server; origin: string }> {
  const server = createServer((request, response) => {
    if (new URL(request.url ?? "/", "http://127.0.0.1").pathname !== "/") return void response.writeHead(404).end();
    response.writeHead(200, { "content-type": "text/html", "cache-control": "no-store" }).end(PAGE);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}

describe("EventSource in Chromium", { skip: missing }, () => {
  let browser: Browser;
  /** Two tabs, made once (a new page costs seconds on a loaded machine); each test navigates them. */
  let tabs: [Page, Page];
  let allowed: { server: Server; origin: string };
  let refused: { server: Server; origin: string };
  let endpoint: DenoServer;
  let example: DenoServer;
  const started = performance.now();

  before(async () => {
    [allowed, refused] = await Promise.all([servePage(), servePage()]);
    // The three processes start side by side: on a loaded machine each takes seconds.
    [endpoint, example, browser] = await Promise.all([
      denoServe("tests/eventsource/server.ts", ["--allow-env=ALLOW_ORIGIN"], { ALLOW_ORIGIN: allowed.origin }),
      denoServe("examples/sse.ts", []),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS] }),
    ]);
    const context = await browser.newContext();
    tabs = [await context.newPage(), await context.newPage()];
  });

  after(async () => {
    await browser?.close();
    await endpoint?.stop();
    await example?.stop();
    allowed?.server.close();
    refused?.server.close();
    console.log(`EventSource in Chromium: ${((performance.now() - started) / 1000).toFixed(1)} s in all`);
  });

  /** Calls one of the endpoint's steering routes. */
  const steer = async (path: string) => {
    const response = await fetch(`${endpoint.url}${path}`);
    assert.equal(response.status, 200, path);
    return await response.json();
  };

  /**
   * Opens the page on `origin` in `page`, following `events`, and returns it
   * with a way to wait on what it logs, and to close it (leaving the page
   * closes its EventSource).
   */
  async function open(page: Page, origin: string, events: string, credentials = false) {
    const query = new URLSearchParams({ events });
    if (credentials) query.set("credentials", "");
    await page.goto(`${origin}/?${query}`);
    const logged = () => page.evaluate(() => (globalThis as unknown as { logged: Logged[] }).logged);
    return {
      page,
      logged,
      close: async () => void await page.goto("about:blank"),
      /** Waits until the page has logged `count` entries of `type`, and returns those entries. */
      async until(type: string, count: number): Promise<Logged[]> {
        await page.waitForFunction(
          ([type, count]) =>
            (globalThis as unknown as { logged: Logged[] }).logged.filter((entry) => entry.type === type).length >=
              (count as number),
          [type, count] as const,
          { timeout: WAIT_MS, polling: POLL_MS },
        ).catch(async (error) => {
          throw new Error(`The page did not log ${count} "${type}": ${JSON.stringify(await logged())}`, {
            cause: error,
          });
        });
        return (await logged()).filter((entry) => entry.type === type);
      },
    };
  }

  /** The events delivered (not open or error), as `type data @position`. */
  const delivered = (logged: Logged[]) =>
    logged.filter((entry) => entry.type !== "open" && entry.type !== "error").map((entry) =>
      `${entry.type} ${entry.data} @${entry.id!.split("-")[1]}`
    );

  it("receives values from another origin, with ids of the bus's sequence numbers", async () => {
    await steer("restart");
    const client = await open(tabs[0], allowed.origin, `${endpoint.url}events`);
    try {
      await client.until("open", 1);
      await steer("send?count=3");
      await client.until("message", 3);
      assert.deepEqual(delivered(await client.logged()), ["message 0 @1", "message 1 @2", "message 2 @3"]);
    } finally {
      await client.close();
    }
  });

  it("reconnects after the server closes the connection and resumes from Last-Event-ID, without a preflight", async () => {
    await steer("restart");
    const before = (await steer("log")).length;
    const client = await open(tabs[0], allowed.origin, `${endpoint.url}events`);
    try {
      await client.until("open", 1);
      await steer("send?count=2");
      const [, last] = await client.until("message", 2);
      await steer("kick?send=2"); // two values while the page is away; the ring of 4 holds them
      await client.until("message", 4);
      const logged = await client.logged();
      assert.deepEqual(logged.map((entry) => entry.type), [
        "open",
        "message",
        "message",
        "error",
        "open",
        "message",
        "message",
      ]);
      assert.equal(logged[3]!.readyState, 0, "CONNECTING: the browser reconnects by itself");
      assert.deepEqual(delivered(logged), ["message 0 @1", "message 1 @2", "message 2 @3", "message 3 @4"]);
      const requests = (await steer("log")).slice(before);
      assert.deepEqual(requests, [
        { method: "GET", origin: allowed.origin, lastEventId: null },
        { method: "GET", origin: allowed.origin, lastEventId: last!.id }, // no OPTIONS: Last-Event-ID needs no preflight
      ]);
    } finally {
      await client.close();
    }
  });

  it("resumes past what the ring holds with a gap event of the exact count", async () => {
    await steer("restart");
    const client = await open(tabs[0], allowed.origin, `${endpoint.url}events`);
    try {
      await client.until("open", 1);
      await steer("send?count=1");
      await client.until("message", 1);
      await steer("kick?send=10"); // ten while away; the ring keeps the last 4
      await client.until("message", 5);
      assert.deepEqual(delivered(await client.logged()), [
        "message 0 @1",
        'gap {"missed":6} @7',
        "message 7 @8",
        "message 8 @9",
        "message 9 @10",
        "message 10 @11",
      ]);
    } finally {
      await client.close();
    }
  });

  it("gets a reset event when it reconnects to a server that restarted, then the new bus's values", async () => {
    await steer("restart");
    const client = await open(tabs[0], allowed.origin, `${endpoint.url}events`);
    try {
      await client.until("open", 1);
      await steer("send?count=3");
      const [, , last] = await client.until("message", 3);
      await steer("restart");
      const [reset] = await client.until("reset", 1);
      assert.deepEqual(JSON.parse(reset!.data!), { lastEventId: last!.id });
      await steer("send?count=1");
      const messages = await client.until("message", 4);
      assert.deepEqual(delivered([reset!, messages[3]!]), [`reset ${reset!.data} @0`, "message 0 @1"]);
      assert.notEqual(messages[3]!.id!.split("-")[0], last!.id!.split("-")[0], "the new bus has another tag");
    } finally {
      await client.close();
    }
  });

  it("stops reconnecting once the bus is closed (204 No Content)", async () => {
    await steer("restart");
    const client = await open(tabs[0], allowed.origin, `${endpoint.url}events`);
    try {
      await client.until("open", 1);
      await steer("close");
      await client.page.waitForFunction(
        () => (globalThis as unknown as { source: EventSource }).source.readyState === 2,
        null,
        { timeout: WAIT_MS, polling: POLL_MS },
      );
      const errors = (await client.logged()).filter((entry) => entry.type === "error");
      assert.deepEqual(errors.map((entry) => entry.readyState), [0, 2], "one reconnect, answered 204: CLOSED");
    } finally {
      await client.close();
    }
  });

  it("connects with credentials from an allowed origin, and is refused from another", async () => {
    await steer("restart");
    const withCookies = await open(tabs[0], allowed.origin, `${endpoint.url}events`, true);
    const stranger = await open(tabs[1], refused.origin, `${endpoint.url}events`);
    try {
      await withCookies.until("open", 1);
      await stranger.page.waitForFunction(
        () => (globalThis as unknown as { source: EventSource }).source.readyState === 2,
        null,
        { timeout: WAIT_MS, polling: POLL_MS },
      );
      await steer("send?count=1");
      assert.deepEqual(delivered(await withCookies.until("message", 1)), ["message 0 @1"]);
      assert.deepEqual(await stranger.logged(), [{ type: "error", readyState: 2 }], "CORS failed the connection");
    } finally {
      await withCookies.close();
      await stranger.close();
    }
  });

  it("follows examples/sse.ts under deno serve, which stops at the first Ctrl-C", async () => {
    const client = await open(tabs[0], allowed.origin, example.url);
    try {
      const ticks = await client.until("message", 3);
      const positions = ticks.map((tick) => Number(tick.id!.split("-")[1]));
      assert.deepEqual(positions, positions.map((_, i) => positions[0]! + i), "one tick after another");
      assert.match(JSON.parse(ticks[0]!.data!).at, /^\d{4}-\d\d-\d\dT/);
      const took = await example.signal("SIGINT", 5_000); // with the page still connected
      console.log(`  examples/sse.ts exited ${took.toFixed(0)} ms after SIGINT, a client connected`);
    } finally {
      await client.close();
    }
  });
});
