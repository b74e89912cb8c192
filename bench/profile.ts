/**
 * Profiles one timed case on Node, Deno or Bun: runs it in a loop under the
 * runtime's own CPU profiler and says where the profile is and how to open
 * it.
 *
 * ```sh
 * node --import tsx bench/profile.ts fanout/bus.wait/S=8                  # Node, 5 s
 * node --import tsx bench/profile.ts fanout/bus.drain/S=8 --runtime bun   # Bun (JavaScriptCore)
 * node --import tsx bench/profile.ts cliff/bus.drain/start=2^31 --runtime deno --seconds 10 --md
 * node --import tsx bench/profile.ts --list                               # every case id
 * ```
 *
 * Options: `--runtime node|deno|bun` (default node), `--seconds n` (5),
 * `--dir d` (`prof/`), `--interval us` (sampling interval, default 100 us),
 * `--md` (Deno and Bun: also a Markdown summary of the hot functions, to
 * read in a terminal), `--jit` (also log the JIT's work: V8's
 * `--trace-opt --trace-deopt`; JSC's compile times and OSR exits, through
 * `BUN_JSC_*` options), to `jit-<runtime>.log` in the same directory.
 *
 * Every runtime writes a `.cpuprofile` (Chrome's format): `node --cpu-prof`,
 * `deno run --cpu-prof` (the flag works in Deno 2.9 though `deno run --help`
 * does not list it), `bun --cpu-prof` (JavaScriptCore's sampling profiler).
 * The loop prints the case's events/s over the whole run, so a profile can be
 * matched with the figure it explains; profiling costs a few percent.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "./_measure.ts";
import { cases, PROFILES } from "./workloads.ts";

const argv = process.argv.slice(2);
const value = (flag: string, fallback: string) => argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : fallback;
const flagsWithValues = ["--runtime", "--seconds", "--dir", "--interval"];
const id = argv.find((arg, i) => !arg.startsWith("--") && !flagsWithValues.includes(argv[i - 1]));
const seconds = Number(value("--seconds", "5"));
const all = cases(PROFILES.full);

if (argv.includes("--list")) {
  for (const c of all) console.log(`${c.id.padEnd(36)} ${c.label}`);
} else if (argv.includes("--loop")) {
  await loop();
} else {
  await launch();
}

/** Runs the case for `seconds` in the runtime that runs this file, under whatever profiler it was started with. */
async function loop(): Promise<void> {
  const c = all.find((c) => c.id === id);
  if (c === undefined) throw new Error(`No case ${id}; ids look like fanout/bus.wait/S=8 (--list shows them all)`);
  const fixture = c.setup();
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < seconds * 1000) {
    for (let i = 0; i < 100; i++) await fixture.run();
    runs += 100;
  }
  const outcome = fixture.close();
  const rate = runs * c.eventsPerRun / ((performance.now() - started) / 1000);
  console.log(
    `${runtime}: ${id}: ${(rate / 1e6).toFixed(2)}M events/s over ${seconds} s (whole runs, profiler on), ` +
      `delivered ${outcome.delivered} of ${outcome.expected}`,
  );
}

