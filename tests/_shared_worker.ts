/**
 * The worker side of the concurrent law suite (`shared_threads.test.ts`):
 * reads, sends or writes on a `SharedBus` it attaches to, checking every value as it
 * goes, and replies with what it counted.
 *
 * Values carry their producer `p`, that producer's count `n` of values the
 * bus accepted from it, and a check derived from both (a string for JSON, a
 * number for f64 records), so a torn or misdelivered value shows.
 *
 * @module
 */

import { BusFullError, LaggedError, SharedBus, type SharedBusHandle } from "../mod.ts";

/** One value on the test bus. `c` is `check(p, n)`. */
export interface Stamp {
  p: number;
  n: number;
  c: number | string;
}

/** A check that changes with every value, and for JSON changes the encoded length too. */
export function check(p: number, n: number, json: boolean): number | string {
  return json ? `${p}:${n}:${"#".repeat((n * 7 + p) % 61)}` : n * 7 + p + 0.5;
}

export type ReadMode = "wait+drain" | "waitSync+drain" | "for await";

export interface ReadJob {
  kind: "read";
  handle: SharedBusHandle;
  mode: ReadMode;
  lag: "skip" | "error";
  /** Spin this many microseconds after every `slowEvery` values, to fall behind. */
  slowEvery: number;
  slowMicros: number;
  /** One producer: `n` is the bus's sequence number, so every jump must equal the growth of `missed`. */
  single: boolean;
}

export interface ProduceJob {
  kind: "produce";
  handle: SharedBusHandle;
  producer: number;
  count: number;
}

/** Producers on one thread that all `write` at once, `count` values each. */
export interface WriteJob {
  kind: "write";
  handle: SharedBusHandle;
  /** Their producer numbers. */
  producers: number[];
  count: number;
}

/** What a reader counted. */
export interface ReadReport {
  received: number;
  missed: number;
  lagErrors: number;
  /** Values out of order, per producer. */
  disorder: number;
  /** Jumps in `n` that did not equal the growth of `missed` (single producer only). */
  unexplained: number;
  /** Values whose check did not match. */
  torn: number;
  largestGap: number;
  /** Values received from each producer. */
  perProducer: number[];
}

/** Subscribes, then parks in `recv()` with nothing else keeping the thread alive; replies with each value. */
export interface ParkJob {
  kind: "park";
  handle: SharedBusHandle;
}

/** Sends `count` values as fast as it can, for readers to catch torn copies. */
export interface FloodJob {
  kind: "flood";
  handle: SharedBusHandle;
  count: number;
}

export interface ProduceReport {
  accepted: number;
  discarded: number;
  /** `BusFullError`s met (a writer must meet none). */
  full: number;
}

/** How many writes a writer keeps waiting at once before it awaits them. */
const WRITES_IN_FLIGHT = 16;

/**
 * Writers `producers`, all at once on this thread, each writing `count`
 * values through `bus.write()` with up to {@linkcode WRITES_IN_FLIGHT}
 * waiting, so this thread's queue holds several producers' writes. A
 * write that fails with `BusFullError` counts in `full`; any other error
 * rejects. One report per producer.
 */
export function writeAll(bus: SharedBus<Stamp>, producers: number[], count: number): Promise<ProduceReport[]> {
  const json = bus.handle.codec === "json";
  return Promise.all(producers.map(async (producer) => {
    const report: ProduceReport = { accepted: 0, discarded: 0, full: 0 };
    const note = (readers: number) => readers === 0 ? report.discarded++ : report.accepted++;
    const miss = (error: unknown) => {
      if (!(error instanceof BusFullError)) throw error;
      report.full++;
    };
    const waiting: Promise<unknown>[] = [];
    for (let n = 0; n < count; n++) {
      waiting.push(bus.write({ p: producer, n, c: check(producer, n, json) }).then(note, miss));
      if (waiting.length === WRITES_IN_FLIGHT) await Promise.all(waiting.splice(0));
      // Yield now and then, so the thread's own timers (a watchdog) run.
      if (n % 4096 === 4095) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(waiting);
    return report;
  }));
}

function spin(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until) { /* falling behind on purpose */ }
}

