/**
 * A bus as a stream of Server-Sent Events: the body of an SSE response.
 *
 * @module
 */

import type { SseBus } from "./types.ts";
import { describe } from "../options.ts";
import { formatId, resumePosition, tagOf } from "./event_id.ts";
import { formatEvent, formatOpening, HEARTBEAT } from "./format.ts";
import {
  type EventStreamOptions,
  GAP,
  RESET,
  type ResolvedEventStreamOptions,
  resolveEventStreamOptions,
} from "./options.ts";

/**
 * The most values in one chunk of the stream: a client catching up on a
 * large ring gets it in pieces, and the ring, not the stream, holds the rest.
 */
const BATCH = 64;

const encoder = new TextEncoder();

/**
 * Streams `bus` as Server-Sent Events (`text/event-stream`, UTF-8), for a
 * response body. It subscribes at once, and:
 *
 * - opens with a comment (`: connected`), and the `retry:` field if asked
 *   for, so the headers and a first byte leave at once;
 * - sends each value as an event whose `id:` is `<tag>-<n>`: `n` is the
 *   sequence number of the next value (the value's own number plus one), and
 *   `tag` names this bus;
 * - resumes after `lastEventId` when this bus gave that id: a client that
 *   reconnects gets every value it missed that the ring still holds (keep
 *   them with `replay: true` on the bus), and first an event `gap` whose data
 *   is `{"missed":n}` for the `n` it no longer holds;
 * - answers an id this bus never gave (from before a restart, from another
 *   instance, or malformed) with an event `reset` whose data is
 *   `{"lastEventId":"..."}`, then streams as to a new client (see `from`);
 * - sends a `gap` event with the exact count whenever the client lagged
 *   behind and the ring overwrote values it had not read;
 * - sends a heartbeat comment (`: heartbeat`) every `heartbeat` ms.
 *
 * `gap` and `reset` events carry ids too, so a client that reconnects after
 * one resumes after it, and counts nothing twice.
 *
 * The stream ends when the bus is closed (after the values retained for
 * it), and when `signal` aborts. Cancelling it (a client that disconnects)
 * unsubscribes. However it ends, its timer is cleared and its subscriber
 * closed. If `encode` throws, the stream errors with its error; if it
 * returns something other than a string, with a `TypeError`.
 *
 * @typeParam T The type of the values on the bus.
 * @param bus The bus to stream.
 * @param options Where to start, and how events are written.
 * @returns A stream of UTF-8 bytes in the text/event-stream format.
 * @throws {TypeError} If `bus` is not a bus, or an option is unknown or has
 *   the wrong type, or `event` is empty, has a line break, or is `"gap"` or
 *   `"reset"`.
 * @throws {RangeError} If `heartbeat` or `retry` is not an integer number
 *   of milliseconds in range.
 *
 * @example The events a client reads
 * ```ts
 * import { Bus } from "@ron/bus";
 * import { eventStream } from "@ron/bus/sse";
 *
 * const bus = new Bus<{ price: number }>({ replay: true });
 * const body = eventStream(bus, { heartbeat: false });
 * bus.send({ price: 101 });
 * bus.close();
 * console.log(await new Response(body).text());
 * // : connected
 * //
 * // id: 4h0ck2z9-1          (the bus's random tag, and the number of the next value)
 * // data: {"price":101}
 * ```
 *
 * @example Resuming after the id a client last saw
 * ```ts
 * import { Bus } from "@ron/bus";
 * import { eventStream } from "@ron/bus/sse";
 *
 * const bus = new Bus<string>({ capacity: 2, replay: true });
 * const first = eventStream(bus, { heartbeat: false }).getReader();
 * await first.read(); // ": connected"
 * bus.send("a");
 * const text = new TextDecoder().decode((await first.read()).value);
 * const lastEventId = text.match(/^id: (.*)$/m)![1]; // the client's lastEventId, after "a"
 * await first.cancel(); // the client disconnects
 *
 * for (const letter of ["b", "c", "d"]) bus.send(letter); // the ring keeps "c" and "d"
 * bus.close();
 * const resumed = await new Response(eventStream(bus, { lastEventId, heartbeat: false })).text();
 * console.log(resumed.match(/^(event|data): .*$/gm));
 * // [ "event: gap", 'data: {"missed":1}', 'data: "c"', 'data: "d"' ]
 * ```
 */
