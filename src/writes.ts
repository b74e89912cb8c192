/**
 * Writes that wait for room: the queue behind {@linkcode Bus.write} under
 * `overflow: "wait"`. They go out in the order they were made, as room
 * opens, so many producers can share one bus without losing a value or
 * seeing `BusFullError`.
 *
 * Internal.
 *
 * @module
 */

import { BusClosedError } from "./errors.ts";
import type { Tap } from "./tap.ts";

interface Pending<T> {
  readonly value: T;
  readonly from: Tap<T> | undefined;
  readonly resolve: (readers: number) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** The queue of one bus's waiting writes. */
export class Writes<T> {
  #queue: Pending<T>[] = [];
  #scheduled = false;
  readonly #send: (value: T, from: Tap<T> | undefined) => number;
  readonly #hasRoom: () => boolean;
  readonly #drained: () => void;

  /**
   * @param send Puts a value in the ring, marked as from a tap or not, and returns how many subscribers will see it.
   * @param hasRoom Whether `send` would take a value now without dropping one.
   * @param drained Called when the queue empties after a flush.
   */
  constructor(send: (value: T, from: Tap<T> | undefined) => number, hasRoom: () => boolean, drained: () => void) {
    this.#send = send;
    this.#hasRoom = hasRoom;
    this.#drained = drained;
  }

  /** Whether some write is waiting. */
  get pending(): boolean {
    return this.#queue.length !== 0;
  }

  /** Sends `value` at once if nothing waits and there is room; otherwise queues it behind the others. */
  write(value: T, signal: AbortSignal | undefined, from: Tap<T> | undefined): Promise<number> {
    if (this.#queue.length === 0 && this.#hasRoom()) {
      try {
        return Promise.resolve(this.#send(value, from));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      const entry: Pending<T> = { value, from, resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        entry.onAbort = () => {
          const index = this.#queue.indexOf(entry);
          if (index !== -1) this.#queue.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.#queue.push(entry);
    });
  }

  /**
   * Room opened: send what waits, in a microtask, so a reader that freed the
   * room does not run producer work (taps) inside its read.
   */
  roomOpened(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** The bus closed: every waiting write fails with `BusClosedError`. */
  close(): void {
    for (const entry of this.#queue.splice(0)) {
      this.#detach(entry);
      entry.reject(new BusClosedError());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    // `send` may run user code (taps) that writes, closes or reads: look again each time.
    while (queue.length !== 0 && this.#hasRoom()) {
      const entry = queue.shift()!;
      this.#detach(entry);
      try {
        entry.resolve(this.#send(entry.value, entry.from));
      } catch (error) {
        entry.reject(error);
      }
    }
    if (queue.length === 0) this.#drained();
  }

  #detach(entry: Pending<T>): void {
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener("abort", entry.onAbort);
  }
}
