/**
 * Shared pieces of the NATS tests: connections, waiting for a condition with
 * a deadline, a subscriber that records what it reads, and the command that
 * runs a script in a child process on the same runtime as the test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Bus, Subscriber } from "../mod.ts";

/** Connects to `url` with no reconnect delay to speak of, as a test wants. */
export function connectTo(url: string, options: { noEcho?: boolean; name?: string } = {}): Promise<NatsConnection> {
  return connect({ servers: url, reconnectTimeWait: 50, maxReconnectAttempts: -1, ...options });
}

/**
 * Waits until `condition()` holds, polling every 5 ms, or fails after `ms`,
 * timed with `performance.now()` so that a test may stub `Date.now`.
 */
export async function until(condition: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What one subscriber read: values in order, and its `missed` count when it stopped. */
export interface Reading<T> {
  values: T[];
  readonly missed: number;
  /** Resolves once the subscriber has ended (the bus closed). */
  done: Promise<void>;
}

/** Reads `sub` with `wait()` + `drain`, the fast async path, recording every value. */
export function record<T>(sub: Subscriber<T>): Reading<T> {
  const values: T[] = [];
  const push = (value: T) => void values.push(value);
  const done = (async () => {
    while (await sub.wait()) sub.drain(push);
  })();
  return {
    values,
    get missed() {
      return sub.missed;
    },
    done,
  };
}

/** Subscribes `count` recorders to `bus`. */
export function recorders<T>(bus: Bus<T>, count: number): Reading<T>[] {
  return Array.from({ length: count }, () => record(bus.subscribe()));
}
