/**
 * The soak engine: one producer and a crowd of fast, slow and churning
 * subscribers on one bus, every reading path at once, and the accounting laws
 * of `tests/_laws.ts` asserted at every tick and at the end.
 *
 * Everything is driven by one seed. The producer sends a batch, lets the
 * synchronous readers (`drain`, `tryRecv`) read, then yields one macrotask,
 * during which every asynchronous reader (`wait` + `drain`, `for await`,
 * `readable`) runs until it has caught up or spent its quota for the tick.
 * So how far each subscriber lags is a function of the seed, not of the
 * machine's speed, and a run can be replayed exactly.
 *
 * Time is simulated: `simRate` events make one second, so `churnHz: 1000`
 * with the default rate of 10^6 events/s replaces a subscriber every 1000
 * events, however fast the machine is.
 *
 * @module
 */

import { Bus, CLOSED, EMPTY, LaggedError, type OverflowPolicy, type Subscriber } from "../mod.ts";
import {
  collectGarbage,
  type Departure,
  forceGC,
  heapUsed,
  LawError,
  Ledger,
  macrotask,
  Prng,
  rss,
  STALE_REFS,
  type Tally,
} from "../tests/_laws.ts";

/** The reading paths, each one subscriber's only way of reading. */
export const PATHS = ["drain", "tryRecv", "wait+drain", "for-await", "readable"] as const;
export type Path = typeof PATHS[number];

/** How a churning subscriber is told to go. */
type Leave =
  | "close"
  | "cancel"
  | "releaseLock"
  | "dispose"
  | "drain-close"
  | "break"
  | "throw"
  | "reader.cancel";

const LEAVES: Record<Path, readonly Leave[]> = {
  "drain": ["close", "cancel", "releaseLock", "dispose", "drain-close"],
  "tryRecv": ["close", "cancel", "releaseLock", "dispose", "drain-close"],
  "wait+drain": ["close", "cancel", "releaseLock", "dispose", "break"],
  "for-await": ["close", "cancel", "releaseLock", "dispose", "break", "throw"],
  "readable": ["close", "cancel", "releaseLock", "reader.cancel", "break"],
};

export interface SoakOptions {
  /** Values the bus must accept before it closes. */
  events: number;
  /** Subscriber slots; every fourth one churns. */
  subscribers: number;
  /** Subscribers replaced per simulated second. */
  churnHz: number;
  /** Events per simulated second. */
  simRate: number;
  policy: OverflowPolicy;
  capacity: number;
  seed: number;
  /** Wall-clock seconds between progress lines; 0 for none. */
  progressSeconds: number;
  /** Names the runtime in progress lines. */
  label: string;
  /** Where progress lines go. */
  log: (line: string) => void;
}

export interface SoakResult {
  label: string;
  seed: number;
  policy: OverflowPolicy;
  events: number;
  /** Sends tried: `events` plus those discarded or refused. */
  attempts: number;
  seconds: number;
  /** CPU seconds (user + system) this process spent on the run, where the runtime says; NaN elsewhere. */
  cpuSeconds: number;
  /** Events per second of wall time. */
  rate: number;
  sent: number;
  dropped: number;
  discarded: number;
  blocked: number;
  /** Subscribers that came and went, including the fixed ones at the end. */
  departures: number;
  received: number;
  /** Values read on each path. */
  byPath: Record<Path, number>;
  lagErrors: number;
  churns: number;
  /** Laws checked: one full check per tick. */
  checks: number;
  /** Heap after a forced GC once warmed up, the largest such sample later, and after the run, in bytes. */
  heap: { warm: number; max: number; end: number; peakRss: number; gc: boolean };
  /** Departed subscribers sampled with a WeakRef, and how many of them were collected. */
  collectable: { sampled: number; collected: number; survivors: string[] };
  /** Order-independent digest of every departure: equal digests for equal replays. */
  digest: string;
}

/** The defaults of `npm run soak`. */
export const DEFAULTS: Omit<SoakOptions, "log"> = {
  events: 1e7,
  subscribers: 32,
  churnHz: 1000,
  simRate: 1e6,
  policy: "drop-oldest",
  capacity: 256,
  seed: 1,
  progressSeconds: 5,
  label: "soak",
};

