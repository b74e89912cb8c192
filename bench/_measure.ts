/**
 * What the benchmarks need from the runtime they run on: its name and
 * version, a forced garbage collection, a heap counter, and the allocation
 * method built on them, with its calibration.
 *
 * Allocation method: collect garbage, read the heap counter, run a window of
 * operations, read it again; the median of several windows, divided by the
 * operations, is the figure. A window is sized to allocate well under the
 * young generation, so no collection runs inside it.
 *
 * - V8 (Node, Deno): `used_heap_size` counts every object as it is allocated.
 * - JSC (Bun): no counter tracks allocation between collections
 *   (`heapSize`, `process.memoryUsage()` and `bun:jsc` `memoryUsage()` stood
 *   still while 1 KiB arrays were allocated). `heapCapacity` grows block by
 *   block (16 KiB) as fresh blocks are handed out, so with windows of about
 *   2 MiB it reads within a block per window, rounded up to JSC's size
 *   classes. We trust it only as far as the calibration says.
 *
 * @module
 */

import os from "node:os";
import process from "node:process";

export type RuntimeName = "deno" | "bun" | "node";

declare const Bun: { version: string; revision: string; gc(force: boolean): void } | undefined;

export const runtime: RuntimeName = typeof Deno !== "undefined" ? "deno" : typeof Bun !== "undefined" ? "bun" : "node";

export const runtimeVersion: string = runtime === "deno"
  ? `${Deno.version.deno} (V8 ${Deno.version.v8})`
  : runtime === "bun"
  ? `${Bun!.version} (JavaScriptCore, ${Bun!.revision.slice(0, 9)})`
  : `${process.versions.node} (V8 ${process.versions.v8})`;

/** Forces a full collection, or is undefined without `--expose-gc`. */
export const gc: (() => void) | undefined = runtime === "bun"
  ? () => Bun!.gc(true)
  : (globalThis as { gc?: () => void }).gc;

// Module specifiers in variables, so type checkers on other runtimes leave them alone.
const JSC = "bun:jsc";
const V8 = "node:v8";

/** The heap counter described in the module doc. */
export const heapBytes: () => number = runtime === "deno"
  ? () => Deno.memoryUsage().heapUsed // node:v8's getHeapStatistics() crashes Deno 2.9 at exit after gc()
  : runtime === "bun"
  ? ((jsc) => () => jsc.heapStats().heapCapacity)(await import(JSC))
  : ((v8) => () => v8.getHeapStatistics().used_heap_size)(await import(V8));

/**
 * Bytes the heap keeps alive, read after a forced collection: on V8 the
 * used heap plus external memory (a typed array's elements live outside the
 * heap); on JSC the heap size, which counts them already.
 */
export const retainedBytes: () => number = runtime === "deno"
  ? () => {
    const usage = Deno.memoryUsage();
    return usage.heapUsed + usage.external;
  }
  : runtime === "bun"
  ? ((jsc) => () => jsc.heapStats().heapSize)(await import(JSC))
  : ((v8) => () => {
    const stats = v8.getHeapStatistics();
    return stats.used_heap_size + stats.external_memory;
  })(await import(V8));

/** CPU seconds this process has used (user and system), which a loaded machine does not inflate much. */
export function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Bytes a `{ a, b }` object takes: V8 without pointer compression uses 5 words, JSC a 32-byte cell. */
const PAIR_BYTES = runtime === "bun" ? 32 : 40;
/** Keeps allocations alive until the next one replaces them, so none is optimised away. */
const keep: unknown[] = new Array(64).fill(undefined);
let kept = 0;

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  load: number[];
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    load: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

/** The value at quantile `q` (0..1) of `sorted`. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/**
 * Heap bytes allocated per call of `op`, by the method in the module doc.
 * The counter's own cost per window is measured with empty windows and
 * subtracted. A window allocates at most about `windowBytes` and lasts about
 * `windowMs`.
 */
export async function bytesPerCall(
  op: () => void | Promise<void>,
  { windowBytes = runtime === "bun" ? 2 ** 21 : 2 ** 19, windowMs = 30, windows = 5, maxCalls = 100_000 } = {},
): Promise<number> {
  if (gc === undefined) return NaN;
  const sync = !(op() instanceof Promise);
  const window = async (calls: number): Promise<{ bytes: number; ms: number }> => {
    gc();
    const before = heapBytes();
    const started = performance.now();
    if (sync) { for (let i = 0; i < calls; i++) op(); }
    else for (let i = 0; i < calls; i++) await op();
    const ms = performance.now() - started;
    return { bytes: heapBytes() - before, ms };
  };
  const empty = median([await window(0), await window(0), await window(0)].map((w) => w.bytes));
  // Probe with doubling calls until a window takes an eighth of its budget.
  let probeCalls = 1;
  let probe = await window(probeCalls);
  while (probeCalls < 256 && probe.ms < windowMs / 8) probe = await window(probeCalls *= 2);
  const bytesEstimate = Math.max((probe.bytes - empty) / probeCalls, 1);
  const calls = Math.floor(Math.min(maxCalls, windowBytes / bytesEstimate, windowMs / (probe.ms / probeCalls)));
  const figures: number[] = [];
  for (let i = 0; i < windows; i++) {
    figures.push(((await window(Math.max(calls, 1))).bytes - empty) / Math.max(calls, 1));
  }
  return median(figures);
}

export interface Calibration {
  /** Bytes per call measured for known allocations, beside what they must be. */
  nothing: number;
  pair: { measured: number; expected: number };
  kibArray: { measured: number; expected: string };
  /** Whether every figure is where it must be, so allocation gates can be enforced. */
  trusted: boolean;
}

/**
 * Runs the allocation method on allocations of known size. A loaded machine
 * can leave the probes unoptimised through a first attempt (V8 compiles on a
 * background thread), so it tries up to three times and reports the first
 * attempt that passes, or the last.
 */
export async function calibrate(windowMs: number): Promise<Calibration & { attempts: number }> {
  await bytesPerCall(() => {}, { windowMs }); // warms the method up
  let result!: Calibration;
  let attempts = 0;
  while (attempts++ < 3) {
    const nothing = await bytesPerCall(() => {}, { windowMs });
    const pair = await bytesPerCall(() => void (keep[kept++ & 63] = { a: kept, b: kept }), { windowMs });
    // 128 doubles are 1024 bytes in any engine, plus an array header and a size-class rounding.
    const kibArray = await bytesPerCall(() => void (keep[kept++ & 63] = new Array(128).fill(kept + 0.5)), { windowMs });
    const trusted = Math.abs(nothing) <= 0.5 && Math.abs(pair - PAIR_BYTES) <= PAIR_BYTES * 0.15 &&
      kibArray >= 1024 && kibArray <= 1300;
    result = {
      nothing,
      pair: { measured: pair, expected: PAIR_BYTES },
      kibArray: { measured: kibArray, expected: "1024 + header, at most 1300" },
      trusted,
    };
    if (trusted) break;
  }
  return { ...result, attempts: Math.min(attempts, 3) };
}
