// StrykerJS configuration for `npm run mutation` (see testing/mutation/README.md).
// Stryker 9.6.1: version 10 needs Node 22, and CI runs Node 20.

/** Test files that cannot see a change in src/, or that run their code outside this Node process's reach. */
const IGNORED_TESTS = [
  // Reads the manifests and the README.
  "tests/project.test.ts",
  // Serves examples/sse.ts from a child process, which Stryker's mutant switch does not reach.
  "tests/sse.test.ts",
];

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // Every file of src/, so a file another issue adds is mutated without a config change. Type-only files give no
  // mutants.
  mutate: ["src/**/*.ts"],
  // The tap runner runs each test file in its own Node process (node:test reports TAP), and knows which files reach
  // which mutant: a mutant runs only the files that execute its code, not the whole suite. The Deno suite under the
  // command runner took 17 minutes for five files; every file of src/ that way would take hours on two cores.
  testRunner: "tap",
  tap: {
    testFiles: ["tests/*.test.ts", ...IGNORED_TESTS.map((file) => `!${file}`)],
    // tsx runs the TypeScript; --expose-gc for the leak tests; TAP whatever stdout is.
    nodeArgs: ["-r", "{{hookFile}}", "--import", "tsx", "--expose-gc", "--test-reporter=tap", "{{testFile}}"],
    // Stop a file at its first failing test: the mutant is killed.
    forceBail: true,
  },
  coverageAnalysis: "perTest",
  // Two cores: two test processes at a time.
  concurrency: 2,
  // A mutant whose run takes more than 2x the dry run + 20 s counts as timed out, which Stryker counts as killed (an
  // infinite loop). The margin is wide because the machine is shared.
  timeoutFactor: 2,
  timeoutMS: 20_000,
  reporters: ["html", "json", "progress", "clear-text"],
  htmlReporter: { fileName: "testing/mutation/report/mutation.html" },
  jsonReporter: { fileName: "testing/mutation/report/mutation.json" },
  clearTextReporter: { allowColor: false, logTests: false },
  tempDirName: ".stryker-tmp",
  // The sandbox needs src/, tests/, soak/ (the chaos test runs a short soak), the entry points and the manifests.
  ignorePatterns: ["bench", "examples", "testing", ".ci", "*.cpuprofile", "prof"],
};
