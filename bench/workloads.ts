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
 * 1. `send`: `Bus.send` alone, with 0, 1 and 8 idle subscribers.
 * 2. `fanout`: 1 producer, S subscribers, through every subject.
 * 3. `producers4`: the seed's reference, 4 producers x 8 subscribers: a
 *    round is four turns of `CHUNK / 4` sends with the consumers woken
 *    between turns, as four producer tasks on one event loop would do.
 * 4. `latency`: publish->recv, 1 producer x 4 consumers.
 * 5. `lag`: 8 subscribers on wait()+drain(), one of them slow.
 * 6. `coldStart`: `new Bus(256)` and friends.
 * 7. `alloc`: heap bytes per send and per delivery.
 * 8. `churn`: a subscriber leaves and another joins at 100 Hz and 10 kHz.
 *
 * @module
 */

import { do_not_optimize } from "mitata";
import { Bus } from "../mod.ts";
import { bytesPerCall, quantile } from "./_measure.ts";
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
  if (plan.mode === "sync") {
    return {
      expected,
      run() {
        for (let k = 0; k < chunk; k++) send(pool[seq++ & 1023]);
        if (read) flush();
        rounds++;
      },
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
  };
}

/** What a case reports after its runs: counts to check, and the bus's counters where it has them. */
export interface Outcome {
  delivered: number;
  expected: number;
  checksum: number;
  counters?: Record<string, number>;
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
  setup(): Fixture;
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
}

