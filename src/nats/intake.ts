/**
 * The inbound side of a bridge: values from NATS go into a queue, and the
 * queue into the local bus through the bridge's tap, so no bridge's tap
 * forwards them again. Under `"drop-oldest"` and `"drop-newest"` they go in
 * slices of at most `capacity / 2` per microtask turn, so a fast local
 * subscriber (one that awaits `wait()` and drains) runs between slices and
 * is never lapped by a whole socket read at once. Under `"wait"` nothing can
 * be lapped: each value is written as room opens, in order, and at most
 * `maxQueued` wait. The NATS callback only decodes and queues: it never
 * waits for the bus.
 *
 * @module
 */

import { BusClosedError } from "../errors.ts";
import { type Codec, unpack } from "./codec.ts";
import type { Framing } from "./envelope.ts";
import type { Counters } from "./stats.ts";
import type { TapLike } from "./types.ts";

/** Queues decoded values and sends them into the bus. */
export class Intake<T> {
  #tap: TapLike<T>;
  #codec: Codec<T> | undefined;
  #counters: Counters;
  #slice: number;
  #wait: boolean;
  /** Under `"wait"` values queue while the bus is full: at most this many. */
  #maxQueued: number;
  #queue: (T | undefined)[] = [];
  #head = 0;
  /** Writes handed to the bus that have not gone out yet. */
  #writing = 0;
  #scheduled = false;
  #closed = false;
  #onBusClosed: () => void;
  #report: (error: unknown) => void;

  /**
   * `onBusClosed` runs once, when a send or write finds the bus closed while
   * the intake is open. `report` surfaces an error another tap threw after
   * the value went in (by default, as an uncaught error in a microtask).
   */
  constructor(
    tap: TapLike<T>,
    bus: { readonly capacity: number; readonly overflow: string },
    codec: Codec<T> | undefined,
    counters: Counters,
    maxQueued: number,
    onBusClosed: () => void,
    report: (error: unknown) => void = rethrowLater,
  ) {
    this.#tap = tap;
    this.#codec = codec;
    this.#counters = counters;
    this.#slice = Math.max(1, bus.capacity >>> 1);
    this.#wait = bus.overflow === "wait";
    this.#maxQueued = this.#wait ? maxQueued : Infinity;
    this.#onBusClosed = onBusClosed;
    this.#report = report;
  }

  /** Values waiting to be sent into the bus. */
  get queued(): number {
    return this.#queue.length - this.#head + this.#writing;
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

  /** Sends what is queued (the pump runs on microtasks, so this ends soon), then closes. */
  async finish(): Promise<void> {
    while (this.#queue.length > this.#head && !this.#closed) {
      await new Promise<void>((resolve) => queueMicrotask(resolve));
    }
    this.close();
  }

  /**
   * Stops sending; what is still queued is dropped and counted in
   * `overflowed`. Writes already handed to a `"wait"` bus still go out as
   * room opens, unless the bus closes first.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#counters.overflowed += this.#queue.length - this.#head;
    this.#queue = [];
    this.#head = 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#queue.length === this.#head) return;
    this.#scheduled = true;
    queueMicrotask(this.#pump);
  }

  /** Sends one slice, then yields to the microtasks that slice woke before the next; under `"wait"`, writes all. */
  #pump = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    const queue = this.#queue;
    let head = this.#head;
    const end = this.#wait ? queue.length : Math.min(queue.length, head + this.#slice);
    let closed = false;
    while (head < end && !closed) {
      const value = queue[head] as T;
      queue[head++] = undefined;
      if (this.#wait) this.#write(value);
      else closed = this.#send(value);
    }
    this.#head = head;
    if (head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (head > 4096 && head * 2 > queue.length) {
      queue.splice(0, head);
      this.#head = 0;
    }
    if (closed) this.#busClosed();
    else this.#schedule();
  };

  /** Sends one value now; returns whether the bus turned out to be closed. */
  #send(value: T): boolean {
    try {
      this.#tap.send(value);
    } catch (error) {
      if (error instanceof BusClosedError) {
        this.#counters.overflowed++;
        return true;
      }
      // Another tap on the bus threw after the value went in: it was sent. Surface the error, go on.
      this.#report(error);
    }
    this.#counters.received++;
    return false;
  }

  /** Hands one value to a `"wait"` bus, which sends it in turn as room opens. */
  #write(value: T): void {
    this.#writing++;
    this.#tap.write(value).then(
      () => {
        this.#writing--;
        this.#counters.received++;
      },
      (error) => {
        this.#writing--;
        if (error instanceof BusClosedError) {
          this.#counters.overflowed++;
          this.#busClosed();
          return;
        }
        this.#counters.received++; // sent; another tap threw
        this.#report(error);
      },
    );
  }

  #busClosed(): void {
    if (this.#closed) return;
    this.close();
    this.#onBusClosed();
  }
}

/** Throws `error` from a microtask of its own: uncaught, so the runtime reports it, and nothing here stops. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
