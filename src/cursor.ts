/**
 * The contract between a {@linkcode Subscriber} and the ring it reads. A
 * subscriber is the faces a user sees (`tryRecv`, `drain`, `wait`, `recv`,
 * `read`, `for await`, `readable`, `closed`); a cursor is one reader's
 * position in one kind of ring. The in-process ring and the shared-memory
 * ring each implement a cursor, so every reading path, its tests and its
 * docs serve both.
 *
 * Internal: not exported from `mod.ts`.
 *
 * @module
 */

import type { CLOSED, EMPTY } from "./signals.ts";

/** {@linkcode Cursor.poll}: a value (or a gap) is there to read. */
export const READABLE = 1;
/** {@linkcode Cursor.poll}: nothing yet, and the cursor is still open. */
export const PENDING = 0;
/** {@linkcode Cursor.poll}: the cursor has ended. */
export const ENDED = -1;

/**
 * One reader's position in a ring.
 *
 * A cursor ends once, for good: when {@linkcode Cursor.close} is called, or
 * when its bus is closed and nothing retained is left for it (at the bus's
 * close for a cursor that is caught up, at the read of its last retained
 * value for the others). When it ends it stops being counted by its bus,
 * calls {@linkcode Cursor.onEnd} once, and calls its parked wake function.
 *
 * User code (drain callbacks, and whatever a woken subscriber runs) may
 * re-enter any method of any cursor of the same ring at any time; a cursor
 * stays consistent under it.
 */
export interface Cursor<T> {
  /**
   * The sequence number of the next value this cursor reads. Every value a
   * bus accepts gets the next number, from 0. Inside a drain callback the
   * value being handed over is number `position - 1`. Like `missed`, it
   * moves past a gap only when a read discovers the gap.
   */
  readonly position: number;
  /** Values this cursor lost to overwrites, counted when a read discovers the gap. */
  readonly missed: number;
  /** Whether the cursor has ended. */
  readonly ended: boolean;
  /**
   * Called once when the cursor ends, however it ends. Set by the
   * subscriber to resolve its `closed` promise; must not hold the
   * subscriber itself, so a forgotten subscriber can still be collected.
   */
  onEnd: (() => void) | undefined;

  /**
   * Takes the next value: the value, `EMPTY` when none is there yet, or
   * `CLOSED` once the cursor has ended. Throws a `LaggedError` once per gap
   * under `lag: "error"`; the call after it returns the oldest value held.
   */
  take(): T | typeof EMPTY | typeof CLOSED;

  /**
   * Holds the cursor for the reads its subscriber parked: until
   * {@linkcode Cursor.release}, {@linkcode Cursor.take} hands over nothing
   * (`EMPTY`), so a read made meanwhile, from user code run anywhere, queues
   * behind the parked ones. They read with {@linkcode Cursor.takeHeld}.
   * Checked inside `take`, so `tryRecv` pays nothing extra for it.
   */
  hold(): void;

  /** Ends {@linkcode Cursor.hold}: the subscriber has no parked read left. */
  release(): void;

  /** {@linkcode Cursor.take} for the parked reads, held or not. */
  takeHeld(): T | typeof EMPTY | typeof CLOSED;

  /**
   * Hands up to `max` available values to `fn`, in order, and returns how
   * many. `fn` may re-enter; the drain stops early if `fn` reads or closes
   * this cursor, or a send overwrites the next value. Arguments are checked
   * by the caller.
   */
  drain(fn: (value: T) => void, max: number): number;

  /**
   * {@linkcode READABLE}, {@linkcode PENDING} or {@linkcode ENDED}, without
   * reading anything or reporting a gap. Ends the cursor if its bus is
   * closed and nothing is left for it.
   */
  poll(): number;

  /**
   * Asks for `wake` to be called once, when {@linkcode Cursor.poll} may
   * have changed from {@linkcode PENDING}: a value arrived, or the cursor
   * ended. Parking again before the wake-up replaces `wake`. The wake-up may
   * be early (a lost race); it is never lost, and it is never called after
   * it is no longer wanted (once the cursor ended and woke it).
   */
  park(wake: () => void): void;

  /**
   * Someone awaits the end ({@linkcode Cursor.onEnd} is set): make sure it
   * is noticed when the bus closes, even if nothing reads. A ring whose
   * close ends caught-up cursors at once has nothing to do.
   */
  watchEnd(): void;

  /** Unsubscribes, if still subscribed. Idempotent. */
  close(): void;
}
