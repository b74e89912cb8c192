/**
 * The inbound side of a bridge: values from NATS go into a queue, and the
 * queue into the local bus in slices of at most `capacity / 2` per microtask
 * turn, so a fast local subscriber (one that awaits `wait()` and drains)
 * runs between slices and is never lapped by a whole socket read at once.
 * The NATS callback only decodes and queues: it never waits for the bus.
 *
 * @module
 */

import { BusClosedError, BusFullError } from "../errors.ts";
import { type Codec, unpack } from "./codec.ts";
import type { Framing } from "./envelope.ts";
import type { Counters } from "./stats.ts";
import type { BusLike } from "./types.ts";

/**
 * The value a bridge is sending into a bus right now, while it does; every
 * bridge's tap skips it, so a value that came from NATS is never published
 * again, by this bridge or another on the same bus. A tap runs synchronously
 * inside `send`, so a module-wide marker is exact; comparing the value keeps
 * a send made from inside some other tap during ours from being mistaken
 * for it.
 */
let forwarding = false;
let forwarded: unknown;

/** Whether `value` is being sent into a bus by a bridge right now. */
export function isForwarded(value: unknown): boolean {
  return forwarding && value === forwarded;
}

/** Queues decoded values and sends them into the bus in slices. */
export class Intake<T> {
  #bus: BusLike<T>;
  #codec: Codec<T> | undefined;
  #counters: Counters;
  #slice: number;
  /** Under `"wait"` the queue can grow while the bus is full: bounded by this. */
  #maxQueued: number;
  #queue: (T | undefined)[] = [];
  #head = 0;
  #scheduled = false;
  #parked = false;
  #closed = false;
  #onBusClosed: () => void;

  constructor(
    bus: BusLike<T>,
    codec: Codec<T> | undefined,
    counters: Counters,
    maxQueued: number,
    onBusClosed: () => void,
  ) {
    this.#bus = bus;
    this.#codec = codec;
    this.#counters = counters;
    this.#slice = Math.max(1, bus.capacity >>> 1);
    this.#maxQueued = bus.overflow === "wait" ? maxQueued : Infinity;
    this.#onBusClosed = onBusClosed;
  }

  /** Values waiting to be sent into the bus. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Decodes the `count` values of a message body and queues them, dropping
   * the first `skip` (already heard) and, under `"wait"`, those beyond room
   * for `maxQueued`; counts every value it does not queue.
   */
  take(framing: Framing, body: Uint8Array, count: number, skip: number): void {
    if (this.#closed) return;
    const counters = this.#counters;
    const room = Math.max(0, this.#maxQueued - this.queued);
    const kept = Math.min(count - skip, room);
    counters.duplicates += skip;
    counters.overflowed += count - skip - kept;
    if (kept === 0) return;
    counters.decodeErrors += unpack(this.#codec, framing, body, count, skip, kept, this.#queue);
    this.#schedule();
  }

  /**
   * Sends what is queued (the pump runs on microtasks, so this ends soon)
   * unless a `"wait"` bus is full, then closes.
   */
  async finish(): Promise<void> {
    while (this.queued > 0 && !this.#parked && !this.#closed) {
      await new Promise<void>((resolve) => queueMicrotask(resolve));
    }
    this.close();
  }

  /** Stops sending; what is still queued is dropped and counted in `overflowed`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#counters.overflowed += this.queued;
    this.#queue = [];
    this.#head = 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#parked || this.queued === 0) return;
    this.#scheduled = true;
    queueMicrotask(this.#pump);
  }

  /** Sends one slice, then yields to the microtasks that slice woke before the next. */
  #pump = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    const queue = this.#queue;
    const bus = this.#bus;
    let head = this.#head;
    const end = Math.min(queue.length, head + this.#slice);
    let failure: unknown;
    try {
      forwarding = true;
      while (head < end) {
        forwarded = queue[head];
        try {
          bus.send(forwarded as T);
        } catch (error) {
          if (error instanceof BusFullError || error instanceof BusClosedError) throw error;
          // Another tap on the bus threw after the value went in: it was sent. Surface the error, go on.
          queueMicrotask(() => {
            throw error;
          });
        }
        queue[head++] = undefined;
        this.#counters.received++;
      }
    } catch (error) {
      failure = error;
    } finally {
      forwarding = false;
      forwarded = undefined;
    }
    this.#head = head;
    if (failure instanceof BusClosedError) {
      this.close();
      this.#onBusClosed();
      return;
    }
    if (head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (head > 4096 && head * 2 > queue.length) {
      queue.splice(0, head);
      this.#head = 0;
    }
    if (failure instanceof BusFullError) {
      this.#parked = true;
      this.#bus.ready.then(() => {
        this.#parked = false;
        this.#schedule();
      });
      return;
    }
    this.#schedule();
  };
}
