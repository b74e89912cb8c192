/**
 * Small reading helpers the per-concept tests share.
 *
 * @module
 */

import type { Subscriber } from "../mod.ts";

/** Reads everything available right now, synchronously. */
export function take<T>(sub: Subscriber<T>): T[] {
  const values: T[] = [];
  sub.drain((value) => values.push(value));
  return values;
}

/** Lets timers and every pending microtask run. */
export const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
