/**
 * Taps: synchronous observers of every value a bus accepts. See
 * {@linkcode Bus.tap}.
 *
 * @module
 */

import { describe } from "./options.ts";

/**
 * A tap on a bus, from {@linkcode Bus.tap}. Close it (or declare it with
 * `using`) to stop it.
 *
 * @example
 * ```ts
 * import { Bus, type Tap } from "@ron/bus";
 *
 * const bus = new Bus<string>();
 * const tap: Tap = bus.tap((line) => console.log(line));
 * bus.send("hello"); // hello
 * tap.close();
 * ```
 */
export interface Tap {
  /** Removes the tap. Idempotent. */
  close(): void;
  /** Removes the tap at the end of a `using` block. */
  [Symbol.dispose](): void;
}

/** What a ring keeps for its taps: the list, and the one function `send` calls. */
export interface Tapped<T> {
  taps: readonly ((value: T) => void)[];
  tap: ((value: T) => void) | undefined;
}

/** Adds `fn` to the ring's taps and returns its handle. */
export function addTap<T>(ring: Tapped<T>, fn: (value: T) => void): Tap {
  if (typeof fn !== "function") throw new TypeError(`Invalid fn: ${describe(fn)}; expected a function`);
  // A wrapper of its own, so the same function tapped twice is two taps.
  const entry = (value: T): void => fn(value);
  install(ring, [...ring.taps, entry]);
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    install(ring, ring.taps.filter((tap) => tap !== entry));
  };
  return { close, [Symbol.dispose]: close };
}

/**
 * One tap is called directly; several through a fan-out that calls each even
 * if one throws, then rethrows the first error. Lists are replaced, never
 * changed, so a tap added or removed from inside a tap applies from the next
 * value on.
 */
function install<T>(ring: Tapped<T>, taps: readonly ((value: T) => void)[]): void {
  ring.taps = taps;
  if (taps.length <= 1) {
    ring.tap = taps[0];
    return;
  }
  ring.tap = (value: T): void => {
    let failed = false;
    let first: unknown;
    for (let i = 0; i < taps.length; i++) {
      try {
        taps[i]!(value);
      } catch (error) {
        if (!failed) first = error;
        failed = true;
      }
    }
    if (failed) throw first;
  };
}
