/**
 * `npm run bench:nats`: the NATS bridge against plain NATS, measured in the
 * same run, on Deno, Bun and Node. Loopback, a real nats-server started here;
 * for each runtime, a publisher process into a receiver process with 4 local
 * subscribers:
 *
 * - **plain**: 4 core NATS subscriptions in the receiver, one JSON value per
 *   message (the server sends each message 4 times);
 * - **bridge**: a bridged bus with 4 `wait()` + `drain` subscribers, values
 *   batched several to a message (the default);
 * - **unbatched**: the same bridge with `maxBatchBytes: 0`, one value per
 *   message.
 *
 * Measured: values/s reaching all 4 subscribers (publisher flat out), the
 * receiver process's CPU time per value, p50/p95/p99 send-to-subscriber
 * latency with the publisher paced at 10k values/s, every loss (uncounted
 * ones must be 0 for the bridge), and JetStream publishing with one
 * acknowledgement awaited at a time against a window of 256. The value is
 * `{ i, t }`: an index and the send time in microseconds since the run's
 * epoch (about 25 bytes of JSON). Throughput and CPU are timed from the first
 * fifth of the values on, past connection set-up, the compiler's tiers and
 * the collector's sizing.
 *
 * ```sh
 * npm run bench:nats                                 # 3 runs of each, medians; about 2.5 minutes
 * node --import tsx bench/nats.ts --runs 5 --runtimes node,bun
 * ```
 *
 * Writes `bench/results/nats.json` (every run) and `bench/results/NATS.md`
 * (the medians), and prints the table.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { natsVersion, startNats } from "../tests/_nats_server.ts";
import { machine, median, type RuntimeName } from "./_measure.ts";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const PEER = join(BENCH, "_nats_peer.ts");
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

const COMMANDS: Record<RuntimeName, string[]> = {
  deno: [bin("deno"), "run", "--allow-all", PEER],
  bun: [bin("bun"), PEER],
  node: [process.execPath, "--import", "tsx", PEER],
};

type Mode = "plain" | "bridge" | "unbatched";
const MODES: Mode[] = ["plain", "bridge", "unbatched"];
/** Values per throughput run: a second or two of each mode on this machine, the first fifth untimed. */
const COUNTS: Record<Mode, number> = { plain: 200_000, bridge: 3_000_000, unbatched: 200_000 };
const LATENCY_RATE = 10_000;
const LATENCY_COUNT = 20_000;
/** JetStream windows: one acknowledgement awaited at a time, then windows of 64 (the default) and 256. */
const WINDOWS = [1, 64, 256];
const JETSTREAM_COUNTS: Record<number, number> = { 1: 3_000, 64: 20_000, 256: 20_000 };

/** What a receiver reports for one run. */
interface Received {
  mode: Mode;
  count: number;
  received: number;
  perSecond: number;
  cpuMicrosPerValue: number;
  p50: number;
  p95: number;
  p99: number;
  gaps: number;
  missed: number;
  decodeErrors: number;
  overflowed: number;
  uncounted: number;
}

interface Published {
  window: number;
  count: number;
  published: number;
  publishErrors: number;
  perSecond: number;
}

interface RuntimeRuns {
  /** The receiver's work without the network: CPU per value, per run. */
  intake: number[];
  throughput: Record<Mode, Received[]>;
  latency: Record<"plain" | "bridge", Received[]>;
  jetstream: Record<number, Published[]>;
}

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const runs = Number(argument("runs") ?? 3);
const runtimes = (argument("runtimes") ?? "node,deno,bun").split(",") as RuntimeName[];

/** Peers still running, so an interrupted run stops them and its server. */
const children = new Set<ReturnType<typeof spawn>>();