function roundCase(
  { workload, subject, spec, variant, subscribers, turns = 1, read = true, label = spec.label }: RoundCaseOptions,
): Case {
  const deliveriesPerRun = read ? CHUNK * subscribers : 0;
  const plan = { mode: spec.mode, chunk: CHUNK, turns, read, deliveriesPerRound: deliveriesPerRun };
  const driverOf = fresh(roundDriver);
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
    setup() {
      const { sink, handlers } = handlerSet(subscribers);
      sink.reset();
      const live = spec.create(handlers, CAPACITY);
      const driver = driverOf(live, sink, payloads, plan);
      return {
        run: driver.run,
        close() {
          const counters = live.stats?.();
          live.close();
          do_not_optimize(sink.checksum);
          return { delivered: sink.deliveries, expected: driver.expected(), checksum: sink.checksum, counters };
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

/** Cold start: the bus's constructors, beside the arrays a ring is made of. */
const coldStarts: Record<string, { label: string; family: SubjectSpec["family"]; make: () => unknown }> = {
  "bus.options": { label: "new Bus({ capacity: 256 })", family: "ours", make: () => new Bus({ capacity: 256 }) },
  "bus.number": { label: "new Bus(256)", family: "ours", make: () => new Bus(256) },
  "bus.subscribed": { label: "new Bus(256).subscribe()", family: "ours", make: () => new Bus(256).subscribe() },
  "array": { label: "new Array(256)", family: "peer", make: () => new Array(256) },
  "int32Array": { label: "new Int32Array(256)", family: "peer", make: () => new Int32Array(256) },
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
    setup: () => ({
      run: () => do_not_optimize(make()),
      close: () => ({ delivered: 0, expected: 0, checksum: 0 }),
    }),
  };
}

const ASYNC_SUBJECTS = Object.keys(SUBJECTS).filter((id) => SUBJECTS[id].mode === "async");

/** Every timed case of `profile`, in run order. */
export function cases(profile: Profile): Case[] {
  const all: Case[] = [];
  for (const subscribers of [0, 1, 8]) {
    const variant = `S=${subscribers}`;
    all.push(
      roundCase({
        workload: "send",
        subject: "bus",
        spec: SUBJECTS["bus.drain"],
        variant,
        subscribers,
        read: false,
        label: "Bus send()",
      }),
    );
    all.push(
      roundCase({
        workload: "send",
        subject: "limit",
        spec: SUBJECTS["limit.sync"],
        variant,
        subscribers,
        read: false,
        label: "limit: ring send",
      }),
    );
  }
  for (const subscribers of profile.fanoutSubscribers) {
    for (const [subject, spec] of Object.entries(SUBJECTS)) {
      all.push(roundCase({ workload: "fanout", subject, spec, variant: `S=${subscribers}`, subscribers }));
    }
  }
  for (const subject of ASYNC_SUBJECTS) {
    const spec = SUBJECTS[subject];
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

/** The subjects measured for latency: every async one. */
export const LATENCY_SUBJECTS: readonly string[] = ASYNC_SUBJECTS;

/**
 * publish->recv latency under load: one producer sends bursts of
 * {@linkcode LATENCY_BURST} values back to back, stamping each, and starts
 * the next burst as soon as all {@linkcode LATENCY_CONSUMERS} consumers have
 * the last one. Half as many rounds again warm up first, unrecorded.
 */
export async function measureLatency(subject: string, rounds: number): Promise<LatencyResult> {
  const spec = SUBJECTS[subject];
  const perRound = LATENCY_BURST * LATENCY_CONSUMERS;
  const sink = new LatencySink(rounds * perRound);
  const live = spec.create(makeHandlers(LATENCY_CONSUMERS, sink), CAPACITY);
  let seq = 0;
  let expected = 0;
  const warmup = Math.ceil(rounds / 2);
  for (let round = 0; round < warmup + rounds; round++) {
    sink.recording = round >= warmup;
    for (let k = 0; k < LATENCY_BURST; k++) {
      const payload = payloads[seq++ & POOL_MASK];
      payload.sentAt = performance.now();
      live.send(payload);
    }
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

export interface AllocationResult {
  id: string;
  label: string;
  family: SubjectSpec["family"];
  bytesPerEvent: number;
  /** NaN where nothing is delivered. */
  bytesPerDelivery: number;
}

/** Allocations measured in full and quick runs: every subject at S=8, `send`, and cold start. */
const EVERY_ALLOCATION = /^(send\/|fanout\/.*\/S=8$|coldStart\/)/;
/** Allocations measured in smoke runs: those the gates hold to a target, and the references they are held against. */
const GATED_ALLOCATION = /^(send\/bus\/|fanout\/(bus\.(drain|tryRecv|wait|forAwait)|limit\.(async|iterator))\/S=8$)/;

/** Heap bytes per event and per delivery of `c`, once warm. */
export async function measureAllocations(c: Case, profile: Profile): Promise<AllocationResult> {
  const fixture = c.setup();
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
  /** S for the `fanout` workload. */
  fanoutSubscribers: readonly number[];
  /** Whether mitata collects garbage before each case (slow: only in full runs). */
  gc: boolean;
  /** How many times every timed case is measured, each time from a new fixture. */
  passes: number;
  /** mitata: CPU time and samples each timed case takes at least, per pass. */
  minCpuMs: number;
  minSamples: number;
  maxSamples: number;
  /** mitata: runs per sample for fast cases (fewer in smoke, to finish sooner). */
  batchSamples: number;
  latencyRounds: number;
  allocationWarmupMs: number;
  /** The cases whose heap bytes are measured. */
  allocationCases: RegExp;
  /** How long one allocation window lasts at most. */
  allocationWindowMs: number;
}

/** The S; quick runs skip 4 and 32, which the scaling targets do not use. */
const FANOUT_SUBSCRIBERS = [1, 4, 8, 32, 128, 1024];

export const PROFILES: Readonly<Record<"smoke" | "quick" | "full", Profile>> = {
  smoke: {
    fanoutSubscribers: [1, 8],
    gc: false,
    passes: 1,
    minCpuMs: 1,
    minSamples: 1,
    maxSamples: 2,
    batchSamples: 8,
    latencyRounds: 64,
    allocationWarmupMs: 100,
    allocationCases: GATED_ALLOCATION,
    allocationWindowMs: 20,
  },
  quick: {
    fanoutSubscribers: [1, 8, 128, 1024],
    gc: false,
    passes: 4,
    minCpuMs: 30,
    minSamples: 2,
    maxSamples: 1e9,
    batchSamples: 64,
    latencyRounds: 4000,
    allocationWarmupMs: 100,
    allocationCases: EVERY_ALLOCATION,
    allocationWindowMs: 30,
  },
  full: {
    fanoutSubscribers: FANOUT_SUBSCRIBERS,
    gc: true,
    passes: 7,
    minCpuMs: 150,
    minSamples: 4,
    maxSamples: 1e9,
    batchSamples: 256,
    latencyRounds: 40_000,
    allocationWarmupMs: 500,
    allocationCases: EVERY_ALLOCATION,
    allocationWindowMs: 60,
  },
};
