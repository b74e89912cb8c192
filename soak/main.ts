/**
 * `npm run soak`: runs `soak/run.ts` under Deno, Bun and/or Node, one runtime
 * at a time, and prints a table of the results.
 *
 * ```sh
 * npm run soak -- --events 1e9 --subscribers 32 --churn-hz 1000 --policy drop-oldest --runtime deno --seed 42
 * npm run soak -- --runtime all --policy all --events 1e6
 * ```
 *
 * `--runtime` is `deno`, `bun`, `node` or `all` (the default), or a comma
 * list; `--policy` is an overflow policy, `all`, or a comma list. Every other
 * flag goes to `soak/run.ts` as it is. Without `--seed`, one seed is drawn
 * and shared by every run, so the runtimes can be compared: the same seed
 * gives the same digest on each. Exits 1 at the first broken law.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const RUNTIMES = ["deno", "bun", "node"] as const;
const POLICIES = ["drop-oldest", "drop-newest", "wait"] as const;
const root = fileURLToPath(new URL("..", import.meta.url));

function command(runtime: string): [string, string[]] {
  const bin = (name: string) => `${root}node_modules/.bin/${name}`;
  if (runtime === "deno") return [bin("deno"), ["run", "--allow-env", "--v8-flags=--expose-gc", "soak/run.ts"]];
  if (runtime === "bun") return [bin("bun"), ["soak/run.ts"]];
  return [process.execPath, ["--expose-gc", "--import", "tsx", "soak/run.ts"]];
}

function choose<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  if (value === "all") return [...allowed];
  const chosen = value.split(",");
  for (const item of chosen) {
    if (!allowed.includes(item as T)) {
      console.error(`soak: Invalid ${flag}: "${item}"; expected all or one of ${allowed.join(", ")}`);
      process.exit(2);
    }
  }
  return chosen as T[];
}

interface Result {
  runtime: string;
  version: string;
  policy: string;
  events: number;
  seconds: number;
  cpuSeconds: number;
  rate: number;
  dropped: number;
  discarded: number;
  blocked: number;
  churns: number;
  heap: { warm: number; max: number; end: number; peakRss: number; gc: boolean };
  digest: string;
}

/** Runs one soak, echoing its output; resolves with its result line, or undefined if it failed. */
function run(runtime: string, args: string[]): Promise<Result | undefined> {
  const [bin, base] = command(runtime);
  const child = spawn(bin, [...base, ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  let result: Result | undefined;
  let pending = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    const lines = (pending + chunk).split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith("SOAK-RESULT ")) result = JSON.parse(line.slice("SOAK-RESULT ".length));
      else console.log(line);
    }
  });
  return new Promise((resolve) => {
    child.on("error", (error) => {
      console.error(`soak: could not start ${runtime}: ${error.message}`);
      resolve(undefined);
    });
    child.on("close", (code) => resolve(code === 0 ? result : undefined));
  });
}

const args = process.argv.slice(2);
let runtimes: string[] = [...RUNTIMES];
let policies: string[] = ["drop-oldest"];
let seed: string | undefined;
const forwarded: string[] = [];
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split("=", 2);
  const value = () => inline ?? args[++i] ?? "";
  if (flag === "--runtime") runtimes = choose(flag, value(), RUNTIMES);
  else if (flag === "--policy") policies = choose(flag, value(), POLICIES);
  else if (flag === "--seed") seed = value();
  else forwarded.push(args[i]);
}
seed ??= String(Date.now() % 2 ** 31);

const results: Result[] = [];
let failed = false;
outer: for (const policy of policies) {
  for (const runtime of runtimes) {
    const result = await run(runtime, [...forwarded, "--policy", policy, "--seed", seed]);
    if (result === undefined) {
      failed = true;
      break outer;
    }
    results.push(result);
  }
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const rows = [
  ["runtime", "policy", "events", "seconds", "CPU s", "M ev/s", "heap warm/max/end MB", "peak rss MB", "digest"],
  ...results.map((r) => [
    `${r.runtime} ${r.version}`,
    r.policy,
    r.events.toLocaleString("en-US"),
    r.seconds.toFixed(1),
    r.cpuSeconds.toFixed(1),
    (r.rate / 1e6).toFixed(2),
    `${mb(r.heap.warm)} / ${mb(r.heap.max)} / ${mb(r.heap.end)}${r.heap.gc ? "" : " (no GC)"}`,
    mb(r.heap.peakRss),
    r.digest,
  ]),
];
const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
console.log(`\nsoak, seed ${seed}:`);
for (const row of rows) console.log(`  ${row.map((cell, c) => cell.padEnd(widths[c])).join("  ")}`.trimEnd());
for (const policy of policies) {
  const digests = new Set(results.filter((r) => r.policy === policy).map((r) => r.digest));
  if (digests.size > 1) console.log(`  note: ${policy} runs of one seed gave different digests on different runtimes`);
}
if (failed) {
  console.log("soak: FAILED (see above for the broken law and the replay command)");
  process.exit(1);
}
