/**
 * What a matrix run produces, and what it is judged by: the shape of
 * `bench/results/latest.json`, the ratios the gates compare with the
 * baselines, and the targets table of the benchmark issue, evaluated per
 * runtime. Every ratio compares two figures from the same process and the
 * same run, so a noisy machine moves both.
 *
 * @module
 */

import type { Calibration, Machine, RuntimeName } from "./_measure.ts";
import type { AllocationResult, LatencyResult } from "./workloads.ts";

/** One timed case as the worker reports it. */
export interface CaseResult {
  id: string;
  workload: string;
  subject: string;
  variant: string;
  label: string;
  family: "ours" | "peer" | "limit";
  subscribers: number;
  /** Medians: nanoseconds per round, and the rates derived from them. */
  nsPerRun: number;
  /** Slowest pass over fastest. */
  spread: number;
  eventsPerSec: number;
  deliveriesPerSec: number;
  delivered: number;
  expected: number;
  counters?: Record<string, number>;
}

export interface RuntimeResult {
  runtime: RuntimeName;
  version: string;
  seconds: number;
  cases: Record<string, CaseResult>;
  latency: Record<string, LatencyResult>;
  calibration?: Calibration;
  allocations: Record<string, AllocationResult>;
  /** Set when the worker failed; what it printed last. */
  error?: string;
  ratios: Record<string, number>;
  checks: Check[];
}

export interface MatrixResult {
  date: string;
  profile: string;
  command: string;
  machine: Machine;
  runtimes: Partial<Record<RuntimeName, RuntimeResult>>;
}

/** One row of the targets table, on one runtime. */
export interface Check {
  target: string;
  goal: string;
  measured: string;
  met: boolean;
  /** Deterministic checks are enforced even in CI's smoke run; timing ones only in full gates. */
  kind: "deterministic" | "timing";
}

/** The reading path each of our subjects is held against, in the same run. */
const REFERENCES: Record<string, string> = {
  "bus.drain": "limit.sync",
  "bus.tryRecv": "limit.sync",
  "bus.wait": "limit.async",
  "bus.forAwait": "limit.iterator",
  "bus.readable": "stream",
};

/** Throughput ratios (higher is better): each of our cases against its reference case. */
export function throughputRatios(cases: Record<string, CaseResult>): Record<string, number> {
  const ratios: Record<string, number> = {};
  const add = (id: string, referenceId: string) => {
    if (cases[id] && cases[referenceId]) ratios[`${id} : ${referenceId}`] = rate(cases[id]) / rate(cases[referenceId]);
  };
  for (const c of Object.values(cases)) {
    const reference = REFERENCES[c.subject];
    if (reference) add(c.id, `${c.workload}/${reference}/${c.variant}`);
  }
  for (const variant of ["S=0", "S=1", "S=8"]) add(`send/bus/${variant}`, `send/limit/${variant}`);
  add("lag/bus.wait/slow=1", "lag/bus.wait/slow=0");
  for (const hz of ["100Hz", "10000Hz"]) add(`churn/bus.wait/${hz}`, "churn/bus.wait/0Hz");
  add("coldStart/bus.number/-", "coldStart/array/-");
  return ratios;
}

/** Latency ratios (lower is better): our p95 against the reference's p95. */
export function latencyRatios(latency: Record<string, LatencyResult>): Record<string, number> {
  const ratios: Record<string, number> = {};
  for (const [subject, reference] of Object.entries(REFERENCES)) {
    if (latency[subject] && latency[reference]) {
      ratios[`p95 ${subject} : ${reference}`] = latency[subject].p95 / latency[reference].p95;
    }
  }
  return ratios;
}

function rate(c: CaseResult): number {
  return c.eventsPerSec;
}

const fmt = (n: number, digits = 2) => Number.isFinite(n) ? n.toFixed(digits) : "n/a";
const millions = (n: number) => `${fmt(n / 1e6)}M/s`;
const ratio = (n: number) => `${fmt(n)}x`;

/**
 * Heap bytes a reading path may allocate, on a runtime whose calibration
 * passed. "One promise per await" is held against the limit rings, which
 * allocate exactly one promise per await and nothing else: ours may add
 * bookkeeping, but not double it. Measured figures move with the JIT state a
 * fixture gets (the limit iterator's own bytes ranged from 43 B to 415 B per
 * value on Node between runs), so each bound also has a floor in units of the
 * calibrated `{ a, b }` object: a per-value path may allocate what one promise,
 * its result, its reaction and its job cost (5 objects); a per-batch path, a
 * quarter of an object per value, far below one allocation per value.
 */
const ALLOCATION_LIMITS: { id: RegExp; per: "event" | "delivery"; goal: string; limit(r: RuntimeResult): number }[] = [
  { id: /^send\/bus\//, per: "event", goal: "0 B per send", limit: () => 0.5 },
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
    goal: "one promise per value: at most 1.25x the limit iterator's bytes, or 5 objects per value",
    limit: (r) => Math.max(allocation(r, "fanout/limit.iterator/S=8") * 1.25 + 1, objectBytes(r) * 5),
  },
];

