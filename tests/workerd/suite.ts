/**
 * `npm run test:workerd`: the library inside workerd, Cloudflare's Workers
 * runtime, on loopback, checked with `fetch` from Node. See `worker.ts` for
 * the routes. Node runs this file alone (`node --test`); it is not named
 * `*.test.ts`, so the Deno, Bun and browser runs leave it out.
 *
 * @module
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { startWorkerd, type Workerd, workerdBinary } from "./_server.ts";

const missing = workerdBinary() === undefined ? "workerd is not installed for this platform: run npm ci" : false;
if (missing && process.env.CI === "true") throw new Error(`${missing}; CI must run the workerd tests`);
if (missing) console.error(`\n!! SKIPPED: the workerd tests. ${missing}\n`);

/** The body's lines, parsed, and whether the body ended in an error instead of closing. */
async function readLines(response: Response, deadlineMs = 10_000): Promise<{ lines: unknown[]; error?: string }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => void reader.cancel("deadline"), deadlineMs);
  let text = "";
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;
    return { lines: parse(text) };
  } catch (error) {
    return { lines: parse(text), error: String(error) };
  } finally {
    clearTimeout(deadline);
  }
}

const parse = (text: string): unknown[] => text.split("\n").filter((line) => line !== "").map((l) => JSON.parse(l));

/** A body that stays open, read a given number of lines at a time; a line split across chunks waits for its end. */
function openLines(response: Response): { take(count: number): Promise<number[]>; cancel(): Promise<void> } {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    async take(count) {
      const lines: number[] = [];
      while (lines.length < count) {
        const end = buffered.indexOf("\n");
        if (end >= 0) {
          lines.push(JSON.parse(buffered.slice(0, end)));
          buffered = buffered.slice(end + 1);
          continue;
        }
        const chunk = await reader.read();
        assert.equal(chunk.done, false, "the stream ended early");
        buffered += chunk.value;
      }
      return lines;
    },
    cancel: () => reader.cancel(),
  };
}

const consecutive = (values: number[]): number[] => values.map((_, i) => values[0] + i);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("workerd", { skip: missing }, () => {
  let server: Workerd;
  const subscribers = async () => (await (await fetch(`${server.url}module/stats`)).json()).subscribers as number;
  const sent = async () => (await (await fetch(`${server.url}module/stats`)).json()).sent as number;

  before(async () => {
    server = await startWorkerd();
  });
  after(async () => {
    await server?.stop();
  });

  it("a Bus created, fed and read within one request streams every value, in order, as a Response", async () => {
    const response = await fetch(`${server.url}per-request?count=1000`);
    assert.equal(response.status, 200);
    const { lines, error } = await readLines(response);
    assert.equal(error, undefined);
    assert.deepEqual(lines.slice(0, -1), Array.from({ length: 1000 }, (_, n) => n));
    // A 4-slot "wait" bus: the producer waited on the client's reads a thousand times and lost nothing.
    assert.deepEqual(lines.at(-1), { capacity: 4, subscribers: 0, sent: 1000, dropped: 0, discarded: 0, blocked: 0 });
  });

  it("requests with a Bus each run side by side", async () => {
    const counts = [1, 10, 100, 300, 50, 7, 200, 20];
    const bodies = await Promise.all(counts.map(async (count) => {
      const { lines, error } = await readLines(await fetch(`${server.url}per-request?count=${count}`));
      assert.equal(error, undefined);
      return lines.slice(0, -1);
    }));
    assert.deepEqual(bodies, counts.map((count) => Array.from({ length: count }, (_, n) => n)));
  });

  it("a Bus at module scope cannot serve a second request's subscriber: workerd drops that request at its first wait", async () => {
    // The first client's request starts the clock, so the clock's timer belongs to that request.
    const first = openLines(await fetch(`${server.url}module`));
    try {
      await first.take(1);
      const second = await fetch(`${server.url}module`);
      assert.equal(second.status, 200, "the headers go out before the body waits");
      // The second stream delivers what the ring already held when it read (often nothing), then parks on a promise
      // that only the first request's clock could settle, so workerd cancels the second request as hung.
      const { lines, error } = await readLines(second, 5_000);
      assert.notEqual(error, undefined, "workerd drops the second request's connection mid-body");
      assert.match(server.log(), /detected that your Worker's code had hung and would never generate a response/);
      const got = lines as number[];
      assert.deepEqual(got, consecutive(got));
      // The clock goes on past what the second client got, and the first client is still served.
      const beyond = (got.at(-1) ?? 0) + 5;
      for (let i = 0; i < 100 && (await sent()) <= beyond; i++) await sleep(20);
      assert.ok((await sent()) > beyond, "the clock went on without the second client");
      await first.take(3);
      // The dropped request's subscriber is never closed: it stays on the bus.
      assert.equal(await subscribers(), 2);
      // A later send settles the dropped request's parked read from the first request's context.
      for (let i = 0; i < 100 && !/from a different request context/.test(server.log()); i++) await sleep(20);
      assert.match(server.log(), /A promise was resolved or rejected from a different request context/);
    } finally {
      await first.cancel();
    }
  });

  it("a Bus in a Durable Object serves every request routed to that object, and outlives the client that started it", async () => {
    const objectSubscribers = async () => (await (await fetch(`${server.url}object/stats`)).json()).subscribers;
    const logged = server.log().length;
    const first = openLines(await fetch(`${server.url}object`));
    const second = openLines(await fetch(`${server.url}object`));
    try {
      for (const ticks of [await first.take(4), await second.take(4)]) assert.deepEqual(ticks, consecutive(ticks));
      assert.equal(await objectSubscribers(), 2);
      // The client whose request started the clock leaves; the object, its clock and the other client go on.
      await first.cancel();
      for (let i = 0; i < 100 && (await objectSubscribers()) !== 1; i++) await sleep(20);
      assert.equal(await objectSubscribers(), 1, "the client that left unsubscribed");
      const later = await second.take(5);
      assert.deepEqual(later, consecutive(later));
      assert.doesNotMatch(server.log().slice(logged), /detected that your Worker's code had hung/);
    } finally {
      await Promise.all([first.cancel(), second.cancel()]);
    }
  });

  it("a timer started in a request stops when that request ends, so a module-scope producer dies with it", async () => {
    // The module-scope test's first client, whose request started the clock, has left.
    let before = await sent();
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const now = await sent();
      if (now === before) break;
      before = now;
    }
    await sleep(500);
    assert.equal(await sent(), before, "a clock that still ticked every 10 ms would have sent about 50 more values");
  });
});
