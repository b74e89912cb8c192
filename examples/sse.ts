/**
 * Server-Sent Events from a bus: a clock that ticks ten times a second,
 * streamed to every client with `sseResponse` from `@ron/bus/sse`. A client
 * that reconnects resumes after the last tick it saw (the bus replays its
 * last 64), and is told exactly how many it missed beyond that.
 *
 * Run it, then `curl -N http://localhost:8000/`, or in a browser console on
 * any page: `new EventSource("http://localhost:8000/").onmessage = (e) => console.log(e.lastEventId, e.data)`.
 *
 *   deno serve --port 8000 examples/sse.ts   (or `deno task sse`)
 *   bun examples/sse.ts                      (the `port` below; Bun's default is 3000)
 *
 * Ctrl-C stops it at once: the bus closes, which ends every client's stream,
 * so `deno serve` has no open response to wait for.
 *
 * Where a bus at module scope works: Deno, Deno Deploy, Bun and Node (there,
 * through any server that takes a fetch handler), where one process or
 * isolate serves many requests and any request may settle another's
 * promises; each process or isolate of a deployment has a bus of its own.
 * Not on Cloudflare Workers: a subscriber made in one request cannot be woken
 * from another. There, make the bus inside the request, or hold it in a
 * Durable Object (see the README's "Workers and other edge runtimes").
 *
 * @module
 */

import { Bus } from "../mod.ts"; // in your project: "@ron/bus", after `deno add jsr:@ron/bus`
import { sseResponse } from "../sse.ts"; // and "@ron/bus/sse"

const ticks = new Bus<{ at: string }>({ capacity: 64, replay: true });
const clock = setInterval(() => ticks.send({ at: new Date().toISOString() }), 100);

function stop(): void {
  clearInterval(clock);
  ticks.close();
}
try {
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
} catch {
  // Not Deno, or no signals here: Bun and Node stop at Ctrl-C by default.
}

/** `deno serve` and Bun serve a default export with a `fetch` method. */
export default {
  port: 8000,
  fetch: (request: Request): Response => sseResponse(ticks, request, { allowOrigin: "*" }),
};
