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

/** Reads one value per macrotask until the subscriber ends, collecting them: a consumer slower than any producer. */
export async function readSlowly<T>(sub: Subscriber<T>): Promise<T[]> {
  const seen: T[] = [];
  while (await sub.wait()) {
    sub.drain((value) => seen.push(value), 1);
    await tick();
  }
  return seen;
}
