/**
 * The errors a bus reports. Each is a class of its own so a caller can branch
 * with `instanceof`, and each carries the data needed to act on it.
 *
 * @module
 */

/**
 * Thrown by {@linkcode Bus.send} after {@linkcode Bus.close}, and the reason
 * {@linkcode Subscriber.recv} rejects once the bus is closed and drained.
 *
 * @example Sending to a closed bus
 * ```ts
 * import { Bus, BusClosedError } from "@ron/bus";
 *
 * const bus = new Bus<number>();
 * bus.close();
 * try {
 *   bus.send(1);
 * } catch (error) {
 *   console.log(error instanceof BusClosedError); // true
 * }
 * ```
 */
export class BusClosedError extends Error {
  /** Creates the error; the message says the bus is closed. */
  constructor() {
    super("Bus is closed");
    this.name = "BusClosedError";
  }
}

/**
 * Reported once to a subscriber created with `lag: "error"` when the ring
 * overwrote values it had not read. `missed` says how many. The read after it
 * resumes at the oldest value still in the ring.
 *
 * @example Catching a lag
 * ```ts
 * import { Bus, LaggedError } from "@ron/bus";
 *
 * const bus = new Bus<number>({ capacity: 2 });
 * const sub = bus.subscribe({ lag: "error" });
 * for (let i = 0; i < 5; i++) bus.send(i);
 * try {
 *   sub.tryRecv();
 * } catch (error) {
 *   if (error instanceof LaggedError) console.log(error.missed); // 3
 * }
 * console.log(sub.tryRecv()); // 3
 * ```
 */
export class LaggedError extends Error {
  /** How many values this subscriber lost to the ring's overwrites. */
  readonly missed: number;

  /**
   * Creates the error.
   *
   * @param missed How many values were lost.
   */
  constructor(missed: number) {
    super(`Subscriber lagged and missed ${missed} value${missed === 1 ? "" : "s"}`);
    this.name = "LaggedError";
    this.missed = missed;
  }
}

/**
 * Thrown by {@linkcode Bus.send} on a bus with `overflow: "wait"` when every
 * slot still holds a value some subscriber has not read. Await
 * {@linkcode Bus.ready} before sending again, or write through
 * {@linkcode Bus.writable}, which waits on its own.
 *
 * @example Waiting for room
 * ```ts
 * import { Bus, BusFullError } from "@ron/bus";
 *
 * const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
 * const sub = bus.subscribe();
 * bus.send(1);
 * try {
 *   bus.send(2);
 * } catch (error) {
 *   if (!(error instanceof BusFullError)) throw error;
 *   sub.tryRecv(); // frees the slot
 *   await bus.ready;
 *   bus.send(2);
 * }
 * ```
 */
export class BusFullError extends Error {
  /** The capacity of the bus that was full. */
  readonly capacity: number;

  /**
   * Creates the error.
   *
   * @param capacity The capacity of the full bus.
   */
  constructor(capacity: number) {
    super(
      `Bus is full: ${
        capacity === 1 ? "its one slot holds an unread value" : `all ${capacity} slots hold unread values`
      }; await bus.ready before sending, or use bus.write()`,
    );
    this.name = "BusFullError";
    this.capacity = capacity;
  }
}
