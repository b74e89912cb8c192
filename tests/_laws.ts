/**
 * The accounting laws of a bus, written once and asserted by the chaos tests,
 * the bad-input tests, the leak tests and the soak (`soak/run.ts`).
 *
 * A {@linkcode Ledger} is the producer side: {@linkcode Ledger.offer} sends
 * the bus's own sequence number as the payload, so every value says where it
 * came from, and counts what the bus accepted, discarded or refused. A
 * {@linkcode Tally} is one subscriber's side: it sees every value read, on
 * whatever path, and every {@linkcode LaggedError}. The laws:
 *
 * - Order: a subscriber sees strictly increasing numbers: no duplicate, no
 *   reordering, on every reading path.
 * - No silent loss: a jump in the numbers equals the growth of `sub.missed`
 *   at that read; under `lag: "error"` a `LaggedError` reports every gap
 *   first, with its exact size; under `wait` and `drop-newest` there is no gap.
 * - Per subscriber: `received + missed` equals the values sent from its
 *   subscription to its last read; once it has read to the end of a closed
 *   bus, the values sent while it was subscribed.
 * - Bus-wide: `stats().sent`, `discarded` and `blocked` match what the
 *   producer saw; `stats().dropped` is the sum of every subscriber's
 *   `missed`, including those that left; `subscriberCount` is the number of
 *   subscribers not yet gone.
 *
 * Every broken law throws a {@linkcode LawError} naming the law.
 *
 * @module
 */

import { type Bus, BusFullError, LaggedError, type OverflowPolicy, type Subscriber } from "../mod.ts";

/** A broken accounting law. `law` names it; the message has the numbers. */
export class LawError extends Error {
  /** A short name of the law, such as `"order"` or `"bus-wide dropped"`. */
  readonly law: string;

  constructor(law: string, message: string) {
    super(`${law}: ${message}`);
    this.name = "LawError";
    this.law = law;
  }
}

/** How a subscriber stopped: read to the end of a closed bus, read everything then closed, or closed early. */
export type Departure = "ended" | "drained" | "closed";

/** One subscriber's side of the ledger. Feed it every value and every `LaggedError` it reads. */
export class Tally {
  readonly label: string;
  readonly sub: Subscriber<number>;
  /** `stats().sent` when it subscribed: the first number it can see (for `from: "next"`). */
  readonly join: number;
  /** Any gap or lag is a broken law: it reads often enough never to fall a ring behind. */
  readonly lossless: boolean;
  /** Subscribed with `lag: "error"`: every gap must be announced by a `LaggedError`. */
  readonly lagError: boolean;
  /** The number it expects next. */
  next: number;
  received = 0;
  /** The gaps it has been told about, through value jumps or `LaggedError`s. */
  missed = 0;
  lagErrors = 0;
  gone = false;
  readonly #ledger: Ledger;

  constructor(ledger: Ledger, sub: Subscriber<number>, label: string, lossless: boolean, lagError: boolean) {
    this.#ledger = ledger;
    this.sub = sub;
    this.label = label;
    this.lossless = lossless;
    this.lagError = lagError;
    this.join = this.next = ledger.bus.stats().sent;
  }

  /** Records one value read. The hot path is one comparison. */
  see(value: number): void {
    if (value !== this.next) this.#jump(value);
    this.next = value + 1;
    this.received++;
  }

  /** Records a `LaggedError` thrown or rejected by a read. */
  lagged(error: unknown): void {
    if (!(error instanceof LaggedError)) throw error;
    const grew = this.sub.missed - this.missed;
    if (!this.lagError) throw new LawError("lag policy", `${this.label} (lag: "skip") got ${error.message}`);
    if (this.lossless || this.#ledger.policy !== "drop-oldest") {
      throw new LawError("no loss", `${this.label} lagged by ${error.missed} under ${this.#ledger.policy}`);
    }
    if (error.missed !== grew || error.missed <= 0) {
      throw new LawError(
        "lagged count",
        `${this.label}: LaggedError.missed is ${error.missed}, missed grew by ${grew}`,
      );
    }
    this.missed += grew;
    this.next += grew;
    this.lagErrors++;
  }

  /**
   * Accounts for a gap that a read discovered without delivering a value:
   * `drain(fn, 0)` on a lagged subscriber moves it past the gap and counts it.
   * The next value must then follow the gap exactly, or {@linkcode see} throws.
   */
  catchUp(): void {
    const grew = this.sub.missed - this.missed;
    if (grew === 0) return;
    if (this.lossless || this.#ledger.policy !== "drop-oldest" || grew < 0) {
      throw new LawError("no loss", `${this.label}: missed grew by ${grew} under ${this.#ledger.policy}`);
    }
    this.missed += grew;
    this.next += grew;
  }

