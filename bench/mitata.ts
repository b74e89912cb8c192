/**
 * The mitata runner: every workload of `workloads.ts` on the runtime that
 * runs this file.
 *
 * ```sh
 * bun bench/mitata.ts [pattern]
 * node --import tsx --expose-gc bench/mitata.ts [pattern]
 * deno run -A --v8-flags=--expose-gc bench/mitata.ts [pattern]
 * ```
 *
 * prints mitata's tables, one group per workload and subscriber count with
 * the limit ring as the baseline (the cliff: each path beside its fresh
 * start), for the cases whose id matches `pattern` (a regular expression,
 * e.g. `fanout/.*S=8`), then the `send/*.fanout` cases, which time their own
 * sends.
 *
 * With `--json [--profile smoke|quick|full] [--first]` it is one worker
 * process of `bench/matrix.ts`: it measures with the profile's budget
 * through mitata's `measure`, in passes, and prints one JSON object per line
 * on stdout (`start`, then `case`, `latency` and `capacity` records, with
 * `--first` also `calibration`, `allocation` and `memory` ones, then `done`)
 * and its progress on stderr. Each phase (main, then cliff) starts with a
 * warm-up round over all its cases. A case's figure in a process is the median of
 * its passes' medians (self-timed cases: of the times they report); a
 * latency percentile, the median over the passes of that percentile. The
 * matrix summarises the processes.
 *
 * @module
 */

import os from "node:os";
import process from "node:process";
import { bench, group, measure, run, summary } from "mitata";
import { calibrate, cpuSeconds, gc, median, runtime, runtimeVersion } from "./_measure.ts";
import {
  type Case,
  cases,
  groupOf,
  LATENCY_SUBJECTS,
  type LatencyResult,
  measureAllocations,
  measureBusMemory,
  measureCapacityLatency,
  measureLatency,
  MEMORY_SUBSCRIBERS,
  type Outcome,
  PROFILES,
} from "./workloads.ts";

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const profileName =
  (argv.includes("--profile") ? argv[argv.indexOf("--profile") + 1] : "quick") as keyof typeof PROFILES;
const profile = PROFILES[profileName];
const first = argv.includes("--first");
const pattern = new RegExp(argv.find((arg, i) => !arg.startsWith("--") && argv[i - 1] !== "--profile") ?? "");
const selected = cases(profile).filter((c) => pattern.test(c.id));

/**
 * Runs `c` unmeasured for `ms` and at least 4 rounds. Every case of a phase
 * goes through this before any is measured, as a first pass used to: the
 * handlers of one subscriber count are shared by every subject (see
 * `handlerSet` in `workloads.ts`), and on a busy machine the JIT compiles
 * them on background threads well after they get hot, so with one pass per
 * process the subject that came first at a new count would pay for it.
 */
async function warmUp(c: Case, ms: number): Promise<void> {
  const fixture = c.setup();
  const until = performance.now() + ms;
  for (let rounds = 0; rounds < 4 || performance.now() < until; rounds++) await fixture.run();
  fixture.close();
}

/** A mitata benchmark generator: set up, yield the run, then close and hand back the outcome. */
function benchmark(c: Case, done: (outcome: Outcome) => void = () => {}) {
  return function* () {
    const fixture = c.setup();
    yield fixture.run;
    done(fixture.close());
  };
}

const variantOf = (c: Case) => c.id.slice(c.id.lastIndexOf("/") + 1);

