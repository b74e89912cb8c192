/**
 * Server-Sent Events from a {@linkcode Bus}: an endpoint that browsers'
 * `EventSource` (and any SSE client) can follow, resume and trust with
 * counts.
 *
 * ```ts
 * import { Bus } from "@ron/bus";
 * import { sseResponse } from "@ron/bus/sse";
 *
 * const prices = new Bus<{ price: number }>({ capacity: 1024, replay: true });
 * export default { fetch: (request: Request) => sseResponse(prices, request) };
 * ```
 *
 * {@linkcode sseResponse} answers a request with a streaming `Response`;
 * {@linkcode eventStream} is its body, for a caller that makes its own
 * response.
 *
 * ## Ids and resuming
 *
 * Every event has an id, `<tag>-<n>`: `n` is a sequence number of the bus,
 * the number of the next value after the event, and `tag` names the bus, at
 * random. A browser sends the last id it saw as `Last-Event-ID` when it
 * reconnects, and the stream resumes right after it: the client gets every
 * value it missed that the ring still holds. Make the bus with
 * `replay: true`, so the ring keeps its last `capacity` values even when
 * every subscriber has read them; without it, a client that was alone finds
 * nothing kept.
 *
 * ## Gaps
 *
 * When values are lost to a client, because the ring overwrote them while
 * the client was away or too slow to keep up (the bus's `"drop-oldest"`
 * policy), the client gets an event named `gap` first, whose data is
 * `{"missed":n}`, the exact count, with an id like any other, then the
 * values that follow the gap. Keep that policy for clients you do not
 * control: under `"wait"` a client that stops reading holds the producer
 * back, and under `"drop-newest"` it makes the bus discard for everyone.
 *
 * ## Resets
 *
 * A `Last-Event-ID` that this bus never gave (one from before a server
 * restart, from another instance of a deployment, or malformed) gets an
 * event named `reset`, whose data is `{"lastEventId":"..."}` (the id
 * refused), then the stream a new client gets: the client should reload its
 * state.
 *
 * ## Heartbeats, retry, CORS
 *
 * A comment goes out every 5 s by default (`heartbeat`), so proxies and
 * servers keep a quiet connection open. `retry` sets how long a browser
 * waits before reconnecting. `allowOrigin` lets pages on other origins
 * connect; `EventSource` sends `Last-Event-ID` without a CORS preflight, so
 * that is all it needs.
 *
 * @module
 */

export { eventStream } from "./src/sse/event_stream.ts";
export type { EventStreamOptions, SseResponseOptions } from "./src/sse/options.ts";
export { sseResponse } from "./src/sse/response.ts";
export type { SseBus, SseSubscriber } from "./src/sse/types.ts";
