/**
 * Starting real workers from a test, on Deno, Bun and Node alike, through
 * `node:worker_threads` (Node 20 has no global `Worker`; Deno and Bun
 * provide the module too, and Deno runs its workers as modules).
 *
 * On Deno and Node a worker runs its module bundled into one JavaScript file
 * by esbuild (which tsx brings), built once per test process: `deno test`
 * type-checks every worker it starts (3 to 4 s of CPU each here), and tsx's
 * `--import` hooks do not reach Node 20's worker threads. The bundle is the
 * same source. Where it cannot be built (no permission to run esbuild or to
 * write a temporary file), Deno loads the module itself and Node goes
 * through tsx's `tsImport`. Bun runs TypeScript in workers as it is. Starting
 * is still slow enough that a suite starts its workers once and waits for
 * them before its first test.
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const isNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" && !isBun;

const bundles = new Map<string, URL | undefined>();

/** `entry` and everything it imports as one ES module in a temporary directory, or undefined if it cannot be built. */
function bundle(entry: URL): URL | undefined {
  if (bundles.has(entry.href)) return bundles.get(entry.href);
  let bundled: URL | undefined;
  try {
    const esbuild = fileURLToPath(new URL("../node_modules/.bin/esbuild", import.meta.url));
    const out = join(mkdtempSync(join(tmpdir(), "ron-bus-worker-")), "worker.mjs");
    execFileSync(esbuild, [fileURLToPath(entry), "--bundle", "--format=esm", "--platform=node", `--outfile=${out}`], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    bundled = pathToFileURL(out);
  } catch {
    bundled = undefined;
  }
  bundles.set(entry.href, bundled);
  return bundled;
}

function start(url: URL): Worker {
  const bundled = isBun ? undefined : bundle(url);
  if (bundled !== undefined) return new Worker(bundled);
  if (!isNode) return new Worker(url);
  return new Worker(
    `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(url.href)}))`,
    { eval: true },
  );
}

/** A worker running module `url`, with a promise-based request/reply on its message port. */
export class Thread {
  readonly worker: Worker;
  #replies: ((value: unknown) => void)[] = [];
  #failure: unknown;
  exited = false;

  constructor(url: URL) {
    this.worker = start(url);
    this.worker.on("message", (message: unknown) => this.#replies.shift()?.(message));
    this.worker.on("error", (error: unknown) => {
      this.#failure = error;
      for (const reply of this.#replies.splice(0)) reply({ error: String(error) });
    });
    this.worker.on("exit", () => {
      this.exited = true;
      for (const reply of this.#replies.splice(0)) reply({ error: this.#failure ?? "worker exited" });
    });
  }

  /** Posts `message` and resolves with the worker's next reply. Replies come in the order asked. */
  ask<R>(message: unknown): Promise<R> {
    return new Promise((resolve) => {
      this.#replies.push(resolve as (value: unknown) => void);
      this.worker.postMessage(message);
    });
  }

  /** Resolves with the worker's next reply, without asking anything. */
  next<R>(): Promise<R> {
    return new Promise((resolve) => this.#replies.push(resolve as (value: unknown) => void));
  }

  /** Terminates the worker; resolves once it is gone. */
  async stop(): Promise<void> {
    if (!this.exited) await this.worker.terminate();
  }
}

/** Rejects with `message` after `ms` unless `promise` settles first; the timer never outlives it. */
export async function watchdog<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alarm = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Watchdog: ${message()} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, alarm]);
  } finally {
    clearTimeout(timer);
  }
}
