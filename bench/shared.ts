/**
 * `npm run bench:shared`: one producer (the main thread) to 1, 2 and 4
 * worker consumers, through a `SharedBus` (f64 records and JSON, under
 * `"wait"`), against `postMessage` to each worker (a `MessagePort` each) and
 * one `BroadcastChannel`, in the same process, on Deno, Bun and Node. The
 * minimal shared ring of `_shared_limit.ts` runs beside them as the
 * yardstick: what one producer and N readers of f64 records cost on this
 * machine with nothing but the essentials.
 *
 * - Throughput: the producer sends as fast as the transport takes; the
 *   figure is events per second for the slowest consumer, from its first
 *   event to its last, after a warm-up run of each transport to all 4
 *   workers.
 * - Latency: 1,000 events per second, paced by the producer's clock, each
 *   stamped when sent; p50/p95/p99 of arrival minus stamp over every
 *   consumer. Measured after all the throughput runs, in 3 rounds that take
 *   every case in turn (the median of the rounds is shown), so no paced run
 *   inherits the garbage of a flood just before it.
 * - Losses: events sent minus events received, per consumer, summed; for
 *   the shared bus, what `missed` counted is shown apart (there should be
 *   none under `"wait"`), so "silent" loss is what nobody reported.
 *
 * Each runtime runs `--processes` separate processes (default 3), one after
 * the other; the table shows the median of their figures. `--capacity`
 * sets the shared bus's ring (default 4,096 values), `--rounds` the latency
 * rounds (default 3; 0 measures throughput only), `--wake-batch` the shared
 * bus's `wakeBatch` option (default 1). A run with other than the defaults
 * writes its results beside the default ones, named by them.
 *
 * `--compare-wake-batch N` measures only what `wakeBatch: N` changes: f64
 * records to 4 workers under `"wait"`, with `wakeBatch` 1 and N taken in
 * turn inside each process (5 throughput rounds, then 5 latency rounds at
 * 1k/s), and writes `bench/results/SHARED-wake-batch-<N>.md`.
 *
 * ```sh
 * node --import tsx bench/shared.ts [--processes 3] [--runtimes deno,bun,node] [--quick]
 *   [--capacity 4096] [--rounds 3] [--wake-batch 1] [--compare-wake-batch 1024]
 * ```
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { MessageChannel, Worker } from "node:worker_threads";
import { BusFullError, SharedBus } from "../mod.ts";
import { DATA_SIGNAL } from "../src/shared/layout.ts";
import { LimitSharedRing } from "./_shared_limit.ts";
import type { ConsumeJob, ConsumeReport, Tick, Transport } from "./_shared_worker.ts";

type RuntimeName = "deno" | "bun" | "node";
type Codec = "f64" | "json";

/** One measured case in one process. */
interface Case {
  transport: Transport;
  codec: Codec;
  workers: number;
  /** Events per second, the slowest consumer. */
  rate: number;
  p50: number;
  p95: number;
  p99: number;
  /** Events sent minus received, over every consumer, in the throughput run. */
  lost: number;
  /** Of those, reported by the transport (`missed`). */
  reported: number;
  /** Lost in the latency run. */
  lostAtRate: number;
  /** Shared bus only: notifies per 1,000 sends in the throughput run. */
  notifies?: number;
}

/** Notifies per 1,000 sends of the last shared throughput run. */
let lastNotifies: number | undefined;
/** The `wakeBatch` of the shared buses `run` makes. */
let caseWakeBatch = 1;

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const WORKER = new URL("./_shared_worker.ts", import.meta.url);
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);
const COMMANDS: Record<RuntimeName, string[]> = {
  deno: [bin("deno"), "run", "--allow-all", fileURLToPath(import.meta.url)],
  bun: [bin("bun"), fileURLToPath(import.meta.url)],
  node: [process.execPath, "--import", "tsx", fileURLToPath(import.meta.url)],
};

const runtime: RuntimeName = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined"
  ? "deno"
  : typeof (globalThis as { Bun?: unknown }).Bun !== "undefined"
  ? "bun"
  : "node";

