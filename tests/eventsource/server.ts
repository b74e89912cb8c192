/**
 * The SSE endpoint the Chromium suite (`suite.ts`) drives, served by
 * `deno serve --allow-env=ALLOW_ORIGIN`: a bus at module scope, as a real
 * server holds one, and routes for the test to steer it.
 *
 * - `GET /events`: `sseResponse` of the bus, for pages on `$ALLOW_ORIGIN`
 *   (with credentials), reconnecting after 100 ms.
 * - `GET /send?count=n`: sends n values; each value is its own sequence
 *   number, so a page can check ids against data.
 * - `GET /kick?send=n`: ends every open stream, as a server may, then sends
 *   n values while the clients are away.
 * - `GET /restart`: a new bus, as after a restart, and ends every open stream.
 * - `GET /close`: closes the bus.
 * - `GET /log`: the requests to `/events` so far: method, `Origin`,
 *   `Last-Event-ID`.
 *
 * @module
 */

import { Bus } from "../../mod.ts";
import { sseResponse } from "../../sse.ts";

/** A small ring, so a short absence overruns it. */
const CAPACITY = 4;

let bus = new Bus<number>({ capacity: CAPACITY, replay: true });
let streams = new AbortController();
const log: { method: string; origin: string | null; lastEventId: string | null }[] = [];
const allowOrigin = Deno.env.get("ALLOW_ORIGIN");
if (allowOrigin === undefined) throw new Error("Set ALLOW_ORIGIN to the origin of the test page");

function send(count: number): void {
  for (let i = 0; i < count; i++) bus.send(bus.stats().sent);
}

/** Ends every open stream: each client sees its connection close, and reconnects. */
function kick(): void {
  streams.abort();
  streams = new AbortController();
}

function handle(request: Request): Response {
  const url = new URL(request.url);
  const count = Number(url.searchParams.get("count") ?? url.searchParams.get("send") ?? 0);
  switch (url.pathname) {
    case "/events":
      log.push({
        method: request.method,
        origin: request.headers.get("origin"),
        lastEventId: request.headers.get("last-event-id"),
      });
      return sseResponse(bus, request, {
        allowOrigin,
        allowCredentials: true,
        retry: 100,
        signal: streams.signal,
      });
    case "/send":
      send(count);
      break;
    case "/kick":
      kick();
      send(count);
      break;
    case "/restart":
      bus.close();
      bus = new Bus<number>({ capacity: CAPACITY, replay: true });
      kick();
      break;
    case "/close":
      bus.close();
      break;
    case "/log":
      return Response.json(log);
    default:
      return new Response("Not found", { status: 404 });
  }
  return Response.json({ sent: bus.stats().sent, subscribers: bus.subscriberCount });
}

export default { fetch: handle };
