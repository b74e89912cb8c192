/**
 * A bus as an SSE `Response`, for any fetch handler.
 *
 * @module
 */

import type { SseBus } from "./types.ts";
import { describe } from "../options.ts";
import { addCorsHeaders } from "./cors.ts";
import { checkBus, openEventStream } from "./event_stream.ts";
import { resolveSseResponseOptions, type SseResponseOptions } from "./options.ts";

/**
 * Answers `request` with a stream of `bus` as Server-Sent Events: the
 * {@linkcode eventStream} of the bus, resumed from the request's
 * `Last-Event-ID` header, with the headers an SSE endpoint needs
 * (`Content-Type: text/event-stream`, `Cache-Control: no-cache`, and
 * `X-Accel-Buffering: no` so nginx passes events on as they come), and the
 * CORS headers `allowOrigin` and `allowCredentials` ask for. Return it from
 * any fetch handler (`Deno.serve`, `deno serve`, `Bun.serve`, a Node
 * adapter) or any framework that takes a `Response`.
 *
 * Once the bus is closed it answers `204 No Content`, which tells a
 * browser's `EventSource` to stop reconnecting. A client that disconnects
 * cancels the stream, which unsubscribes: at once on Deno and Bun, and at
 * the latest with the next event or heartbeat the server fails to write.
 *
 * On Workers a bus at module scope cannot serve several requests: make the
 * bus inside the request, or hold it in a Durable Object.
 *
 * @typeParam T The type of the values on the bus.
 * @param bus The bus to stream.
 * @param request The client's request, for its `Last-Event-ID` and
 *   `Origin` headers.
 * @param options How events are written, where new clients start, and CORS.
 * @returns A `200` response streaming events, or `204` once the bus is
 *   closed.
 * @throws {TypeError} If `bus` is not a bus, `request` not a request, or an
 *   option is unknown or has the wrong type (see {@linkcode eventStream}),
 *   `allowOrigin` is not `"*"`, an origin or an array of origins, or
 *   `allowCredentials` is set with `allowOrigin: "*"`.
 * @throws {RangeError} If `heartbeat` or `retry` is out of range.
 *
 * @example A fetch handler
 * ```ts
 * import { Bus } from "@ron/bus";
 * import { sseResponse } from "@ron/bus/sse";
 *
 * const bus = new Bus<{ price: number }>({ capacity: 1024, replay: true });
 * const handler = (request: Request): Response => sseResponse(bus, request, { allowOrigin: "*" });
 * // Deno.serve(handler), or export default { fetch: handler } for deno serve and Bun
 *
 * const response = handler(new Request("http://localhost/", { headers: { origin: "https://example.com" } }));
 * console.log(response.headers.get("content-type")); // "text/event-stream"
 * console.log(response.headers.get("access-control-allow-origin")); // "*"
 * await response.body?.cancel(); // as a client that leaves
 * console.log(bus.subscriberCount); // 0
 * ```
 */
export function sseResponse<T>(bus: SseBus<T>, request: Request, options?: SseResponseOptions<T>): Response {
  checkBus(bus);
  if (!(request instanceof Request)) throw new TypeError(`Invalid request: ${describe(request)}; expected a Request`);
  const { stream, allowOrigin, allowCredentials } = resolveSseResponseOptions(options);
  const headers = new Headers();
  addCorsHeaders(headers, request.headers.get("origin"), allowOrigin, allowCredentials);
  if (bus.closed) return new Response(null, { status: 204, headers });
  headers.set("content-type", "text/event-stream");
  headers.set("cache-control", "no-cache");
  headers.set("x-accel-buffering", "no");
  stream.lastEventId = request.headers.get("last-event-id") || undefined;
  return new Response(openEventStream(bus, stream), { headers });
}
