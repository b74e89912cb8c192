/**
 * Starts workerd (the `workerd` npm package's binary) on 127.0.0.1 with a
 * Cap'n Proto config serving `worker.ts`, bundled with esbuild: a free port
 * (the config asks for port 0 and workerd reports the real one on its control
 * descriptor), a pid file, a readiness wait, a watchdog, and a stop by pid.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import process from "node:process";
import * as esbuild from "esbuild";

// The package is CommonJS: its `default` export is the binary's path for this platform.
const workerd = createRequire(import.meta.url)("workerd") as { default: string; compatibilityDate: string };

/** A running workerd: its base URL, everything it logged so far, and how to stop it. */
export interface Workerd {
  url: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

/** The workerd binary, or undefined where the package has none for this platform. */
export function workerdBinary(): string | undefined {
  try {
    const path = workerd.default;
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const READY_MS = 15_000;
/** workerd is killed after this long whatever happens, so a hung test cannot hold CI. */
const WATCHDOG_MS = 120_000;

const config = (date: string) =>
  `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .bus)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const bus :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${date}",
  durableObjectNamespaces = [(className = "Hub", uniqueKey = "ron-bus-test-hub")],
  durableObjectStorage = (inMemory = void),
  bindings = [(name = "HUB", durableObjectNamespace = "Hub")],
);
`;

/** Bundles the worker, writes the config and starts workerd; resolves once it answers on its port. */
export async function startWorkerd(): Promise<Workerd> {
  const binary = workerdBinary();
  if (binary === undefined) throw new Error("workerd is not installed: run npm ci");
  const dir = mkdtempSync(join(tmpdir(), "ron-bus-workerd-"));
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL("worker.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile: join(dir, "worker.js"),
    logLevel: "warning",
  });
  writeFileSync(join(dir, "config.capnp"), config(workerd.compatibilityDate));

  const child = spawn(binary, ["serve", "config.capnp", "--verbose", "--control-fd=3"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  const pidFile = join(dir, "workerd.pid");
  writeFileSync(pidFile, String(child.pid));
  let log = "";
  child.stdout!.on("data", (chunk) => log += chunk);
  child.stderr!.on("data", (chunk) => log += chunk);
  // The pid file lives exactly as long as the process, so a stop never signals a recycled pid.
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      rmSync(pidFile, { force: true });
      resolve();
    })
  );

  const stop = async () => {
    clearTimeout(watchdog);
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      killQuietly(pid, "SIGTERM");
      const grace = setTimeout(() => killQuietly(pid, "SIGKILL"), 5_000);
      await exited;
      clearTimeout(grace);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const watchdog = setTimeout(() => {
    console.error(`Watchdog: workerd (pid ${child.pid}) still running after ${WATCHDOG_MS / 1000} s; killing it`);
    void stop();
  }, WATCHDOG_MS);
  watchdog.unref();

  try {
    const port = await listeningPort(child.stdio[3] as Readable, exited);
    const url = `http://127.0.0.1:${port}/`;
    await untilAnswers(`${url}ready`);
    return { url, pid: child.pid!, log: () => log, stop };
  } catch (error) {
    await stop();
    throw new Error(`workerd did not start: ${(error as Error).message}\n${log}`);
  }
}

/** Reads workerd's control descriptor until it reports the port it listens on. */
function listeningPort(control: Readable, exited: Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    control.on("data", (chunk) => {
      buffered += chunk;
      for (const line of buffered.split("\n").slice(0, -1)) {
        const message = JSON.parse(line) as { event: string; socket?: string; port?: number };
        if (message.event === "listen" && message.socket === "http") resolve(message.port!);
      }
    });
    void exited.then(() => reject(new Error("workerd exited before it listened")));
    setTimeout(() => reject(new Error(`no port reported within ${READY_MS / 1000} s`)), READY_MS).unref();
  });
}

async function untilAnswers(url: string): Promise<void> {
  const deadline = Date.now() + READY_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`${url} did not answer within ${READY_MS / 1000} s: ${last}`);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
