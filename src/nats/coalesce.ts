/**
 * When to publish a batch: once the producer has gone quiet. A producer that
 * awaits between sends (`await link.ready`, `for await`, `pipeTo`) sends one
 * value per one to six microtask turns, and a NATS client writes to its
 * socket one microtask after its first publish: publishing at the end of the
 * first turn would send such a producer's values one socket write (and, in
 * core NATS, one message) each. Waiting until a few turns pass with nothing
 * new keeps them together, and costs a few microtasks.
 *
 * @module
 */

/** Microtask turns without a new value before a batch goes out. */
const QUIET_TURNS = 8;

/** Calls `run` once `size()` has not changed for {@linkcode QUIET_TURNS} microtask turns. */
export class Coalescer {
  #size: () => number;
  #run: () => void;
  #scheduled = false;
  #seen = 0;
  #quiet = 0;

  constructor(size: () => number, run: () => void) {
    this.#size = size;
    this.#run = run;
  }

  /** Starts waiting for quiet, unless already waiting. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#seen = this.#size();
    this.#quiet = 0;
    queueMicrotask(this.#turn);
  }

  #turn = (): void => {
    const size = this.#size();
    if (size !== this.#seen) {
      this.#seen = size;
      this.#quiet = 0;
    } else if (++this.#quiet >= QUIET_TURNS) {
      this.#scheduled = false;
      this.#run();
      return;
    }
    queueMicrotask(this.#turn);
  };
}
