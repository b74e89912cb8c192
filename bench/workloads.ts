/**
 * Every benchmark workload, defined once. `bench/mitata.ts` (Bun, Node, and
 * Deno for the matrix) and `bench/deno_bench.ts` (`deno bench`) register
 * the same {@linkcode cases}; {@linkcode measureLatency} and
 * {@linkcode measureAllocations} are the measurements a timer loop cannot
 * make.
 *
 * The timed workloads share one driver: a round sends {@linkcode CHUNK}
 * values from a fixed pool and ends when every subscriber has received them
 * (sync subjects: after `flush`; async ones: when the last handler wakes the
 * producer). So events/s is `CHUNK / round time` and deliveries/s is that
 * times the subscribers. Every delivery is counted and checksummed, and the
 * counts are checked against what was sent.
 *
 * Names follow the seed's workloads:
 * 1. `send`: `Bus.send` two ways, each beside the limit ring doing the same.
 *    `send/*.overwrite/S=n`: n subscribers that never read, so once the ring
 *    is full every send overwrites the slowest reader's value (S=0: nobody
 *    subscribed). `send/*.fanout/S=n`: the subscribers `drain` every round,
 *    as in a fan-out, but only the sends are timed (see
 *    {@linkcode Case.timing}).
 * 2. `fanout`: 1 producer, S subscribers, through every subject.
 * 3. `producers4`: the seed's reference, 4 producers x 8 subscribers: a
 *    round is four turns of `CHUNK / 4` sends with the consumers woken
 *    between turns, as four producer tasks on one event loop would do.
 * 4. `latency`: publish->recv, 1 producer x 4 consumers.
 * 5. `lag`: 8 subscribers on wait()+drain(), one of them slow.
 * 6. `coldStart`: `new Bus(256)`, and its first `subscribe()`, beside the
 *    parts a ring is made of.
 * 7. `alloc`: heap bytes per send and per delivery.
 * 8. `churn`: a subscriber leaves and another joins at 100 Hz and 10 kHz.
 * 9. `cliff`: drain, wait()+drain and tryRecv at S=8 on buses started past
 *    2^31 and 2^32, beside a fresh bus, and the limit ring the same way
 *    (its positions become doubles there, which the bus must not suffer).
 *    They run in a phase of their own after every other case, so the
 *    engine's memory of big positions cannot reach the other figures.
 * 10. `capacity`: p95 latency and bytes per bus at capacities 64 to 65,536
 *    ({@linkcode measureLatency}, {@linkcode measureBusMemory}).
 *
 * @module
 */

import { do_not_optimize } from "mitata";
import { Bus, startSequenceAt } from "./_bus.ts";
import { bytesPerCall, gc, median, quantile, retainedBytes } from "./_measure.ts";
import {
  consumeBatches,
  fresh,
  type Handler,
  type Payload,
  type Subject,
  SUBJECTS,
  type SubjectSpec,
} from "./_subjects.ts";

/** Ring size of every bus and ring under test, the seed's default. */
export const CAPACITY = 256;
/** Values sent per round: half a ring, so consumers that keep up never lag. */
export const CHUNK = 128;
/** How many values the slow subscriber of the `lag` workload reads per wake. */
export const SLOW_BATCH = 16;
export const CHURN_HZ: readonly number[] = [0, 100, 10_000];
export const LATENCY_BURST = 8;
export const LATENCY_CONSUMERS = 4;

const POOL_MASK = 1023;
const payloads: Payload[] = Array.from({ length: POOL_MASK + 1 }, (_, id) => ({ id, sentAt: 0 }));

/** Where handlers count and checksum what they receive, and wake a producer waiting for a count. */
export class Sink {
  deliveries = 0;
  checksum = 0;
  /** The count a producer waits for; -1 when none waits. */
  target = -1;
  #resolve: (() => void) | undefined;

  reset(): void {
    this.deliveries = this.checksum = 0;
    this.target = -1;
    this.#resolve = undefined;
  }

