/**
 * Options for {@linkcode eventStream} and {@linkcode sseResponse}, and the
 * checks that turn bad input into a clear error before anything is
 * subscribed.
 *
 * @module
 */

import { describe, ownOptions } from "../options.ts";

/**
 * Options for {@linkcode eventStream}.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example Named events, a heartbeat every 10 s, and a custom encoding
 * ```ts
 * import type { EventStreamOptions } from "@ron/bus/sse";
 *
 * const options: EventStreamOptions<{ price: number }> = {
 *   event: "tick",
 *   heartbeat: 10_000,
 *   encode: (tick) => tick.price.toFixed(2),
 * };
 * ```
 */
export interface EventStreamOptions<T> {
  /**
   * The `Last-Event-ID` a reconnecting client sent, as its header carries
   * it (`request.headers.get("last-event-id")`); `null`, `undefined` or
   * `""` for a client that sent none. An id this bus gave resumes right
   * after the event that carried it; any other id gets a `reset` event.
   */
  lastEventId?: string | null;
  /**
   * Where a client without a Last-Event-ID (or with one this bus never
   * gave) starts: `"next"` (the default), the next value sent; or
   * `"oldest"`, the oldest value retained (with `replay: true` on the bus,
   * the last `capacity` values).
   */
  from?: "next" | "oldest";
  /**
   * The `event:` name of the events that carry values. By default they have
   * none, so a browser's `EventSource` delivers them to `onmessage`. Not
   * `"gap"` or `"reset"`, which this stream uses itself.
   */
  event?: string;
  /**
   * Turns a value into an event's data. Default `JSON.stringify`. A line
   * break in the result (`\n`, `\r` or `\r\n`) starts another `data:` line;
   * the client joins them with `\n`.
   */
  encode?: (value: T) => string;
  /**
   * Milliseconds between heartbeat comments, which keep proxies and servers
   * from closing a quiet connection, or `false` for none. Default 5000, below
   * Bun's default idle timeout of 10 s.
   */
  heartbeat?: number | false;
  /**
   * Milliseconds a browser waits before it reconnects, sent as the `retry:`
   * field when the stream opens. By default none is sent, and browsers wait
   * about 3 s.
   */
  retry?: number;
  /**
   * Ends the stream when it aborts (a server shutting down, a connection
   * that has lived long enough). A browser then reconnects and resumes from
   * its Last-Event-ID.
   */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode sseResponse}: those of {@linkcode eventStream}
 * (but `lastEventId`, which comes from the request), and CORS.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example A stream that pages on two other origins may open, with cookies
 * ```ts
 * import type { SseResponseOptions } from "@ron/bus/sse";
 *
 * const options: SseResponseOptions<string> = {
 *   allowOrigin: ["https://app.example", "https://admin.example"],
 *   allowCredentials: true,
 * };
 * ```
 */
export interface SseResponseOptions<T> extends Omit<EventStreamOptions<T>, "lastEventId"> {
  /**
   * Which other origins may read the stream: `"*"` for any, an origin such
   * as `"https://app.example"`, or an array of them. The response carries
   * `Access-Control-Allow-Origin` for a request whose `Origin` is allowed
   * (`*`, or that origin with `Vary: Origin`). Default none: same origin
   * only.
   */
  allowOrigin?: string | readonly string[];
  /**
   * Adds `Access-Control-Allow-Credentials: true`, for an
   * `EventSource(url, { withCredentials: true })` that sends cookies.
   * Needs `allowOrigin` to name origins: browsers refuse credentials with
   * `*`. Default `false`.
   */
  allowCredentials?: boolean;
}

/** Event stream options with the defaults filled in and every value checked. */
export interface ResolvedEventStreamOptions<T> {
  lastEventId: string | undefined;
  from: "next" | "oldest";
  event: string | undefined;
  encode: (value: T) => string;
  heartbeat: number | false;
  retry: number | undefined;
  signal: AbortSignal | undefined;
}

/** Response options, resolved: the stream's, and the CORS origins (undefined for none, or `"*"`). */
export interface ResolvedSseResponseOptions<T> {
  stream: ResolvedEventStreamOptions<T>;
  allowOrigin: "*" | readonly string[] | undefined;
  allowCredentials: boolean;
}

/** The event names the stream uses itself. */
export const GAP = "gap";
export const RESET = "reset";

/** setInterval's largest delay; beyond it Node fires at once, after a warning. */
const MAX_DELAY = 2 ** 31 - 1;
const STREAM_KEYS: readonly string[] = ["lastEventId", "from", "event", "encode", "heartbeat", "retry", "signal"];
const RESPONSE_KEYS: readonly string[] = [
  ...STREAM_KEYS.filter((key) => key !== "lastEventId"),
  "allowOrigin",
  "allowCredentials",
];

