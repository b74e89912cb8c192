/**
 * What the SSE helpers use of a bus and of its subscribers, as structural
 * types: a {@linkcode Bus} from `@ron/bus` satisfies them, and so does any
 * bus whose subscribers read the same way.
 *
 * @module
 */

/**
 * What {@linkcode eventStream} and {@linkcode sseResponse} use of a bus: a
 * `Bus` from `@ron/bus` satisfies it.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import { Bus } from "@ron/bus";
 * import type { SseBus } from "@ron/bus/sse";
 *
 * const bus: SseBus<number> = new Bus<number>({ replay: true });
 * ```
 */
export interface SseBus<T> {
  /** Whether the bus is closed: `sseResponse` then answers `204 No Content`. */
  readonly closed: boolean;
  /** Its counters; `sent` is the sequence number the next value gets, the newest id a client may resume from. */
  stats(): { readonly sent: number };
  /** A subscriber starting at a sequence number, at the next value, or at the oldest value retained. */
  subscribe(options: { from: number | "next" | "oldest" }): SseSubscriber<T>;
}

/**
 * What the event stream uses of a subscriber: a `Subscriber` from
 * `@ron/bus` satisfies it.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import { Bus } from "@ron/bus";
 * import type { SseSubscriber } from "@ron/bus/sse";
 *
 * const sub: SseSubscriber<number> = new Bus<number>().subscribe();
 * sub.close();
 * ```
 */
export interface SseSubscriber<T> {
  /** The sequence number of the next value it reads: what an event's id carries. */
  readonly position: number;
  /** How many values it lost to the ring, counted as reads discover them: what gap events report. */
  readonly missed: number;
  /** Hands up to `max` available values to `fn`, in order, and returns how many. */
  drain(fn: (value: T) => void, max: number): number;
  /** Resolves `true` once a value (or a gap) is there to read, `false` once it has ended. */
  wait(): Promise<boolean>;
  /** Unsubscribes. */
  close(): void;
}