  /** Resolves once `deliveries` reaches `target`. */
  reached(target: number): Promise<void> | undefined {
    if (this.deliveries >= target) return undefined;
    this.target = target;
    return new Promise((resolve) => this.#resolve = resolve);
  }

  wake(): void {
    this.target = -1;
    const resolve = this.#resolve!;
    this.#resolve = undefined;
    resolve();
  }
}

/** A sink whose handlers also record each value's publish->recv time. */
class LatencySink extends Sink {
  readonly samples: Float64Array;
  recorded = 0;
  recording = false;

  constructor(size: number) {
    super();
    this.samples = new Float64Array(size);
  }

  record(value: Payload): void {
    if (this.recording && this.recorded < this.samples.length) {
      this.samples[this.recorded++] = performance.now() - value.sentAt;
    }
  }
}

/** Gives every compiled function a source of its own, so the engine caches none of them together. */
let serial = 0;

/**
 * One handler per subscriber, each compiled from its own source, so the JIT
 * cannot share or inline one closure for all of them, as it could for
 * closures from one factory. Each weighs the checksum differently.
 */
export function makeHandlers(count: number, sink: Sink): Handler[] {
  const record = sink instanceof LatencySink ? "sink.record(value);" : "";
  return Array.from({ length: count }, (_, i) =>
    new Function(
      "sink",
      `return function deliver${serial++}(value) {
        sink.checksum = (sink.checksum + value.id * ${2 * i + 1}) | 0;
        ${record}
        if (++sink.deliveries === sink.target) sink.wake();
      };`,
    )(sink));
}

/**
 * One sink and set of handlers per subscriber count, shared by every case
 * with that count. Deno keeps every function compiled by `new Function`
 * alive, so compiling handlers per case or per fixture would grow its heap
 * by megabytes a case, and slow every collection after. Cases never run at
 * the same time, so they can share the sink too.
 */
const handlerSets = new Map<number, { sink: Sink; handlers: Handler[] }>();
function handlerSet(count: number): { sink: Sink; handlers: Handler[] } {
  let set = handlerSets.get(count);
  if (set === undefined) {
    const sink = new Sink();
    set = { sink, handlers: makeHandlers(count, sink) };
    handlerSets.set(count, set);
  }
  return set;
}

interface RoundPlan {
  mode: "sync" | "async";
  chunk: number;
  /** Sends per round are split into this many turns, with the consumers woken between them. */
  turns: number;
  /** Whether subscribers read (false: `send` alone). */
  read: boolean;
  deliveriesPerRound: number;
  /** Whether the round times its own sends (sync subjects only); see {@linkcode Case.timing}. */
  timeSends: boolean;
}

/** The round driver, self-contained: each case runs its own copy (see {@linkcode fresh}). */
function roundDriver(subject: Subject, sink: Sink, pool: Payload[], plan: RoundPlan) {
  const { chunk, turns, read, deliveriesPerRound } = plan;
  const send = subject.send;
  const flush = subject.flush;
  const tick = subject.tick;
  const share = chunk / turns;
  let seq = 0;
  let rounds = 0;
  const expected = () => (read ? rounds * deliveriesPerRound : 0);
  if (plan.mode === "sync" && plan.timeSends) {
    // Two clock readings with nothing between them, then the sends between two more: the first pair is
    // what the clock adds to the second, subtracted as a median over the same rounds. The latest 65,536
    // rounds are kept (literals, not constants: the driver is compiled from its own source).
    const sends = new Float64Array(1 << 16);
    const clock = new Float64Array(1 << 16);
    return {
      expected,
      run() {
        const c0 = performance.now();
        const c1 = performance.now();
        const t0 = performance.now();
        for (let k = 0; k < chunk; k++) send(pool[seq++ & 1023]);
        const t1 = performance.now();
        if (read) flush();
        sends[rounds & 0xffff] = t1 - t0;
        clock[rounds & 0xffff] = c1 - c0;
        rounds++;
      },
      timings: () => {
        const n = Math.min(rounds, 1 << 16);
        return { sends: sends.slice(0, n), clock: clock.slice(0, n) };
      },
    };
  }
  if (plan.mode === "sync") {
    return {
      expected,
      run() {
        for (let k = 0; k < chunk; k++) send(pool[seq++ & 1023]);
        if (read) flush();
        rounds++;
      },
      timings: undefined,
    };
  }
  return {
    expected,
    async run() {
      for (let turn = 0; turn < turns; turn++) {
        if (turn !== 0) await undefined;
        for (let k = 0; k < share; k++) send(pool[seq++ & 1023]);
      }
      rounds++;
      if (tick !== undefined) tick();
      await sink.reached(rounds * deliveriesPerRound);
    },
    timings: undefined,
  };
}

/** Nanoseconds per round of sends, from a self-timed round's readings; see {@linkcode roundDriver}. */
function sendNs({ sends, clock }: { sends: Float64Array; clock: Float64Array }): number {
  return Math.max(0, median([...sends]) - median([...clock])) * 1e6;
}

/** What a case reports after its runs: counts to check, and the bus's counters where it has them. */
export interface Outcome {
  delivered: number;
  expected: number;
  checksum: number;
  counters?: Record<string, number>;
  /** Self-timed cases: nanoseconds per run of the timed part, which replaces the run's own time. */
  timedNs?: number;
}

export interface Fixture {
  run(): void | Promise<void>;
  close(): Outcome;
}

export interface Case {
  /** `workload/subject/variant`, stable across runs: results and baselines are keyed by it. */
  readonly id: string;
  readonly workload: string;
  readonly subject: string;
  readonly label: string;
  readonly family: SubjectSpec["family"];
  readonly mode: SubjectSpec["mode"];
  readonly subscribers: number;
  readonly eventsPerRun: number;
  readonly deliveriesPerRun: number;
  /**
   * "run": the figure is the time of a whole run, as the timer loop sees it.
   * "sends": the run times its own sends and the figure is that time (the
   * reads that follow are left out); `deno bench` cannot report it.
   */
  readonly timing: "run" | "sends";
  /** "main", or "cliff": measured after every main case (see the module doc). */
  readonly phase: "main" | "cliff";
  /** `timed: false` leaves the clock out of a self-timed case, for the allocation method. */
  setup(options?: { timed?: boolean }): Fixture;
}

interface RoundCaseOptions {
  workload: string;
  subject: string;
  spec: SubjectSpec;
  variant: string;
  subscribers: number;
  turns?: number;
  read?: boolean;
  label?: string;
  timeSends?: boolean;
  start?: number;
  phase?: Case["phase"];
}

function roundCase(
  {
    workload,
    subject,
    spec,
    variant,
    subscribers,
    turns = 1,
    read = true,
    label = spec.label,
    timeSends = false,
    start = 0,
    phase = "main",
  }: RoundCaseOptions,
): Case {
  const deliveriesPerRun = read ? CHUNK * subscribers : 0;
  const plan = { mode: spec.mode, chunk: CHUNK, turns, read, deliveriesPerRound: deliveriesPerRun, timeSends };
  const driverOf = fresh(roundDriver);
  const untimedDriverOf = timeSends ? fresh(roundDriver) : driverOf;
  return {
    id: `${workload}/${subject}/${variant}`,
    workload,
    subject,
    label,
    family: spec.family,
    mode: spec.mode,
    subscribers,
    eventsPerRun: CHUNK,
    deliveriesPerRun,
    timing: timeSends ? "sends" : "run",
    phase,
    setup({ timed = true } = {}) {
      const { sink, handlers } = handlerSet(subscribers);
      sink.reset();
      const live = spec.create(handlers, CAPACITY, start);
      const driver = timed ? driverOf(live, sink, payloads, plan) : untimedDriverOf(live, sink, payloads, {
        ...plan,
        timeSends: false,
      });
      return {
        run: driver.run,
        close() {
          const counters = live.stats?.();
          live.close();
          do_not_optimize(sink.checksum);
          const timedNs = driver.timings ? sendNs(driver.timings()) : undefined;
          return {
            delivered: sink.deliveries,
            expected: driver.expected(),
            checksum: sink.checksum,
            counters,
            timedNs,
          };
        },
      };
    },
  };
}

const nothing = (): void => {};

/**
 * Bus wait()+drain() with the extras of the `lag` and `churn` workloads:
 * `slow` more subscribers that read at most {@linkcode SLOW_BATCH} values per
 * wake, and one subscriber replaced `churnHz` times a second. Their
 * deliveries go to a sink of their own, outside the counts the producer
 * waits for.
 */
function busWithExtras({ slow = 0, churnHz = -1 }): SubjectSpec {
  return {
    ...SUBJECTS["bus.wait"],
    create(handlers, capacity) {
      const bus = new Bus<Payload>(capacity);
      for (const handler of handlers) consumeBatches(bus.subscribe(), handler);
      const aside = new Sink();
      for (const handler of makeHandlers(slow, aside)) consumeBatches(bus.subscribe(), handler, SLOW_BATCH);
      const [churner] = makeHandlers(1, aside);
      const join = () => {
        const sub = bus.subscribe();
        consumeBatches(sub, churner);
        return sub;
      };
      let joined = churnHz < 0 ? undefined : join();
      let churned = 0;
      const started = performance.now();
      return {
        send: (value) => bus.send(value),
        flush: nothing,
        close: () => bus.close(),
        stats: () => ({ sent: bus.stats().sent, dropped: bus.stats().dropped, churned }),
        tick: joined === undefined ? undefined : () => {
          const due = Math.floor((performance.now() - started) * churnHz / 1000);
          for (; churned < due; churned++) {
            joined!.close();
            joined = join();
          }
        },
      };
    },
  };
}

/** A finalization registry like the one that watches for forgotten subscribers. */
const registry = new FinalizationRegistry<number>(nothing);

/**
 * Cold start: the bus's constructor and its first subscribe, beside the
 * parts they are made of (for capacity 256: 256 slots, and a histogram of
 * 512 counts).
 */
const coldStarts: Record<string, { label: string; family: SubjectSpec["family"]; make: () => unknown }> = {
  "bus.options": { label: "new Bus({ capacity: 256 })", family: "ours", make: () => new Bus({ capacity: 256 }) },
  "bus.number": { label: "new Bus(256)", family: "ours", make: () => new Bus(256) },
  "bus.subscribed": { label: "new Bus(256).subscribe()", family: "ours", make: () => new Bus(256).subscribe() },
  // Every subscriber costs the collector its FinalizationRegistry entry, closed or dropped.
  "bus.closed": {
    label: "new Bus(256).subscribe(), then close()",
    family: "ours",
    make: () => {
      const sub = new Bus(256).subscribe();
      sub.close();
      return sub;
    },
  },
  "array": { label: "part: new Array(256)", family: "peer", make: () => new Array(256) },
  "pushed": {
    label: "part: [] and 256 push()",
    family: "peer",
    make: () => {
      const slots: unknown[] = [];
      for (let i = 0; i < 256; i++) slots.push(undefined);
      return slots;
    },
  },
  "filled": { label: "part: new Array(256).fill()", family: "peer", make: () => new Array(256).fill(undefined) },
  "int32Array": { label: "part: new Int32Array(256)", family: "peer", make: () => new Int32Array(256) },
  "int32Array512": { label: "part: new Int32Array(512)", family: "peer", make: () => new Int32Array(512) },
  "registered": {
    label: "part: FinalizationRegistry register()",
    family: "peer",
    make: () => {
      const object = {};
      registry.register(object, 0);
      return object;
    },
  },
};

function coldStartCase(subject: string, { label, family, make }: (typeof coldStarts)[string]): Case {
  return {
    id: `coldStart/${subject}/-`,
    workload: "coldStart",
    subject,
    label,
    family,
    mode: "sync",
    subscribers: 0,
    eventsPerRun: 1,
    deliveriesPerRun: 0,
    timing: "run",
    phase: "main",
    setup: () => ({
      run: () => do_not_optimize(make()),
      close: () => ({ delivered: 0, expected: 0, checksum: 0 }),
    }),
  };
}

const ASYNC_SUBJECTS = Object.keys(SUBJECTS).filter((id) => SUBJECTS[id].mode === "async");

/** Where the `cliff` workload starts buses and rings, by the label in its case ids. */
export const CLIFF_STARTS: Readonly<Record<string, number>> = { "0": 0, "2^31": 2 ** 31, "2^32": 2 ** 32 };
/** The subjects of the `cliff` workload: the bus's batch and per-call paths, and the limit ring. */
export const CLIFF_SUBJECTS: readonly string[] = ["bus.drain", "bus.wait", "bus.tryRecv", "limit.sync"];

/**
 * How `deno bench` and mitata's tables group a case, and whether it is a
 * group's baseline: a workload at one subscriber count against its limit
 * ring, except the cliff, where each path is grouped with its fresh start.
 */
export function groupOf(c: Case): { name: string; baseline: boolean } {
  const variant = c.id.slice(c.id.lastIndexOf("/") + 1);
  return c.workload === "cliff"
    ? { name: `cliff ${c.subject}`, baseline: variant === "start=0" }
    : { name: `${c.workload} ${variant}`, baseline: c.family === "limit" };
}

/** Every timed case of `profile`: the main phase in run order, then the cliff phase. */
export function cases(profile: Profile): Case[] {
  const all: Case[] = [];
  const send = (subject: string, spec: SubjectSpec, variant: string, subscribers: number, read: boolean) =>
    roundCase({
      workload: "send",
      subject,
      spec,
      variant,
      subscribers,
      read,
      timeSends: read,
      label: `${spec.family === "limit" ? "limit: ring send" : "Bus send()"}, ${
        read ? "readers keep up (fan-out)" : subscribers === 0 ? "no subscribers" : "nobody reads (overwrite)"
      }`,
    });
  for (const subscribers of [0, 1, 8]) {
    all.push(send("bus.overwrite", SUBJECTS["bus.drain"], `S=${subscribers}`, subscribers, false));
    all.push(send("limit.overwrite", SUBJECTS["limit.sync"], `S=${subscribers}`, subscribers, false));
  }
  for (const subscribers of [1, 8]) {
    all.push(send("bus.fanout", SUBJECTS["bus.drain"], `S=${subscribers}`, subscribers, true));
    all.push(send("limit.fanout", SUBJECTS["limit.sync"], `S=${subscribers}`, subscribers, true));
  }
  for (const subscribers of profile.fanoutSubscribers) {
    for (const [subject, spec] of Object.entries(SUBJECTS)) {
      if (spec.available === false) continue;
      all.push(roundCase({ workload: "fanout", subject, spec, variant: `S=${subscribers}`, subscribers }));
    }
  }
  for (const subject of ASYNC_SUBJECTS) {
    const spec = SUBJECTS[subject];
    if (spec.available === false) continue;
    all.push(roundCase({ workload: "producers4", subject, spec, variant: "P=4,S=8", subscribers: 8, turns: 4 }));
  }
  for (const slow of [0, 1]) {
    const spec = busWithExtras({ slow });
    all.push(roundCase({ workload: "lag", subject: "bus.wait", spec, variant: `slow=${slow}`, subscribers: 8 - slow }));
  }
  for (const churnHz of CHURN_HZ) {
    const spec = busWithExtras({ churnHz });
    all.push(roundCase({ workload: "churn", subject: "bus.wait", spec, variant: `${churnHz}Hz`, subscribers: 8 }));
  }
  for (const [subject, start] of Object.entries(coldStarts)) all.push(coldStartCase(subject, start));
  for (const subject of CLIFF_SUBJECTS) {
    for (const [name, start] of Object.entries(CLIFF_STARTS)) {
      // A bus from before the hook existed can still be measured fresh.
      if (start !== 0 && subject.startsWith("bus.") && startSequenceAt === undefined) continue;
      const spec = SUBJECTS[subject];
      all.push(
        roundCase({
          workload: "cliff",
          subject,
          spec,
          variant: `start=${name}`,
          subscribers: 8,
          start,
          phase: "cliff",
          label: `${spec.label}, started at ${name}`,
        }),
      );
    }
  }
  return all;
}

export interface LatencyResult {
  subject: string;
  label: string;
  family: SubjectSpec["family"];
  samples: number;
  /** Microseconds. */
  p50: number;
  p95: number;
  p99: number;
  delivered: number;
  expected: number;
}

/** The seed's publish->recv target, p95, for every reading path. */
export const LATENCY_TARGET_US = 50;

/** The subjects measured for latency: every reading path of ours, the limit rings, and every async peer. */
export const LATENCY_SUBJECTS: readonly string[] = [
  ...Object.keys(SUBJECTS).filter((id) => SUBJECTS[id].family !== "peer"),
  ...ASYNC_SUBJECTS.filter((id) => SUBJECTS[id].family === "peer"),
].filter((id) => SUBJECTS[id].available !== false);

export interface LatencyOptions {
  capacity?: number;
  /** Values per burst; a burst of half the capacity keeps the ring half full. */
  burst?: number;
}

/**
 * publish->recv latency under load: one producer sends bursts of
 * {@linkcode LATENCY_BURST} values back to back, stamping each, and starts
 * the next burst as soon as all {@linkcode LATENCY_CONSUMERS} consumers have
 * the last one (sync subjects read right after each burst). Half as many
 * rounds again warm up first, unrecorded.
 */
export async function measureLatency(
  subject: string,
  rounds: number,
  { capacity = CAPACITY, burst = LATENCY_BURST }: LatencyOptions = {},
): Promise<LatencyResult> {
  const spec = SUBJECTS[subject];
  const perRound = burst * LATENCY_CONSUMERS;
  const sink = new LatencySink(rounds * perRound);
  const live = spec.create(makeHandlers(LATENCY_CONSUMERS, sink), capacity);
  // Every value of a burst needs a payload of its own: each carries its send time until it is read.
  const pool = burst <= payloads.length
    ? payloads
    : Array.from({ length: 2 ** Math.ceil(Math.log2(burst)) }, (_, id) => ({ id, sentAt: 0 }));
  const mask = pool.length - 1;
  const sync = spec.mode === "sync";
  let seq = 0;
  let expected = 0;
  const warmup = Math.ceil(rounds / 2);
  for (let round = 0; round < warmup + rounds; round++) {
    sink.recording = round >= warmup;
    for (let k = 0; k < burst; k++) {
      const payload = pool[seq++ & mask];
      payload.sentAt = performance.now();
      live.send(payload);
    }
    if (sync) live.flush();
    expected += perRound;
    await sink.reached(expected);
  }
  live.close();
  const sorted = sink.samples.subarray(0, sink.recorded).sort();
  const micros = (q: number) => quantile(sorted, q) * 1000;
  return {
    subject,
    label: spec.label,
    family: spec.family,
    samples: sorted.length,
    p50: micros(0.5),
    p95: micros(0.95),
    p99: micros(0.99),
    delivered: sink.deliveries,
    expected,
  };
}

/** The capacities of the capacity trade-off table. */
export const CAPACITIES: readonly number[] = [64, 256, 1024, 4096, 16384, 65536];
/** Subscriber counts the memory of a bus is measured with. */
export const MEMORY_SUBSCRIBERS: readonly number[] = [0, 1, 8];

export interface CapacityLatency {
  capacity: number;
  /** "keepUp": bursts of {@linkcode LATENCY_BURST}; "halfFull": bursts of half the capacity. */
  load: "keepUp" | "halfFull";
  burst: number;
  /** Microseconds. */
  p50: number;
  p95: number;
  delivered: number;
  expected: number;
}

/**
 * p95 publish->recv on the wait()+drain() path at one capacity, under two
 * loads: consumers that keep up (bursts of 8, as the latency workload), and
 * bursts of half the capacity, where a value waits behind everything sent
 * before it: what a deep buffer costs once it is used.
 */
export async function measureCapacityLatency(
  capacity: number,
  load: CapacityLatency["load"],
  samples: number,
): Promise<CapacityLatency> {
  const burst = load === "keepUp" ? LATENCY_BURST : capacity / 2;
  // At least 10 rounds: the values of one burst share its fate (one preemption delays them all).
  const rounds = Math.max(10, Math.ceil(samples / (burst * LATENCY_CONSUMERS)));
  const { p50, p95, delivered, expected } = await measureLatency("bus.wait", rounds, { capacity, burst });
  return { capacity, load, burst, p50, p95, delivered, expected };
}

export interface BusMemory {
  capacity: number;
  subscribers: number;
  /** Retained heap (and array buffer) bytes per bus, with its ring full. */
  bytesPerBus: number;
  /** How many buses the figure is averaged over. */
  buses: number;
}

/**
 * Bytes one bus with `subscribers` idle subscribers keeps alive once its
 * ring is full: the retained memory (see `retainedBytes` in `_measure.ts`)
 * after building enough buses to hold a few MiB, over their number. The
 * values sent are shared references from a pool, so only the ring counts.
 */
export function measureBusMemory(capacity: number, subscribers: number): BusMemory {
  if (gc === undefined) return { capacity, subscribers, bytesPerBus: NaN, buses: 0 };
  // About 32 MiB of rings, from 32 to 1024 buses: the heap counters move in blocks of up to 16 KiB (JSC).
  const buses = subscribers === 0 ? 1024 : Math.max(32, Math.min(1024, Math.floor(2 ** 25 / (capacity * 16))));
  // Made before the first reading, so holding the buses and subscribers adds nothing of the harness's own.
  const kept: unknown[] = new Array(buses * (1 + subscribers)).fill(undefined);
  gc();
  gc();
  const before = retainedBytes();
  for (let i = 0, k = 0; i < buses; i++) {
    const bus = new Bus<Payload>(capacity);
    kept[k++] = bus;
    for (let j = 0; j < subscribers; j++) kept[k++] = bus.subscribe();
    for (let v = 0; v < capacity; v++) bus.send(payloads[v & POOL_MASK]);
  }
  gc();
  gc();
  const after = retainedBytes();
  do_not_optimize(kept);
  return { capacity, subscribers, bytesPerBus: (after - before) / buses, buses };
}

export interface AllocationResult {
  id: string;
  label: string;
  family: SubjectSpec["family"];
  bytesPerEvent: number;
  /** NaN where nothing is delivered. */
  bytesPerDelivery: number;
}

/** Allocations measured in full and quick runs: every subject at S=8, `send`, and the bus's cold start. */
const EVERY_ALLOCATION = /^(send\/|fanout\/.*\/S=8$|coldStart\/bus\.)/;
/** Allocations measured in smoke runs: those the gates hold to a target, and the references they are held against. */
const GATED_ALLOCATION =
  /^(send\/bus\.(overwrite|fanout)\/|fanout\/(bus\.(drain|tryRecv|wait|forAwait)|limit\.(async|iterator))\/S=8$)/;

/** Heap bytes per event and per delivery of `c`, once warm. */
export async function measureAllocations(c: Case, profile: Profile): Promise<AllocationResult> {
  // The clock allocates a number per reading on V8, which is the harness's cost, not the case's.
  const fixture = c.setup({ timed: false });
  // Warm up by time, not runs, so every case reaches optimised code: unoptimised code allocates more.
  const warm = performance.now() + profile.allocationWarmupMs;
  for (let runs = 0; runs < 16 || performance.now() < warm; runs++) await fixture.run();
  const perRun = await bytesPerCall(fixture.run, { windowMs: profile.allocationWindowMs });
  fixture.close();
  return {
    id: c.id,
    label: c.label,
    family: c.family,
    bytesPerEvent: perRun / c.eventsPerRun,
    bytesPerDelivery: c.deliveriesPerRun === 0 ? NaN : perRun / c.deliveriesPerRun,
  };
}

/** How much each kind of measurement runs. */
export interface Profile {
  /**
   * Worker processes per runtime. A JIT decides per process what to inline
   * (Bun inlines a different subset of the 8 handlers in each), so one
   * process is one draw, not a measurement: figures are medians over them.
   */
  processes: number;
  /** How many times every timed case is measured in each process, each time from a new fixture. */
  passes: number;
  /** How long each case runs unmeasured before the first pass (see `warmUp` in `mitata.ts`). */
  warmupMs: number;
  /** S for the `fanout` workload. */
  fanoutSubscribers: readonly number[];
  /** Whether mitata collects garbage before each case (slow: only in full runs). */
  gc: boolean;
  /** mitata: CPU time and samples each timed case takes at least, per pass. */
  minCpuMs: number;
  minSamples: number;
  maxSamples: number;
  /** mitata: runs per sample for fast cases (fewer in smoke, to finish sooner). */
  batchSamples: number;
  /** Latency rounds per subject per pass. */
  latencyRounds: number;
  /** The capacity table: its capacities, and the latency samples per capacity and load in each process. */
  capacities: readonly number[];
  capacitySamples: number;
  allocationWarmupMs: number;
  /** The cases whose heap bytes are measured (in the first process of each runtime). */
  allocationCases: RegExp;
  /** How long one allocation window lasts at most. */
  allocationWindowMs: number;
}

/** The issue's S; quick runs skip 4 and 32. */
const FANOUT_SUBSCRIBERS = [1, 4, 8, 32, 128, 1024];

export const PROFILES: Readonly<Record<"smoke" | "quick" | "full", Profile>> = {
  smoke: {
    processes: 1,
    passes: 1,
    warmupMs: 0,
    fanoutSubscribers: [8],
    gc: false,
    minCpuMs: 1,
    minSamples: 1,
    maxSamples: 2,
    batchSamples: 8,
    latencyRounds: 64,
    capacities: [64],
    capacitySamples: 256,
    allocationWarmupMs: 100,
    allocationCases: GATED_ALLOCATION,
    allocationWindowMs: 20,
  },
  quick: {
    processes: 5,
    passes: 1,
    warmupMs: 10,
    fanoutSubscribers: [1, 8, 128, 1024],
    gc: false,
    minCpuMs: 20,
    minSamples: 2,
    maxSamples: 1e9,
    batchSamples: 64,
    latencyRounds: 2000,
    capacities: CAPACITIES,
    capacitySamples: 8192,
    allocationWarmupMs: 100,
    allocationCases: EVERY_ALLOCATION,
    allocationWindowMs: 30,
  },
  full: {
    processes: 7,
    passes: 4,
    warmupMs: 30,
    fanoutSubscribers: FANOUT_SUBSCRIBERS,
    gc: true,
    minCpuMs: 150,
    minSamples: 4,
    maxSamples: 1e9,
    batchSamples: 256,
    latencyRounds: 10_000,
    capacities: CAPACITIES,
    capacitySamples: 65_536,
    allocationWarmupMs: 500,
    allocationCases: EVERY_ALLOCATION,
    allocationWindowMs: 60,
  },
};
