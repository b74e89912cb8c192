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
 * the limit ring as the baseline, for the cases whose id matches `pattern`
 * (a regular expression, e.g. `fanout/.*S=8`).
 *
 * With `--json [--profile smoke|quick|full]` it is a worker of
 * `bench/matrix.ts`: it measures with the profile's budget through mitata's
 * `measure`, in passes, prints one JSON object per line on stdout (`start`,
 * then `case`, `latency`, `calibration` and `allocation` records, then
 * `done`) and its progress on stderr. A case's figure is the median over the
 * passes of each pass's median; a latency percentile, the median over the
 * passes of that percentile.
 *
 * @module
 */

import process from "node:process";
import { bench, group, measure, run, summary } from "mitata";
import { calibrate, gc, median, runtime, runtimeVersion } from "./_measure.ts";
import {
  type Case,
  cases,
  LATENCY_SUBJECTS,
  type LatencyResult,
  measureAllocations,
  measureLatency,
  type Outcome,
  PROFILES,
} from "./workloads.ts";

const argv = process.argv.slice(2);
const json = argv.includes("--json");
const profileName =
  (argv.includes("--profile") ? argv[argv.indexOf("--profile") + 1] : "quick") as keyof typeof PROFILES;
const profile = PROFILES[profileName];
const pattern = new RegExp(argv.find((arg, i) => !arg.startsWith("--") && argv[i - 1] !== "--profile") ?? "");
const selected = cases(profile).filter((c) => pattern.test(c.id));

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
  for (const c of selected) {
    const name = `${c.workload} ${variantOf(c)}`;
    groups.set(name, [...groups.get(name) ?? [], c]);
  }
  for (const [name, members] of groups) {
    group(name, () =>
      summary(() => {
        for (const c of members) bench(c.label, benchmark(c)).baseline(c.family === "limit");
      }));
  }
  await run();
} else {
  const emit = (record: object) => console.log(JSON.stringify(record));
  const progress = (step: string) => console.error(`[${runtime}] ${step}`);
  const options = {
    gc: profile.gc && gc !== undefined ? gc : false,
    min_cpu_time: profile.minCpuMs * 1e6,
    min_samples: profile.minSamples,
    max_samples: profile.maxSamples,
    batch_samples: profile.batchSamples,
  };
  emit({ type: "start", runtime, version: runtimeVersion, profile: profileName, cases: selected.length });
  // Passes interleave each case's trials with every other case's, so load that comes and goes, and the JIT
  // state a fixture happens to get, spread over all cases instead of landing on a few.
  const trials = new Map(
    selected.map((c) => [c, { nsPerRun: [] as number[], delivered: 0, expected: 0, checksum: 0 }]),
  );
  const counters = new Map(selected.map((c) => [c, {} as Record<string, number>]));
  for (let pass = 1; pass <= profile.passes; pass++) {
    for (const [i, c] of selected.entries()) {
      progress(`pass ${pass}/${profile.passes}, case ${i + 1}/${selected.length}: ${c.id}`);
      let outcome!: Outcome;
      const stats = await measure(benchmark(c, (result) => outcome = result), options);
      const trial = trials.get(c)!;
      trial.nsPerRun.push(stats.p50);
      trial.delivered += outcome.delivered;
      trial.expected += outcome.expected;
      trial.checksum ^= outcome.checksum;
      const sums = counters.get(c)!;
      for (const [key, value] of Object.entries(outcome.counters ?? {})) sums[key] = (sums[key] ?? 0) + value;
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
      progress(`pass ${pass}/${profile.passes}, latency: ${subject}`);
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
  progress("allocations: calibrating");
  const calibration = await calibrate(profile.allocationWindowMs);
  emit({ type: "calibration", ...calibration });
  for (const c of selected.filter((c) => profile.allocationCases.test(c.id))) {
    progress(`allocations ${c.id}`);
    emit({ type: "allocation", ...await measureAllocations(c, profile) });
  }
  emit({ type: "done" });
}