class Leaving extends Error {}

/** One subscriber and the loop that reads it. */
class Actor {
  readonly engine: Engine;
  readonly path: Path;
  readonly fast: boolean;
  readonly tally: Tally;
  readonly sub: Subscriber<number>;
  readonly rng: Prng;
  readonly see: (value: number) => void;
  leave: Leave | undefined;
  reader: ReadableStreamDefaultReader<number> | undefined;

  constructor(engine: Engine, path: Path, fast: boolean, lag: "skip" | "error", label: string) {
    this.engine = engine;
    this.path = path;
    this.fast = fast;
    this.rng = engine.rng.fork();
    this.tally = engine.ledger.subscribe(label, { lag, lossless: fast });
    this.sub = this.tally.sub;
    const tally = this.tally;
    this.see = (value) => tally.see(value);
  }

  get sync(): boolean {
    return this.path === "drain" || this.path === "tryRecv";
  }

  /** How many values it may read this tick. */
  quota(): number {
    const { closing, slowQuota } = this.engine;
    return this.fast || closing ? Infinity : slowQuota.min + this.rng.int(slowQuota.spread);
  }

  /** A synchronous reader's turn at a tick. Returns whether it has read to the end. */
  act(quota = this.quota()): boolean {
    const { sub, tally } = this;
    if (this.path === "drain") {
      for (let left = quota; left > 0;) {
        const n = this.#drain(left);
        if (n < 0) continue;
        if (n === 0) return this.engine.closing && sub.tryRecv() === CLOSED;
        left -= n;
      }
      return false;
    }
    for (let left = quota; left > 0; left--) {
      let value: number | typeof EMPTY | typeof CLOSED;
      try {
        value = sub.tryRecv();
      } catch (error) {
        tally.lagged(error);
        left++;
        continue;
      }
      if (value === EMPTY) return false;
      if (value === CLOSED) return true;
      tally.see(value);
    }
    return false;
  }

  /** Tells it to go, the way `how` says. Returns the departure if it is gone at once. */
  dismiss(how: Leave): Departure | undefined {
    this.leave = how;
    const sub = this.sub;
    switch (how) {
      case "close":
        sub.close();
        break;
      case "cancel":
        void sub.cancel();
        break;
      case "releaseLock":
        sub.releaseLock();
        break;
      case "dispose":
        sub[Symbol.dispose]();
        break;
      case "reader.cancel":
        void this.reader!.cancel();
        break;
      case "drain-close":
        this.act(Infinity);
        sub.close();
        return "drained";
      case "break":
      case "throw":
        // Read by the actor's own loop at its next value.
        return undefined;
    }
    return this.sync ? "closed" : undefined;
  }

  /** An asynchronous reader's loop; resolves once it is gone. */
  async run(): Promise<void> {
    const how = this.path === "wait+drain"
      ? await this.#waitDrain()
      : this.path === "for-await"
      ? await this.#forAwait()
      : await this.#readable();
    this.engine.depart(this, how);
  }

