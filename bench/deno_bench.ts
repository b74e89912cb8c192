/**
 * The timed workloads of `workloads.ts` as `Deno.bench` cases, for Deno
 * users who reach for `deno bench`:
 *
 * ```sh
 * deno bench bench/deno_bench.ts
 * deno bench bench/deno_bench.ts --filter "fanout/bus"
 * BENCH_PROFILE=smoke deno bench --allow-env bench/deno_bench.ts   # a few iterations each
 * ```
 *
 * Each group is one workload at one subscriber count, with the first limit
 * ring as its baseline. Latency percentiles and heap bytes are not
 * timings per iteration, so they come from `bench/mitata.ts`, which runs on
 * Deno too.
 *
 * @module
 */

import { type Case, cases, type Fixture, PROFILES } from "./workloads.ts";

const canReadProfile = Deno.permissions.querySync({ name: "env", variable: "BENCH_PROFILE" }).state === "granted";
const profileName = ((canReadProfile && Deno.env.get("BENCH_PROFILE")) || "quick") as keyof typeof PROFILES;
const smoke = profileName === "smoke";

/**
 * `Deno.bench` has no set-up hook, so each case builds its fixture on its
 * first iteration (a warm-up one) and closes the previous case's, so only
 * one case's subscribers are alive at a time.
 */
let current: { owner: Case; fixture: Fixture } | undefined;
function fixtureOf(c: Case): Fixture {
  if (current?.owner !== c) {
    current?.fixture.close();
    current = { owner: c, fixture: c.setup() };
  }
  return current.fixture;
}

const baselined = new Set<string>();
for (const c of cases(PROFILES[profileName])) {
  const group = `${c.workload} ${c.id.slice(c.id.lastIndexOf("/") + 1)}`;
  const baseline = c.family === "limit" && !baselined.has(group);
  if (baseline) baselined.add(group);
  const options = { name: c.id, group, baseline, ...smoke ? { n: 4, warmup: 1 } : {} };
  if (c.mode === "sync") Deno.bench({ ...options, fn: () => void fixtureOf(c).run() });
  else Deno.bench({ ...options, fn: async () => await fixtureOf(c).run() });
}
