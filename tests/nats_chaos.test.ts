import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Bus } from "../mod.ts";
import { bridge, bridgeJetStream } from "../nats.ts";
import { connectTo, record, sleep, until } from "./_nats.ts";
import { natsMissing, startNats } from "./_nats_server.ts";

/** Bun stops a test after 5 s by default; these may take longer on a loaded machine. */
const SLOW = { timeout: 60_000 };

/** How many distinct values of 0..total-1 a reader lacks. */
function lacking(values: number[], total: number): number {
  return total - new Set(values.filter((n) => n >= 0 && n < total)).size;
}

/** Sends `perTick` values every millisecond until `stop()` says so; returns how many it sent. */
async function produce(send: (n: number) => void, perTick: number, stop: () => boolean): Promise<number> {
  let n = 0;
  for (let ticks = 0; !stop() && ticks < 20_000; ticks++) {
    for (let k = 0; k < perTick; k++) send(n++);
    await sleep(1);
  }
  return n;
}

describe("chaos: nats-server killed with SIGKILL mid-stream and restarted", {
  skip: natsMissing("tests/nats_chaos.test.ts"),
}, () => {
  it("bridge(): every gap count equals the truth, carried by an index in each value", SLOW, async () => {
    const server = await startNats();
    const [ncA, ncB] = [await connectTo(server.url), await connectTo(server.url)];
    try {
      const subject = "chaos.core";
      const [a, b] = [new Bus<number>(1024), new Bus<number>(4096)];
      const from = bridge(a, ncA, { subject, heartbeat: 50 });
      const to = bridge(b, ncB, { subject, heartbeat: 50 });
      const reading = record(b.subscribe());
      await Promise.all([ncA.flush(), ncB.flush()]);
      let phase: "before" | "down" | "after" | "done" = "before";
      const sending = produce((n) => a.send(n), 20, () => phase === "done");
      await sleep(300);
      phase = "down";
      await server.kill();
      await sleep(150);
      await server.restart();
      phase = "after";
      // Both clients reconnect and B resubscribes; then B hears A again.
      const heard = to.stats().received;
      await until(() => to.stats().received > heard + 1_000, 15_000, "the receiver to hear the sender again");
      phase = "done";
      const total = await sending;
      await from.close(); // its goodbye carries the last sequence number
      await until(() => to.stats().received + to.stats().gaps === total, 10_000, "every value accounted for");
      await until(() => reading.values.length === to.stats().received);
      const stats = to.stats();
      console.log(`chaos core: sent ${total}, received ${stats.received}, gaps ${stats.gaps} (SIGKILL + restart)`);
      assert.equal(stats.gaps, lacking(reading.values, total), "gaps equal the values that never arrived");
      assert.equal(reading.missed, 0);
      assert.equal(stats.duplicates, 0);
      assert.deepEqual(reading.values, [...reading.values].sort((x, y) => x - y), "in order");
      assert.ok(stats.gaps > 0, "the kill lost something: the test saw chaos");
      assert.equal(from.stats().published + from.stats().publishErrors, total);
      await to.close();
    } finally {
      await ncA.close().catch(() => {});
      await ncB.close().catch(() => {});
      await server.stop();
    }
  });

  it(
    "bridgeJetStream(): the stream survives; what it stored is read with no gap, and every loss is a publish error",
    SLOW,
    async () => {
      const server = await startNats();
      const [ncA, ncB] = [await connectTo(server.url), await connectTo(server.url)];
      try {
        const [stream, subject] = ["CHAOS", "chaos.js"];
        await (await jetstreamManager(ncA)).streams.add({ name: stream, subjects: [subject], max_msgs: 1_000_000 });
        const [a, b] = [new Bus<number>(1024), new Bus<number>(4096)];
        const from = await bridgeJetStream(a, jetstream(ncA, { timeout: 1_000 }), { stream, subject, window: 64 });
        const to = await bridgeJetStream(b, jetstream(ncB), { stream, subject, start: "oldest" });
        const reading = record(b.subscribe());
        let phase: "before" | "down" | "after" | "done" = "before";
        const sending = produce((n) => a.send(n), 5, () => phase === "done");
        await sleep(300);
        phase = "down";
        await server.kill();
        await sleep(150);
        await server.restart();
        phase = "after";
        const heard = to.stats().received;
        await until(() => to.stats().received > heard + 200, 20_000, "the reader to resume");
        phase = "done";
        const total = await sending;
        await from.close(); // every publish acknowledged or failed
        const stored = (await (await jetstreamManager(ncA)).streams.info(stream)).state.messages;
        await until(() => to.stats().received === stored, 20_000, "the reader to read all the stream stored");
        const sent = from.stats();
        console.log(
          `chaos JetStream: sent ${total}, acknowledged ${sent.published}, publish errors ${sent.publishErrors}, ` +
            `stored ${stored}, read ${to.stats().received}, gaps ${to.stats().gaps}`,
        );
        assert.equal(sent.published + sent.publishErrors, total, "every local send acknowledged or counted as failed");
        assert.equal(to.stats().gaps, 0, "the stream lost nothing it stored");
        assert.equal(new Set(reading.values).size, stored, "each stored value read once");
        assert.ok(
          lacking(reading.values, total) <= sent.publishErrors,
          "every value missing is a counted publish error",
        );
        await until(() => reading.values.length === stored);
        assert.equal(reading.missed, 0);
        await to.close();
      } finally {
        await ncA.close().catch(() => {});
        await ncB.close().catch(() => {});
        await server.stop();
      }
    },
  );
});
