/**
 * Wake-ups across threads: a thread that has nothing to do sleeps on a
 * shared signal word, and whoever changes what it waits for bumps the word
 * and notifies, but only when someone may be asleep.
 *
 * The protocol, for a signal word `SIGNAL` and a flag `ASLEEP`:
 *
 * - sleeper: set `ASLEEP`, read `SIGNAL`, look once more at what it waits
 *   for, then wait while `SIGNAL` still holds what it read;
 * - waker: change what the sleeper waits for, and only if `ASLEEP` is set,
 *   clear it, bump `SIGNAL` and notify every sleeper.
 *
 * Every access is sequentially consistent, so either the sleeper's last look
 * sees the change, or the waker sees the flag and bumps a word the sleeper
 * is about to wait on (which then returns at once) or already waits on
 * (which wakes). Clearing the flag makes it one notify per round of sleep,
 * not one per change while the sleepers are waking (a count of sleepers cost
 * a notify per send at saturation), and a thread that died asleep costs one
 * wasted notify, not one per send. Each sleep also has a timeout, so a lost
 * wake-up (an engine bug) can only delay, never hang.
 *
 * {@linkcode Sleeper} is the asynchronous side, one per thread and signal:
 * it multiplexes every local waiter onto one `Atomics.waitAsync`, and keeps
 * a timer while anyone waits, because a pending `waitAsync` does not keep
 * Node or Deno alive and a parked reader must. {@linkcode sleepSync} is the
 * blocking side, `Atomics.wait`, for worker loops.
 *
 * Internal.
 *
 * @module
 */

/** How long one parked wait lasts before it looks again (ms). */
export const PARK_TIMEOUT = 500;
/**
 * Microtask turns a woken thread has to sleep again before its timer is
 * disarmed: a `for await` loop's next read parks within a few.
 */
const IDLE_TURNS = 8;
/** How often a parked wait looks where `Atomics.waitAsync` is missing (ms). */
const POLL_WITHOUT_WAIT_ASYNC = 4;

