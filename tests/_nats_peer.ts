/**
 * The other process of `nats_processes.test.ts`: a bus of its own, bridged to
 * `subject`. It prints `ready` once its subscription is in place, waits for
 * a message on `<subject>.go`, sends `count` values (`peer:<i>`), waits until
 * its subscriber has read its own values and the test's, then prints what it
 * saw as one line of JSON and exits.
 *
 * Usage: <runtime> tests/_nats_peer.ts <url> <subject> <count>
 *
 * @module
 */

import process from "node:process";
import { Bus } from "../mod.ts";
import { bridge } from "../nats.ts";
import { connectTo, record, sleep } from "./_nats.ts";

const [url, subject, countText] = process.argv.slice(2);
const count = Number(countText);
const nc = await connectTo(url, { name: "peer" });
const bus = new Bus<string>(256);
const link = bridge(bus, nc, { subject, heartbeat: 0 });
const reading = record(bus.subscribe());
const go = new Promise<void>((resolve) => nc.subscribe(`${subject}.go`, { max: 1, callback: () => resolve() }));
await nc.flush();
console.log("ready");
await go;
for (let i = 0; i < count; i++) {
  bus.send(`peer:${i}`);
  if (i % 100 === 99) await sleep(0);
}
const deadline = Date.now() + 20_000;
while (reading.values.length < 2 * count && Date.now() < deadline) await sleep(5);
await sleep(50); // anything extra (a duplicate) would arrive now
await link.close();
bus.close();
await nc.close();
console.log(JSON.stringify({ values: reading.values, missed: reading.missed, stats: link.stats() }));
process.exit(0);
