/**
 * What a matrix run produces, and what it is judged by: the shape of
 * `bench/results/latest.json`, the ratios the gates compare with the
 * baselines, and the targets of the benchmark issues (3: the matrix; 8: no
 * cliff, Bun at parity, honest yardsticks), evaluated per runtime.
 *
 * Every ratio compares two figures from the same process, and is then
 * summarised over the processes as a {@linkcode Figure}: the median, with
 * the lowest and highest process beside it. A target is judged on the
 * median; the range says how far one process can be from it.
 *
 * @module
 */

import type { Calibration, Machine, RuntimeName } from "./_measure.ts";
import type { AllocationResult, BusMemory, CapacityLatency, LatencyResult } from "./workloads.ts";

/** A figure over processes: the median, and the range one process fell in. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  /** One value per process, in process order. */
  values: number[];
}

/** One timed case: in a process (over its passes) or over every process. */
export interface CaseResult {
  id: string;
  workload: string;
  subject: string;
  variant: string;
  label: string;
  family: "ours" | "peer" | "limit";
  subscribers: number;
  timing: "run" | "sends";
  phase: "main" | "cliff";
  eventsPerRun: number;
  deliveriesPerRun: number;
  /** Medians: nanoseconds per round, and the rates derived from them. */
  nsPerRun: number;
  /** Slowest over fastest: of the passes (in a process), or of the processes (over all). */
  spread: number;
  eventsPerSec: number;
  deliveriesPerSec: number;
  /** In a process: nanoseconds per round of each pass. */
  passes?: number[];
  /** Over every process: events/s of each. */
  perProcess?: number[];
  delivered: number;
  expected: number;
  counters?: Record<string, number>;
}

/** Latency of one subject over every process: medians of each process's percentiles, and the p95 of each. */
export interface LatencySummary extends LatencyResult {
  p95s: number[];
}

export interface CapacitySummary extends CapacityLatency {
  p95s: number[];
}

/** A case's figures in one process; what the case is, is in the summary ({@linkcode CaseResult}). */
export type ProcessCase = Pick<
  CaseResult,
  "nsPerRun" | "eventsPerSec" | "passes" | "delivered" | "expected" | "counters"
>;

/** What one worker process measured. */
export interface ProcessResult {
  index: number;
  seconds: number;
  /** CPU seconds the worker used: about what it would take on an idle machine. */
  cpuSeconds: number;
  /** The machine's load average as the worker started. */
  load: number[];
  cases: Record<string, ProcessCase>;
  latency: Record<string, LatencyResult>;
  capacity: Record<string, CapacityLatency>;
  /** Set when the worker failed; what it printed last. */
  error?: string;
}

export interface RuntimeResult {
  runtime: RuntimeName;
  version: string;
  /** Wall and CPU seconds over every process. */
  seconds: number;
  cpuSeconds: number;
  /** Every process's own figures. */
  processes: ProcessResult[];
  /** Over the processes that finished. */
  cases: Record<string, CaseResult>;
  latency: Record<string, LatencySummary>;
  /** Keyed `<capacity>/<load>`. */
  capacity: Record<string, CapacitySummary>;
  /** From the first process. */
  memory: BusMemory[];
  calibration?: Calibration;
  allocations: Record<string, AllocationResult>;
  /** Set when a worker failed. */
  error?: string;
  /** Medians over processes, for the gates and baselines. */
  ratios: Record<string, number>;
  /** The reference ratios the subscriber-count target was judged against, where recorded. */
  reference?: Record<string, number>;
  /** The same ratios with their range over processes. */
  ratioFigures: Record<string, Figure>;
  checks: Check[];
}

export interface MatrixResult {
  date: string;
  profile: string;
  command: string;
  machine: Machine;
  /** The checkout the bus under test came from, when not this one (`BENCH_BUS`). */
  busRoot?: string;
  runtimes: Partial<Record<RuntimeName, RuntimeResult>>;
}

/** One row of the targets table, on one runtime. */
export interface Check {
  /** The issue that set the target. */
  issue: number;
  target: string;
  goal: string;
  measured: string;
  /** Undefined where it cannot be judged (a figure or the reference is missing). */
  met: boolean | undefined;
  /** Deterministic checks are enforced even in CI's smoke run; timing ones only in full gates. */
  kind: "deterministic" | "timing";
}

