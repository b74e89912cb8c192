/**
 * One side of a NATS benchmark run, in its own process (started by
 * `bench/nats.ts` on the runtime under test). Usage:
 *
 *   receive <mode> <url> <subject> <count> <latency: 0|1>
 *   publish <mode> <url> <subject> <count> <rate: values/s, 0 = flat out>
 *   jetstream <window> <url> <subject> <count> <stream>
 *   intake - - - <count>
 *
 * Modes: `plain` (4 core NATS subscriptions, one JSON value per message),
 * `bridge` (a bridged bus with 4 `wait()` + `drain` subscribers, batched),
 * `unbatched` (the same bridge publishing one value per message).
 *
 * The receiver prints `ready` once subscribed, then one line of JSON when
 * every subscriber has accounted for `count` values (or it went idle): the
 * rate, CPU per value, latency percentiles and every loss. `jetstream`
 * publishes `count` values through a JetStream bridge with `window`
 * acknowledgements in flight, pacing itself on `link.ready`, and prints the
 * acknowledged rate. `intake` needs no server: it hands batches the size a
 * publisher sends straight to the bridge's intake (decode, slices, the bus
 * and 4 subscribers), the receiver's work without the NATS client, and
 * prints its CPU time per value.
 *
 * @module
 */

import process from "node:process";
import { setImmediate } from "node:timers";
import { connect } from "@nats-io/transport-node";
import { Bus } from "../mod.ts";
import { jetstream } from "@nats-io/jetstream";
import { bridge, bridgeJetStream } from "../nats.ts";
import { createPacker } from "../src/nats/codec.ts";
import { HEADER_BYTES, JSON_LIST } from "../src/nats/envelope.ts";
import { Intake } from "../src/nats/intake.ts";
import { newCounters } from "../src/nats/stats.ts";

/** A benchmark value: its index, and when it was sent in microseconds since the run's epoch. */
interface Tick {
  i: number;
  t: number;
}

const SUBSCRIBERS = 4;
/**
 * The share of a run's values that timing and latency sampling skip:
 * connection set-up, the engine's compiler tiers and the collector's sizing
 * settle over the first half second or so. A tenth of 600,000 values (40 ms
 * at 1.4M values/s) was too little: it put 0.44-0.63 us of CPU per value on
 * the batched receiver, where 3 million values timed after the first fifth
 * read 0.23-0.26.
 */
const WARM_UP = 0.2;
const [role, mode, url, subject, countText, option] = process.argv.slice(2);
const count = Number(countText);
const now = (): number => performance.timeOrigin + performance.now();
/** Wall-clock milliseconds both processes measure from, so `t` is a small integer. */
const epoch = Number(process.env.BENCH_EPOCH ?? Math.floor(now()));
const stamp = (): number => Math.round((now() - epoch) * 1_000);
if (role === "intake") {
  await intakeAlone();
  process.exit(0);
}
const nc = await connect({ servers: url, noEcho: true, name: `${role}-${mode}` });

if (role === "receive") await receive(option === "1");
else if (role === "publish") await publish(Number(option));
else await publishToStream(Number(mode), option);
await nc.close();
process.exit(0);

async function receive(latency: boolean): Promise<void> {
  const counts = new Array<number>(SUBSCRIBERS).fill(0);
  const samples: number[] = [];
  let checksum = 0;
  // Latency is sampled past the warm-up too, as throughput is timed.
  const warm = count * WARM_UP;
  const seen = latency
    ? (tick: Tick, sub: number): void => {
      counts[sub]++;
      if (tick.i >= warm) samples.push(now() - epoch - tick.t / 1_000);
    }
    : (tick: Tick, sub: number): void => {
      counts[sub]++;
      checksum = (checksum + tick.i) | 0;
    };
  let lost = (): { gaps: number; missed: number; decodeErrors: number; overflowed: number } => ({
    gaps: 0,
    missed: 0,
    decodeErrors: 0,
    overflowed: 0,
  });
  let finish = async (): Promise<void> => {};
  if (mode === "plain") {
    const decoder = new TextDecoder();
    for (let sub = 0; sub < SUBSCRIBERS; sub++) {
      nc.subscribe(subject, { callback: (_error, msg) => seen(JSON.parse(decoder.decode(msg.data)), sub) });
    }
    // Plain NATS has no sequence numbers: a loss is only the shortfall at the end.
  } else {
    const bus = new Bus<Tick>({ capacity: 1024 });
    const link = bridge(bus, nc, { subject });
    const subs = Array.from({ length: SUBSCRIBERS }, () => bus.subscribe());
    subs.forEach((sub, index) => {
      const push = (tick: Tick) => seen(tick, index);
      void (async () => {
        while (await sub.wait()) sub.drain(push);
      })();
    });
    lost = () => {
      const stats = link.stats();
      return {
        gaps: stats.gaps,
        missed: subs.reduce((sum, sub) => sum + sub.missed, 0),
        decodeErrors: stats.decodeErrors,
        overflowed: stats.overflowed,
      };
    };
    finish = async () => {
      await link.close();
      bus.close();
    };
  }
  await nc.flush();
  console.log("ready");
  // Timed from the end of the warm-up (see WARM_UP) until every subscriber has
  // accounted for every value, polling every 2 ms; or until a second of silence.
  const accounted = () => {
    const { gaps, missed } = lost();
    return counts.reduce((sum, n) => sum + n, 0) + gaps * SUBSCRIBERS + missed;
  };
  const warmedUp = count * SUBSCRIBERS * WARM_UP;
  let from = 0;
  let fromCount = 0;
  let cpuStart = process.cpuUsage();
  let lastProgress = now();
  let lastAccounted = 0;
  const deadline = Date.now() + 60_000;
  while (accounted() < count * SUBSCRIBERS && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const done = accounted();
    if (from === 0 && done >= warmedUp) {
      from = now();
      fromCount = done;
      cpuStart = process.cpuUsage();
    }
    if (done !== lastAccounted) {
      lastAccounted = done;
      lastProgress = now();
    } else if (done > 0 && now() - lastProgress > 1_000) break;
  }
  const cpu = process.cpuUsage(cpuStart);
  const elapsed = (now() - from) / 1_000;
  const values = (accounted() - fromCount) / SUBSCRIBERS;
  const received = Math.min(...counts);
  samples.sort((a, b) => a - b);
  const pick = (q: number) =>
    samples.length ? samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] : NaN;
  const losses = lost();
  await finish();
  console.log(JSON.stringify({
    mode,
    count,
    received,
    delivered: counts.reduce((sum, n) => sum + n, 0),
    perSecond: values / elapsed,
    cpuMicrosPerValue: (cpu.user + cpu.system) / values,
    p50: pick(0.5),
    p95: pick(0.95),
    p99: pick(0.99),
    ...losses,
    uncounted: count * SUBSCRIBERS - counts.reduce((sum, n) => sum + n, 0) - losses.gaps * SUBSCRIBERS -
      losses.missed,
    checksum,
  }));
}

