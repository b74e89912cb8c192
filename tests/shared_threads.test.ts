/**
 * The concurrent law suite: a `SharedBus` read by three real workers (one
 * reading in batches after `await`, one blocking in `waitSync`, one value at
 * a time through `for await` with `lag: "error"`, two of them slowed down
 * on purpose), fed by one producer on the main thread or by three at once
 * (the main thread and two workers), under each overflow policy and codec,
 * and under `"wait"` by six writers on those three threads through
 * `write()`, none of which may meet `BusFullError`; many times, each run
 * under a watchdog. Every
 * value carries its producer, that producer's count and a check, so each
 * reader proves order, no torn value, and (with one producer, whose count
 * is the bus's sequence number) that every jump equals the growth of
 * `missed`. The main thread then proves `received + missed == sent` for
 * every reader, no loss at all under `"wait"` and `"drop-newest"`, and that
 * the shared counters match what producers and readers saw.
 *
 * `SHARED_STRESS=n` runs each case n times (default 2) with 10x the values:
 * the long mode, outside CI.
 */

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { BusFullError, CLOSED, EMPTY, LaggedError, type OverflowPolicy, SharedBus } from "../mod.ts";
import {
  check,
  type ProduceJob,
  type ProduceReport,
  type ReadJob,
  type ReadReport,
  type Stamp,
  writeAll,
  type WriteJob,
} from "./_shared_worker.ts";
import { Thread } from "./_threads.ts";
import { watchdog } from "./_watchdog.ts";

const STRESS = Number(globalThis.process?.env?.SHARED_STRESS ?? 0);
const RUNS = STRESS || 2;
const SCALE = STRESS ? 10 : 1;
const POLICIES: readonly OverflowPolicy[] = ["drop-oldest", "drop-newest", "wait"];
/** Each test's own limit (Bun's default is 5 s); every run inside has its watchdog too. */
const TIMEOUT = 300_000 * SCALE;
const WORKER = new URL("./_shared_worker.ts", import.meta.url);

const readers: Thread[] = [];
const producers: Thread[] = [];

function failed(reply: unknown): string | undefined {
  return typeof reply === "object" && reply !== null && "error" in reply ? String(reply.error) : undefined;
}

/** The three readers: how each reads, whether it lags on purpose, and how it hears about lag. */
const READS: Omit<ReadJob, "kind" | "handle" | "single">[] = [
  { mode: "wait+drain", lag: "skip", slowEvery: 1e9, slowMicros: 0 },
  { mode: "waitSync+drain", lag: "skip", slowEvery: 8, slowMicros: 40 },
  { mode: "for await", lag: "error", slowEvery: 32, slowMicros: 100 },
];

