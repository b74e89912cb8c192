/**
 * Server-Sent Events from a bus: a fetch handler (`(req: Request) => Response`)
 * that streams a fresh subscriber to each client through `sub.readable`. This
 * is the edge-function shape: Deno Deploy, Bun, Cloudflare Workers and any
 * framework that takes a fetch handler.
 *
 * Run the demo, then `curl -N http://localhost:8000/`:
 *   deno serve --port 8000 examples/sse.ts
 *   bun examples/sse.ts
 *
 * A client that disconnects cancels its stream, which unsubscribes it.
 *
 * @module
 */

import { Bus } from "../mod.ts"; // in your own project: from "@ron/bus", after `deno add jsr:@ron/bus`

/**
 * Returns a handler that streams every value sent on `bus` after the request
 * arrives, as one SSE `data:` line of JSON per value, after a `: connected`
 * comment. The stream ends when the bus closes.
 */
export function sseHandler<T>(bus: Bus<T>): (request: Request) => Response {
  return () => {
    const sub = bus.subscribe();
    const events = sub.readable
      .pipeThrough(
        new TransformStream<T, string>({
          // A comment first, so the headers go out at once (some servers hold them until the first byte).
          start: (controller) => controller.enqueue(": connected\n\n"),
          transform: (value, controller) => controller.enqueue(`data: ${JSON.stringify(value)}\n\n`),
        }),
      )
      .pipeThrough(new TextEncoderStream());
    return new Response(events, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  };
}

/** The demo: a clock that ticks ten times a second, started by the first request. */
let clock: ((request: Request) => Response) | undefined;
function demo(request: Request): Response {
  if (clock === undefined) {
    const ticks = new Bus<{ at: string }>({ capacity: 64 });
    setInterval(() => ticks.send({ at: new Date().toISOString() }), 100);
    clock = sseHandler(ticks);
  }
  return clock(request);
}

/** `deno serve` and Bun pick up a default export with a `fetch` method. */
export default { fetch: demo };