if (!json) {
  const groups = new Map<string, Case[]>();
  // A self-timed case's figure is not the time of its runs, which is all mitata's tables can show.
  for (const c of selected.filter((c) => c.timing === "run")) {
    const { name } = groupOf(c);
    groups.set(name, [...groups.get(name) ?? [], c]);
  }
  for (const [name, members] of groups) {
    group(name, () =>
      summary(() => {
        for (const c of members) bench(c.label, benchmark(c)).baseline(groupOf(c).baseline);
      }));
  }
  await run();
  const timed = selected.filter((c) => c.timing === "sends");
  if (timed.length) console.log("\nsends alone, timed by the rounds themselves (readers drain outside the timing):");
  for (const c of timed) {
    let outcome!: Outcome;
    await measure(benchmark(c, (result) => outcome = result), { min_cpu_time: 300e6 });
    const ns = outcome.timedNs! / c.eventsPerRun;
    console.log(`  ${c.id.padEnd(24)} ${ns.toFixed(2).padStart(7)} ns/send  ${c.label}`);
  }
} else {
  const started = performance.now();
  const emit = (record: object) => console.log(JSON.stringify(record));
  const progress = (step: string) => console.error(`[${runtime}] ${step}`);
  const options = {
    gc: profile.gc && gc !== undefined ? gc : false,
    min_cpu_time: profile.minCpuMs * 1e6,
    min_samples: profile.minSamples,
    max_samples: profile.maxSamples,
    batch_samples: profile.batchSamples,
  };
  emit({
    type: "start",
    runtime,
    version: runtimeVersion,
    profile: profileName,
    cases: selected.length,
    load: os.loadavg().map((load) => Math.round(load * 100) / 100),
  });
  const trials = new Map(
    selected.map((c) => [c, { nsPerRun: [] as number[], delivered: 0, expected: 0, checksum: 0 }]),
  );
  const counters = new Map(selected.map((c) => [c, {} as Record<string, number>]));
  // Passes interleave each case's trials with every other case's, so load that comes and goes, and the JIT
  // state a fixture happens to get, spread over all cases instead of landing on a few. The cliff cases come
  // after all the others, in passes of their own (see workloads.ts).
  for (const phase of ["main", "cliff"] as const) {
    const inPhase = selected.filter((c) => c.phase === phase);
    for (const [i, c] of inPhase.entries()) {
      progress(`${phase} warm-up, case ${i + 1}/${inPhase.length}: ${c.id}`);
      await warmUp(c, profile.warmupMs);
    }
    for (let pass = 1; pass <= profile.passes && inPhase.length; pass++) {
      for (const [i, c] of inPhase.entries()) {
        progress(`${phase} pass ${pass}/${profile.passes}, case ${i + 1}/${inPhase.length}: ${c.id}`);
        let outcome!: Outcome;
        const stats = await measure(benchmark(c, (result) => outcome = result), options);
        const trial = trials.get(c)!;
        trial.nsPerRun.push(c.timing === "sends" ? outcome.timedNs! : stats.p50);
        trial.delivered += outcome.delivered;
        trial.expected += outcome.expected;
        trial.checksum ^= outcome.checksum;
        const sums = counters.get(c)!;
        for (const [key, value] of Object.entries(outcome.counters ?? {})) sums[key] = (sums[key] ?? 0) + value;
      }
    }
  }
  for (const c of selected) {
    const { setup: _, ...facts } = c;
    const { nsPerRun, ...counts } = trials.get(c)!;
    const ns = median(nsPerRun);
    emit({
      type: "case",
      ...facts,
      variant: variantOf(c),
      nsPerRun: ns,
      spread: Math.max(...nsPerRun) / Math.min(...nsPerRun),
      passes: nsPerRun,
      eventsPerSec: c.eventsPerRun / ns * 1e9,
      deliveriesPerSec: c.deliveriesPerRun / ns * 1e9,
      ...counts,
      counters: counters.get(c),
    });
  }
  const latencies = new Map(
    LATENCY_SUBJECTS.filter((id) => pattern.test(`latency/${id}`)).map((id) => [id, [] as LatencyResult[]]),
  );
  for (let pass = 1; pass <= profile.passes; pass++) {
    for (const [subject, results] of latencies) {
      progress(`latency pass ${pass}/${profile.passes}: ${subject}`);
      results.push(await measureLatency(subject, profile.latencyRounds));
    }
  }
  for (const results of latencies.values()) {
    const sum = (key: "samples" | "delivered" | "expected") => results.reduce((total, r) => total + r[key], 0);
    const mid = (key: "p50" | "p95" | "p99") => median(results.map((r) => r[key]));
    const [{ subject, label, family }] = results;
    emit({
      type: "latency",
      subject,
      label,
      family,
      samples: sum("samples"),
      p50: mid("p50"),
      p95: mid("p95"),
      p99: mid("p99"),
      delivered: sum("delivered"),
      expected: sum("expected"),
    });
  }
  if (pattern.test("capacity/")) {
    for (const capacity of profile.capacities) {
      for (const load of ["keepUp", "halfFull"] as const) {
        progress(`capacity ${capacity}, ${load}: latency`);
        emit({ type: "capacity", ...await measureCapacityLatency(capacity, load, profile.capacitySamples) });
      }
    }
  }
  if (first) {
    progress("allocations: calibrating");
    const calibration = await calibrate(profile.allocationWindowMs);
    emit({ type: "calibration", ...calibration });
    for (const c of selected.filter((c) => profile.allocationCases.test(c.id))) {
      progress(`allocations ${c.id}`);
      emit({ type: "allocation", ...await measureAllocations(c, profile) });
    }
    if (pattern.test("capacity/")) {
      for (const capacity of profile.capacities) {
        for (const subscribers of MEMORY_SUBSCRIBERS) {
          progress(`capacity ${capacity}: memory with ${subscribers} subscribers`);
          emit({ type: "memory", ...measureBusMemory(capacity, subscribers) });
        }
      }
    }
  }
  emit({ type: "done", seconds: (performance.now() - started) / 1000, cpuSeconds: cpuSeconds() });
}