async function read(job: ReadJob): Promise<ReadReport> {
  const bus = SharedBus.attach<Stamp>(job.handle);
  const json = job.handle.codec === "json";
  const sub = bus.subscribe({ lag: job.lag });
  parentPort!.postMessage("subscribed");
  const report: ReadReport = {
    received: 0,
    missed: 0,
    lagErrors: 0,
    disorder: 0,
    unexplained: 0,
    torn: 0,
    largestGap: 0,
    perProducer: [],
  };
  const next: number[] = [];
  let missedSeen = 0;
  let lagged = 0;
  const see = (value: Stamp): void => {
    const { p, n, c } = value;
    if (c !== check(p, n, json)) report.torn++;
    const expected = next[p] ?? 0;
    if (n < expected) report.disorder++;
    if (job.single) {
      const grew = sub.missed - missedSeen;
      if (n - expected !== grew) report.unexplained++;
      if (lagged !== 0 && lagged !== grew) report.unexplained++;
      if (grew > report.largestGap) report.largestGap = grew;
      missedSeen = sub.missed;
      lagged = 0;
    }
    next[p] = n + 1;
    report.perProducer[p] = (report.perProducer[p] ?? 0) + 1;
    if (++report.received % job.slowEvery === 0) spin(job.slowMicros);
  };
  const drainAll = (): void => {
    for (;;) {
      try {
        if (sub.drain(see) === 0) return;
      } catch (error) {
        if (!(error instanceof LaggedError)) throw error;
        report.lagErrors++;
        lagged += error.missed;
      }
    }
  };
  if (job.mode === "wait+drain") {
    while (await sub.wait()) drainAll();
  } else if (job.mode === "waitSync+drain") {
    while (bus.waitSync(sub)) drainAll();
  } else {
    for (;;) {
      try {
        for await (const value of sub) see(value);
        break;
      } catch (error) {
        if (!(error instanceof LaggedError)) throw error;
        report.lagErrors++;
        lagged += error.missed;
      }
    }
  }
  report.missed = sub.missed;
  return report;
}

async function produce(job: ProduceJob): Promise<ProduceReport> {
  const bus = SharedBus.attach<Stamp>(job.handle);
  const json = job.handle.codec === "json";
  const report: ProduceReport = { accepted: 0, discarded: 0, full: 0 };
  const { producer } = job;
  for (let attempts = 0; attempts < job.count; attempts++) {
    const n = report.accepted;
    for (;;) {
      try {
        if (bus.send({ p: producer, n, c: check(producer, n, json) }) === 0) report.discarded++;
        else report.accepted++;
        break;
      } catch (error) {
        if (!(error instanceof BusFullError)) throw error;
        report.full++;
        await bus.ready;
      }
    }
  }
  return report;
}

async function park(job: ParkJob): Promise<never> {
  const bus = SharedBus.attach<number>(job.handle);
  const sub = bus.subscribe();
  parentPort!.postMessage("subscribed");
  for (;;) {
    // Only the parked read may keep this thread alive: the port must not.
    parentPort!.unref?.();
    const value = await sub.recv();
    parentPort!.ref?.();
    parentPort!.postMessage(value);
  }
}

function flood(job: FloodJob): number {
  const bus = SharedBus.attach<Stamp>(job.handle);
  for (let n = 0; n < job.count; n++) bus.send({ p: 0, n, c: check(0, n, true) });
  return job.count;
}

/** The worker's port. The specifier is a variable so `deno test` does not type-check Node's types in every worker. */
interface Port {
  on(event: "message", listener: (message: never) => void): void;
  postMessage(message: unknown): void;
  ref?(): void;
  unref?(): void;
}
const WORKER_THREADS = "node:worker_threads";
const { parentPort } = await import(WORKER_THREADS) as { parentPort: Port | null };

// Imported by the test for its types and `check`; it only serves jobs inside a worker.
parentPort?.on("message", async (job: ReadJob | ProduceJob | WriteJob | ParkJob | FloodJob | { kind: "ping" }) => {
  if (job.kind === "ping") return parentPort!.postMessage("pong");
  try {
    if (job.kind === "park") await park(job);
    else if (job.kind === "flood") parentPort!.postMessage(flood(job));
    else if (job.kind === "write") {
      parentPort!.postMessage(await writeAll(SharedBus.attach<Stamp>(job.handle), job.producers, job.count));
    } else parentPort!.postMessage(job.kind === "read" ? await read(job) : await produce(job));
  } catch (error) {
    parentPort!.postMessage({ error: String((error as Error)?.stack ?? error) });
  }
});
