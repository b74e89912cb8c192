/**
 * Web Streams adapters: a subscriber as a `ReadableStream`, and a bus as a
 * `WritableStream`. They take the few methods they call, not the classes, so
 * the core never depends on them.
 *
 * Internal: reached through {@linkcode Subscriber.readable},
 * {@linkcode Subscriber.stream} and {@linkcode Bus.writable}.
 *
 * @module
 */

/** What {@linkcode toReadable} needs of a subscriber. */
interface Source<T> {
  drain(fn: (value: T) => void, max: number): number;
  wait(): Promise<boolean>;
  close(): void;
}

/**
 * A pull-based stream over `sub`. Each pull drains as many values as the
 * stream's queue has room for below `highWaterMark`, and at least one, since
 * a stream pulls with a mark of 0 only when a read is waiting. With a mark
 * of 0 the stream queues nothing itself: the ring is its only buffer.
 * Cancelling, or an error such as a lag under `lag: "error"`, ends `sub`.
 */
export function toReadable<T>(sub: Source<T>, highWaterMark: number): ReadableStream<T> {
  let cancelled = false;
  let enqueue: (value: T) => void;
  const pull = (controller: ReadableStreamDefaultController<T>): Promise<void> | undefined => {
    if (cancelled) return undefined;
    let taken: number;
    try {
      taken = sub.drain(enqueue, Math.max(1, controller.desiredSize ?? 1));
    } catch (error) {
      sub.close();
      controller.error(error);
      return undefined;
    }
    if (taken !== 0) return undefined;
    return sub.wait().then((more) => {
      if (cancelled) return undefined;
      if (more) return pull(controller);
      controller.close();
      return undefined;
    });
  };
  return new ReadableStream<T>({
    start(controller) {
      enqueue = (value) => controller.enqueue(value);
    },
    pull,
    cancel() {
      cancelled = true;
      sub.close();
    },
  }, { highWaterMark });
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