/** The reading path each of our subjects is held against, in the same process. */
export const REFERENCES: Readonly<Record<string, string>> = {
  "bus.drain": "limit.sync",
  "bus.tryRecv": "limit.tryRecv",
  "bus.wait": "limit.async",
  "bus.forAwait": "limit.iterator",
  "bus.recv": "limit.iterator",
  "bus.readable": "stream",
  "bus.stream64": "stream",
};

/** The starts the cliff workload compares with a fresh bus. */
const HIGH_STARTS = ["start=2^31", "start=2^32"];

/**
 * Throughput ratios (higher is better) of one process's cases: each of ours
 * against its reference. `facts` says what each case is.
 */
export function throughputRatios(
  cases: Record<string, Pick<CaseResult, "eventsPerSec">>,
  facts: Record<string, Pick<CaseResult, "id" | "workload" | "subject" | "variant">>,
): Record<string, number> {
  const ratios: Record<string, number> = {};
  const add = (id: string, referenceId: string) => {
    if (cases[id] && cases[referenceId]) ratios[`${id} : ${referenceId}`] = rate(cases[id]) / rate(cases[referenceId]);
  };
  for (const id of Object.keys(cases)) {
    const c = facts[id];
    const reference = REFERENCES[c.subject];
    if (reference && c.workload !== "cliff") add(c.id, `${c.workload}/${reference}/${c.variant}`);
    if (c.subject === "limit.tryRecv") add(c.id, `${c.workload}/limit.sync/${c.variant}`);
    if (c.workload === "cliff" && c.variant !== "start=0") add(c.id, `cliff/${c.subject}/start=0`);
  }
  for (const variant of ["S=0", "S=1", "S=8"]) add(`send/bus.overwrite/${variant}`, `send/limit.overwrite/${variant}`);
  for (const variant of ["S=1", "S=8"]) add(`send/bus.fanout/${variant}`, `send/limit.fanout/${variant}`);
  add("lag/bus.wait/slow=1", "lag/bus.wait/slow=0");
  for (const hz of ["100Hz", "10000Hz"]) add(`churn/bus.wait/${hz}`, "churn/bus.wait/0Hz");
  add("coldStart/bus.number/-", "coldStart/array/-");
  // The cliff phase's fresh bus against the main phase's, each over the sync limit ring of its phase: whether
  // big positions elsewhere in the process slowed every bus (1 when not).
  for (const subject of ["bus.drain", "bus.wait", "bus.tryRecv"]) {
    const [cliff, main] = [`cliff/${subject}/start=0`, `fanout/${subject}/S=8`];
    const [cliffLimit, mainLimit] = ["cliff/limit.sync/start=0", "fanout/limit.sync/S=8"];
    if (cases[cliff] && cases[main] && cases[cliffLimit] && cases[mainLimit]) {
      ratios[`${cliff} : ${main}, over limit.sync`] = (rate(cases[cliff]) / rate(cases[cliffLimit])) /
        (rate(cases[main]) / rate(cases[mainLimit]));
    }
  }
  return ratios;
}

/** Latency ratios (lower is better) of one process: our p95 against the reference's p95. */
export function latencyRatios(latency: Record<string, LatencyResult>): Record<string, number> {
  const ratios: Record<string, number> = {};
  for (const [subject, reference] of Object.entries(REFERENCES)) {
    if (latency[subject] && latency[reference]) {
      ratios[`p95 ${subject} : ${reference}`] = latency[subject].p95 / latency[reference].p95;
    }
  }
  return ratios;
}

function rate(c: Pick<CaseResult, "eventsPerSec">): number {
  return c.eventsPerSec;
}

const fmt = (n: number, digits = 2) => Number.isFinite(n) ? n.toFixed(digits) : "n/a";
const millions = (n: number) => `${fmt(n / 1e6)}M/s`;

/** "0.86x [0.81-0.90]": a ratio's median and its range over processes. */
export function ratioText(f: Figure | undefined, unit = "x", digits = 2): string {
  if (f === undefined || !Number.isFinite(f.median)) return "n/a";
  const range = f.values.length > 1 ? ` [${fmt(f.min, digits)}-${fmt(f.max, digits)}]` : "";
  return `${fmt(f.median, digits)}${unit}${range}`;
}

/** A {@linkcode Figure} of `values` (NaN where there are none). */
export function figureOf(values: number[]): Figure {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, values };
  const sorted = [...finite].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], values };
}

