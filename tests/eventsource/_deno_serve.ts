/**
 * Starts `deno serve` (the Deno that `npm ci` installed) on 127.0.0.1 at a
 * free port (`--port 0`; it prints the real one), with a pid file, a
 * readiness wait and a watchdog, and stops it by pid.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = fileURLToPath(new URL("../..", import.meta.url));
const DENO = `${root}node_modules/.bin/deno`;
const READY_MS = 20_000;
/** Killed after this long whatever happens, so a hung test cannot hold CI. */
const WATCHDOG_MS = 120_000;

/** A running `deno serve`: its base URL, its pid, what it printed, and how it ends. */
export interface DenoServer {
  url: string;
  pid: number;
  log(): string;
  /** Sends `signal` to the process by pid and resolves with how long it took to exit, or rejects after `ms`. */
  signal(signal: "SIGINT" | "SIGTERM", ms: number): Promise<number>;
  /** Stops it by pid: SIGTERM, then SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
}

/** `deno serve` of `module` (a path from the repository's root) with `flags` and `env`. */
export async function denoServe(
  module: string,
  flags: string[],
  env: Record<string, string> = {},
): Promise<DenoServer> {
  const dir = mkdtempSync(join(tmpdir(), "ron-bus-deno-serve-"));
  const child = spawn(DENO, ["serve", "--host", "127.0.0.1", "--port", "0", ...flags, module], {
    cwd: root,
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pidFile = join(dir, "deno.pid");
  writeFileSync(pidFile, String(child.pid));
  let log = "";
  child.stdout!.on("data", (chunk) => log += chunk);
  child.stderr!.on("data", (chunk) => log += chunk);
  // The pid file lives exactly as long as the process, so nothing signals a recycled pid.
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      rmSync(pidFile, { force: true });
      resolve();
    })
  );
  const signalByPid = (signal: NodeJS.Signals): boolean => {
    if (!existsSync(pidFile)) return false;
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), signal);
      return true;
    } catch {
      return false; // already gone
    }
  };
  const stop = async () => {
    clearTimeout(watchdog);
    if (signalByPid("SIGTERM")) {
      const grace = setTimeout(() => signalByPid("SIGKILL"), 5_000);
      await exited;
      clearTimeout(grace);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.error(`Watchdog: deno serve ${module} (pid ${child.pid}) still running after ${WATCHDOG_MS / 1000} s`);
    void stop();
  }, WATCHDOG_MS);
  watchdog.unref();

  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Listening on" within ${READY_MS / 1000} s`)), READY_MS);
      const look = () => {
        const match = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
        if (match === null) return;
        clearTimeout(timer);
        resolve(Number(match[1]));
      };
      child.stdout!.on("data", look);
      child.stderr!.on("data", look);
      void exited.then(() => reject(new Error("deno serve exited before it listened")));
    });
    return {
      url: `http://127.0.0.1:${port}/`,
      pid: child.pid!,
      log: () => log,
      async signal(signal, ms) {
        const started = performance.now();
        assert(signalByPid(signal), `deno serve ${module} is not running`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`still running ${ms} ms after ${signal}`)), ms);
        });
        try {
          await Promise.race([exited, late]);
        } finally {
          clearTimeout(timer);
        }
        return performance.now() - started;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`deno serve ${module} did not start: ${(error as Error).message}\n${log}`);
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
