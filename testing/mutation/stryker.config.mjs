// StrykerJS configuration for `npm run mutation` (see testing/mutation/README.md).
// Stryker 9.6.1: version 10 needs Node 22, and CI runs Node 20.

import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";

/**
 * Each area mutates its files against the test files of its concept, so a mutant in the core must be caught by the
 * core's own tests, and one area's report can be redone alone: `MUTATION_AREA=nats npm run mutation`. Every file of
 * src/ belongs to exactly one area (the globs), so a file another issue adds is mutated without a config change.
 */
const TESTS = readdirSync(new URL("../../tests", import.meta.url)).filter((name) => name.endsWith(".test.ts"));
const testsOf = (pick) => TESTS.filter(pick).map((name) => `tests/${name}`);
/**
 * A mutant's covering files run in this order until one fails, so the files that start no nats-server go first: most
 * NATS mutants then die in a unit test's second, not a bridge test's minute.
 */
const startsServer = (file) => /from "\.\/_nats/.test(readFileSync(new URL(`../../${file}`, import.meta.url), "utf8"));
const serverless = (files) => [...files.filter((file) => !startsServer(file)), ...files.filter(startsServer)];
/** Read the manifests, the README and the published file list: no change in src/ can reach them. */
const UNREACHABLE = ["project.test.ts", "published.test.ts"];
/** Takes seconds to allocate the largest ring; the capacity bound's checks are in bad_input.test.ts. */
const SLOW = ["max_capacity.test.ts"];
const SSE = ["sse.test.ts", "event_stream.test.ts", "nats_sse.test.ts"];

const AREAS = {
  core: {
    mutate: ["src/*.ts"],
    // shared_bus.test.ts too: SharedBus writes through src/writes.ts, whose paths for room taken by another thread
    // only a shared ring reaches.
    tests: testsOf((name) =>
      (name === "shared_bus.test.ts" || !name.startsWith("shared_")) && !name.startsWith("nats_") &&
      !SSE.includes(name) && !UNREACHABLE.includes(name) && !SLOW.includes(name)
    ),
  },
  shared: { mutate: ["src/shared/**/*.ts"], tests: testsOf((name) => name.startsWith("shared_")) },
  nats: { mutate: ["src/nats/**/*.ts"], tests: serverless(testsOf((name) => name.startsWith("nats_"))) },
  sse: { mutate: ["src/sse/**/*.ts"], tests: testsOf((name) => SSE.includes(name)) },
};
const area = process.env.MUTATION_AREA ?? "core";
if (!(area in AREAS)) throw new TypeError(`Unknown MUTATION_AREA: ${area}; expected one of ${Object.keys(AREAS)}`);

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // MUTATION_MUTATE="src/ring.ts:120-130,src/bus.ts:88-88" narrows a rerun to lines, a single line as a range (with
  // the incremental file, the rest of the area's results are kept): how the survivors of a run are retested once tests
  // are added.
  mutate: process.env.MUTATION_MUTATE?.split(",") ?? AREAS[area].mutate,
  // The tap runner runs each test file in its own Node process (node:test reports TAP), and knows which files reach
  // which mutant: a mutant runs only the files that execute its code, not the whole suite. The Deno suite under the
  // command runner took 17 minutes for five files; every file of src/ that way would take hours on two cores.
  testRunner: "tap",
  tap: {
    testFiles: AREAS[area].tests,
    // tsx runs the TypeScript; --expose-gc for the leak tests; TAP whatever stdout is.
    nodeArgs: ["-r", "{{hookFile}}", "--import", "tsx", "--expose-gc", "--test-reporter=tap", "{{testFile}}"],
    // Stop a file at its first failing test: the mutant is killed.
    forceBail: true,
  },
  coverageAnalysis: "perTest",
  // A rerun after a change redoes only the mutants whose code or covering test files changed.
  incremental: true,
  incrementalFile: `testing/mutation/report/${area}.incremental.json`,
  // Two cores: two test processes at a time.
  concurrency: 2,
  // A mutant whose run takes more than 2x the dry run + 20 s counts as timed out, which Stryker counts as killed (an
  // infinite loop). The margin is wide because the machine is shared.
  timeoutFactor: 2,
  timeoutMS: 20_000,
  reporters: ["html", "json", "progress", "clear-text"],
  htmlReporter: { fileName: `testing/mutation/report/${area}.html` },
  jsonReporter: { fileName: `testing/mutation/report/${area}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: `.stryker-tmp/${area}`,
  // The sandbox needs src/, tests/, soak/ (the chaos test runs a short soak), examples/ (the SSE tests serve them), the
  // entry points and the manifests.
  ignorePatterns: ["bench", "testing", ".ci", "*.cpuprofile", "prof"],
};