/**
 * Heap bytes a reading path may allocate, on a runtime whose calibration
 * passed. "One promise per await" is held against the limit rings, which
 * allocate exactly one promise per await and nothing else: ours may add
 * bookkeeping, but not double it. Measured figures move with the JIT state a
 * fixture gets (the limit iterator's own bytes ranged from 43 B to 415 B per
 * value on Node between runs), so each bound also has a floor in units of the
 * calibrated `{ a, b }` object: a per-value path may allocate what one promise
 * per value costs when the JIT keeps every allocation (9 objects: the limit
 * iterator itself took 332 B per value on Node 20 in such runs, while a run
 * where it was optimized to 54 B failed the bus at its own 332 B); a per-batch
 * path, a quarter of an object per value, far below one allocation per value.
 */
const ALLOCATION_LIMITS: { id: RegExp; per: "event" | "delivery"; goal: string; limit(r: RuntimeResult): number }[] = [
  { id: /^send\/bus\.(overwrite|fanout)\//, per: "event", goal: "0 B per send", limit: () => 0.5 },
  { id: /^fanout\/bus\.(drain|tryRecv)\/S=8$/, per: "delivery", goal: "0 B per delivery", limit: () => 0.5 },
  {
    id: /^fanout\/bus\.wait\/S=8$/,
    per: "delivery",
    goal: "one promise per wake: at most 2x the async limit ring's bytes, or 1/4 object per value",
    limit: (r) => Math.max(allocation(r, "fanout/limit.async/S=8") * 2 + 0.5, objectBytes(r) / 4),
  },
  {
    id: /^fanout\/bus\.forAwait\/S=8$/,
    per: "delivery",
    goal: "one promise per value: at most 1.25x the limit iterator's bytes, or 9 objects per value",
    limit: (r) => Math.max(allocation(r, "fanout/limit.iterator/S=8") * 1.25 + 1, objectBytes(r) * 9),
  },
];

/** The calibrated size of a `{ a, b }` object: 40 B on 64-bit V8 without pointer compression, 32 B on Bun. */
function objectBytes(r: RuntimeResult): number {
  return r.calibration?.pair.expected ?? 40;
}

function allocation(r: RuntimeResult, id: string): number {
  return r.allocations[id]?.bytesPerDelivery ?? NaN;
}

/** The reading paths the seed's p95 target holds for. */
export const OUR_READING_PATHS: readonly string[] = Object.keys(REFERENCES);
/** Issue 8's p95 target, on every reading path. */
const P95_TARGET_US = 50;

/**
 * Evaluates the targets of issues 3 and 8, and the harness's own
 * deterministic checks, on one runtime's result. `reference` holds the
 * ratios of the code before issue 8 (`testing/performance/baselines/
 * ron-bus/reference/`), which the subscriber-count target is judged
 * against; without it that target is not judged.
 */
export function evaluate(r: RuntimeResult, reference?: Record<string, number>): Check[] {
  const checks: Check[] = [];
  const check = (
    issue: number,
    target: string,
    goal: string,
    measured: string,
    met: boolean | undefined,
    kind: Check["kind"] = "timing",
  ) => checks.push({ issue, target, goal, measured, met, kind });
  const c = (id: string) => r.cases[id];
  const ratio = (id: string, ref: string) => r.ratioFigures[`${id} : ${ref}`];
  const judged = (f: Figure | undefined, ok: (median: number) => boolean) =>
    f === undefined || !Number.isFinite(f.median) ? undefined : ok(f.median);

  // Issue 8.
  for (
    const [subject, limit, label] of [["bus.drain", "limit.sync", "drain"], [
      "bus.wait",
      "limit.async",
      "wait()+drain",
    ]]
  ) {
    const f = ratio(`fanout/${subject}/S=8`, `fanout/${limit}/S=8`);
    check(8, `${label}, S=8`, `>= 0.9x ${limit}`, `${ratioText(f)}`, judged(f, (x) => x >= 0.9));
  }
  for (
    const [subject, limit, label] of [["bus.drain", "limit.sync", "drain"], [
      "bus.wait",
      "limit.async",
      "wait()+drain",
    ]]
  ) {
    const rows: { s: string; now: Figure; ref: number; change: number }[] = [];
    for (const id of Object.keys(r.cases).filter((id) => id.startsWith(`fanout/${subject}/S=`))) {
      const s = id.slice(id.lastIndexOf("/") + 1);
      const key = `${id} : fanout/${limit}/${s}`;
      const now = r.ratioFigures[key];
      const ref = reference?.[key];
      if (now && ref !== undefined) rows.push({ s, now, ref, change: now.median / ref - 1 });
    }
    const worst = rows.sort((a, b) => a.change - b.change)[0];
    check(
      8,
      `${label}, every S from 1 to 1024`,
      "no S more than 5% below the reference (x limit, median)",
      worst === undefined
        ? reference === undefined ? "no reference recorded" : "no figures to compare"
        : `worst ${worst.s}: ${ratioText(worst.now)} vs ${fmt(worst.ref)}x (${fmt(worst.change * 100, 1)}%)`,
      worst === undefined ? undefined : worst.change >= -0.05,
    );
  }
  const tryRecv = ratio("fanout/bus.tryRecv/S=8", "fanout/limit.tryRecv/S=8");
  check(
    8,
    "tryRecv loop, S=8",
    ">= 0.85x limit.tryRecv (per call)",
    ratioText(tryRecv),
    judged(tryRecv, (x) => x >= 0.85),
  );
  for (const subject of ["bus.readable", "bus.stream64"]) {
    const l = r.latency[subject];
    const f = l && figureOf(l.p95s);
    check(
      8,
      `p95 publish->recv, ${subject}`,
      `< ${P95_TARGET_US} us`,
      ratioText(f, " us", 1),
      judged(f, (x) => x < 50),
    );
  }
  const paths = OUR_READING_PATHS.filter((subject) => r.latency[subject]);
  const slowest = paths.sort((a, b) => r.latency[b].p95 - r.latency[a].p95)[0];
  check(
    8,
    "p95 publish->recv, every reading path",
    `< ${P95_TARGET_US} us`,
    slowest ? `slowest ${slowest}: ${ratioText(figureOf(r.latency[slowest].p95s), " us", 1)}` : "n/a",
    slowest ? r.latency[slowest].p95 < P95_TARGET_US : undefined,
  );
  const subscribed = c("coldStart/bus.subscribed/-");
  const subscribedNs = subscribed && figureOf(subscribed.perProcess!.map((perSec) => 1e9 / perSec));
  check(
    8,
    "first subscribe: new Bus(256).subscribe()",
    "<= 1 us",
    ratioText(subscribedNs, " ns", 0),
    judged(subscribedNs, (ns) => ns <= 1000),
  );
  for (const subject of ["bus.drain", "bus.wait", "bus.tryRecv"]) {
    const figures = HIGH_STARTS.map((start) => [start, ratio(`cliff/${subject}/${start}`, `cliff/${subject}/start=0`)])
      .filter((pair): pair is [string, Figure] => pair[1] !== undefined);
    const worst = figures.sort((a, b) => a[1].median - b[1].median)[0];
    check(
      8,
      `no cliff: ${subject} past 2^31 and 2^32`,
      ">= 0.95x a fresh bus in the same process",
      worst ? figures.map(([start, f]) => `${start.slice(6)}: ${ratioText(f)}`).join(", ") : "n/a",
      worst ? worst[1].median >= 0.95 : undefined,
    );
  }

  // Issue 3.
  const drain = ratio("fanout/bus.drain/S=8", "fanout/limit.sync/S=8");
  const overEmitter = figureOf(
    zip(c("fanout/bus.drain/S=8")?.perProcess, c("fanout/eventEmitter/S=8")?.perProcess, (a, b) => a / b),
  );
  check(
    3,
    "sync batch fan-out, S=8",
    ">= 0.8x sync limit, > EventEmitter",
    `${ratioText(drain)} limit, ${ratioText(overEmitter)} EventEmitter`,
    judged(drain, (x) => x >= 0.8) && judged(overEmitter, (x) => x > 1),
  );
  const wait = ratio("fanout/bus.wait/S=8", "fanout/limit.async/S=8");
  check(3, "async batch path, S=8", ">= 0.8x async limit", ratioText(wait), judged(wait, (x) => x >= 0.8));
  const forAwait = ratio("fanout/bus.forAwait/S=8", "fanout/limit.iterator/S=8");
  const overOn = figureOf(
    zip(c("fanout/bus.forAwait/S=8")?.perProcess, c("fanout/eventsOn/S=8")?.perProcess, (a, b) => a / b),
  );
  check(
    3,
    "for await, S=8",
    ">= 0.9x limit iterator, >= events.on()",
    `${ratioText(forAwait)} limit, ${ratioText(overOn)} events.on()`,
    judged(forAwait, (x) => x >= 0.9) && judged(overOn, (x) => x >= 1),
  );
  const readable = ratio("fanout/bus.readable/S=8", "fanout/stream/S=8");
  check(
    3,
    "readable, S=8",
    ">= 1.0x ReadableStream per subscriber",
    ratioText(readable),
    judged(readable, (x) => x >= 1),
  );
  const stream64 = ratio("fanout/bus.stream64/S=8", "fanout/stream/S=8");
  check(
    3,
    "stream({ highWaterMark: 64 }), S=8",
    ">= 1.0x ReadableStream per subscriber",
    ratioText(stream64),
    judged(stream64, (x) => x >= 1),
  );
  for (const subject of ["bus.wait", "bus.forAwait"]) {
    const l = r.latency[subject];
    const f = l && figureOf(l.p95s);
    check(3, `p95 publish->recv, 1x4, ${subject}`, "<= 10 us", ratioText(f, " us", 1), judged(f, (x) => x <= 10));
  }
  for (const subject of ["bus.options", "bus.number"]) {
    const k = c(`coldStart/${subject}/-`);
    const ns = k && figureOf(k.perProcess!.map((perSec) => 1e9 / perSec));
    check(3, `cold start ${k?.label ?? subject}`, "<= 300 ns", ratioText(ns, " ns", 0), judged(ns, (x) => x <= 300));
  }
  for (const [subject, limit] of [["bus.drain", "limit.sync"], ["bus.wait", "limit.async"]]) {
    const scaling = (s: string) =>
      figureOf(
        zip(
          c(`fanout/${s}/S=1024`)?.perProcess,
          c(`fanout/${s}/S=8`)?.perProcess,
          (a, b) => (a * 1024) / (b * 8),
        ),
      );
    check(
      3,
      `subscriber scaling, ${subject}`,
      "deliveries/s at S=1024 >= 0.7x S=8",
      `${ratioText(scaling(subject))} (the limit ring: ${ratioText(scaling(limit))})`,
      judged(scaling(subject), (x) => x >= 0.7),
    );
  }
  const churn = ratio("churn/bus.wait/10000Hz", "churn/bus.wait/0Hz");
  check(3, "churn at 10 kHz", "< 10% throughput loss", ratioText(churn), judged(churn, (x) => x > 0.9));

  // The harness's own checks, and the deterministic gates.
  const keepUp = c("lag/bus.wait/slow=0");
  const overflow = keepUp?.counters ? keepUp.counters.dropped / keepUp.counters.sent : NaN;
  check(
    3,
    "overflow, consumers that keep up",
    "0 dropped (gate: <= 0.1%) at >= 1M events/s",
    `${fmt(overflow * 100, 3)}% at ${millions(keepUp?.eventsPerSec ?? NaN)}`,
    overflow <= 0.001,
    "deterministic",
  );
  const miscounted = [
    ...Object.values(r.cases).filter((x) => x.delivered !== x.expected).map((x) => x.id),
    ...Object.values(r.latency).filter((x) => x.delivered !== x.expected).map((x) => `latency/${x.subject}`),
    ...Object.values(r.capacity).filter((x) => x.delivered !== x.expected).map((x) => `capacity/${x.capacity}`),
  ];
  check(
    3,
    "delivered counts",
    "every case delivers exactly what it sent, in every process",
    miscounted.length === 0 ? "all exact" : `wrong in ${miscounted.join(", ")}`,
    miscounted.length === 0,
    "deterministic",
  );
  if (r.calibration?.trusted) {
    for (const rule of ALLOCATION_LIMITS) {
      for (const a of Object.values(r.allocations).filter((a) => rule.id.test(a.id))) {
        const bytes = rule.per === "event" ? a.bytesPerEvent : a.bytesPerDelivery;
        const limit = rule.limit(r);
        check(
          3,
          `allocations ${a.id}`,
          rule.goal,
          `${fmt(bytes)} B (limit ${fmt(limit)})`,
          bytes <= limit,
          "deterministic",
        );
      }
    }
  } else {
    check(3, "allocations", "calibrated method", "calibration failed: not enforced", true, "deterministic");
  }
  return checks;
}

/** `f` of the values two processes' lists hold at the same index. */
function zip(a: number[] | undefined, b: number[] | undefined, f: (a: number, b: number) => number): number[] {
  if (!a || !b) return [];
  return a.map((x, i) => f(x, b[i]));
}