async function produceHere(bus: SharedBus<Stamp>, count: number, json: boolean): Promise<ProduceReport> {
  const report: ProduceReport = { accepted: 0, discarded: 0, full: 0 };
  for (let attempt = 0; attempt < count; attempt++) {
    const n = report.accepted;
    for (;;) {
      try {
        if (bus.send({ p: 0, n, c: check(0, n, json) }) === 0) report.discarded++;
        else report.accepted++;
        break;
      } catch (error) {
        if (!(error instanceof BusFullError)) throw error;
        report.full++;
        await bus.ready;
      }
    }
    // Yield now and then, so the main thread's own timers (the watchdog) run.
    if (attempt % 4096 === 4095) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return report;
}

/**
 * How the producers put values on the bus: `send`, awaiting `bus.ready` after
 * a `BusFullError`, or `write`, two writers on each producing thread.
 */
type Producing = "send" | "write";

async function run(
  overflow: OverflowPolicy,
  codec: "json" | { f64: string[] },
  producerCount: number,
  how: Producing = "send",
  wakeBatch = 1,
): Promise<void> {
  const json = codec === "json";
  const bus = new SharedBus<Stamp>({ capacity: 64, overflow, codec, maxBytes: json ? 128 : undefined, wakeBatch });
  const single = producerCount === 1;
  const subscribed = await Promise.all(
    readers.map((reader, i) => reader.ask({ kind: "read", handle: bus.handle, single, ...READS[i] })),
  );
  for (const reply of subscribed) assert.equal(failed(reply), undefined);
  assert.equal(bus.subscriberCount, 3, "every reader subscribed before the first send");
  const reports = readers.map((reader) => reader.next<ReadReport>());
  const count = 12_000 * SCALE;
  let made: ProduceReport[];
  if (how === "write") {
    // Two writers on the main thread and two on each producer worker, all at once.
    const perWriter = count / (2 * producerCount);
    const threads = await Promise.all([
      writeAll(bus, [0, 1], perWriter),
      ...producers.map((producer, i) =>
        producer.ask<ProduceReport[]>(
          { kind: "write", handle: bus.handle, producers: [2 + 2 * i, 3 + 2 * i], count: perWriter } satisfies WriteJob,
        )
      ),
    ]);
    made = threads.flat();
  } else if (single) made = [await produceHere(bus, count, json)];
  else {
    // Two producer workers and the main thread, at once.
    made = await Promise.all([
      produceHere(bus, count / 3, json),
      ...producers.map((producer, i) =>
        producer.ask<ProduceReport>(
          { kind: "produce", handle: bus.handle, producer: i + 1, count: count / 3 } satisfies ProduceJob,
        )
      ),
    ]);
  }
  for (const reply of made) assert.equal(failed(reply), undefined);
  bus.close();
  const read = await Promise.all(reports);
  for (const reply of read) assert.equal(failed(reply), undefined);

  const stats = bus.stats();
  const sent = made.reduce((sum, report) => sum + report.accepted, 0);
  const label = `${overflow}, ${
    json ? "json" : "f64"
  }, ${producerCount} producer(s) that ${how}, wakeBatch ${wakeBatch}`;
  assert.equal(stats.sent, sent, `${label}: stats().sent is what the producers saw accepted`);
  assert.equal(stats.discarded, made.reduce((sum, report) => sum + report.discarded, 0), `${label}: discarded`);
  assert.equal(stats.blocked, made.reduce((sum, report) => sum + report.full, 0), `${label}: blocked`);
  if (how === "write") {
    made.forEach((report, p) => assert.equal(report.full, 0, `${label}: writer ${p} never met BusFullError`));
  }
  assert.equal(
    stats.dropped,
    read.reduce((sum, report) => sum + report.missed, 0),
    `${label}: dropped == sum of missed`,
  );
  assert.equal(stats.subscribers, 0, `${label}: every reader ended`);
  assert.equal(stats.released, 0, `${label}: no live reader was released`);
  read.forEach((report, i) => {
    const who = `${label}, reader ${i} (${READS[i].mode})`;
    assert.equal(report.torn, 0, `${who}: no torn or misdelivered value`);
    assert.equal(report.disorder, 0, `${who}: every producer's values in order`);
    assert.equal(report.unexplained, 0, `${who}: every jump equals the growth of missed`);
    assert.equal(report.received + report.missed, sent, `${who}: received + missed == sent`);
    if (overflow !== "drop-oldest") {
      assert.equal(report.missed, 0, `${who}: nothing lost under ${overflow}`);
      made.forEach((producer, p) =>
        assert.equal(report.perProducer[p] ?? 0, producer.accepted, `${who}: all of producer ${p}`)
      );
    }
    if (READS[i].lag === "error") assert.ok(report.lagErrors <= report.missed, `${who}: a LaggedError per gap at most`);
  });
}

describe("SharedBus across threads", () => {
  before(async () => {
    for (let i = 0; i < 3; i++) readers.push(new Thread(WORKER));
    for (let i = 0; i < 2; i++) producers.push(new Thread(WORKER));
    // Starting is slow (tsx on Node, a type check per worker under deno test): not part of any run's watchdog.
    for (const reply of await Promise.all([...readers, ...producers].map((thread) => thread.ask({ kind: "ping" })))) {
      assert.equal(reply, "pong");
    }
  });
  after(async () => {
    await Promise.all([...readers, ...producers].map((thread) => thread.stop()));
  });

  it("SharedBus never delivers a torn value: a worker floods a ring of 4 JSON slots that the main thread reads", {
    timeout: TIMEOUT,
  }, async () => {
    const bus = new SharedBus<Stamp>({ capacity: 4, maxBytes: 128 });
    const sub = bus.subscribe({ lag: "error" });
    const count = 200_000 * SCALE;
    const flooding = producers[0].ask<number>({ kind: "flood", handle: bus.handle, count });
    let received = 0;
    let torn = 0;
    let next = 0;
    let unexplained = 0;
    let lagged = 0;
    const see = (value: Stamp): void => {
      if (value.c !== check(value.p, value.n, true)) torn++;
      if (value.n - next !== lagged) unexplained++;
      lagged = 0;
      next = value.n + 1;
      received++;
    };
    await watchdog(
      (async () => {
        for (let spins = 0;; spins++) {
          let value: Stamp | typeof EMPTY | typeof CLOSED;
          try {
            value = sub.tryRecv();
          } catch (error) {
            assert.ok(error instanceof LaggedError);
            lagged += error.missed;
            continue;
          }
          if (value === CLOSED) return;
          if (value !== EMPTY) see(value);
          else if (bus.stats().sent === count) bus.close();
          else if (spins % 1024 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        }
      })(),
      60_000 * SCALE,
      () => `the reader stopped at ${received} values`,
    );
    assert.equal(await flooding, count);
    assert.equal(torn, 0, "no torn or misdelivered value");
    assert.equal(unexplained, 0, "every jump was reported by a LaggedError of its size");
    assert.equal(received + sub.missed, count, "received + missed == sent");
    assert.ok(received > 0);
  });

  for (const overflow of POLICIES) {
    for (const producerCount of [1, 3]) {
      it(`SharedBus keeps the laws with ${producerCount} producer(s) x 3 worker readers under "${overflow}"`, {
        timeout: TIMEOUT,
      }, async () => {
        for (let i = 0; i < RUNS; i++) {
          for (const codec of ["json", { f64: ["p", "n", "c"] }] as const) {
            await watchdog(
              run(overflow, codec as "json" | { f64: string[] }, producerCount),
              30_000 * SCALE,
              () => `run ${i} (${JSON.stringify(codec)}) did not finish`,
            );
          }
        }
      });
    }
  }

  it("SharedBus keeps the laws with wakeBatch: 16, 3 producers x 3 worker readers, under every policy", {
    timeout: TIMEOUT,
  }, async () => {
    for (const overflow of POLICIES) {
      for (const codec of ["json", { f64: ["p", "n", "c"] }] as const) {
        await watchdog(
          run(overflow, codec as "json" | { f64: string[] }, 3, "send", 16),
          30_000 * SCALE,
          () => `${overflow} (${JSON.stringify(codec)}) with wakeBatch 16 did not finish`,
        );
      }
    }
  });

  it('SharedBus.write() loses nothing with 6 writers on 3 threads x 3 worker readers under "wait"', {
    timeout: TIMEOUT,
  }, async () => {
    for (let i = 0; i < RUNS; i++) {
      for (const codec of ["json", { f64: ["p", "n", "c"] }] as const) {
        await watchdog(
          run("wait", codec as "json" | { f64: string[] }, 3, "write"),
          30_000 * SCALE,
          () => `run ${i} (${JSON.stringify(codec)}) did not finish`,
        );
      }
    }
  });

  it("a parked read keeps its worker alive, and a worker terminated while subscribed no longer holds a producer", {
    timeout: TIMEOUT,
  }, async () => {
    const bus = new SharedBus<number>({ capacity: 2, overflow: "wait", releaseAfter: 200 });
    // Last, as it ends one of the workers.
    const worker = producers[1];
    try {
      assert.equal(
        await watchdog(worker.ask({ kind: "park", handle: bus.handle }), 10_000, () => "no start"),
        "subscribed",
      );
      // Nothing but the parked read keeps the worker alive (its port is unref'd): it must still be there.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      assert.equal(worker.exited, false, "a worker parked in recv() exited: nothing kept it alive");
      const reply = worker.next();
      bus.send(1);
      assert.equal(await watchdog(reply, 10_000, () => "the parked worker did not answer"), 1);
      assert.equal(worker.exited, false);
      // Terminated while parked in recv(), without closing: its subscriber must not hold a "wait" producer.
      await worker.stop();
      await new Promise((resolve) => setTimeout(resolve, 100)); // Deno resolves terminate() before the thread is gone
      for (let n = 2; n < 10; n++) {
        try {
          bus.send(n);
        } catch (error) {
          assert.ok(error instanceof BusFullError);
          break;
        }
      }
      assert.equal(bus.subscriberCount, 1);
      const started = performance.now();
      await watchdog(bus.ready, 10_000, () => "the dead worker's subscriber still holds the bus");
      assert.ok(performance.now() - started >= 150, "released after releaseAfter, not before");
      assert.equal(bus.stats().released, 1);
      assert.equal(bus.subscriberCount, 0);
      bus.send(10);
    } finally {
      await worker.stop();
    }
  });
});
