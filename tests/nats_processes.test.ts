import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Bus } from "../mod.ts";
import { bridge, type BridgeStats } from "../nats.ts";
import { runtimeCommand } from "./_child.ts";
import { connectTo, record, sleep, until } from "./_nats.ts";
import { natsMissing, type NatsServer, startNats } from "./_nats_server.ts";

/** Bun stops a test after 5 s by default; these may take longer on a loaded machine. */
const SLOW = { timeout: 60_000 };

const COUNT = 3_000;

/** `prefix:0` .. `prefix:COUNT-1`. */
const expected = (prefix: string): string[] => Array.from({ length: COUNT }, (_, i) => `${prefix}:${i}`);

describe("bridge() across processes", { skip: natsMissing("tests/nats_processes.test.ts") }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNats();
  });
  after(async () => {
    await server.stop();
  });

  it(
    "two bridged buses in separate processes, both sending: each subscriber sees every value once, in order",
    SLOW,
    async () => {
      const subject = "processes.test";
      const [command, args] = runtimeCommand(fileURLToPath(new URL("./_nats_peer.ts", import.meta.url)));
      const child = spawn(command, [...args, server.url, subject, `${COUNT}`], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      let output = "";
      child.stdout!.on("data", (chunk) => output += chunk);
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const watchdog = setTimeout(() => child.kill("SIGKILL"), 30_000);
      try {
        await until(() => output.startsWith("ready\n") || child.exitCode !== null, 20_000, "the peer to be ready");
        const nc = await connectTo(server.url);
        const bus = new Bus<string>(256);
        const link = bridge(bus, nc, { subject, heartbeat: 0 });
        const reading = record(bus.subscribe());
        await nc.flush();
        nc.publish(`${subject}.go`);
        for (let i = 0; i < COUNT; i++) {
          bus.send(`test:${i}`);
          if (i % 100 === 99) await sleep(0);
        }
        await until(() => reading.values.length === 2 * COUNT, 20_000, "the peer's values");
        assert.equal(await exited, 0);
        const peer: { values: string[]; missed: number; stats: BridgeStats } = JSON.parse(output.split("\n")[1]);
        await sleep(50);
        await link.close();
        await nc.close();
        for (
          const [where, values, missed] of [["here", reading.values, reading.missed], [
            "peer",
            peer.values,
            peer.missed,
          ]] as const
        ) {
          assert.equal(values.length, 2 * COUNT, where);
          assert.equal(missed, 0, where);
          assert.deepEqual(
            values.filter((v) => v.startsWith("test:")),
            expected("test"),
            `${where}: this process's values`,
          );
          assert.deepEqual(
            values.filter((v) => v.startsWith("peer:")),
            expected("peer"),
            `${where}: the peer's values`,
          );
        }
        for (const stats of [link.stats(), peer.stats]) {
          assert.deepEqual([stats.published, stats.received, stats.gaps, stats.duplicates], [COUNT, COUNT, 0, 0]);
        }
      } finally {
        clearTimeout(watchdog);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    },
  );
});
