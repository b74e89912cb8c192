/**
 * A real nats-server for tests and benchmarks: on 127.0.0.1, on free ports,
 * with JetStream in a temporary directory (`-js -sd`), a pid file (`-P`), a
 * health check on its monitoring port (`-m`) before use, and an optional
 * WebSocket listener (from a config file). It is stopped by the pid in its
 * pid file. Works under Deno, Bun and Node through `node:` modules.
 *
 * Without nats-server on the PATH, {@linkcode natsMissing} is a loud skip
 * message, except under `CI=true`, where it throws: CI must not skip.
 *
 * @module
 */

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

function findServer(): string | undefined {
  const probe = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  return probe.status === 0 ? probe.stdout.trim() : undefined;
}

/** `nats-server --version`, if it is installed. */
export const natsVersion: string | undefined = findServer();

/**
 * A skip message when nats-server is missing (printed at once, since Bun's
 * runner drops skip reasons), or `false` when it is there.
 *
 * @throws {Error} Under `CI=true` when it is missing.
 */
export function natsMissing(file: string): string | false {
  if (natsVersion !== undefined) return false;
  const message = `SKIPPED ${file}: nats-server is not installed (apt-get install -y nats-server)`;
  if (process.env.CI === "true") throw new Error(`${message}; CI must run these tests`);
  console.warn(`\n*** ${message} ***\n`);
  return message;
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A running nats-server. */
export interface NatsServer {
  /** `127.0.0.1:<port>`, for `connect({ servers })`. */
  readonly url: string;
  /** `ws://127.0.0.1:<port>`, if started with `websocket: true`. */
  readonly wsUrl: string | undefined;
  /** The pid from the pid file. */
  readonly pid: number;
  /** Kills the server with SIGKILL (no goodbye to its clients) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and JetStream directory, and waits until it is healthy. */
  restart(): Promise<void>;
  /** Stops it with SIGTERM by pid, waits, and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** The pids of the servers this process started and has not stopped. */
const running = new Set<() => number>();
let stopsOnSignal = false;

/**
 * Stops this process's servers if it is told to end: Stryker ends a test
 * file's process at its first failure, and a server must not outlive it.
 * Not under Deno, whose test sanitizers would take the listener for a leak.
 */
function stopOnSignal(): void {
  if (stopsOnSignal || "Deno" in globalThis) return;
  stopsOnSignal = true;
  for (const name of ["SIGTERM", "SIGINT"] as const) {
    process.once(name, () => {
      for (const pid of running) {
        try {
          process.kill(pid(), "SIGTERM");
        } catch {
          // already gone
        }
      }
      process.exit(name === "SIGTERM" ? 143 : 130);
    });
  }
}

/**
 * Starts a nats-server with JetStream; `websocket: true` adds a WebSocket
 * listener, and `config` is more configuration file text (users and
 * permissions, say).
 */
export async function startNats(options: { websocket?: boolean; config?: string } = {}): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "ron-bus-nats-"));
  const [port, monitor, ws] = await Promise.all([freePort(), freePort(), freePort()]);
  const pidFile = join(dir, "nats.pid");
  const args = ["-a", "127.0.0.1", "-p", `${port}`, "-m", `${monitor}`, "-js", "-sd", join(dir, "js"), "-P", pidFile];
  let text = options.config ?? "";
  if (options.websocket) text += `websocket {\n  listen: "127.0.0.1:${ws}"\n  no_tls: true\n}\n`;
  if (text !== "") {
    const config = join(dir, "nats.conf");
    writeFileSync(config, text);
    args.push("-c", config);
  }
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let pid = 0;
  let stopped = false;

  const launch = async (): Promise<void> => {
    rmSync(pidFile, { force: true });
    let log = "";
    const started = spawn("nats-server", args, { stdio: ["ignore", "ignore", "pipe"] });
    started.stderr!.on("data", (chunk) => log = (log + chunk).slice(-4000));
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`nats-server exited with ${started.exitCode}:\n${log}`);
      if (await healthy(monitor)) break;
      if (Date.now() > deadline) {
        started.kill("SIGKILL");
        throw new Error(`nats-server was not healthy on :${monitor} within 10 s:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    pid = Number(readFileSync(pidFile, "utf8").trim());
  };

  const signal = async (name: "SIGKILL" | "SIGTERM"): Promise<void> => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
    await exited;
    child = undefined;
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const currentPid = () => pid;
  running.add(currentPid);
  stopOnSignal();
  return {
    url: `127.0.0.1:${port}`,
    wsUrl: options.websocket ? `ws://127.0.0.1:${ws}` : undefined,
    get pid() {
      return pid;
    },
    kill: () => signal("SIGKILL"),
    restart: launch,
    async stop() {
      if (stopped) return;
      stopped = true;
      running.delete(currentPid);
      if (child !== undefined) await signal("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function healthy(monitor: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${monitor}/healthz`);
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
