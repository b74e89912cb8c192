/**
 * `npm run bench`: the benchmark matrix. Runs `bench/mitata.ts` as a worker
 * on Deno, Bun and Node, in several processes per runtime (the profile's
 * `processes`), one process at a time and interleaved (Deno 1, Bun 1,
 * Node 1, Deno 2, ...), so drift in the machine's load reaches every runtime
 * alike. It collects the JSON each worker prints, summarises each runtime
 * over its processes (`_aggregate.ts`), judges the targets (`targets.ts`),
 * and writes `bench/results/latest.json` (with every process's own
 * figures), `MATRIX.md` and `matrix.svg`.
 *
 * ```sh
 * node --import tsx bench/matrix.ts            # quick: 5 processes x 1 pass, about 5-6 minutes on an idle machine
 * node --import tsx bench/matrix.ts --full     # 7 processes x 4 passes, longer runs
 * node --import tsx bench/matrix.ts --smoke    # 1 process, tiny N: checks the harness (writes nothing)
 *   [--runtimes deno,bun,node] [--processes n] [--filter <case id regex>]  (a filtered run writes nothing)
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { busRoot } from "./_bus.ts";
import { type FirstProcessExtras, summarize } from "./_aggregate.ts";
import { machine, type RuntimeName } from "./_measure.ts";
import { renderMarkdown, renderSvg, renderText } from "./_report.ts";
import { type CaseResult, evaluate, type MatrixResult, type ProcessResult, type RuntimeResult } from "./targets.ts";
import { PROFILES } from "./workloads.ts";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const WORKER = join(BENCH, "mitata.ts");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

/** Where `gate.ts` keeps the baselines, and the reference figures of the code issue 8 started from. */
export const BASELINES: string = join(ROOT, "testing", "performance", "baselines", "ron-bus");
export const REFERENCE: string = join(BASELINES, "reference");

/** How each runtime runs the worker; `--expose-gc` for the allocation method. */
const COMMANDS: Record<RuntimeName, string[]> = {
  deno: [bin("deno"), "run", "--allow-all", "--v8-flags=--expose-gc", WORKER],
  bun: [bin("bun"), WORKER],
  node: [process.execPath, "--import", "tsx", "--expose-gc", WORKER],
};

export type ProfileName = "smoke" | "quick" | "full";

export interface MatrixOptions {
  profile: ProfileName;
  runtimes: RuntimeName[];
  /** Worker processes per runtime; the profile's by default. */
  processes: number;
  /** Only cases whose id matches. */
  filter?: string;
  /** The command line to print in the report. */
  command: string;
}

/** A worker process gets this long before it is stopped. */
const TIMEOUT_SECONDS: Record<ProfileName, number> = { smoke: 120, quick: 300, full: 1800 };

interface WorkerOutput {
  version: string;
  process: ProcessResult;
  extras: FirstProcessExtras;
  /** What each case is, from the worker's records; the process keeps only its figures. */
  facts: Record<string, CaseResult>;
}

/** Runs one worker process; the first of each runtime also measures allocations and memory. */
function runWorker(
  runtime: RuntimeName,
  index: number,
  options: MatrixOptions,
  progress: (line: string) => void,
): Promise<WorkerOutput> {
  const [command, ...args] = COMMANDS[runtime];
  args.push("--json", "--profile", options.profile);
  if (index === 1) args.push("--first");
  if (options.filter) args.push(options.filter);
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const started = performance.now();
  const out: WorkerOutput = {
    version: "",
    process: { index, seconds: 0, cpuSeconds: NaN, load: [], cases: {}, latency: {}, capacity: {} },
    extras: { allocations: {}, memory: [] },
    facts: {},
  };
  const { process: result, extras } = out;
  let done = false;
  let lastError = "";
  createInterface({ input: child.stdout }).on("line", (line) => {
    const record = JSON.parse(line);
    if (record.type === "start") [out.version, result.load] = [record.version, record.load];
    else if (record.type === "case") {
      const { nsPerRun, eventsPerSec, passes, delivered, expected, counters } = record;
      result.cases[record.id] = { nsPerRun, eventsPerSec, passes, delivered, expected, counters };
      const { type: _type, checksum: _checksum, ...facts } = record;
      out.facts[record.id] = facts;
    } else if (record.type === "latency") result.latency[record.subject] = record;
    else if (record.type === "capacity") result.capacity[`${record.capacity}/${record.load}`] = record;
    else if (record.type === "calibration") extras.calibration = record;
    else if (record.type === "allocation") extras.allocations[record.id] = record;
    else if (record.type === "memory") extras.memory.push(record);
    else if (record.type === "done") [done, result.cpuSeconds] = [true, record.cpuSeconds];
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    if (!line.startsWith(`[${runtime}] `)) lastError = line;
    progress(`[${runtime} ${index}/${options.processes}] ${line.replace(`[${runtime}] `, "")}`);
  });
  const timer = setTimeout(() => child.kill(), TIMEOUT_SECONDS[options.profile] * 1000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      result.seconds = (performance.now() - started) / 1000;
      // Deno 2.9 sometimes segfaults at exit after gc(); a worker that said "done" finished its work.
      if (!done) result.error = `exited with ${signal ?? code} before finishing: ${lastError}`;
      else if (code !== 0) progress(`${runtime} worker ${index} exited with ${signal ?? code} after finishing`);
      resolve(out);
    });
  });
}