  /** `received + missed` equals what was sent from its subscription up to its last read. */
  balance(): void {
    if (this.sub.missed !== this.missed) {
      throw new LawError(
        "no silent loss",
        `${this.label}: sub.missed is ${this.sub.missed} but the values it read account for ${this.missed}`,
      );
    }
    if (this.received + this.missed !== this.next - this.join) {
      throw new LawError(
        "per-subscriber",
        `${this.label}: received ${this.received} + missed ${this.missed} != ${this.next - this.join} values sent ` +
          `from its subscription (at ${this.join}) to its last read (${this.next - 1})`,
      );
    }
  }

  #jump(value: number): void {
    const label = this.label;
    if (value < this.next) {
      throw new LawError("order", `${label} read ${value} after ${this.next - 1}: a duplicate or a reordering`);
    }
    const gap = value - this.next;
    const grew = this.sub.missed - this.missed;
    if (this.lagError) {
      throw new LawError("lag never silent", `${label} (lag: "error") skipped ${gap} values without a LaggedError`);
    }
    if (this.lossless || this.#ledger.policy !== "drop-oldest") {
      throw new LawError(
        "no loss",
        `${label} skipped ${gap} values (${this.next}..${value - 1}) under ${this.#ledger.policy}`,
      );
    }
    if (grew !== gap) {
      throw new LawError(
        "no silent loss",
        `${label} skipped ${gap} values (${this.next}..${value - 1}) but missed grew by ${grew}`,
      );
    }
    this.missed += grew;
  }
}

/**
 * The producer's side of the ledger, and the bus-wide laws. Track every
 * subscriber of the bus, so `subscriberCount` can be checked.
 */
export class Ledger {
  readonly bus: Bus<number>;
  readonly policy: OverflowPolicy;
  /** Values the bus accepted; the next payload. */
  accepted = 0;
  /** Sends `drop-newest` threw away. */
  discarded = 0;
  /** Sends `wait` refused with `BusFullError`. */
  blocked = 0;
  /** Subscribers not yet gone. */
  readonly live: Set<Tally> = new Set();
  /** Totals of the subscribers that left, so a long soak keeps no per-subscriber state. */
  readonly gone: { count: number; received: number; missed: number; lagErrors: number } = {
    count: 0,
    received: 0,
    missed: 0,
    lagErrors: 0,
  };
  /** An order-independent digest of every departure, to compare replays of a seed. */
  digest = 0;

  constructor(bus: Bus<number>) {
    this.bus = bus;
    this.policy = bus.overflow;
    this.accepted = bus.stats().sent;
  }

  /**
   * Sends the next number. Returns `true` if the bus took it, `false` if
   * `drop-newest` discarded it or `wait` refused it (then await `bus.ready`
   * or let subscribers read, and offer again: the number is reused).
   */
  offer(): boolean {
    const bus = this.bus;
    if (this.policy === "wait") {
      try {
        bus.send(this.accepted);
      } catch (error) {
        if (!(error instanceof BusFullError)) throw error;
        this.blocked++;
        return false;
      }
    } else if (bus.send(this.accepted) === 0 && bus.subscriberCount !== 0) {
      // 0 with subscribers means drop-newest threw the value away.
      if (this.policy !== "drop-newest") {
        throw new LawError("send", `send returned 0 with ${bus.subscriberCount} subscribers under ${this.policy}`);
      }
      this.discarded++;
      return false;
    }
    this.accepted++;
    return true;
  }

  /** Subscribes and tracks the new subscriber. */
  subscribe(label: string, options: { lag?: "skip" | "error"; lossless?: boolean } = {}): Tally {
    const lag = options.lag ?? "skip";
    return this.track(this.bus.subscribe({ lag }), label, options.lossless ?? false, lag === "error");
  }

  /** Tracks a subscriber made elsewhere (with `from: "next"`). */
  track(sub: Subscriber<number>, label: string, lossless = false, lagError = false): Tally {
    const tally = new Tally(this, sub, label, lossless, lagError);
    this.live.add(tally);
    return tally;
  }

  /**
   * Records that a subscriber is gone, and checks its final balance:
   * `"ended"`: it read to the end of the closed bus, so it accounts for every
   * value sent while it was subscribed; `"drained"`: it read everything, then
   * closed; `"closed"`: it closed early, so it accounts for a prefix.
   */
  leave(tally: Tally, how: Departure): void {
    if (tally.gone) throw new LawError("leave", `${tally.label} left twice`);
    tally.balance();
    const sent = this.bus.stats().sent;
    if (how === "closed" ? tally.next > sent : tally.next !== sent) {
      throw new LawError(
        "per-subscriber",
        `${tally.label} (${how}): received ${tally.received} + missed ${tally.missed} but ${sent - tally.join} ` +
          `values were sent while it was subscribed`,
      );
    }
    tally.gone = true;
    this.live.delete(tally);
    const gone = this.gone;
    gone.count++;
    gone.received += tally.received;
    gone.missed += tally.missed;
    gone.lagErrors += tally.lagErrors;
    this.digest = (this.digest + mix(tally.join, tally.received, tally.missed, tally.next)) >>> 0;
  }

