/**
 * Runs one timed case in a loop, for a CPU profiler to watch:
 *
 * ```sh
 * node --import tsx --cpu-prof --cpu-prof-dir=prof bench/profile.ts fanout/bus.wait/S=8 [seconds]
 * deno run --allow-all --cpu-prof --cpu-prof-dir=prof bench/profile.ts fanout/bus.wait/S=8 [seconds]
 * ```
 *
 * It prints the case's events/s over the whole loop, so a profile can be
 * matched with the figure it explains.
 *
 * @module
 */

import process from "node:process";
import { cases, PROFILES } from "./workloads.ts";

const [id, seconds = "5"] = process.argv.slice(2);
const c = cases(PROFILES.full).find((c) => c.id === id);
if (c === undefined) throw new Error(`No case ${id}; ids look like fanout/bus.wait/S=8`);
const fixture = c.setup();
const started = performance.now();
let runs = 0;
while (performance.now() - started < Number(seconds) * 1000) {
  for (let i = 0; i < 100; i++) await fixture.run();
  runs += 100;
}
const outcome = fixture.close();
const rate = runs * c.eventsPerRun / ((performance.now() - started) / 1000);
console.log(`${id}: ${(rate / 1e6).toFixed(2)}M events/s, delivered ${outcome.delivered} of ${outcome.expected}`);
