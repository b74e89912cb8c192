/**
 * `npm run bench`: the benchmark matrix. Runs `bench/mitata.ts` as a worker
 * on Deno, Bun and Node in turn, one runtime at a time, collects the JSON
 * each prints, and writes `bench/results/latest.json`, `MATRIX.md` and
 * `matrix.svg`.
 *
 * ```sh
 * node --import tsx bench/matrix.ts            # quick profile, about 3 minutes
 * node --import tsx bench/matrix.ts --full     # longer runs, steadier medians
 * node --import tsx bench/matrix.ts --smoke    # tiny N, checks the harness (writes nothing)
 *   [--runtimes deno,bun,node] [--filter <case id regex>]  (a filtered run writes nothing)
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { machine, type RuntimeName } from "./_measure.ts";
import { renderMarkdown, renderSvg, renderText } from "./_report.ts";
import { evaluate, latencyRatios, type MatrixResult, type RuntimeResult, throughputRatios } from "./targets.ts";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const WORKER = join(BENCH, "mitata.ts");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

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
  /** Only cases whose id matches. */
  filter?: string;
  /** The command line to print in the report. */
  command: string;
}

/** A worker gets this long before it is stopped. */
const TIMEOUT_SECONDS: Record<ProfileName, number> = { smoke: 120, quick: 400, full: 3600 };

function runWorker(runtime: RuntimeName, options: MatrixOptions): Promise<RuntimeResult> {
  const [command, ...args] = COMMANDS[runtime];
  args.push("--json", "--profile", options.profile);
  if (options.filter) args.push(options.filter);
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const started = performance.now();
  const result: RuntimeResult = {
    runtime,
    version: "",
    seconds: 0,
    cases: {},
    latency: {},
    allocations: {},
    ratios: {},
    checks: [],
  };
  let done = false;
  let lastError = "";
  const tty = process.stderr.isTTY;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const record = JSON.parse(line);
    if (record.type === "start") result.version = record.version;
    else if (record.type === "case") result.cases[record.id] = record;
    else if (record.type === "latency") result.latency[record.subject] = record;
    else if (record.type === "calibration") result.calibration = record;
    else if (record.type === "allocation") result.allocations[record.id] = record;
    else if (record.type === "done") done = true;
  });
  createInterface({ input: child.stderr }).on("line", (line) => {
    if (!line.startsWith(`[${runtime}] `)) lastError = line;
    const elapsed = `${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s`;
    const text = `${elapsed} ${line}`;
    if (tty) process.stderr.write(`\r\x1b[K${text.slice(0, process.stderr.columns - 1)}`);
    else process.stderr.write(`${text}\n`);
  });
  const timer = setTimeout(() => child.kill(), TIMEOUT_SECONDS[options.profile] * 1000);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (tty) process.stderr.write("\r\x1b[K");
      result.seconds = (performance.now() - started) / 1000;
      // Deno 2.9 sometimes segfaults at exit after gc(); a worker that said "done" finished its work.
      if (!done) result.error = `exited with ${signal ?? code} before finishing: ${lastError}`;
      else if (code !== 0) process.stderr.write(`${runtime} worker exited with ${signal ?? code} after finishing\n`);
      result.ratios = { ...throughputRatios(result.cases), ...latencyRatios(result.latency) };
      result.checks = evaluate(result);
      resolve(result);
    });
  });
}

/** Runs the matrix: each runtime in turn, so they never compete for the CPU. */
export async function runMatrix(options: MatrixOptions): Promise<MatrixResult> {
  const result: MatrixResult = {
    date: new Date().toISOString(),
    profile: options.profile,
    command: options.command,
    machine: machine(),
    runtimes: {},
  };
  for (const runtime of options.runtimes) {
    process.stderr.write(`${runtime}: ${options.profile} profile\n`);
    result.runtimes[runtime] = await runWorker(runtime, options);
  }
  return result;
}

/** Writes latest.json, MATRIX.md and matrix.svg to `bench/results/`. */
export function writeResults(result: MatrixResult): void {
  const dir = join(BENCH, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "latest.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(dir, "MATRIX.md"), renderMarkdown(result));
  writeFileSync(join(dir, "matrix.svg"), renderSvg(result));
}

/** Reads `--smoke`, `--full`, `--runtimes a,b` and `--filter re` from `argv`. */
export function parseOptions(argv: string[], command: string): MatrixOptions {
  const value = (flag: string) => argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
  return {
    profile: argv.includes("--smoke") ? "smoke" : argv.includes("--full") ? "full" : "quick",
    runtimes: (value("--runtimes") ?? "deno,bun,node").split(",") as RuntimeName[],
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