  /** Asserts every law that holds at a quiet point (no read in flight). */
  check(where = ""): void {
    const stats = this.bus.stats();
    const at = where === "" ? "" : ` (${where})`;
    if (stats.sent !== this.accepted) {
      throw new LawError(
        "bus-wide sent",
        `stats().sent is ${stats.sent}, the producer had ${this.accepted} accepted${at}`,
      );
    }
    if (stats.discarded !== this.discarded) {
      throw new LawError(
        "bus-wide discarded",
        `stats().discarded is ${stats.discarded}, expected ${this.discarded}${at}`,
      );
    }
    if (stats.blocked !== this.blocked) {
      throw new LawError("bus-wide blocked", `stats().blocked is ${stats.blocked}, expected ${this.blocked}${at}`);
    }
    let missed = this.gone.missed;
    for (const tally of this.live) {
      tally.balance();
      if (tally.next > stats.sent) {
        throw new LawError(
          "per-subscriber",
          `${tally.label} read ${tally.next - 1}, past the last sent ${stats.sent - 1}`,
        );
      }
      missed += tally.missed;
    }
    if (stats.dropped !== missed) {
      throw new LawError(
        "bus-wide dropped",
        `stats().dropped is ${stats.dropped}, the subscribers' missed sum to ${missed}${at}`,
      );
    }
    if (this.policy !== "drop-oldest" && stats.dropped !== 0) {
      throw new LawError("no loss", `stats().dropped is ${stats.dropped} under ${this.policy}${at}`);
    }
    if (this.bus.subscriberCount !== this.live.size || stats.subscribers !== this.live.size) {
      throw new LawError(
        "subscriber count",
        `subscriberCount is ${this.bus.subscriberCount}, ${this.live.size} subscribers are not gone${at}`,
      );
    }
  }

  /** After `bus.close()` and every subscriber gone: the end-of-run laws. */
  finish(): void {
    this.check("finish");
    if (this.bus.subscriberCount !== 0) {
      throw new LawError("baseline", `subscriberCount is ${this.bus.subscriberCount} after every subscriber left`);
    }
  }
}

/** One departure, hashed (FNV-1a over four numbers). */
function mix(a: number, b: number, c: number, d: number): number {
  let h = 0x811c9dc5;
  for (const n of [a, b, c, d]) {
    h = Math.imul(h ^ (n & 0xffff), 0x01000193);
    h = Math.imul(h ^ (n >>> 16) ^ Math.floor(n / 2 ** 32), 0x01000193);
  }
  return h >>> 0;
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same sequence on
 * every runtime, so a failing run can be replayed.
 */
export class Prng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A new generator seeded from this one. */
  fork(): Prng {
    return new Prng(this.int(4294967296));
  }
}

/**
 * Resolves after the current macrotask, once every pending microtask has run.
 * Browsers have no `setImmediate`, and clamp nested `setTimeout(0)` to 4 ms,
 * which made the chaos tests four times slower in Chromium; a message on a
 * `MessageChannel` is a task without the clamp.
 */
export function macrotask(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => void };
  if (g.setImmediate) return new Promise((resolve) => g.setImmediate!(resolve));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/**
 * Collects garbage `rounds` times, each after a timer, and returns whether a
 * forced GC is available. A `WeakRef` keeps its target alive until the job
 * that made or dereferenced it ends; under Deno, `setImmediate` callbacks all
 * run in one such job, so only a timer is a safe boundary.
 */
export async function collectGarbage(rounds = 3): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (!forceGC()) return false;
  }
  return true;
}

/** Runs a full garbage collection if the runtime lets us; returns whether it did. */
export function forceGC(): boolean {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (typeof g.gc === "function") g.gc();
  else if (g.Bun !== undefined) g.Bun.gc(true);
  else return false;
  return true;
}

/**
 * How many garbage objects a forced GC may leave behind. Bun's collector
 * scans the machine stack conservatively, so a stale stack slot can keep the
 * most recent object alive; V8's collector is precise. A bus that held its
 * closed subscribers would keep all of them, so one is a safe allowance.
 */
export const STALE_REFS: number = (globalThis as { Bun?: unknown }).Bun === undefined ? 0 : 1;

/** The JavaScript heap in use, in bytes, on any runtime; `NaN` where unknown. */
export function heapUsed(): number {
  const g = globalThis as {
    Deno?: { memoryUsage(): { heapUsed: number } };
    process?: { memoryUsage(): { heapUsed: number } };
  };
  if (g.Deno !== undefined) return g.Deno.memoryUsage().heapUsed;
  if (g.process !== undefined) return g.process.memoryUsage().heapUsed;
  return NaN;
}

/** The resident set size, in bytes, on any runtime; `NaN` where unknown. */
export function rss(): number {
  const g = globalThis as {
    Deno?: { memoryUsage(): { rss: number } };
    process?: { memoryUsage(): { rss: number } };
  };
  if (g.Deno !== undefined) return g.Deno.memoryUsage().rss;
  if (g.process !== undefined) return g.process.memoryUsage().rss;
  return NaN;
}
