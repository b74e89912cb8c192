// StrykerJS configuration for `npm run mutation` (see testing/mutation/README.md).
// Stryker 9.6.1: version 10 needs Node 22, and CI runs Node 20.

/** The Deno suite, restricted to the fast, deterministic files. */
const IGNORED_TESTS = [
  // Serves examples/sse.ts over a loopback port: tests the example, not src/, and a port can be busy.
  "tests/sse.test.ts",
  // Reads the manifests and the README: mutating src/ cannot change its result.
  "tests/project.test.ts",
];

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // Every file of src/, so a file another issue adds is mutated without a config change. Type-only
  // files give no mutants.
  mutate: ["src/**/*.ts"],
  testRunner: "command",
  commandRunner: {
    // --no-check: a mutant is judged by what it does, not by whether it type-checks (deno check runs in CI);
    // --fail-fast: the first failing test kills the mutant; --expose-gc: the leak tests need a forced GC.
    // --allow-env: the instrumented code reads the active mutant from process.env.
    command: "./node_modules/.bin/deno test --no-check --fail-fast --quiet --allow-env --allow-read " +
      `--v8-flags=--expose-gc --ignore=${IGNORED_TESTS.join(",")} tests/`,
  },
  // The command runner has no per-test coverage: every mutant runs the whole command.
  coverageAnalysis: "off",
  // Two cores, shared with other work: two test processes at a time.
  concurrency: 2,
  // A mutant whose run takes more than 2x the dry run + 60 s counts as timed out, which Stryker counts as killed
  // (an infinite loop). The margin is wide because the machine is shared: with 1.5x + 10 s, runs slowed by other
  // work timed out, and survivors, and mutants only the last test files kill, were counted as hangs.
  timeoutFactor: 2,
  timeoutMS: 60_000,
  reporters: ["html", "json", "progress", "clear-text"],
  htmlReporter: { fileName: "testing/mutation/report/mutation.html" },
  jsonReporter: { fileName: "testing/mutation/report/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: ".stryker-tmp",
  // The sandbox needs src/, tests/, soak/ (the chaos test runs a short soak) and the manifests.
  ignorePatterns: ["bench", "examples", "testing", ".ci", "*.cpuprofile"],
};
