/**
 * Web Streams adapters: a subscriber as a `ReadableStream`, and a bus as a
 * `WritableStream`. Both keep the ring as their only buffer.
 *
 * Internal: reached through {@linkcode Subscriber.readable} and
 * {@linkcode Bus.writable}.
 *
 * @module
 */

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
    if (cancelled) return undefined;
    let value: T | typeof EMPTY | typeof CLOSED;
    try {
      value = sub.tryRecv();
    } catch (error) {
      sub.close();
      controller.error(error);
      return undefined;
    }
    if (value === EMPTY) return sub.wait().then(() => pull(controller));
    if (value === CLOSED) controller.close();
    else controller.enqueue(value);
    return undefined;
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
 * A stream that sends each chunk with `bus.write`, so under `"wait"` a write
 * waits for room in turn with other writers and the writer's `ready`
 * carries the bus's backpressure. Closing the stream closes the bus.
 * Aborting it aborts the controller's signal, which gives up a write still
 * waiting at once (the streams spec calls the sink's `abort` only after the
 * write in flight settles), and then closes the bus.
 */
export function toWritable<T>(bus: Writer<T>): WritableStream<T> {
  return new WritableStream<T>({
    write: async (chunk, controller) => {
      // Every runtime we claim has the controller's signal; @types/node's WritableStreamDefaultController lacks it.
      const { signal } = controller as { signal?: AbortSignal };
      await bus.write(chunk, signal === undefined ? undefined : { signal });
    },
    close: () => bus.close(),
    abort: () => bus.close(),
  });
}

/** What {@linkcode toWritable} needs of a bus. */
interface Writer<T> {
  write(value: T, options?: { signal: AbortSignal }): Promise<number>;
  close(): void;
}
