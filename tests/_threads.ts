/**
 * Starting real workers from a test, on Deno, Bun and Node alike, through
 * `node:worker_threads` (Node 20 has no global `Worker`; Deno and Bun
 * provide the module too, and Deno runs its workers as modules).
 *
 * Node runs TypeScript here through tsx, whose `--import` hooks do not reach
 * worker threads in Node 20, so a Node worker starts from a line of
 * JavaScript that loads the module through tsx's `tsImport`. `deno test`
 * type-checks each worker it starts (seconds each on this machine), so a
 * suite starts its workers once and waits for them before its first test.
 *
 * @module
 */

import { Worker } from "node:worker_threads";

const isNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

/** A worker running module `url`, with a promise-based request/reply on its message port. */
export class Thread {
  readonly worker: Worker;
  #replies: ((value: unknown) => void)[] = [];
  #failure: unknown;
  exited = false;

  constructor(url: URL) {
    this.worker = isNode
      ? new Worker(
        `import("tsx/esm/api").then(({ tsImport }) => tsImport(${JSON.stringify(url.href)}, ${
          JSON.stringify(url.href)
        }))`,
        { eval: true },
      )
      : new Worker(url);
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
