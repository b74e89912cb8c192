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
 * ring as its baseline; the `cliff` cases (buses started past 2^31 and
 * 2^32) come last, as in the matrix, each path grouped with its fresh start. Latency percentiles, heap bytes, the
 * capacity table and the `send/*.fanout` cases (which time only their
 * sends, inside each iteration) are not timings per iteration, so they come
 * from `bench/mitata.ts`, which runs on Deno too.
 *
 * @module
 */

import { type Case, cases, type Fixture, groupOf, PROFILES } from "./workloads.ts";

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
for (const c of cases(PROFILES[profileName]).filter((c) => c.timing === "run")) {
  const { name: group, baseline: candidate } = groupOf(c);
  const baseline = candidate && !baselined.has(group);
  if (baseline) baselined.add(group);
  const options = { name: c.id, group, baseline, ...smoke ? { n: 4, warmup: 1 } : {} };
  if (c.mode === "sync") Deno.bench({ ...options, fn: () => void fixtureOf(c).run() });
  else Deno.bench({ ...options, fn: async () => await fixtureOf(c).run() });
}