/** Starts the chosen runtime on this file in `--loop` mode with its profiler on, then says how to open the result. */
async function launch(): Promise<void> {
  if (id === undefined || !all.some((c) => c.id === id)) {
    console.error(`Usage: node --import tsx bench/profile.ts <case id> [--runtime node|deno|bun] [--seconds n]
  [--dir d] [--interval us] [--md] [--jit]; --list shows the case ids.${id ? `\nNo case ${id}.` : ""}`);
    process.exitCode = 2;
    return;
  }
  const target = value("--runtime", "node");
  const self = fileURLToPath(import.meta.url);
  const root = dirname(dirname(self));
  const dir = resolve(value("--dir", join(root, "prof")));
  const interval = value("--interval", "100");
  const md = argv.includes("--md");
  const jit = argv.includes("--jit");
  mkdirSync(dir, { recursive: true });
  const name = `${target}-${id.replaceAll(/[^\w.=-]+/g, "_")}-${new Date().toISOString().replaceAll(/[:.]/g, "")}`;
  const profilerFlags = [`--cpu-prof`, `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${interval}`];
  const env = { ...process.env };
  const loopArgs = [self, "--loop", id, "--seconds", String(seconds)];
  let command: string[];
  if (target === "node") {
    command = [
      process.execPath,
      ...profilerFlags,
      `--cpu-prof-name=${name}.cpuprofile`,
      ...jit ? ["--trace-opt", "--trace-deopt"] : [],
      "--import",
      "tsx",
      ...loopArgs,
    ];
  } else if (target === "deno") {
    command = [
      join(root, "node_modules", ".bin", "deno"),
      "run",
      "--allow-all",
      ...profilerFlags,
      `--cpu-prof-name=${name}.cpuprofile`,
      ...md ? ["--cpu-prof-md"] : [],
      ...jit ? ["--v8-flags=--trace-opt,--trace-deopt"] : [],
      ...loopArgs,
    ];
  } else if (target === "bun") {
    command = [
      join(root, "node_modules", ".bin", "bun"),
      ...profilerFlags,
      `--cpu-prof-name=${name}`, // Bun adds the extension itself
      ...md ? ["--cpu-prof-md"] : [],
      ...loopArgs,
    ];
    // JavaScriptCore reads its options from BUN_JSC_<option>: what it compiles, with which tier, and where
    // optimised code bails out (which is where an inlining guess went wrong).
    if (jit) Object.assign(env, { BUN_JSC_reportCompileTimes: "1", BUN_JSC_printEachOSRExit: "1" });
  } else {
    throw new Error(`--runtime must be node, deno or bun, not ${target}`);
  }
  const started = Date.now();
  const jitLog = jit ? join(dir, `jit-${target}.log`) : undefined;
  // Node and Deno trace to stdout, JSC to stderr; with --jit both go to the log, and the loop's line is in it too.
  const output = jitLog ? openSync(jitLog, "w") : "inherit";
  console.error(`$ ${command.map((arg) => arg.includes(" ") ? `'${arg}'` : arg).join(" ")}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(command[0], command.slice(1), { cwd: root, env, stdio: ["ignore", output, output] });
    child.on("close", resolve);
  });
  if (code !== 0) {
    console.error(`${target} exited with ${code}`);
    process.exitCode = 1;
  }
  const written = readdirSync(dir).filter((file) => statSync(join(dir, file)).mtimeMs >= started - 1000)
    .filter((file) => !file.startsWith("jit-"));
  const shown = (file: string) => {
    const path = relative(process.cwd(), join(dir, file));
    return path.startsWith("..") ? join(dir, file) : path;
  };
  console.log(
    `\nWrote ${written.map(shown).join(", ") || "nothing"}${jitLog ? ` and ${shown(`jit-${target}.log`)}` : ""}`,
  );
  console.log(`Open the .cpuprofile in:
  - Chrome or Edge: DevTools (F12) > Performance > "Load profile..." (the up-arrow button): a flame chart;
  - https://www.speedscope.app: drop the file on the page ("Left Heavy" sums the time per stack);
  - VS Code: open the file for its table of self and total time; the "Flame Chart Visualizer" extension draws it.${
    written.some((file) => file.endsWith(".md"))
      ? "\nThe .md file is a Markdown summary of the hottest functions and the call tree, to read in a terminal."
      : ""
  }${
    jitLog
      ? `\n${shown(`jit-${target}.log`)}: ${
        target === "bun"
          ? "one line per compilation (tier: Baseline, DFG, FTL) and per OSR exit (optimised code giving up)"
          : "V8's optimisations and deoptimisations, each with its reason"
      }.`
      : ""
  }`);
}
