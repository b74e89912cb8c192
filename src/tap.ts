/**
 * Taps: synchronous observers of every value a bus accepts. See
 * {@linkcode Bus.tap}.
 *
 * @module
 */

import { describe, type WriteOptions } from "./options.ts";

/**
 * A tap on a bus, from {@linkcode Bus.tap}. Close it (or declare it with
 * `using`) to stop it. Its `send` and `write` put a value on the bus marked
 * as coming from this tap: every tap's function is told so, which is how a
 * bridge brings values in without sending them back out.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import { Bus, type Tap } from "@ron/bus";
 *
 * const bus = new Bus<string>();
 * const tap: Tap<string> = bus.tap((line, from) => console.log(line, from === tap));
 * bus.send("hello"); // hello false
 * tap.send("from the tap"); // from the tap true
 * tap.close();
 * ```
 */
export interface Tap<T> {
  /** Removes the tap. Idempotent. */
  close(): void;
  /** Removes the tap at the end of a `using` block. */
  [Symbol.dispose](): void;
  /**
   * Sends `value` as {@linkcode Bus.send} does, marked as from this tap.
   *
   * @param value The value to broadcast.
   * @returns How many subscribers will see it.
   */
  send(value: T): number;
  /**
   * Writes `value` as {@linkcode Bus.write} does, marked as from this tap
   * when it goes out.
   *
   * @param value The value to broadcast.
   * @param options `signal` gives up the write while it waits.
   * @returns Resolves with how many subscribers will see it, once sent.
   */
  write(value: T, options?: WriteOptions): Promise<number>;
}

/** A tap's function: each value the bus accepts, and the tap that sent it, if one did. */
export type TapFn<T> = (value: T, from: Tap<T> | undefined) => void;

/** What a ring keeps for its taps: the list, and the one function `send` calls. */
export interface Tapped<T> {
  taps: readonly TapFn<T>[];
  /** Set here, read only by the ring's `write`. */
  set tap(fn: TapFn<T> | undefined);
}

/** How a tap sends: the bus's own send and write, with the sender marked. */
export interface TapSender<T> {
  send(value: T, from: Tap<T>): number;
  write(value: T, options: WriteOptions | undefined, from: Tap<T>): Promise<number>;
}

/** Adds `fn` to the ring's taps and returns its handle. */
export function addTap<T>(ring: Tapped<T>, fn: TapFn<T>, sender: TapSender<T>): Tap<T> {
  if (typeof fn !== "function") throw new TypeError(`Invalid fn: ${describe(fn)}; expected a function`);
  // A wrapper of its own, so the same function tapped twice is two taps.
  const entry: TapFn<T> = (value, from) => fn(value, from);
  install(ring, [...ring.taps, entry]);
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    install(ring, ring.taps.filter((tap) => tap !== entry));
  };
  const tap: Tap<T> = {
    close,
    [Symbol.dispose]: close,
    send: (value) => sender.send(value, tap),
    write: (value, options) => sender.write(value, options, tap),
  };
  return tap;
}

/**
 * One tap is called directly; several through a fan-out that calls each even
 * if one throws, then rethrows the first error. Lists are replaced, never
 * changed, so a tap added or removed from inside a tap applies from the next
 * value on.
 */
function install<T>(ring: Tapped<T>, taps: readonly TapFn<T>[]): void {
  ring.taps = taps;
  if (taps.length <= 1) {
    ring.tap = taps[0];
    return;
  }
  ring.tap = (value, from): void => {
    let failed = false;
    let first: unknown;
    for (let i = 0; i < taps.length; i++) {
      try {
        taps[i]!(value, from);
      } catch (error) {
        if (!failed) first = error;
        failed = true;
      }
    }
    if (failed) throw first;
  };
}
