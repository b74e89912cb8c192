/**
 * The two answers {@linkcode Subscriber.tryRecv} gives besides a value.
 * Unique symbols cannot collide with any value a bus carries, and returning
 * one costs no allocation.
 *
 * @module
 */

/**
 * Returned by {@linkcode Subscriber.tryRecv} when nothing is available yet.
 *
 * @example Polling without awaiting
 * ```ts
 * import { Bus, EMPTY } from "@ron/bus";
 *
 * const sub = new Bus<number>().subscribe();
 * console.log(sub.tryRecv() === EMPTY); // true
 * ```
 */
export const EMPTY: unique symbol = Symbol("EMPTY");

/**
 * Returned by {@linkcode Subscriber.tryRecv} once the subscriber has ended:
 * it was closed, or the bus was closed and everything retained for it has
 * been read.
 *
 * @example Reading to the end
 * ```ts
 * import { Bus, CLOSED } from "@ron/bus";
 *
 * const bus = new Bus<number>();
 * const sub = bus.subscribe();
 * bus.send(1);
 * bus.close();
 * console.log(sub.tryRecv()); // 1
 * console.log(sub.tryRecv() === CLOSED); // true
 * ```
 */
export const CLOSED: unique symbol = Symbol("CLOSED");
