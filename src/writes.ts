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

import { BusClosedError, BusFullError } from "./errors.ts";
import { describe, resolveWriteOptions, type WriteOptions } from "./options.ts";
import { CLOSED, EMPTY } from "./signals.ts";
import type { Tap } from "./tap.ts";

interface Pending<T> {
  readonly value: T;
  readonly from: Tap<T> | undefined;
  readonly resolve: (readers: number) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** What a queue of writes needs of its bus. */
export interface WriteTarget<T> {
  /** Puts a value in the ring, marked as from a tap or not; returns how many subscribers will see it. */
  send(value: T, from: Tap<T> | undefined): number;
  /** Whether `send` would take a value now without dropping one. */
  hasRoom(): boolean;
  /** Called when the queue empties after a flush. */
  drained(): void;
  /**
   * For a bus whose room opens where it cannot see (another thread): resolves
   * when room may have opened. Without it, the bus calls `roomOpened()`.
   */
  whenRoom?(): Promise<void>;
}

/** Throws the TypeError of a send or write of `EMPTY` or `CLOSED`, which no bus carries. */
export function checkValue(value: unknown): void {
  // The symbol test first: most values are not symbols, so the two signals are rarely even loaded.
  if (typeof value === "symbol" && (value === EMPTY || value === CLOSED)) {
    throw new TypeError(
      `Invalid value: ${
        describe(value)
      }; a bus cannot carry EMPTY or CLOSED, which tryRecv() returns to mean "no value"`,
    );
  }
}

/**
 * `write(value, options)`, the same on every bus: checks the options and
 * the value, fails at once on a closed bus or an aborted signal, and hands
 * the rest to the ring's queue. Every failure is a rejection.
 */
export function startWrite<T>(
  ring: { readonly closed: boolean; readonly writes: Writes<T> },
  value: T,
  options: WriteOptions | undefined,
  from: Tap<T> | undefined,
): Promise<number> {
  let signal: AbortSignal | undefined;
  try {
    signal = resolveWriteOptions(options);
    checkValue(value);
    if (ring.closed) throw new BusClosedError();
  } catch (error) {
    return Promise.reject(error);
  }
  if (signal?.aborted) return Promise.reject(signal.reason);
  return ring.writes.write(value, signal, from);
}

/** The queue of one bus's waiting writes. */
export class Writes<T> {
  #queue: Pending<T>[] = [];
  #scheduled = false;
  #watching = false;
  /** The entry `#flush` is sending: an abort during its send (from a tap) comes too late. */
  #sending: Pending<T> | undefined;
  readonly #target: WriteTarget<T>;

  constructor(target: WriteTarget<T>) {
    this.#target = target;
  }

  /** Whether some write is waiting. */
  get pending(): boolean {
    return this.#queue.length !== 0;
  }

  /** Sends `value` at once if nothing waits and there is room; otherwise queues it behind the others. */
  write(value: T, signal: AbortSignal | undefined, from: Tap<T> | undefined): Promise<number> {
    if (this.#queue.length === 0 && this.#target.hasRoom()) {
      try {
        return Promise.resolve(this.#target.send(value, from));
      } catch (error) {
        // Another thread took the room between the look and the send: wait like the rest.
        if (!(error instanceof BusFullError)) return Promise.reject(error);
      }
    }
    const written = new Promise<number>((resolve, reject) => {
      const entry: Pending<T> = { value, from, resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        entry.onAbort = () => {
          if (this.#sending === entry) return;
          const index = this.#queue.indexOf(entry);
          if (index !== -1) this.#queue.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      this.#queue.push(entry);
    });
    this.#watch();
    return written;
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

  /**
   * The bus closed: every waiting write fails with `BusClosedError`, except
   * the one `#flush` is sending (a tap closed the bus as it went out): it
   * was sent, and `#flush` settles it.
   */
  close(): void {
    const sending = this.#sending;
    for (const entry of this.#queue.splice(0)) {
      if (entry === sending) {
        this.#queue.push(entry);
        continue;
      }
      this.#detach(entry);
      entry.reject(new BusClosedError());
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    // `send` may run user code (taps) that writes, closes or reads: look again each time.
    while (queue.length !== 0 && this.#target.hasRoom()) {
      const entry = queue[0]!;
      let readers: number;
      this.#sending = entry;
      try {
        readers = this.#target.send(entry.value, entry.from);
      } catch (error) {
        this.#sending = undefined;
        if (error instanceof BusFullError) { // taken by another thread first: the entry keeps its place
          if (entry.signal?.aborted) entry.onAbort!(); // unless its signal aborted meanwhile
          break;
        }
        queue.shift();
        this.#detach(entry);
        entry.reject(error);
        continue;
      }
      this.#sending = undefined;
      queue.shift();
      this.#detach(entry);
      entry.resolve(readers);
    }
    if (queue.length === 0) this.#target.drained();
    else this.#watch();
  }

  /** On a bus that cannot tell when room opens, asks it to say when it may have. */
  #watch(): void {
    const target = this.#target;
    if (target.whenRoom === undefined || this.#watching || this.#queue.length === 0) return;
    this.#watching = true;
    target.whenRoom().then(() => {
      this.#watching = false;
      this.#flush();
    });
  }

  #detach(entry: Pending<T>): void {
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener("abort", entry.onAbort);
  }
}