/** The reference ratios of `runtime` (see `gate.ts --update-reference`), if recorded. */
export function referenceRatios(runtime: RuntimeName): Record<string, number> | undefined {
  const file = join(REFERENCE, `${runtime}.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")).ratios : undefined;
}

/**
 * Runs the matrix: process 1 of every runtime, then process 2 of every
 * runtime, and so on, never two at once, so they never compete for the CPU
 * and slow drift in the machine's load reaches every runtime alike.
 */
export async function runMatrix(options: MatrixOptions): Promise<MatrixResult> {
  const result: MatrixResult = {
    date: new Date().toISOString(),
    profile: options.profile,
    command: options.command,
    machine: machine(),
    ...busRoot ? { busRoot } : {},
    runtimes: {},
  };
  const outputs = new Map<RuntimeName, WorkerOutput[]>(options.runtimes.map((runtime) => [runtime, []]));
  const started = performance.now();
  const tty = process.stderr.isTTY;
  const progress = (line: string) => {
    const text = `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s ${line}`;
    if (tty) process.stderr.write(`\r\x1b[K${text.slice(0, process.stderr.columns - 1)}`);
    else process.stderr.write(`${text}\n`);
  };
  process.stderr.write(
    `${options.profile} profile: ${options.processes} processes x ${PROFILES[options.profile].passes} passes ` +
      `on ${options.runtimes.join(", ")}\n`,
  );
  for (let index = 1; index <= options.processes; index++) {
    for (const runtime of options.runtimes) {
      outputs.get(runtime)!.push(await runWorker(runtime, index, options, progress));
    }
  }
  if (tty) process.stderr.write("\r\x1b[K");
  for (const [runtime, runs] of outputs) {
    const summary = summarize(
      runtime,
      runs.find((run) => run.version)?.version ?? "",
      runs.map((run) => run.process),
      runs[0].extras,
      Object.assign({}, ...runs.map((run) => run.facts)),
    );
    const reference = referenceRatios(runtime);
    const r: RuntimeResult = { ...summary, checks: [] };
    if (reference) {
      r.reference = Object.fromEntries(
        Object.entries(reference).filter(([key]) => /^fanout\/bus\.(drain|wait)\//.test(key)),
      );
    }
    r.checks = evaluate(r, reference);
    result.runtimes[runtime] = r;
  }
  return result;
}

/** Writes latest.json, MATRIX.md and matrix.svg to `bench/results/`. */
export function writeResults(result: MatrixResult): void {
  const dir = join(BENCH, "results");
  mkdirSync(dir, { recursive: true });
  // Lists of numbers on one line each: a list per case and process would otherwise take a line per number.
  const json = JSON.stringify(result, null, 2).replaceAll(
    /\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g,
    (_, list: string) => `[${list.split(/,\s*/).join(", ")}]`,
  );
  writeFileSync(join(dir, "latest.json"), json + "\n");
  writeFileSync(join(dir, "MATRIX.md"), renderMarkdown(result));
  writeFileSync(join(dir, "matrix.svg"), renderSvg(result));
}

/** Reads `--smoke`, `--full`, `--runtimes a,b`, `--processes n` and `--filter re` from `argv`. */
export function parseOptions(argv: string[], command: string): MatrixOptions {
  const value = (flag: string) => argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
  const profile: ProfileName = argv.includes("--smoke") ? "smoke" : argv.includes("--full") ? "full" : "quick";
  return {
    profile,
    runtimes: (value("--runtimes") ?? "deno,bun,node").split(",") as RuntimeName[],
    processes: Number(value("--processes") ?? PROFILES[profile].processes),
    filter: value("--filter"),
    command,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const options = parseOptions(args, ["npm run bench", ...args.length ? ["--", ...args] : []].join(" "));
  const result = await runMatrix(options);
  console.log(renderText(result));
  if (options.profile !== "smoke" && !options.filter) {
    writeResults(result);
    console.log("\nWrote bench/results/latest.json, MATRIX.md and matrix.svg");
  }
  const failed = Object.values(result.runtimes).filter((r) => r.error);
  if (failed.length) process.exitCode = 1;
}