  /** For a slow reader: after its quota, sleep until the next tick, unless it has been told to go. */
  /** Drains up to `left` values; -1 when the read reported a lag instead (tallied). */
  #drain(left: number): number {
    try {
      return this.sub.drain(this.see, left);
    } catch (error) {
      this.tally.lagged(error);
      return -1;
    }
  }

  async #rest(): Promise<number> {
    if (this.leave === undefined) await this.engine.nextTick();
    return this.quota();
  }

  async #waitDrain(): Promise<Departure> {
    const { sub } = this;
    let left = this.quota();
    while (await sub.wait()) {
      if (this.leave === "break") {
        sub.close();
        return "closed";
      }
      const n = this.#drain(left);
      if (n < 0) continue;
      left -= n;
      if (left <= 0) left = await this.#rest();
    }
    return this.leave === undefined ? "ended" : "closed";
  }

  async #forAwait(): Promise<Departure> {
    const { sub, tally } = this;
    let left = this.quota();
    for (;;) {
      try {
        for await (const value of sub) {
          tally.see(value);
          if (--left === 0) left = await this.#rest();
          if (this.leave === "break") return "closed"; // return() must unsubscribe
          if (this.leave === "throw") throw new Leaving(); // so must a throw
        }
        return this.leave === undefined ? "ended" : "closed";
      } catch (error) {
        if (error instanceof Leaving) return "closed";
        if (!(error instanceof LaggedError)) throw error;
        tally.lagged(error); // the subscription stays open: iterate again
      }
    }
  }

  async #readable(): Promise<Departure> {
    const reader = this.reader = this.sub.readable.getReader();
    const tally = this.tally;
    let left = this.quota();
    try {
      for (;;) {
        const result = await reader.read();
        if (result.done) return this.leave === undefined ? "ended" : "closed";
        tally.see(result.value);
        if (--left === 0) left = await this.#rest();
        if (this.leave === "break") {
          await reader.cancel();
          return "closed";
        }
      }
    } catch (error) {
      // A lag under lag: "error" errors the stream, which ends the subscription.
      tally.lagged(error);
      return "closed";
    }
  }
}

class Engine {
  readonly options: SoakOptions;
  readonly bus: Bus<number>;
  readonly ledger: Ledger;
  readonly rng: Prng;
  /** A slow reader reads `min` plus up to `spread` values a tick; a batch averages `capacity / 2`. */
  readonly slowQuota: { min: number; spread: number };
  readonly slots: (Actor | undefined)[] = [];
  readonly churnSlots: number[] = [];
  readonly syncActors: Set<Actor> = new Set();
  readonly running: Set<Promise<void>> = new Set();
  closing = false;
  failure: unknown = undefined;
  churns = 0;
  checks = 0;
  readonly byPath: Record<Path, number> = { "drain": 0, "tryRecv": 0, "wait+drain": 0, "for-await": 0, "readable": 0 };
  #tick: Promise<void> | undefined;
  #openTick: (() => void) | undefined;
  #names = 0;
  #weak: { ref: WeakRef<object>; label: string }[] = [];
  #sampled = 0;

  constructor(options: SoakOptions) {
    this.options = options;
    this.bus = new Bus<number>({ capacity: options.capacity, overflow: options.policy });
    this.ledger = new Ledger(this.bus);
    this.rng = new Prng(options.seed);
    const capacity = this.bus.capacity;
    // Under drop-oldest slow readers fall a ring behind within a few ticks. Under the lossless policies
    // the slowest reader paces the producer, so they read more (still less than a batch) to keep the run short.
    this.slowQuota = options.policy === "drop-oldest"
      ? { min: 1, spread: Math.max(1, capacity >> 4) }
      : { min: Math.max(1, capacity >> 3), spread: Math.max(1, capacity >> 2) };
  }

  /** Resolves at the next tick: how a slow asynchronous reader waits its turn. */
  nextTick(): Promise<void> {
    if (this.closing) return Promise.resolve();
    return this.#tick ??= new Promise((resolve) => this.#openTick = resolve);
  }

  /** Fills the slots: fast and slow readers on every path, every fourth slot churning. */
  populate(): void {
    const n = this.options.subscribers;
    const fastPerValue = new Set<Path>();
    for (let i = 0; i < n; i++) {
      if (i % 4 === 3 || (n < 4 && i === n - 1 && this.options.churnHz > 0)) this.churnSlots.push(i);
      const path = PATHS[i % PATHS.length];
      let fast = i % 2 === 0;
      // One promise per value is costly, so only one fixed reader per such path reads everything.
      if (fast && (path === "for-await" || path === "readable")) {
        fast = !fastPerValue.has(path);
        fastPerValue.add(path);
      }
      const lag = !fast && i % 3 === 2 && path !== "readable" ? "error" : "skip";
      this.slots.push(this.spawn(path, fast, lag));
    }
  }

