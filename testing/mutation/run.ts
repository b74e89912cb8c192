/**
 * `npm run mutation`: Stryker over each area of `src/` in turn (see
 * `stryker.config.mjs`), then the summary over every area's report.
 *
 * ```sh
 * npm run mutation                       # every area: core, shared, nats, sse
 * MUTATION_AREA=core npm run mutation    # one area; the summary still reads every report there is
 * ```
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const AREAS = ["core", "shared", "nats", "sse"];
const root = fileURLToPath(new URL("../..", import.meta.url));
const areas = process.env.MUTATION_AREA === undefined ? AREAS : [process.env.MUTATION_AREA];

function run(command: string, args: string[], env: Record<string, string> = {}): void {
  const { status } = spawnSync(command, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  if (status !== 0) process.exit(status ?? 1);
}

for (const area of areas) {
  console.log(`\nmutation: area ${area}`);
  run("npx", ["stryker", "run", "testing/mutation/stryker.config.mjs"], { MUTATION_AREA: area });
}
run(process.execPath, ["--import", "tsx", "testing/mutation/summary.ts"]);
