/**
 * One runtime's figures over its worker processes. A JIT makes choices per
 * process (which handlers to inline, which shapes to expect), so each
 * process is one draw: a case's figure is the median over the processes of
 * each process's own median, beside the range they fell in; a ratio is
 * taken within each process first (both sides saw the same JIT and the same
 * load) and then summarised the same way.
 *
 * @module
 */

import type { RuntimeName } from "./_measure.ts";
import {
  type CapacitySummary,
  type CaseResult,
  type Figure,
  figureOf,
  latencyRatios,
  type LatencySummary,
  type ProcessCase,
  type ProcessResult,
  type RuntimeResult,
  throughputRatios,
} from "./targets.ts";
import type { AllocationResult, BusMemory } from "./workloads.ts";
import type { Calibration } from "./_measure.ts";

/** What only the first process of a runtime measures. */
export interface FirstProcessExtras {
  calibration?: Calibration;
  allocations: Record<string, AllocationResult>;
  memory: BusMemory[];
}

/** Every key that appears in any of `records`, in first-seen order. */
function keysOf<T>(records: Record<string, T>[]): string[] {
  return [...new Set(records.flatMap((record) => Object.keys(record)))];
}

function summarizeCase(facts: CaseResult, perProcess: ProcessCase[]): CaseResult {
  const rates = figureOf(perProcess.map((c) => c.eventsPerSec));
  const counters: Record<string, number> = {};
  for (const c of perProcess) {
    for (const [key, value] of Object.entries(c.counters ?? {})) counters[key] = (counters[key] ?? 0) + value;
  }
  const { passes: _, ...rest } = facts;
  return {
    ...rest,
    nsPerRun: facts.eventsPerRun / rates.median * 1e9,
    spread: rates.max / rates.min,
    eventsPerSec: rates.median,
    deliveriesPerSec: rates.median * facts.deliveriesPerRun / facts.eventsPerRun,
    perProcess: rates.values,
    delivered: perProcess.reduce((sum, c) => sum + c.delivered, 0),
    expected: perProcess.reduce((sum, c) => sum + c.expected, 0),
    counters: Object.keys(counters).length ? counters : undefined,
  };
}

/** Sums the counts and takes the median of each percentile over processes. */
function summarizeLatency<T extends { p50: number; p95: number; delivered: number; expected: number }>(
  perProcess: T[],
): T & { p95s: number[] } {
  const median = (key: "p50" | "p95" | "p99") =>
    figureOf(perProcess.map((l) => (l as unknown as Record<string, number>)[key])).median;
  const summary = {
    ...perProcess[0],
    p50: median("p50"),
    p95: median("p95"),
    delivered: perProcess.reduce((sum, l) => sum + l.delivered, 0),
    expected: perProcess.reduce((sum, l) => sum + l.expected, 0),
    p95s: perProcess.map((l) => l.p95),
  };
  if ("p99" in summary) Object.assign(summary, { p99: median("p99") });
  if ("samples" in summary) {
    Object.assign(summary, {
      samples: perProcess.reduce((sum, l) => sum + (l as unknown as { samples: number }).samples, 0),
    });
  }
  return summary;
}

/**
 * One runtime's result from its processes, in process order; failed
 * processes are kept but not summarised. `facts` is what each case is, as a
 * worker described it.
 */
export function summarize(
  runtime: RuntimeName,
  version: string,
  processes: ProcessResult[],
  extras: FirstProcessExtras,
  facts: Record<string, CaseResult>,
): Omit<RuntimeResult, "checks"> {
  const ok = processes.filter((p) => !p.error);
  const failed = processes.filter((p) => p.error);
  const cases: Record<string, CaseResult> = {};
  for (const id of keysOf(ok.map((p) => p.cases))) {
    cases[id] = summarizeCase(facts[id], ok.map((p) => p.cases[id]).filter(Boolean));
  }
  const latency: Record<string, LatencySummary> = {};
  for (const subject of keysOf(ok.map((p) => p.latency))) {
    latency[subject] = summarizeLatency(ok.map((p) => p.latency[subject]).filter(Boolean));
  }
  const capacity: Record<string, CapacitySummary> = {};
  for (const key of keysOf(ok.map((p) => p.capacity))) {
    capacity[key] = summarizeLatency(ok.map((p) => p.capacity[key]).filter(Boolean));
  }
  const perProcessRatios = ok.map((p) => ({ ...throughputRatios(p.cases, facts), ...latencyRatios(p.latency) }));
  const ratioFigures: Record<string, Figure> = {};
  for (const key of keysOf(perProcessRatios)) {
    ratioFigures[key] = figureOf(perProcessRatios.map((ratios) => ratios[key]).filter((x) => x !== undefined));
  }
  return {
    runtime,
    version,
    seconds: processes.reduce((sum, p) => sum + p.seconds, 0),
    cpuSeconds: processes.reduce((sum, p) => sum + p.cpuSeconds, 0),
    processes,
    cases,
    latency,
    capacity,
    memory: extras.memory,
    calibration: extras.calibration,
    allocations: extras.allocations,
    error: failed.length ? failed.map((p) => `process ${p.index}: ${p.error}`).join("; ") : undefined,
    ratios: Object.fromEntries(Object.entries(ratioFigures).map(([key, f]) => [key, f.median])),
    ratioFigures,
  };
}
