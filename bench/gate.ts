/**
 * `npm run bench:gate`: the seed's regression gates. Runs the matrix (quick
 * profile) and compares it with the baselines in
 * `testing/performance/baselines/ron-bus/<runtime>.json`. It fails when
 *
 * - a throughput ratio (ours : its reference, same run) drops more than 10%
 *   below its baseline;
 * - a p95 latency ratio rises more than 20% above its baseline;
 * - allocations per op exceed their targets (where the allocation method's
 *   calibration passed);
 * - overflow exceeds 0.1% with consumers that keep up;
 * - any case delivers a different count than it sent.
 *
 * Ratios are medians over the run's processes (see `matrix.ts`), each taken
 * within one process.
 *
 * ```sh
 * node --import tsx bench/gate.ts                 # quick matrix, every gate
 * node --import tsx bench/gate.ts --smoke         # CI: tiny N; deterministic gates only, timing printed
 * node --import tsx bench/gate.ts --from bench/results/latest.json   # judge a finished run
 * node --import tsx bench/gate.ts --update        # run, then store this run as the baselines
 * node --import tsx bench/gate.ts --from <run.json> --update-reference   # store a run as the reference
 * ```
 *
 * The reference (`baselines/ron-bus/reference/<runtime>.json`, same format)
 * holds the figures of the code a performance change started from; the
 * matrix judges "no subscriber count more than 5% below the current code"
 * against it. Baselines move with every accepted change; the reference
 * stays until the change is done. To record it from another commit with
 * today's harness, point `BENCH_BUS` at a checkout of it (see `_bus.ts`).
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { Machine, RuntimeName } from "./_measure.ts";
import { renderText } from "./_report.ts";
import { BASELINES, parseOptions, REFERENCE, runMatrix, writeResults } from "./matrix.ts";
import type { MatrixResult, RuntimeResult } from "./targets.ts";

/** Throughput ratios may fall this far below the baseline, p95 latency ratios rise this far above it. */
const THROUGHPUT_DROP = 0.1;
const LATENCY_RISE = 0.2;

export interface Baseline {
  date: string;
  profile: string;
  machine: Machine;
  version: string;
  /** Worker processes the medians were taken over (1 before they were). */
  processes?: number;
  /** The checkout measured, when not the harness's own (`BENCH_BUS`). */
  busRoot?: string;
  /** Ours : reference, from `targets.ts`; p95 ratios are keyed `p95 ...`. */
  ratios: Record<string, number>;
  /** Absolute medians, for the record: events/s per case, p95 us per latency subject. */
  eventsPerSec: Record<string, number>;
  p95: Record<string, number>;
  bytesPerDelivery: Record<string, number>;
}

function baselineOf(result: MatrixResult, r: RuntimeResult): Baseline {
  const round = (n: number) => Number(n.toPrecision(4));
  const map = <T>(record: Record<string, T>, f: (value: T) => number) =>
    Object.fromEntries(Object.entries(record).map(([key, value]) => [key, round(f(value))]));
  return {
    date: result.date,
    profile: result.profile,
    machine: result.machine,
    version: r.version,
    processes: r.processes?.length ?? 1,
    ...result.busRoot ? { busRoot: result.busRoot } : {},
    ratios: map(r.ratios, (x) => x),
    eventsPerSec: map(r.cases, (c) => c.eventsPerSec),
    p95: map(r.latency, (l) => l.p95),
    // Where nothing is delivered (send, cold start) the figure is per event; JSON turns that NaN into null.
    bytesPerDelivery: map(
      r.allocations,
      (a) => Number.isFinite(a.bytesPerDelivery) ? a.bytesPerDelivery : a.bytesPerEvent,
    ),
  };
}

/** The timing regressions of `r` against `baseline`, one line each. */
function regressions(r: RuntimeResult, baseline: Baseline): string[] {
  const found: string[] = [];
  for (const [key, base] of Object.entries(baseline.ratios)) {
    const now = r.ratios[key];
    if (now === undefined) continue;
    const latency = key.startsWith("p95 ");
    const worse = latency ? now > base * (1 + LATENCY_RISE) : now < base * (1 - THROUGHPUT_DROP);
    if (worse) found.push(`${key}: ${now.toFixed(3)} vs baseline ${base.toFixed(3)}`);
  }
  return found;
}

const args = process.argv.slice(2);
const smoke = args.includes("--smoke");
const from = args.includes("--from") ? args[args.indexOf("--from") + 1] : undefined;
const result: MatrixResult = from
  ? JSON.parse(readFileSync(from, "utf8"))
  : await runMatrix(parseOptions(args, ["npm run bench:gate", ...args.length ? ["--", ...args] : []].join(" ")));
if (!from) console.log(renderText(result));
if (!from && !smoke) writeResults(result);

let failed = false;
for (const [runtime, r] of Object.entries(result.runtimes) as [RuntimeName, RuntimeResult][]) {
  const problems: string[] = [];
  if (r.error) problems.push(`worker failed: ${r.error}`);
  for (const check of r.checks.filter((check) => check.kind === "deterministic" && !check.met)) {
    problems.push(`${check.target}: ${check.measured}; goal ${check.goal}`);
  }
  const file = join(BASELINES, `${runtime}.json`);
  const update = args.includes("--update") && !smoke && !r.error;
  const timing = existsSync(file)
    ? regressions(r, JSON.parse(readFileSync(file, "utf8")))
    : update
    ? []
    : ["no baseline yet"];
  if (!smoke) problems.push(...timing);
  console.log(`\n${runtime}: ${problems.length === 0 ? "pass" : "FAIL"}`);
  for (const problem of problems) console.log(`  ${problem}`);
  if (smoke && timing.length) {
    console.log(`  timing gates, printed not enforced in smoke runs (tiny N): ${timing.length} off baseline`);
    for (const line of timing.slice(0, 5)) console.log(`    ${line}`);
  }
  failed ||= problems.length > 0;
  if (update) {
    mkdirSync(BASELINES, { recursive: true });
    writeFileSync(file, JSON.stringify(baselineOf(result, r), null, 2) + "\n");
    console.log(`  wrote ${file}`);
  }
  if (args.includes("--update-reference") && !smoke && !r.error) {
    mkdirSync(REFERENCE, { recursive: true });
    const reference = join(REFERENCE, `${runtime}.json`);
    writeFileSync(reference, JSON.stringify(baselineOf(result, r), null, 2) + "\n");
    console.log(`  wrote ${reference}`);
  }
}
process.exitCode = failed ? 1 : 0;