/** Checks `eventStream(bus, options)`. */
export function resolveEventStreamOptions<T>(
  options: EventStreamOptions<T> | undefined,
): ResolvedEventStreamOptions<T> {
  return resolveStream(own(options, "event stream options", STREAM_KEYS));
}

/** Checks `sseResponse(bus, request, options)`. */
export function resolveSseResponseOptions<T>(
  options: SseResponseOptions<T> | undefined,
): ResolvedSseResponseOptions<T> {
  const values = own(options, "SSE response options", RESPONSE_KEYS);
  const stream = resolveStream<T>(values);
  const allowOrigin = checkAllowOrigin(values.allowOrigin);
  const { allowCredentials = false } = values;
  if (typeof allowCredentials !== "boolean") {
    throw new TypeError(`Invalid allowCredentials: ${describe(allowCredentials)}; expected true or false`);
  }
  if (allowCredentials && allowOrigin === "*") {
    throw new TypeError(
      'Invalid allowCredentials: true with allowOrigin "*"; browsers refuse credentials with "*", so name the origins',
    );
  }
  return { stream, allowOrigin, allowCredentials };
}

function resolveStream<T>(values: Record<string, unknown>): ResolvedEventStreamOptions<T> {
  const { lastEventId, from = "next", event, encode = JSON.stringify, heartbeat = 5000, retry, signal } = values;
  if (lastEventId !== undefined && lastEventId !== null && typeof lastEventId !== "string") {
    throw new TypeError(`Invalid lastEventId: ${describe(lastEventId)}; expected a string, null or undefined`);
  }
  if (from !== "next" && from !== "oldest") {
    throw new TypeError(`Invalid from: ${describe(from)}; expected "next" or "oldest"`);
  }
  if (
    event !== undefined && (typeof event !== "string" || !/^[^\r\n]+$/.test(event) || event === GAP || event === RESET)
  ) {
    throw new TypeError(
      `Invalid event: ${describe(event)}; expected a non-empty name without line breaks, other than "gap" and "reset"`,
    );
  }
  if (typeof encode !== "function") {
    throw new TypeError(`Invalid encode: ${describe(encode)}; expected a function from a value to a string`);
  }
  if (heartbeat !== false) checkDelay(heartbeat, "heartbeat", 1, "or false");
  if (retry !== undefined) checkDelay(retry, "retry", 0, "");
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Invalid signal: ${describe(signal)}; expected an AbortSignal`);
  }
  return {
    lastEventId: lastEventId || undefined, // "" is what a client that has no id would send
    from,
    event: event as string | undefined,
    encode: encode as (value: T) => string,
    heartbeat: heartbeat as number | false,
    retry: retry as number | undefined,
    signal: signal as AbortSignal | undefined,
  };
}

/** A delay in milliseconds: an integer from `min` to 2^31 - 1. */
function checkDelay(value: unknown, name: string, min: number, more: string): void {
  const expected = `expected an integer number of milliseconds from ${min} to 2^31 - 1${more ? ` ${more}` : ""}`;
  if (typeof value !== "number") throw new TypeError(`Invalid ${name}: ${describe(value)}; ${expected}`);
  if (!Number.isInteger(value) || value < min || value > MAX_DELAY) {
    throw new RangeError(`Invalid ${name}: ${describe(value)}; ${expected}`);
  }
}

function checkAllowOrigin(value: unknown): "*" | readonly string[] | undefined {
  const expected = 'expected "*", an origin such as "https://app.example", or a non-empty array of origins';
  if (value === undefined || value === "*") return value;
  const origins = Array.isArray(value) ? value : [value];
  if (origins.length === 0) throw new TypeError(`Invalid allowOrigin: an empty array; ${expected}`);
  for (const origin of origins) {
    if (!isOrigin(origin)) throw new TypeError(`Invalid allowOrigin: ${describe(origin)}; ${expected}`);
  }
  return [...origins];
}

/** Whether `value` is an origin as a browser writes it in the `Origin` header: scheme, host, port; no path. */
function isOrigin(value: unknown): value is string {
  if (typeof value !== "string") return false;
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

/**
 * An options object's own enumerable properties, once each name has been
 * checked: read as a spread reads it, like the core's options.
 */
function own(options: unknown, what: string, known: readonly string[]): Record<string, unknown> {
  return options === undefined ? {} : ownOptions(options, what, known);
}
