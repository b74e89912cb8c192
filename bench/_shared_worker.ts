/**
 * The consumer side of `bench/shared.ts`: a worker that receives events by
 * one transport (a `SharedBus` subscriber awaiting `wait()`, one blocking in
 * `bus.waitSync`, the minimal shared ring of `_shared_limit.ts`, a
 * `MessagePort`, or a `BroadcastChannel`), counts them,
 * and records the latency of each when asked. Times are
 * `performance.timeOrigin + performance.now()`, comparable across threads
 * of one process.
 *
 * @module
 */

import { SharedBus, type SharedBusHandle } from "../mod.ts";
import { type LimitSharedHandle, LimitSharedReader } from "./_shared_limit.ts";

/** One event: three numbers, and the time it was sent (0 when throughput is measured). */
export interface Tick {
  a: number;
  b: number;
  c: number;
  t: number;
}

/**
 * `"shared"` reads with `await sub.wait()`; `"shared-waitSync"` blocks its worker in `bus.waitSync(sub)`;
 * `"limit"` reads the minimal shared ring the same way `"shared"` reads the bus.
 */
export type Transport = "shared" | "shared-waitSync" | "limit" | "postMessage" | "BroadcastChannel";

export interface ConsumeJob {
  kind: "consume";
  transport: Transport;
  /** How many events the producer sends. */
  count: number;
  /** Record each event's latency. */
  latency: boolean;
  handle?: SharedBusHandle;
  limit?: LimitSharedHandle;
  /** This worker's reader slot in the limit ring. */
  index?: number;
  port?: MessagePort;
  channel?: string;
}

/** Sends `count` events on a drop-oldest bus as fast as it can, for the cost of a send with other producers. */
export interface ProduceJob {
  kind: "produce";
  handle: SharedBusHandle;
  count: number;
  /** Spin until this time (ms since the epoch) so every producer starts together. */
  startAt: number;
}

/** What a consumer saw. */
export interface ConsumeReport {
  received: number;
  /** Counted as missed by the transport itself (the shared bus); the rest of any loss is silent. */
  missed: number;
  firstAt: number;
  lastAt: number;
  latencies: number[];
}

interface Port {
  on(event: "message", listener: (message: never) => void): void;
  postMessage(message: unknown): void;
}
const WORKER_THREADS = "node:worker_threads";
const { parentPort } = await import(WORKER_THREADS) as { parentPort: Port | null };

const now = (): number => performance.timeOrigin + performance.now();

function consume(job: ConsumeJob): Promise<ConsumeReport> {
  const report: ConsumeReport = { received: 0, missed: 0, firstAt: 0, lastAt: 0, latencies: [] };
  const see = job.latency
    ? (tick: Tick): void => {
      const at = now();
      report.latencies.push(at - tick.t);
      if (report.received++ === 0) report.firstAt = at;
      report.lastAt = at;
    }
    : (_tick: Tick): void => {
      if (report.received++ === 0) report.firstAt = now();
      if (report.received === job.count) report.lastAt = now();
    };
  if (job.transport === "shared" || job.transport === "shared-waitSync") {
    const bus = SharedBus.attach<Tick>(job.handle!);
    const sub = bus.subscribe();
    parentPort!.postMessage("ready");
    return (async () => {
      // The blocking loop holds the thread until the bus closes; the job's report goes out after.
      if (job.transport === "shared-waitSync") {
        while (bus.waitSync(sub)) sub.drain(see);
      } else {
        while (await sub.wait()) sub.drain(see);
      }
      report.missed = sub.missed;
      if (report.lastAt === 0) report.lastAt = now();
      return report;
    })();
  }
  if (job.transport === "limit") {
    const reader = new LimitSharedReader(job.limit!, job.index!);
    parentPort!.postMessage("ready");
    return (async () => {
      while (await reader.wait()) reader.drain(see);
      if (report.lastAt === 0) report.lastAt = now();
      return report;
    })();
  }
  return new Promise((resolve) => {
    const finish = (): void => {
      if (report.lastAt === 0) report.lastAt = now();
      resolve(report);
    };
    if (job.transport === "postMessage") {
      const port = job.port!;
      port.onmessage = (event: MessageEvent) => {
        if (event.data === null) {
          port.close();
          finish();
        } else see(event.data);
      };
    } else {
      // A BroadcastChannel may drop messages, the end marker included: stop after a quiet spell once told to.
      const channel = new BroadcastChannel(job.channel!);
      let lastSeen = 0;
      let quiet: ReturnType<typeof setTimeout> | undefined;
      const settle = () => {
        clearTimeout(quiet);
        quiet = setTimeout(() => {
          channel.close();
          if (report.lastAt === 0) report.lastAt = lastSeen;
          finish();
        }, 300);
      };
      channel.onmessage = (event: MessageEvent) => {
        if (event.data !== null) {
          see(event.data);
          lastSeen = now();
        }
        if (told) settle();
      };
      let told = false;
      ending = () => {
        told = true;
        settle();
      };
    }
    parentPort!.postMessage("ready");
  });
}

/** Returns the nanoseconds per send. */
function produce(job: ProduceJob): number {
  const bus = SharedBus.attach<Tick>(job.handle);
  while (now() < job.startAt) { /* start together */ }
  const value = { a: 1, b: 2, c: 3, t: 0 };
  const started = performance.now();
  for (let n = 0; n < job.count; n++) bus.send(value);
  return ((performance.now() - started) * 1e6) / job.count;
}

/** Set while a BroadcastChannel consumer runs: the producer has sent everything. */
let ending: (() => void) | undefined;

parentPort?.on("message", async (job: ConsumeJob | ProduceJob | { kind: "ping" } | { kind: "end" }) => {
  if (job.kind === "ping") parentPort!.postMessage("pong");
  else if (job.kind === "produce") parentPort!.postMessage(produce(job));
  else if (job.kind === "end") ending?.();
  else if (job.kind === "consume") {
    ending = undefined;
    parentPort!.postMessage(await consume(job));
  }
});
