/**
 * The worker `suite.ts` runs inside workerd (Cloudflare's runtime). Each
 * route streams a subscriber's `readable` as a `Response`, one value a line.
 *
 * - `/per-request?count=N`: the pattern that works on Workers. A bus is
 *   created, fed and read within the request: a producer sends `N` values
 *   through a 4-slot `"wait"` bus, so it waits on the client's reads, then
 *   closes it; the last line is the bus's stats.
 * - `/module`: the pattern that does not. One bus at module scope, fed by a
 *   clock that the first request starts, as a Deno or Node server would do.
 *   The first client gets the ticks; a second client's subscriber parks on a
 *   promise made in its own request, which only the first request's clock
 *   could resolve, and workerd does not let one request settle another's.
 * - `/object`: the same clock in a Durable Object, the Workers way to share
 *   state between requests: every request routed to the object runs in its
 *   context, so every client gets the ticks.
 *
 * @module
 */

import { Bus } from "../../mod.ts";

const encoder = new TextEncoder();
/** Values as lines; the last line, once the bus closes, is `last()` if given. */
const lines = <T>(last?: () => unknown) =>
  new TransformStream<T, Uint8Array>({
    transform: (value, controller) => controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`)),
    flush: (controller) => {
      if (last !== undefined) controller.enqueue(encoder.encode(`${JSON.stringify(last())}\n`));
    },
  });

function perRequest(count: number): Response {
  const bus = new Bus<number>({ capacity: 4, overflow: "wait" });
  const sub = bus.subscribe();
  (async () => {
    for (let n = 0; n < count; n++) {
      await bus.ready;
      bus.send(n);
    }
    bus.close();
  })();
  return new Response(sub.readable.pipeThrough(lines(() => bus.stats())));
}

let clock: Bus<number> | undefined;

function moduleScope(): Response {
  if (clock === undefined) {
    const bus = clock = new Bus<number>({ capacity: 64 });
    let tick = 0;
    setInterval(() => bus.send(tick++), 10);
  }
  return new Response(clock.subscribe().readable.pipeThrough(lines()));
}

/**
 * The Workers way to share one bus between requests: a Durable Object. Every
 * request routed to one object runs in that object's context, so the clock it
 * starts serves every client.
 */
export class Hub {
  #clock: Bus<number> | undefined;

  fetch(request: Request): Response {
    if (new URL(request.url).pathname === "/object/stats") return Response.json(this.#clock?.stats() ?? null);
    if (this.#clock === undefined) {
      const bus = this.#clock = new Bus<number>({ capacity: 64 });
      let tick = 0;
      setInterval(() => bus.send(tick++), 10);
    }
    return new Response(this.#clock.subscribe().readable.pipeThrough(lines()));
  }
}

interface Env {
  HUB: { idFromName(name: string): unknown; get(id: unknown): { fetch(request: Request): Promise<Response> } };
}

export default {
  fetch(request: Request, env: Env): Response | Promise<Response> {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/per-request":
        return perRequest(Number(url.searchParams.get("count")));
      case "/module":
        return moduleScope();
      case "/object":
      case "/object/stats":
        return env.HUB.get(env.HUB.idFromName("clock")).fetch(request);
      case "/module/stats":
        return Response.json(clock?.stats() ?? null);
      case "/ready":
        return new Response("ready");
      default:
        return new Response("Not found", { status: 404 });
    }
  },
};
