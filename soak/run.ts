/**
 * Runs one soak in the current runtime (Deno, Bun or Node) and prints its
 * progress and summary. `soak/main.ts` spawns it; it can also be run alone:
 *
 * ```sh
 * node --expose-gc --import tsx soak/run.ts --events 1e7 --seed 7
 * deno run --allow-env --allow-read --v8-flags=--expose-gc soak/run.ts --events 1e7 --seed 7
 * bun soak/run.ts --events 1e7 --seed 7
 * ```
 *
 * Exits 1 on the first broken law, printing the seed and the command that
 * replays the run; 2 on a bad argument.
 *
 * @module
 */

import type { OverflowPolicy } from "../mod.ts";
import { LawError } from "../tests/_laws.ts";
import { DEFAULTS, soak, type SoakOptions, type SoakResult } from "./soak.ts";

interface Host {
  Deno?: { args: string[]; exit(code: number): never; version: { deno: string } };
  Bun?: { version: string };
  process?: { argv: string[]; exit(code: number): never; version: string };
}

const host = globalThis as Host;
const runtime = host.Deno !== undefined ? "deno" : host.Bun !== undefined ? "bun" : "node";
const version = host.Deno?.version.deno ?? host.Bun?.version ?? host.process?.version.replace(/^v/, "") ?? "?";

function exit(code: number): never {
  if (host.Deno !== undefined) host.Deno.exit(code);
  return host.process!.exit(code);
}

/** The flags, as `--name value`; numbers may be written `1e9`. */
const FLAGS: Record<string, keyof Omit<SoakOptions, "log">> = {
  "--events": "events",
  "--subscribers": "subscribers",
  "--churn-hz": "churnHz",
  "--sim-rate": "simRate",
  "--policy": "policy",
  "--capacity": "capacity",
  "--seed": "seed",
  "--progress": "progressSeconds",
  "--label": "label",
};
const POLICIES: readonly string[] = ["drop-oldest", "drop-newest", "wait"];

export function parseArgs(args: readonly string[]): Omit<SoakOptions, "log"> {
  const options: Record<string, unknown> = { ...DEFAULTS, label: runtime, seed: Date.now() % 2 ** 31 };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const key = FLAGS[flag];
    if (key === undefined) {
      throw new TypeError(`Unknown flag: ${flag}; expected one of ${Object.keys(FLAGS).join(", ")}`);
    }
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new TypeError(`Missing value for ${flag}`);
    if (key === "label") options.label = raw;
    else if (key === "policy") {
      if (!POLICIES.includes(raw)) {
        throw new TypeError(`Invalid ${flag}: "${raw}"; expected one of ${POLICIES.join(", ")}`);
      }
      options.policy = raw as OverflowPolicy;
    } else {
      const value = Number(raw);
      const ok = Number.isInteger(value) && value >= (key === "churnHz" || key === "progressSeconds" ? 0 : 1) &&
        value <= Number.MAX_SAFE_INTEGER;
      if (!ok) throw new RangeError(`Invalid ${flag}: "${raw}"; expected a whole number such as 1e7`);
      options[key] = value;
    }
  }
  return options as unknown as Omit<SoakOptions, "log">;
}

function replay(options: Omit<SoakOptions, "log">): string {
  return `npm run soak -- --runtime ${runtime} --events ${options.events} --subscribers ${options.subscribers} ` +
    `--churn-hz ${options.churnHz} --sim-rate ${options.simRate} --policy ${options.policy} ` +
    `--capacity ${options.capacity} --seed ${options.seed}`;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const count = (n: number) => n.toLocaleString("en-US");

function summary(r: SoakResult): string {
  const heap = r.heap;
  return [
    `[${r.label}] PASS ${count(r.events)} events in ${r.seconds.toFixed(1)} s, ${r.cpuSeconds.toFixed(1)} s of CPU ` +
    `(${(r.rate / 1e6).toFixed(2)} M events/s), seed ${r.seed}, ${r.policy}, digest ${r.digest}`,
    `[${r.label}]   sent ${count(r.sent)}  attempts ${count(r.attempts)}  dropped ${count(r.dropped)}  ` +
    `discarded ${count(r.discarded)}  blocked ${count(r.blocked)}`,
    `[${r.label}]   subscribers gone ${count(r.departures)} (churned ${count(r.churns)})  values read ` +
    `${count(r.received)}  LaggedErrors ${count(r.lagErrors)}  law checks ${count(r.checks)}`,
    `[${r.label}]   values read per path: ${
      Object.entries(r.byPath).map(([path, n]) => `${path} ${(n / 1e6).toFixed(1)}M`).join(", ")
    }`,
    `[${r.label}]   heap ${heap.gc ? "after GC" : "(no forced GC)"}: warm ${mb(heap.warm)}, max ${mb(heap.max)}, ` +
    `end ${mb(heap.end)}; peak rss ${mb(heap.peakRss)}; closed subscribers collected ` +
    `${r.collectable.collected}/${r.collectable.sampled}`,
  ].join("\n");
}

let options: Omit<SoakOptions, "log">;
try {
  options = parseArgs(host.Deno?.args ?? host.process!.argv.slice(2));
} catch (error) {
  console.error(`soak: ${(error as Error).message}`);
  exit(2);
}

console.log(
  `[${options.label}] soak on ${runtime} ${version}: ${
    count(options.events)
  } events, ${options.subscribers} subscribers, ` +
    `churn ${options.churnHz} Hz at ${count(options.simRate)} events/s simulated, ${options.policy}, ` +
    `capacity ${options.capacity}, seed ${options.seed}`,
);
try {
  const result = await soak({ ...options, log: (line) => console.log(line) });
  console.log(summary(result));
  console.log(`SOAK-RESULT ${JSON.stringify({ runtime, version, ...result })}`);
} catch (error) {
  const what = error instanceof LawError ? `LAW BROKEN (${error.law})` : "ERROR";
  console.error(`[${options.label}] ${what} with seed ${options.seed}: ${(error as Error).message}`);
  if (!(error instanceof LawError)) console.error((error as Error).stack);
  console.error(`[${options.label}] replay: ${replay(options)}`);
  exit(1);
}
