/**
 * Web Streams adapters: a subscriber as a `ReadableStream`, and a bus as a
 * `WritableStream`. Both keep the ring as their only buffer.
 *
 * Internal: reached through {@linkcode Subscriber.readable} and
 * {@linkcode Bus.writable}.
 *
 * @module
 */

import type { Bus } from "./bus.ts";
import type { Ring } from "./ring.ts";
import { CLOSED, EMPTY } from "./signals.ts";
import type { Subscriber } from "./subscriber.ts";

/**
 * A pull-based stream over `sub`. With a high-water mark of 0 the stream
 * queues nothing itself: each read pulls exactly one value from the ring.
 * Cancelling, or an error such as a lag under `lag: "error"`, ends `sub`.
 */
export function toReadable<T>(sub: Subscriber<T>): ReadableStream<T> {
  let cancelled = false;
  const pull = (controller: ReadableStreamDefaultController<T>): Promise<void> | undefined => {
    if (cancelled) return;
    let value: T | typeof EMPTY | typeof CLOSED;
    try {
      value = sub.tryRecv();
    } catch (error) {
      sub.close();
      controller.error(error);
      return;
    }
    if (value === EMPTY) return sub.wait().then(() => pull(controller));
    if (value === CLOSED) controller.close();
    else controller.enqueue(value);
  };
  return new ReadableStream<T>({
    pull,
    cancel() {
      cancelled = true;
      sub.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * A stream that sends each chunk on `bus`. Under `overflow: "wait"` a write
 * waits for room, so the writer's `ready` carries the bus's backpressure.
 * Closing or aborting the stream closes the bus.
 */
export function toWritable<T>(bus: Bus<T>, ring: Ring<T>): WritableStream<T> {
  const write = (chunk: T): Promise<void> | undefined => {
    // Another producer may take the room between `ready` and this write, so look again.
    if (!ring.hasRoom()) return ring.ready().then(() => write(chunk));
    bus.send(chunk);
  };
  return new WritableStream<T>({
    write,
    close: () => bus.close(),
    abort: () => bus.close(),
  });
}