async function publish(rate: number): Promise<void> {
  let send: (tick: Tick) => void;
  let finish = async (): Promise<void> => {};
  if (mode === "plain") {
    const encoder = new TextEncoder();
    send = (tick) => nc.publish(subject, encoder.encode(JSON.stringify(tick)));
  } else {
    const bus = new Bus<Tick>({ capacity: 1024 });
    const link = bridge(bus, nc, { subject, maxBatchBytes: mode === "unbatched" ? 0 : 65_536 });
    send = (tick) => bus.send(tick);
    finish = () => link.close();
  }
  const started = now();
  if (rate === 0) {
    // Flat out, a chunk per macrotask turn, waiting for the server now and then so nothing piles up unbounded.
    // The turn is setImmediate, not setTimeout(0): Node makes that 1 ms, and Deno clamps timers nested more than
    // 5 deep to 4 ms, as browsers do, which capped the publisher rather than anything measured.
    for (let i = 0; i < count;) {
      const end = Math.min(count, i + 1_000);
      for (; i < end; i++) send({ i, t: stamp() });
      if (i % 20_000 === 0) await nc.flush();
      else await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    // Paced: every millisecond or so, send what is due.
    for (let i = 0; i < count;) {
      const due = Math.min(count, Math.floor((now() - started) * rate / 1_000));
      for (; i < due; i++) send({ i, t: stamp() });
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  await finish();
  await nc.flush();
}

async function publishToStream(window: number, stream: string): Promise<void> {
  const bus = new Bus<Tick>({ capacity: 1024 });
  const link = await bridgeJetStream(bus, jetstream(nc), { stream, subject, window });
  const started = now();
  for (let i = 0; i < count; i++) {
    await link.ready;
    bus.send({ i, t: stamp() });
  }
  await link.close();
  const stats = link.stats();
  console.log(JSON.stringify({
    window,
    count,
    published: stats.published,
    publishErrors: stats.publishErrors,
    perSecond: stats.published / ((now() - started) / 1_000),
  }));
}

async function intakeAlone(): Promise<void> {
  // A batch as the flat-out publisher sends one: 1,000 values (it yields every 1,000).
  const packer = createPacker<Tick>(undefined);
  for (let i = 0; i < 1_000; i++) packer.add({ i, t: 1_000_000 + i * 97 });
  const body = packer.take().subarray(HEADER_BYTES);
  const bus = new Bus<Tick>({ capacity: 1024 });
  let checksum = 0;
  const push = (tick: Tick) => void (checksum = (checksum + tick.i) | 0);
  for (let k = 0; k < SUBSCRIBERS; k++) {
    const sub = bus.subscribe();
    void (async () => {
      while (await sub.wait()) sub.drain(push);
    })();
  }
  const intake = new Intake(bus.tap(() => {}), bus, undefined, newCounters(), 65_536, () => {});
  const round = async (messages: number) => {
    for (let m = 0; m < messages; m++) intake.take(JSON_LIST, body, 1_000, 0);
    while (intake.queued > 0) await new Promise((resolve) => setTimeout(resolve, 0));
  };
  for (let warm = 0; warm < 50; warm++) await round(4);
  const perValue: number[] = [];
  for (let sample = 0; sample < Math.max(5, count / 100_000); sample++) {
    const cpu = process.cpuUsage();
    for (let r = 0; r < 25; r++) await round(4);
    const used = process.cpuUsage(cpu);
    perValue.push((used.user + used.system) / 100_000);
  }
  perValue.sort((a, b) => a - b);
  console.log(JSON.stringify({ cpuMicrosPerValue: perValue[perValue.length >> 1], checksum }));
}