type WaitAsyncResult = { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as {
  waitAsync?: (array: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;
}).waitAsync;

/** Bumps `signal` and notifies its sleepers, if `asleep` says some may be there. */
export function wake(words: Int32Array, asleep: number, signal: number): void {
  if (Atomics.load(words, asleep) !== 0 && Atomics.exchange(words, asleep, 0) !== 0) {
    Atomics.add(words, signal, 1);
    Atomics.notify(words, signal);
  }
}

/** Bumps `signal` and notifies every sleeper, counted or not: for close. */
export function wakeAll(words: Int32Array, signal: number): void {
  Atomics.add(words, signal, 1);
  Atomics.notify(words, signal);
}

/**
 * One thread's sleeper on one signal word. `want()` says someone local waits;
 * the sleeper then calls `onWake` once, when the signal moves or the timeout
 * passes, and the callers look again and want again if they must.
 */
export class Sleeper {
  readonly #words: Int32Array;
  readonly #asleep: number;
  readonly #signal: number;
  readonly #onWake: () => void;
  readonly #timeout: number;
  #wanted = false;
  /** A `waitAsync` is pending; a new one is not needed until it settles. */
  #inFlight = false;
  /** Armed while anyone waits, and kept across wake-ups; see `want`. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Turns an idle check has waited for a sleep after a wake-up; 0 when none runs. */
  #idleTurns = 0;
  #fire = (): void => {
    if (this.#wanted) {
      this.rest(); // the woken callers most often sleep again at once
      this.#onWake();
    }
  };
  #timedOut = (): void => {
    this.#timer = undefined;
    this.#fire();
  };
  #settled = (): void => {
    this.#inFlight = false;
    this.#fire();
  };

  constructor(words: Int32Array, asleep: number, signal: number, onWake: () => void, timeout = PARK_TIMEOUT) {
    this.#words = words;
    this.#asleep = asleep;
    this.#signal = signal;
    this.#onWake = onWake;
    this.#timeout = timeout;
  }

  /**
   * Flags this thread as asleep and starts waiting. The caller must look
   * once more at what it waits for after this returns; see the module doc.
   */
  want(): void {
    if (this.#wanted) return;
    this.#wanted = true;
    const words = this.#words;
    Atomics.store(words, this.#asleep, 1);
    const seen = Atomics.load(words, this.#signal);
    // The timer keeps the thread alive while it waits, and bounds a lost wake-up. Without waitAsync (browsers
    // that lack it) it is all there is, so it polls often. A wake-up leaves it armed, and a sleep soon after reuses
    // it: a timer set and cleared per sleep cost a reader woken 1,000 times a second a fifth more latency on Node.
    this.#timer ??= setTimeout(this.#timedOut, waitAsync === undefined ? POLL_WITHOUT_WAIT_ASYNC : this.#timeout);
    if (this.#inFlight || waitAsync === undefined) return; // one in flight wakes on any notify of this word
    // No timeout (Infinity, which also tells it from a close watch in tests): the timer above bounds the sleep.
    // One cost every wake-up a third more CPU (V8 posts a delayed task per call, which still fires after the
    // wake), and held the bus until it fired. One left pending after the last sleep settles at the next notify of
    // the word; the engines do not hold a bus for it, so an abandoned bus is still collected.
    const result = waitAsync(words, this.#signal, seen, Infinity);
    if (result.async) {
      this.#inFlight = true;
      result.value.then(this.#settled);
    } else queueMicrotask(this.#fire); // the signal moved already
  }

  /**
   * Stops waiting, and disarms the timer so an idle thread may exit. The
   * flag stays (a waker clears it, at the cost of one notify); a pending
   * `waitAsync` settles at the next notify of the word.
   */
  stop(): void {
    this.#wanted = false;
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Stops waiting for now, for a wake-up: the timer stays armed for a sleep
   * soon after, and is disarmed if nobody sleeps again within a few
   * microtask turns, so an idle thread may still exit at once.
   */
  rest(): void {
    this.#wanted = false;
    if (this.#timer === undefined || this.#idleTurns !== 0) return;
    this.#idleTurns = 1;
    queueMicrotask(this.#idleCheck);
  }

  #idleCheck = (): void => {
    if (this.#wanted || this.#timer === undefined) this.#idleTurns = 0;
    else if (this.#idleTurns++ < IDLE_TURNS) queueMicrotask(this.#idleCheck);
    else {
      this.#idleTurns = 0;
      this.stop();
    }
  };
}

/**
 * Calls `onChange` once `signal` no longer holds `seen`, without counting as
 * asleep (so no waker notifies for it) and without keeping the thread alive:
 * for watching what always notifies, a close. Returns false, and never
 * calls, where `Atomics.waitAsync` is missing.
 */
export function watchSignal(words: Int32Array, signal: number, seen: number, onChange: () => void): boolean {
  if (waitAsync === undefined) return false;
  const result = waitAsync(words, signal, seen);
  if (result.async) result.value.then(onChange);
  else queueMicrotask(onChange);
  return true;
}

let blockingAllowed: boolean | undefined;

/**
 * Whether this thread may block in `Atomics.wait`. Never on a browser
 * window's main thread, which is told from its global without calling
 * `Atomics.wait` there; elsewhere, a wait that returns at once says, once
 * (the engine throws where blocking is not allowed: a service worker, a
 * worklet).
 */
export function canBlock(): boolean {
  if (onWindowThread()) return false;
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

/** A browser window's main thread: its global is a `Window` with a document (a worker's is neither). */
function onWindowThread(): boolean {
  const global = globalThis as { Window?: unknown; document?: unknown };
  return typeof global.Window === "function" && globalThis instanceof global.Window && global.document !== undefined;
}

/**
 * Blocks until `ready()` is true or `deadline` (a `performance.now()` time)
 * passes; returns `ready()`'s last answer. Sleeps in slices of at most
 * {@linkcode PARK_TIMEOUT} so a lost wake-up only delays.
 */
export function sleepSync(
  words: Int32Array,
  asleep: number,
  signal: number,
  ready: () => boolean,
  deadline: number,
): boolean {
  if (!canBlock()) {
    throw new TypeError(
      "Cannot block on this thread: Atomics.wait is not allowed here (a browser window's main thread); await sub.wait() instead",
    );
  }
  for (;;) {
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.store(words, asleep, 1);
    const seen = Atomics.load(words, signal);
    if (ready()) return true;
    Atomics.wait(words, signal, seen, Math.min(left, PARK_TIMEOUT));
  }
}