  spawn(path: Path, fast: boolean, lag: "skip" | "error"): Actor {
    const actor = new Actor(this, path, fast, lag, `#${this.#names++} ${fast ? "fast" : "slow"} ${path} ${lag}`);
    if (actor.sync) this.syncActors.add(actor);
    else {
      const done = actor.run().catch((error) => this.failure ??= error);
      this.running.add(done);
      done.then(() => this.running.delete(done));
    }
    return actor;
  }

  /** Replaces the subscriber in one churn slot, by one of the ways a subscriber can leave. */
  churn(): void {
    this.churns++;
    const rng = this.rng;
    const slot = rng.pick(this.churnSlots);
    const old = this.slots[slot];
    if (old !== undefined && !old.tally.gone && old.leave === undefined) {
      const how = old.dismiss(rng.pick(LEAVES[old.path]));
      if (how !== undefined) this.depart(old, how);
    }
    const path = rng.pick(PATHS);
    this.slots[slot] = this.spawn(path, rng.int(4) === 0, rng.int(5) === 0 ? "error" : "skip");
  }

  depart(actor: Actor, how: Departure): void {
    this.ledger.leave(actor.tally, how);
    this.byPath[actor.path] += actor.tally.received;
    this.syncActors.delete(actor);
    // Sample departed subscribers to check that nothing keeps them alive.
    if ((this.#sampled++ & 63) === 0 || this.closing) {
      if (this.#weak.length === 1024) this.#weak.splice(0, 512);
      this.#weak.push({ ref: new WeakRef(actor.sub), label: `${actor.tally.label} (${actor.leave ?? how})` });
    }
  }

  /** The end of a tick: synchronous readers read, sleeping readers wake. */
  tick(): void {
    for (const actor of this.syncActors) if (actor.act()) this.depart(actor, "ended");
    const open = this.#openTick;
    this.#tick = this.#openTick = undefined;
    open?.();
  }

  rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  collectable(): { sampled: number; collected: number; survivors: string[] } {
    const survivors = this.#weak.filter((weak) => weak.ref.deref() !== undefined).map((weak) => weak.label);
    return { sampled: this.#weak.length, collected: this.#weak.length - survivors.length, survivors };
  }
}

/** CPU seconds used by this process so far, where the runtime has `process.cpuUsage()`. */
function cpuSeconds(): number {
  const usage = (globalThis as { process?: { cpuUsage?(): { user: number; system: number } } }).process?.cpuUsage?.();
  return usage === undefined ? NaN : (usage.user + usage.system) / 1e6;
}

/** The heap after a full GC where the runtime allows one; otherwise as it is. */
async function settledHeap(): Promise<number> {
  await collectGarbage();
  return heapUsed();
}

/** Nothing grows with the number of events: no per-event or per-subscriber state survives a GC. */
function assertFlat(gc: boolean, warm: number, now: number, when: string): void {
  if (gc && now > warm + Math.max(16 * 2 ** 20, warm / 2)) {
    throw new LawError("heap flat", `heap grew from ${mb(warm)} after warm-up to ${mb(now)} ${when}`);
  }
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * Runs a soak and returns its figures. Throws a {@linkcode LawError} on the
 * first broken law.
 */
export async function soak(options: SoakOptions): Promise<SoakResult> {
  const engine = new Engine(options);
  const { bus, ledger, rng } = engine;
  const { events, log, label } = options;
  const capacity = bus.capacity;
  const churnEvery = options.churnHz > 0 ? Math.max(1, Math.round(options.simRate / options.churnHz)) : Infinity;
  let nextChurn = churnEvery;
  const warmAt = Math.min(events, Math.max(capacity * 64, Math.floor(events / 20)));
  let attempts = 0;
  let stalled = 0;
  let warm = NaN;
  let maxHeap = NaN;
  let peakRss = rss();
  const gc = forceGC();

  engine.populate();
  const start = performance.now();
  const cpuStart = cpuSeconds();
  let lastProgress = start;
  const progress = (now: number) => {
    const elapsed = (now - start) / 1000;
    const rate = ledger.accepted / elapsed;
    const done = ledger.accepted.toLocaleString("en-US");
    const pct = (100 * ledger.accepted / events).toFixed(1);
    log(
      `[${label}] ${done}/${events.toLocaleString("en-US")} events (${pct}%)  ${(rate / 1e6).toFixed(2)} M ev/s  ` +
        `ETA ${duration((events - ledger.accepted) / rate)}  heap ${mb(heapUsed())}  rss ${mb(rss())}  ` +
        `subs ${bus.subscriberCount}  dropped ${bus.stats().dropped.toLocaleString("en-US")}`,
    );
  };

  while (ledger.accepted < events) {
    const batch = 1 + rng.int(Math.min(capacity, events - ledger.accepted));
    let full = false;
    for (let k = 0; k < batch; k++) {
      if (ledger.accepted >= nextChurn) {
        nextChurn += churnEvery;
        engine.churn();
      }
      attempts++;
      if (!ledger.offer() && ledger.policy === "wait") {
        full = true;
        break;
      }
    }
    let opened = false;
    if (full) bus.ready.then(() => opened = true);
    engine.tick();
    await macrotask();
    engine.rethrow();
    if (full) {
      // bus.ready has resolved exactly when there is room again.
      attempts++;
      if (ledger.offer() !== opened) {
        throw new LawError("ready", `bus.ready ${opened ? "resolved" : "stayed pending"} but send disagreed`);
      }
      stalled = opened ? 0 : stalled + 1;
      if (stalled > 1000) throw new LawError("progress", "the wait-policy producer made no progress in 1000 ticks");
    }
    ledger.check();
    engine.checks++;
    if (Number.isNaN(warm) && ledger.accepted >= warmAt) {
      warm = maxHeap = await settledHeap();
    }
    const now = performance.now();
    if (options.progressSeconds > 0 && now - lastProgress >= options.progressSeconds * 1000) {
      lastProgress = now;
      progress(now);
      peakRss = Math.max(peakRss, rss());
      if (!Number.isNaN(warm)) {
        maxHeap = Math.max(maxHeap, await settledHeap());
        assertFlat(gc, warm, maxHeap, "during the run");
      }
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSeconds() - cpuStart;
  if (options.progressSeconds > 0) progress(performance.now());

  // The end: close, let every subscriber read what was retained for it, and settle the books.
  bus.close();
  engine.closing = true;
  engine.tick();
  for (const actor of engine.syncActors) {
    throw new LawError("closing", `${actor.tally.label} did not end after the bus closed`);
  }
  while (engine.running.size !== 0) {
    await Promise.all(engine.running);
    await macrotask();
  }
  engine.rethrow();
  ledger.finish();
  engine.checks++;
  engine.slots.length = 0;
  await macrotask();
  const end = await settledHeap();
  assertFlat(gc, warm, end, "at the end");
  const collectable = engine.collectable();
  // A closed subscriber can outlive a forced GC for a while inside the runtime's own machinery (Bun's conservative
  // stack scan; a stream that has just closed on any runtime), so a short run allows a few survivors. A bus that held
  // its closed subscribers would keep every one of them, so half is still a sharp test.
  const survivorsAllowed = Math.max(1, STALE_REFS, Math.floor(collectable.sampled / 2));
  if (gc && collectable.sampled - collectable.collected > survivorsAllowed) {
    throw new LawError(
      "collectable",
      `${collectable.sampled - collectable.collected} of ${collectable.sampled} sampled closed subscribers ` +
        `survived a full GC: ${collectable.survivors.join(", ")}`,
    );
  }
  const stats = bus.stats();
  return {
    label,
    seed: options.seed,
    policy: options.policy,
    events: ledger.accepted,
    attempts,
    seconds,
    cpuSeconds: cpu,
    rate: ledger.accepted / seconds,
    sent: stats.sent,
    dropped: stats.dropped,
    discarded: stats.discarded,
    blocked: stats.blocked,
    departures: ledger.gone.count,
    received: ledger.gone.received,
    byPath: engine.byPath,
    lagErrors: ledger.gone.lagErrors,
    churns: engine.churns,
    checks: engine.checks,
    heap: { warm, max: maxHeap, end, peakRss: Math.max(peakRss, rss()), gc },
    collectable,
    digest: (ledger.digest >>> 0).toString(16).padStart(8, "0"),
  };
}
