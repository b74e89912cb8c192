/**
 * A process for `shared_wake.test.ts`, which runs it once per case (the
 * first argument) and reads what it prints. Each case needs a process of its
 * own: it changes the engine's `Atomics` before the bus is loaded, or its
 * verdict is whether the process exits.
 *
 * - `finished`: two subscribers park reads, a send from another view settles
 *   both, and then nothing is left to do. An unreferenced timer prints
 *   "lingered" only if something still holds the process open when it is
 *   due, so the verdict does not depend on how loaded the machine is.
 * - `no-wait-async`: without `Atomics.waitAsync` (browsers that lack it),
 *   parked reads woken by sends from another view, one after another; prints
 *   the values and how long they took.
 * - `no-blocking`: where `Atomics.wait` throws (a service worker, a
 *   worklet), `waitSync` and then the awaiting reads; prints what each gave.
 *
 * @module
 */

import process from "node:process";
import { setTimeout as timer } from "node:timers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mode = process.argv[2];

if (mode === "no-wait-async") delete (Atomics as { waitAsync?: unknown }).waitAsync;
if (mode === "no-blocking") {
  (Atomics as { wait: unknown }).wait = () => {
    throw new TypeError("Atomics.wait cannot be called in this context");
  };
}
// Loaded after the changes above, as the bus would be on such an engine.
const { SharedBus } = await import("../mod.ts");

const bus = new SharedBus<number>();
const other = SharedBus.attach<number>(structuredClone(bus.handle));

if (mode === "finished") {
  const a = bus.subscribe();
  const b = bus.subscribe();
  const reads = Promise.all([a.recv(), b.recv()]);
  await sleep(20);
  other.send(1);
  console.log(JSON.stringify(await reads));
  // Due well before a parked wait's own timeout (PARK_TIMEOUT, 500 ms), which is what would hold the process.
  timer(() => console.log("lingered"), 200).unref();
} else if (mode === "no-wait-async") {
  const sub = bus.subscribe();
  const values: number[] = [];
  const started = performance.now();
  for (let n = 0; n < 5; n++) {
    const got = sub.recv();
    other.send(n); // the other view's parked list is empty: only the sleeper's polling wakes this read
    values.push(await got);
  }
  console.log(JSON.stringify({ values, ms: performance.now() - started }));
  sub.close();
} else if (mode === "no-blocking") {
  const sub = bus.subscribe();
  bus.send(1);
  let waitSync: string;
  try {
    waitSync = `returned ${bus.waitSync(sub, 0)}`;
  } catch (error) {
    waitSync = `${(error as Error).name}: ${(error as Error).message}`;
  }
  const waited = await sub.wait();
  const value = sub.tryRecv();
  const got = sub.recv();
  other.send(2);
  console.log(JSON.stringify({ waitSync, waited, value, parked: await got }));
  sub.close();
} else throw new TypeError(`Unknown case: ${mode}`);