export function eventStream<T>(bus: SseBus<T>, options?: EventStreamOptions<T>): ReadableStream<Uint8Array> {
  checkBus(bus);
  return openEventStream(bus, resolveEventStreamOptions(options));
}

/** Checks that `bus` has what the stream calls: `subscribe` and `stats`. */
export function checkBus(bus: unknown): void {
  const candidate = bus as Partial<SseBus<unknown>> | null;
  if (
    typeof candidate !== "object" || candidate === null || typeof candidate.subscribe !== "function" ||
    typeof candidate.stats !== "function"
  ) {
    throw new TypeError(`Invalid bus: ${describe(bus)}; expected a Bus`);
  }
}

/** The stream, from options already checked. */
export function openEventStream<T>(bus: SseBus<T>, options: ResolvedEventStreamOptions<T>): ReadableStream<Uint8Array> {
  const { event, encode, heartbeat } = options;
  const tag = tagOf(bus);
  const resumeAt = options.lastEventId === undefined
    ? undefined
    : resumePosition(options.lastEventId, tag, bus.stats().sent);
  const sub = bus.subscribe({ from: resumeAt ?? options.from });
  let opening = formatOpening(options.retry);
  if (options.lastEventId !== undefined && resumeAt === undefined) {
    opening += formatEvent(RESET, formatId(tag, sub.position), JSON.stringify({ lastEventId: options.lastEventId }));
  }

  /** Gaps already reported as events. */
  let reported = sub.missed;
  /** The events of the chunk being built. */
  let text = "";
  const reportGap = (position: number): void => {
    text += formatEvent(GAP, formatId(tag, position), `{"missed":${sub.missed - reported}}`);
    reported = sub.missed;
  };
  const append = (value: T): void => {
    const position = sub.position;
    // A read that discovers a gap counts it before it hands over the value after the gap.
    if (sub.missed !== reported) reportGap(position - 1);
    const data = encode(value);
    if (typeof data !== "string") {
      throw new TypeError(`The encoder returned ${describe(data)} for value number ${position - 1}; expected a string`);
    }
    text += formatEvent(event, formatId(tag, position), data);
  };

  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let timer: ReturnType<typeof setInterval> | undefined;
  let ended = false;
  /** However the stream ends: the timer stops, the listeners go, the subscriber leaves. */
  const end = (): void => {
    ended = true;
    clearInterval(timer);
    options.signal?.removeEventListener("abort", endByAbort);
    sub.close();
  };
  function endByAbort(): void {
    if (ended) return;
    end();
    controller.close(); // what is queued still goes out
  }

  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      controller.enqueue(encoder.encode(opening));
      if (options.signal?.aborted) return endByAbort();
      options.signal?.addEventListener("abort", endByAbort);
      if (heartbeat !== false) timer = setInterval(beat, heartbeat);
    },
    pull,
    cancel: end,
  }, { highWaterMark: 0 }); // pulled only when a reader waits, so the ring stays the only buffer and lag is exact

  function beat(): void {
    // Only into an empty queue: a reader that has not taken the last chunk needs no more traffic.
    if (controller.desiredSize === 0) controller.enqueue(encoder.encode(HEARTBEAT));
  }

  /** Takes what is there, up to a batch, as one chunk; waits when there is nothing. */
  async function pull(): Promise<void> {
    while (!ended) {
      try {
        sub.drain(append, BATCH);
      } catch (error) {
        end(); // the encoder threw
        controller.error(error);
        return;
      }
      if (sub.missed !== reported) reportGap(sub.position); // a gap with no value after it yet
      if (text !== "") {
        controller.enqueue(encoder.encode(text));
        text = "";
        return;
      }
      if (!(await sub.wait()) && !ended) {
        end();
        controller.close();
      }
    }
  }
}
