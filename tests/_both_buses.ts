/**
 * Behaviours `Bus` and `SharedBus` must both show, written once. Each bus's
 * own test file runs them: each mutation area runs only its own files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CLOSED, type Subscriber } from "../mod.ts";

/** The part of either bus these checks use. */
export interface AnyBus {
  subscribe(): Subscriber<number>;
  send(value: number): number;
  close(): void;
  readonly subscriberCount: number;
  stats(): { subscribers: number };
}

/**
 * A drain called from its own drain callback that reads the last value of a
 * closed bus ends the subscriber as that inner drain returns, and the outer
 * drain stops after the value it was on.
 */
export async function innerDrainEndsAtLastValue(bus: AnyBus): Promise<void> {
  const sub = bus.subscribe();
  for (let i = 0; i < 3; i++) bus.send(i);
  bus.close();
  const seen: unknown[] = [];
  let ended = false;
  sub.closed.then(() => ended = true);
  const count = sub.drain((value) => {
    seen.push(value);
    if (value !== 0) return;
    seen.push(["inner", sub.drain((inner) => seen.push(inner))]);
    seen.push(["subscribers", bus.subscriberCount, bus.stats().subscribers], sub.tryRecv());
  });
  assert.deepEqual(seen, [0, 1, 2, ["inner", 2], ["subscribers", 0, 0], CLOSED]);
  assert.equal(count, 1, "the outer drain stops after the value it was on");
  await sub.closed;
  assert.equal(ended, true);
}