/** Runs one peer to its end and returns its last line of output, parsed. */
function peer<T>(
  runtime: RuntimeName,
  args: string[],
  epoch: number,
  onReady?: () => void,
): { result: Promise<T> } {
  const [command, ...prefix] = COMMANDS[runtime];
  const child = spawn(command, [...prefix, ...args], {
    cwd: ROOT,
    env: { ...process.env, BENCH_EPOCH: `${epoch}` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  let output = "";
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 120_000);
  child.stdout!.on("data", (chunk) => {
    output += chunk;
    if (onReady && output.startsWith("ready\n")) {
      onReady();
      onReady = undefined;
    }
  });
  const result = new Promise<T>((resolve, reject) =>
    child.once("exit", (code) => {
      children.delete(child);
      clearTimeout(watchdog);
      const lines = output.trim().split("\n").filter((line) => line.startsWith("{"));
      if (code !== 0 || lines.length === 0) {
        reject(new Error(`${runtime} ${args[0]} ${args[1]} exited ${code}: ${output}`));
      } else resolve(JSON.parse(lines.at(-1)!));
    })
  );
  return { result };
}

/** One publisher into one receiver. */
async function pair(runtime: RuntimeName, url: string, mode: Mode, count: number, rate: number): Promise<Received> {
  const subject = `bench.${runtime}.${mode}.${Math.random().toString(36).slice(2)}`;
  const epoch = Math.floor(performance.timeOrigin + performance.now());
  let started!: () => void;
  const ready = new Promise<void>((resolve) => started = resolve);
  const receiver = peer<Received>(
    runtime,
    ["receive", mode, url, subject, `${count}`, rate > 0 ? "1" : "0"],
    epoch,
    started,
  );
  await Promise.race([ready, receiver.result]);
  const publisher = peer<unknown>(runtime, ["publish", mode, url, subject, `${count}`, `${rate}`], epoch);
  await publisher.result.catch(() => {}); // the publisher prints nothing on success
  return await receiver.result;
}

async function measure(runtime: RuntimeName, url: string): Promise<RuntimeRuns> {
  const result: RuntimeRuns = {
    intake: [],
    throughput: { plain: [], bridge: [], unbatched: [] },
    latency: { plain: [], bridge: [] },
    jetstream: { 1: [], 64: [], 256: [] },
  };
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  const stream = `BENCH_${runtime.toUpperCase()}`;
  await jsm.streams.add({ name: stream, subjects: [`bench.js.${runtime}`], max_msgs: 1_000_000, storage: "memory" });
  // Interleaved, so drifting load on the machine touches every mode alike.
  for (let run = 0; run < runs; run++) {
    for (const mode of MODES) {
      const received = await pair(runtime, url, mode, COUNTS[mode], 0);
      result.throughput[mode].push(received);
      log(runtime, `throughput ${mode}`, received);
    }
    for (const mode of ["plain", "bridge"] as const) {
      const received = await pair(runtime, url, mode, LATENCY_COUNT, LATENCY_RATE);
      result.latency[mode].push(received);
      log(runtime, `latency ${mode}`, received);
    }
    const alone = await peer<{ cpuMicrosPerValue: number }>(runtime, ["intake", "-", "-", "-", "500000"], 0).result;
    result.intake.push(alone.cpuMicrosPerValue);
    console.error(`${runtime} intake alone: ${alone.cpuMicrosPerValue.toFixed(3)} us cpu/value`);
    for (const window of WINDOWS) {
      await jsm.streams.purge(stream);
      const epoch = Math.floor(performance.timeOrigin + performance.now());
      const args = ["jetstream", `${window}`, url, `bench.js.${runtime}`, `${JETSTREAM_COUNTS[window]}`, stream];
      const published = await peer<Published>(runtime, args, epoch).result;
      result.jetstream[window].push(published);
      console.error(`${runtime} jetstream window ${window}: ${fmt(published.perSecond)} acked/s`);
    }
  }
  await jsm.streams.delete(stream);
  await nc.close();
  return result;
}

function log(runtime: RuntimeName, what: string, r: Received): void {
  console.error(
    `${runtime} ${what}: ${fmt(r.perSecond)}/s, ${r.cpuMicrosPerValue.toFixed(2)} us cpu/value, ` +
      `p50/p95/p99 ${ms(r.p50)}/${ms(r.p95)}/${ms(r.p99)} ms, gaps ${r.gaps}, missed ${r.missed}, ` +
      `uncounted ${r.uncounted}`,
  );
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "-";
  return n >= 1e6 ? `${(n / 1e6).toPrecision(3)}M` : n >= 1e3 ? `${(n / 1e3).toPrecision(3)}k` : n.toPrecision(3);
}

const ms = (n: number): string => Number.isFinite(n) ? n.toFixed(2) : "-";
const med = <T>(list: T[], key: keyof T & string): number => median(list.map((r) => r[key] as number));

/** The medians as a markdown table, runtimes as columns, with the targets. */
function table(results: Partial<Record<RuntimeName, RuntimeRuns>>): string {
  const names = Object.keys(results) as RuntimeName[];
  const cell = (f: (r: RuntimeRuns) => string) => names.map((name) => f(results[name]!));
  const rate = (r: RuntimeRuns, mode: Mode) => med(r.throughput[mode], "perSecond");
  const uncounted = (r: RuntimeRuns, modes: Mode[]) =>
    modes.flatMap((mode) => [...r.throughput[mode], ...(mode === "unbatched" ? [] : r.latency[mode as "plain"])])
      .reduce((sum, run) => sum + run.uncounted, 0);
  const counted = (r: RuntimeRuns) =>
    [...r.throughput.bridge, ...r.throughput.unbatched, ...r.latency.bridge]
      .reduce((sum, run) => sum + run.gaps + run.missed + run.overflowed + run.decodeErrors, 0);
  const rows: string[][] = [
    ["4 plain NATS subscriptions: values/s", ...cell((r) => fmt(rate(r, "plain")))],
    [
      "**bridge, batched**: values/s (x plain)",
      ...cell((r) => `**${fmt(rate(r, "bridge"))}** (${(rate(r, "bridge") / rate(r, "plain")).toFixed(1)}x)`),
    ],
    [
      "bridge, one value per message: values/s (x plain)",
      ...cell((r) => `${fmt(rate(r, "unbatched"))} (${(rate(r, "unbatched") / rate(r, "plain")).toFixed(1)}x)`),
    ],
    [
      "receiver CPU per value, us: plain / **bridge** / unbatched",
      ...cell((r) =>
        MODES.map((mode) => {
          const v = med(r.throughput[mode], "cpuMicrosPerValue").toFixed(2);
          return mode === "bridge" ? `**${v}**` : v;
        }).join(" / ")
      ),
    ],
    [
      "the bridge's intake alone (no NATS client), CPU us per value",
      ...cell((r) => median(r.intake).toFixed(2)),
    ],
    [
      "p50 / p95 / p99 at 10k values/s, ms: plain",
      ...cell((r) => (["p50", "p95", "p99"] as const).map((p) => ms(med(r.latency.plain, p))).join(" / ")),
    ],
    [
      "p50 / p95 / p99 at 10k values/s, ms: **bridge**",
      ...cell((r) => (["p50", "p95", "p99"] as const).map((p) => ms(med(r.latency.bridge, p))).join(" / ")),
    ],
    [
      "JetStream publish through the bridge, acknowledged/s: await each / window 64 / 256",
      ...cell((r) => WINDOWS.map((window) => fmt(med(r.jetstream[window], "perSecond"))).join(" / ")),
    ],
    [
      `bridge losses, all runs: counted / **uncounted**`,
      ...cell((r) => `${counted(r)} / **${uncounted(r, ["bridge", "unbatched"])}**`),
    ],
    ["plain NATS values missing at the end, all runs", ...cell((r) => `${uncounted(r, ["plain"])}`)],
  ];
  const targets: string[][] = [
    ["batched >= 3x 4 plain subscriptions", ...cell((r) => verdict(rate(r, "bridge") / rate(r, "plain") >= 3))],
    ["receiver <= 0.4 us per value", ...cell((r) => verdict(med(r.throughput.bridge, "cpuMicrosPerValue") <= 0.4))],
    ["p99 <= 2 ms at 10k values/s", ...cell((r) => verdict(med(r.latency.bridge, "p99") <= 2))],
    ["zero uncounted losses in every run", ...cell((r) => verdict(uncounted(r, ["bridge", "unbatched"]) === 0))],
  ];
  const render = (header: string[], body: string[][]) =>
    [
      `| ${header.join(" | ")} |`,
      `| ${header.map(() => "---").join(" | ")} |`,
      ...body.map((row) => `| ${row.join(" | ")} |`),
    ]
      .join("\n");
  return `${render(["median of runs", ...names], rows)}\n\n${render(["target (issue 11)", ...names], targets)}\n`;
}

const verdict = (met: boolean) => met ? "met" : "MISS";

const server = await startNats();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, async () => {
    for (const child of children) child.kill("SIGKILL");
    await server.stop();
    process.exit(130);
  });
}
const results: Partial<Record<RuntimeName, RuntimeRuns>> = {};
const started = performance.now();
try {
  for (const runtime of runtimes) results[runtime] = await measure(runtime, server.url);
} finally {
  await server.stop();
}
const seconds = Math.round((performance.now() - started) / 1_000);
const host = machine();
const command = `node --import tsx bench/nats.ts ${process.argv.slice(2).join(" ")}`.trim();
const versions = runtimes.map((runtime) => {
  const [command] = COMMANDS[runtime];
  return `${runtime} ${spawnSync(command, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0].trim()}`;
});
const markdown = `# NATS bridge benchmark\n\n` +
  `\`${command}\` (${runs} runs of each, medians; ${seconds} s) on ${new Date().toISOString().slice(0, 16)} UTC, ` +
  `${natsVersion} on loopback; ${versions.join(", ")}. ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, ` +
  `load ${host.load.join(" ")}.\n\n${table(results)}`;
mkdirSync(join(BENCH, "results"), { recursive: true });
writeFileSync(join(BENCH, "results", "nats.json"), JSON.stringify({ command, machine: host, runs, results }, null, 2));
writeFileSync(join(BENCH, "results", "NATS.md"), markdown);
console.log(markdown);