/** The calibrated size of a `{ a, b }` object: 40 B on 64-bit V8 without pointer compression, 32 B on Bun. */
function objectBytes(r: RuntimeResult): number {
  return r.calibration?.pair.expected ?? 40;
}

function allocation(r: RuntimeResult, id: string): number {
  return r.allocations[id]?.bytesPerDelivery ?? NaN;
}

/** Evaluates the issue's targets, and the harness's own deterministic checks, on one runtime's result. */
export function evaluate(r: RuntimeResult): Check[] {
  const checks: Check[] = [];
  const check = (target: string, goal: string, measured: string, met: boolean, kind: Check["kind"] = "timing") =>
    checks.push({ target, goal, measured, met, kind });
  const c = (id: string) => r.cases[id];
  const ratioOf = (id: string, ref: string) => c(id) && c(ref) ? rate(c(id)) / rate(c(ref)) : NaN;

  const drain = ratioOf("fanout/bus.drain/S=8", "fanout/limit.sync/S=8");
  const overEmitter = ratioOf("fanout/bus.drain/S=8", "fanout/eventEmitter/S=8");
  check(
    "sync batch fan-out, S=8",
    ">= 0.8x sync limit, > EventEmitter",
    `${ratio(drain)} limit, ${ratio(overEmitter)} EventEmitter`,
    drain >= 0.8 && overEmitter > 1,
  );
  const wait = ratioOf("fanout/bus.wait/S=8", "fanout/limit.async/S=8");
  check("async batch path, S=8", ">= 0.8x async limit", ratio(wait), wait >= 0.8);
  const forAwait = ratioOf("fanout/bus.forAwait/S=8", "fanout/limit.iterator/S=8");
  const overOn = ratioOf("fanout/bus.forAwait/S=8", "fanout/eventsOn/S=8");
  check(
    "for await, S=8",
    ">= 0.9x limit iterator, >= events.on()",
    `${ratio(forAwait)} limit, ${ratio(overOn)} events.on()`,
    forAwait >= 0.9 && overOn >= 1,
  );
  const readable = ratioOf("fanout/bus.readable/S=8", "fanout/stream/S=8");
  check("readable, S=8", ">= 1.0x ReadableStream per subscriber", ratio(readable), readable >= 1);
  for (const subject of ["bus.wait", "bus.forAwait"]) {
    const p95 = r.latency[subject]?.p95 ?? NaN;
    check(`p95 publish->recv, 1x4, ${subject}`, "<= 10 us", `${fmt(p95)} us`, p95 <= 10);
  }
  for (const subject of ["bus.options", "bus.number"]) {
    const ns = 1e9 / (c(`coldStart/${subject}/-`)?.eventsPerSec ?? NaN);
    check(`cold start ${c(`coldStart/${subject}/-`)?.label ?? subject}`, "<= 300 ns", `${fmt(ns, 0)} ns`, ns <= 300);
  }
  const scaling = (subject: string) =>
    (c(`fanout/${subject}/S=1024`)?.deliveriesPerSec ?? NaN) / (c(`fanout/${subject}/S=8`)?.deliveriesPerSec ?? NaN);
  for (const [subject, limit] of [["bus.drain", "limit.sync"], ["bus.wait", "limit.async"]]) {
    check(
      `subscriber scaling, ${subject}`,
      "deliveries/s at S=1024 >= 0.7x S=8",
      `${ratio(scaling(subject))} (the limit ring: ${ratio(scaling(limit))})`,
      scaling(subject) >= 0.7,
    );
  }
  const churn = ratioOf("churn/bus.wait/10000Hz", "churn/bus.wait/0Hz");
  check("churn at 10 kHz", "< 10% throughput loss", `${fmt((1 - churn) * 100, 1)}% loss`, churn > 0.9);

  const keepUp = c("lag/bus.wait/slow=0");
  const overflow = keepUp?.counters ? keepUp.counters.dropped / keepUp.counters.sent : NaN;
  check(
    "overflow, consumers that keep up",
    "0 dropped (gate: <= 0.1%) at >= 1M events/s",
    `${fmt(overflow * 100, 3)}% at ${millions(keepUp?.eventsPerSec ?? NaN)}`,
    overflow <= 0.001,
    "deterministic",
  );
  const miscounted = [
    ...Object.values(r.cases).filter((x) => x.delivered !== x.expected).map((x) => x.id),
    ...Object.values(r.latency).filter((x) => x.delivered !== x.expected).map((x) => `latency/${x.subject}`),
  ];
  check(
    "delivered counts",
    "every case delivers exactly what it sent",
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
          `allocations ${a.id}`,
          rule.goal,
          `${fmt(bytes)} B (limit ${fmt(limit)})`,
          bytes <= limit,
          "deterministic",
        );
      }
    }
  } else {
    check("allocations", "calibrated method", "calibration failed: not enforced", true, "deterministic");
  }
  return checks;
}