/** What to measure, from the command line; the parent passes its flags on to every child. */
interface Settings {
  quick: boolean;
  latencyOnly: boolean;
  capacity: number;
  wakeBatch: number;
  /** Compare `wakeBatch` 1 with this, and measure nothing else. */
  compareWakeBatch: number | undefined;
  rounds: number;
}

function settingsOf(argv: string[]): Settings {
  const value = (flag: string) => argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
  const quick = argv.includes("--quick");
  return {
    quick,
    latencyOnly: argv.includes("--latency"),
    capacity: Number(value("--capacity") ?? 4096),
    wakeBatch: Number(value("--wake-batch") ?? 1),
    compareWakeBatch: value("--compare-wake-batch") === undefined ? undefined : Number(value("--compare-wake-batch")),
    rounds: Number(value("--rounds") ?? (quick ? 1 : 3)),
  };
}

const settings = settingsOf(process.argv.slice(2));
caseWakeBatch = settings.wakeBatch;

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A worker with request/reply, started the way each runtime runs TypeScript in a worker. */
class Consumer {
  readonly worker: Worker;
  #replies: ((value: unknown) => void)[] = [];

  constructor() {
    this.worker = runtime === "node"
      ? new Worker(
        `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(WORKER.href)}, ${
          JSON.stringify(WORKER.href)
        }))`,
        { eval: true },
      )
      : new Worker(WORKER);
    this.worker.on("message", (message: unknown) => this.#replies.shift()?.(message));
    this.worker.on("error", (error: unknown) => {
      throw error;
    });
  }

  ask<R>(message: unknown, transfer: unknown[] = []): Promise<R> {
    return new Promise((resolve) => {
      this.#replies.push(resolve as (value: unknown) => void);
      this.worker.postMessage(message, transfer as never);
    });
  }

  next<R>(): Promise<R> {
    return new Promise((resolve) => this.#replies.push(resolve as (value: unknown) => void));
  }
}

function tick(n: number, t: number): Tick {
  return { a: n, b: n * 0.5, c: -n, t };
}

/** Sends `count` events, as fast as possible or at `rate` per second. */
async function produce(send: (value: Tick) => void, count: number, rate: number | undefined): Promise<void> {
  if (rate === undefined) {
    for (let n = 0; n < count; n++) send(tick(n, 0));
    return;
  }
  // Paced by timers, not by spinning: on a machine with fewer cores than threads a spinning producer would take
  // the consumers' CPU, and every transport would measure the scheduler.
  const start = performance.now();
  for (let n = 0; n < count; n++) {
    const due = start + (n * 1000) / rate;
    const early = due - performance.now();
    if (early > 0) await sleep(early);
    send(tick(n, now()));
  }
}

/** One run of one transport to `consumers`: throughput when `rate` is undefined, else latency. */
async function run(
  transport: Transport,
  codec: Codec,
  consumers: Consumer[],
  count: number,
  rate: number | undefined,
): Promise<ConsumeReport[]> {
  // A run takes seconds; one that takes a minute is stuck, and the parent will kill the process: say where.
  const stuck = setTimeout(() => {
    console.error(`[${runtime}] ${transport} ${codec} x${consumers.length} (${count} values) has run for 60 s`);
  }, 60_000);
  try {
    return await runOnce(transport, codec, consumers, count, rate);
  } finally {
    clearTimeout(stuck);
  }
}

async function runOnce(
  transport: Transport,
  codec: Codec,
  consumers: Consumer[],
  count: number,
  rate: number | undefined,
): Promise<ConsumeReport[]> {
  const latency = rate !== undefined;
  const job = { kind: "consume", transport, count, latency } as ConsumeJob;
  if (transport === "shared" || transport === "shared-waitSync") {
    const bus = new SharedBus<Tick>({
      capacity: settings.capacity,
      wakeBatch: caseWakeBatch,
      overflow: "wait",
      codec: codec === "f64" ? { f64: ["a", "b", "c", "t"] } : "json",
      maxBytes: codec === "json" ? 96 : undefined,
    });
    const reports = consumers.map((consumer) =>
      consumer.ask({ ...job, handle: bus.handle }).then(() => consumer.next<ConsumeReport>())
    );
    while (bus.subscriberCount < consumers.length) await sleep(1);
    const send = async (value: Tick) => {
      for (;;) {
        try {
          bus.send(value);
          return;
        } catch (error) {
          if (!(error instanceof BusFullError)) throw error;
          await bus.ready;
        }
      }
    };
    const words = new Int32Array(bus.handle.buffer);
    const signalled = Atomics.load(words, DATA_SIGNAL);
    // The fast path: a synchronous loop that only awaits when the ring is full.
    if (!latency) {
      for (let n = 0; n < count; n++) {
        try {
          bus.send(tick(n, 0));
        } catch (error) {
          if (!(error instanceof BusFullError)) throw error;
          await bus.ready;
          n--;
        }
      }
    } else await produce((value) => void send(value), count, rate);
    if (!latency) lastNotifies = ((Atomics.load(words, DATA_SIGNAL) - signalled) * 1000) / count;
    bus.close();
    return await Promise.all(reports);
  }
  if (transport === "limit") {
    const ring = new LimitSharedRing(settings.capacity, consumers.length);
    await Promise.all(consumers.map((consumer, index) => consumer.ask({ ...job, limit: ring.handle, index })));
    const reports = consumers.map((consumer) => consumer.next<ConsumeReport>());
    const send = async (value: Tick) => {
      while (!ring.trySend(value)) await ring.room();
    };
    if (!latency) {
      for (let n = 0; n < count; n++) {
        const value = tick(n, 0);
        if (!ring.trySend(value)) await send(value);
      }
    } else await produce((value) => void send(value), count, rate);
    ring.close();
    return await Promise.all(reports);
  }
  if (transport === "postMessage") {
    const ports = consumers.map((consumer) => {
      const { port1, port2 } = new MessageChannel();
      return { port: port1, ready: consumer.ask({ ...job, port: port2 }, [port2]), consumer };
    });
    await Promise.all(ports.map(({ ready }) => ready));
    const reports = ports.map(({ consumer }) => consumer.next<ConsumeReport>());
    await produce(
      (value) => {
        for (const { port } of ports) port.postMessage(value);
      },
      count,
      rate,
    );
    for (const { port } of ports) port.postMessage(null);
    const result = await Promise.all(reports);
    for (const { port } of ports) port.close();
    return result;
  }
  const name = `bench-${Math.random()}`;
  await Promise.all(consumers.map((consumer) => consumer.ask({ ...job, channel: name })));
  const reports = consumers.map((consumer) => consumer.next<ConsumeReport>());
  const channel = new BroadcastChannel(name);
  await produce((value) => channel.postMessage(value), count, rate);
  channel.postMessage(null);
  for (const consumer of consumers) consumer.worker.postMessage({ kind: "end" });
  const result = await Promise.all(reports);
  channel.close();
  return result;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** One record of the producers' case: the cost of a send with `producers` threads sending at once. */
interface SendCost {
  producers: number;
  /** Nanoseconds per send, median over the producers. */
  ns: number;
}

/** Producers in workers sending at once on one drop-oldest f64 bus with one (idle) subscriber. */
async function sendCost(pool: Consumer[], producers: number, count: number): Promise<SendCost> {
  const bus = new SharedBus<Tick>({ capacity: 4096, codec: { f64: ["a", "b", "c", "t"] } });
  const sub = bus.subscribe();
  const startAt = now() + 200;
  const costs = await Promise.all(
    pool.slice(0, producers).map((worker) =>
      worker.ask<number>({ kind: "produce", handle: bus.handle, count, startAt })
    ),
  );
  if (bus.stats().sent !== producers * count) throw new Error(`sent ${bus.stats().sent} of ${producers * count}`);
  sub.close();
  return { producers, ns: median(costs) };
}

/** One `wakeBatch` in a `--compare-wake-batch` child: medians over its rounds. */
interface WakeCase {
  type: "wake";
  wakeBatch: number;
  rate: number;
  notifies: number;
  p50: number;
  p95: number;
  p99: number;
}

/** The `--compare-wake-batch` child: `wakeBatch` 1 and `batch` in turn, throughput rounds then latency rounds. */
async function compareChild(batch: number, quick: boolean): Promise<void> {
  const pool: Consumer[] = [];
  for (let i = 0; i < 4; i++) pool.push(new Consumer());
  await Promise.all(pool.map((consumer) => consumer.ask({ kind: "ping" })));
  const rounds = 5;
  const count = quick ? 200_000 : 1_000_000;
  const samples = new Map(
    [1, batch].map((
      wakeBatch,
    ) => [wakeBatch, { rates: [] as number[], notifies: [] as number[], p: [[], [], []] as number[][] }]),
  );
  const order = (round: number) => (round % 2 === 0 ? [1, batch] : [batch, 1]);
  for (let round = 0; round < rounds; round++) {
    for (const wakeBatch of order(round)) {
      caseWakeBatch = wakeBatch;
      const fast = await run("shared", "f64", pool, count, undefined);
      samples.get(wakeBatch)!.rates.push(
        slowestRate(fast),
      );
      samples.get(wakeBatch)!.notifies.push(lastNotifies ?? NaN);
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const wakeBatch of order(round)) {
      caseWakeBatch = wakeBatch;
      const paced = await run("shared", "f64", pool, quick ? 300 : 1000, 1000);
      const latencies = paced.flatMap((r) => r.latencies).sort((x, y) => x - y);
      [50, 95, 99].forEach((p, i) => samples.get(wakeBatch)!.p[i]!.push(percentile(latencies, p) * 1000));
    }
  }
  for (const [wakeBatch, { rates, notifies, p }] of samples) {
    const [p50, p95, p99] = p.map(median) as [number, number, number];
    const record: WakeCase = {
      type: "wake",
      wakeBatch,
      rate: median(rates),
      notifies: median(notifies),
      p50,
      p95,
      p99,
    };
    console.log(JSON.stringify(record));
    console.error(`[${runtime}] wakeBatch ${wakeBatch}: ${fmt(record.rate)}/s, p95 ${p95.toFixed(0)} us`);
  }
  await Promise.all(pool.map((consumer) => consumer.worker.terminate()));
}

/** The parent of `--compare-wake-batch`: each runtime, several processes, medians, a table. */
async function compareMain(batch: number, runtimes: RuntimeName[], processes: number): Promise<void> {
  const lines = [
    `\`node --import tsx bench/shared.ts --compare-wake-batch ${batch}\` on ${
      new Date().toISOString()
    }: f64 records, 1 producer -> 4 workers, \"wait\", a ring of ${settings.capacity}; ` +
    `wakeBatch 1 and ${batch} taken in turn in each process (5 throughput rounds of 1M values, then 5 latency rounds of 1,000 values at 1k/s); median of the rounds, then of ${processes} processes`,
    "",
    "| runtime | wakeBatch | events/s per consumer (slowest) | x wakeBatch 1 | notifies / 1k sends | p50 us | p95 us | p99 us |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  const results: Record<string, WakeCase[]> = {};
  for (const name of runtimes) {
    const runs: WakeCase[][] = [];
    for (let i = 0; i < processes; i++) runs.push(await runChild(name, settings) as unknown as WakeCase[]);
    results[name] = [1, batch].map((wakeBatch) => {
      const mine = runs.map((cases) => cases.find((c) => c.wakeBatch === wakeBatch)!);
      const pick = (key: "rate" | "notifies" | "p50" | "p95" | "p99") => median(mine.map((c) => c[key]));
      return {
        type: "wake",
        wakeBatch,
        rate: pick("rate"),
        notifies: pick("notifies"),
        p50: pick("p50"),
        p95: pick("p95"),
        p99: pick("p99"),
      };
    });
    const base = results[name][0]!.rate;
    for (const c of results[name]) {
      lines.push(
        `| ${name} | ${c.wakeBatch} | ${fmt(c.rate)} | ${(c.rate / base).toFixed(2)}x | ${c.notifies.toFixed(2)} | ${
          us(c.p50)
        } | ${us(c.p95)} | ${us(c.p99)} |`,
      );
    }
  }
  const text = lines.join("\n");
  console.log(text);
  mkdirSync(join(BENCH, "results"), { recursive: true });
  writeFileSync(join(BENCH, "results", `SHARED-wake-batch-${batch}.md`), text + "\n");
  writeFileSync(
    join(BENCH, "results", `shared-wake-batch-${batch}.json`),
    JSON.stringify({ date: new Date().toISOString(), processes, capacity: settings.capacity, results }, null, 2) + "\n",
  );
}

/** The child: every case in this process, one JSON line each. */
async function child({ quick, latencyOnly, rounds, compareWakeBatch }: Settings): Promise<void> {
  if (compareWakeBatch !== undefined) return await compareChild(compareWakeBatch, quick);
  const pool: Consumer[] = [];
  for (let i = 0; i < 4; i++) pool.push(new Consumer());
  await Promise.all(pool.map((consumer) => consumer.ask({ kind: "ping" })));
  const counts: Record<Transport, Record<Codec, number>> = {
    shared: { f64: quick ? 200_000 : 2_000_000, json: quick ? 50_000 : 400_000 },
    "shared-waitSync": { f64: quick ? 200_000 : 2_000_000, json: 0 },
    limit: { f64: quick ? 200_000 : 2_000_000, json: 0 },
    postMessage: { f64: quick ? 20_000 : 60_000, json: quick ? 20_000 : 60_000 },
    BroadcastChannel: { f64: quick ? 20_000 : 60_000, json: quick ? 20_000 : 60_000 },
  };
  // Latency: paced runs after every throughput run, in rounds that take each case in turn, so every transport
  // is measured in the same conditions (a paced run straight after its own flood inherited that flood's garbage,
  // and the shared bus's flood is 17x postMessage's). Each figure is the median over the rounds.
  const latencyCount = quick ? 300 : 1000;
  for (const producers of latencyOnly ? [] : [1, 2]) {
    const cost = await sendCost(pool, producers, quick ? 200_000 : 1_000_000);
    console.log(JSON.stringify({ type: "send", ...cost }));
    console.error(`[${runtime}] ${producers} producer(s): ${cost.ns.toFixed(0)} ns per send`);
  }
  const plan: { transport: Transport; codec: Codec; workers: number }[] = [];
  for (const workers of [1, 2, 4]) {
    for (const codec of ["f64", "json"] as const) {
      for (const transport of ["shared", "shared-waitSync", "limit", "postMessage", "BroadcastChannel"] as const) {
        // The other transports have no codec: they send the same object, structured-cloned. A blocking reader
        // changes how a worker wakes, not what it decodes, so it is measured with f64 records only, as is the
        // limit ring, which knows no other.
        if (transport !== "shared" && codec === "json") continue;
        plan.push({ transport, codec, workers });
      }
    }
  }
  // Every worker reads every way once before anything is timed. The cases at 4 workers used to meet two workers that
  // had never run a reader, and a cold reader, the slowest consumer, set the figure: 8M values to 4 fresh workers
  // read 20-24% faster per consumer than 2M did.
  for (const { transport, codec } of latencyOnly ? [] : plan.filter((c) => c.workers === 4)) {
    await run(transport, codec, pool, Math.ceil(counts[transport][codec] / 2), undefined);
  }
  const records: Case[] = [];
  for (const { transport, codec, workers } of plan) {
    const count = counts[transport][codec];
    lastNotifies = undefined;
    const fast = await run(transport, codec, pool.slice(0, workers), latencyOnly ? 1000 : count, undefined);
    const notifies = lastNotifies;
    records.push({
      transport,
      codec,
      workers,
      rate: slowestRate(fast),
      p50: NaN,
      p95: NaN,
      p99: NaN,
      lost: fast.reduce((sum, r) => sum + count - r.received, 0),
      reported: fast.reduce((sum, r) => sum + r.missed, 0),
      lostAtRate: 0,
      ...(notifies === undefined ? {} : { notifies }),
    });
  }
  const percentiles = records.map(() => [[], [], []] as number[][]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, { transport, codec, workers }] of plan.entries()) {
      const paced = await run(transport, codec, pool.slice(0, workers), latencyCount, 1000);
      const latencies = paced.flatMap((r) => r.latencies).sort((x, y) => x - y);
      [50, 95, 99].forEach((p, i) => percentiles[index]![i]!.push(percentile(latencies, p) * 1000));
      records[index]!.lostAtRate += paced.reduce((sum, r) => sum + latencyCount - r.received, 0);
    }
  }
  for (const [index, record] of records.entries()) {
    [record.p50, record.p95, record.p99] = percentiles[index]!.map(median) as [number, number, number];
    console.log(JSON.stringify(record));
    console.error(
      `[${runtime}] ${record.transport} ${record.codec} x${record.workers}: ${fmt(record.rate)}/s, p95 ${
        record.p95.toFixed(0)
      } us`,
    );
  }
  await Promise.all(pool.map((consumer) => consumer.worker.terminate()));
}

/** Microseconds, or a dash where nothing was measured (`--rounds 0`: NaN, which JSON carries as null). */
function us(micros: number): string {
  return Number.isFinite(micros) ? micros.toFixed(0) : "-";
}

function fmt(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(0)}k`;
  return rate.toFixed(0);
}

/** Events per second of the slowest consumer of one throughput run. */
function slowestRate(reports: ConsumeReport[]): number {
  return Math.min(...reports.map((r) => r.received / Math.max(1e-6, (r.lastAt - r.firstAt) / 1000)));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Send costs from every child, by runtime. */
const sendCosts: Record<string, SendCost[]> = {};
let sends: SendCost[] = [];

function runChild(name: RuntimeName, { quick, capacity, rounds, wakeBatch }: Settings): Promise<Case[]> {
  const [command, ...args] = COMMANDS[name];
  args.push("--child", "--capacity", String(capacity), "--rounds", String(rounds), "--wake-batch", String(wakeBatch));
  if (settings.compareWakeBatch !== undefined) args.push("--compare-wake-batch", String(settings.compareWakeBatch));
  if (quick) args.push("--quick");
  const proc = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  proc.stdout.on("data", (chunk) => out += chunk);
  const timer = setTimeout(() => proc.kill(), 600_000);
  return new Promise((resolve, reject) => {
    proc.on("close", (code) => {
      clearTimeout(timer);
      const records = out.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
      const cases = records.filter((record) => record.type !== "send") as Case[];
      sends.push(...records.filter((record) => record.type === "send") as (SendCost & { type: string })[]);
      if (cases.length === 0) reject(new Error(`${name} exited with ${code} and no results`));
      else resolve(cases);
    });
  });
}

/** The parent: each runtime, several processes, medians, a table. */
async function main(argv: string[]): Promise<void> {
  const value = (flag: string) => argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined;
  const processes = Number(value("--processes") ?? 3);
  const runtimes = (value("--runtimes") ?? "deno,bun,node").split(",") as RuntimeName[];
  const { quick, capacity, rounds, wakeBatch, compareWakeBatch } = settings;
  if (compareWakeBatch !== undefined) return await compareMain(compareWakeBatch, runtimes, processes);
  const results: Record<string, Case[]> = {};
  const versions: Record<string, string> = {};
  const failed: Record<string, number> = {};
  for (const name of runtimes) {
    const runs: Case[][] = [];
    sends = sendCosts[name] = [];
    for (let i = 0; i < processes; i++) {
      // A process that hangs is killed after 10 minutes; the others still make a table, which says so.
      try {
        runs.push(await runChild(name, settings));
      } catch (error) {
        console.error(`[${name}] process ${i + 1} of ${processes} failed: ${(error as Error).message}`);
      }
    }
    failed[name] = processes - runs.length;
    if (runs.length === 0) continue;
    results[name] = runs[0].map((first, index) => {
      const pick = (key: keyof Case) => median(runs.map((cases) => cases[index][key] as number));
      return {
        ...first,
        rate: pick("rate"),
        p50: pick("p50"),
        p95: pick("p95"),
        p99: pick("p99"),
        lost: Math.max(...runs.map((cases) => cases[index].lost)),
        reported: Math.max(...runs.map((cases) => cases[index].reported)),
        lostAtRate: Math.max(...runs.map((cases) => cases[index].lostAtRate)),
        ...(first.notifies === undefined ? {} : { notifies: pick("notifies") }),
      };
    });
    versions[name] = await version(name);
  }
  const lines = [
    `1 producer -> N workers, the shared ring holding ${capacity} values, wakeBatch ${wakeBatch}; median of ${processes} processes per runtime; ` +
    `events/s per consumer (slowest), latency at 1k/s in us (median of ${rounds} rounds interleaving the cases), losses = most lost in any process (sent - received, summed over consumers; "reported" = missed)`,
    ...Object.entries(failed).filter(([, count]) => count > 0).flatMap(([name, count]) => [
      "",
      `**${name}: ${count} of ${processes} processes failed** (hung and were killed, or crashed); its figures are the median of the rest.`,
    ]),
    "",
    "| runtime | transport | codec | workers | events/s | p50 | p95 | p99 | lost (reported) | lost at 1k/s | notifies / 1k sends |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const [name, cases] of Object.entries(results)) {
    for (const c of cases) {
      lines.push(
        `| ${name} | ${c.transport} | ${c.codec} | ${c.workers} | ${fmt(c.rate)} | ${us(c.p50)} | ${us(c.p95)} | ${
          us(c.p99)
        } | ${c.lost} (${c.reported}) | ${c.lostAtRate} | ${c.notifies?.toFixed(2) ?? ""} |`,
      );
    }
  }
  lines.push("", "Cost of a send (drop-oldest, f64 records of 4 fields, median over processes and producers):", "");
  for (const [name, costs] of Object.entries(sendCosts)) {
    const per = (producers: number) => median(costs.filter((c) => c.producers === producers).map((c) => c.ns));
    lines.push(`- ${name}: 1 producer ${per(1).toFixed(0)} ns, 2 producers at once ${per(2).toFixed(0)} ns each`);
  }
  lines.push(
    "",
    "Ratios at 4 workers (shared / postMessage and shared / the limit ring, f64, same process medians):",
    "",
  );
  for (const [name, cases] of Object.entries(results)) {
    const find = (transport: Transport, codec: Codec) =>
      cases.find((c) => c.transport === transport && c.codec === codec && c.workers === 4)!;
    const post = find("postMessage", "f64");
    const limit = find("limit", "f64");
    lines.push(
      `- ${name} (${versions[name]}): f64 ${(find("shared", "f64").rate / post.rate).toFixed(1)}x, JSON ${
        (find("shared", "json").rate / post.rate).toFixed(1)
      }x; p95 shared f64 ${us(find("shared", "f64").p95)} us (waitSync ${
        us(find("shared-waitSync", "f64").p95)
      } us) vs postMessage ${us(post.p95)} us; of the limit ring: ${
        (find("shared", "f64").rate / limit.rate).toFixed(2)
      }x awaiting, ${(find("shared-waitSync", "f64").rate / limit.rate).toFixed(2)}x blocking, p95 ${us(limit.p95)} us`,
    );
  }
  const text = lines.join("\n");
  console.log(text);
  mkdirSync(join(BENCH, "results"), { recursive: true });
  const defaults = capacity === 4096 && rounds === 3 && wakeBatch === 1
    ? ""
    : `-capacity-${capacity}-rounds-${rounds}${wakeBatch === 1 ? "" : `-wake-batch-${wakeBatch}`}`;
  writeFileSync(
    join(BENCH, "results", `shared${defaults}.json`),
    JSON.stringify(
      { date: new Date().toISOString(), processes, quick, capacity, rounds, wakeBatch, versions, results, sendCosts },
      null,
      2,
    ) + "\n",
  );
  writeFileSync(join(BENCH, "results", `SHARED${defaults}.md`), text + "\n");
}

function version(name: RuntimeName): Promise<string> {
  const [command] = COMMANDS[name];
  const proc = spawn(command, ["--version"], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  proc.stdout.on("data", (chunk) => out += chunk);
  return new Promise((resolve) => proc.on("close", () => resolve(out.split("\n")[0].trim())));
}

if (process.argv.includes("--child")) await child(settings);
else await main(process.argv.slice(2));
