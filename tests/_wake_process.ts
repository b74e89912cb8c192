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
 * - `close-watch`: counts the `Atomics.waitAsync` calls that watch for a
 *   close (the ones given no timeout; a parked read's passes Infinity)
 *   while many subscribers' `closed` are looked at, a wake-up moves the
 *   signal, the subscribers all leave, and a new one looks again; the first watch finds the signal moved already, as
 *   a send from another thread just then would leave it. Prints the counts.
 * - `closed-without-wait-async`: without `Atomics.waitAsync`, whether
 *   subscribers' `closed` resolve after another view's close: before any
 *   read or look, and after another subscriber's first look.
 *
 * @module
 */

import process from "node:process";
import { setTimeout as timer } from "node:timers";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const mode = process.argv[2];

type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => unknown;
if (mode === "no-wait-async" || mode === "closed-without-wait-async") {
  delete (Atomics as { waitAsync?: unknown }).waitAsync;
}
let watches = 0;
/** The latest close watch's promise: once it settles and is awaited, its callback (attached first) has run. */
let lastWatch: Promise<unknown> = Promise.resolve();
if (mode === "close-watch") {
  const engine = Atomics as unknown as { waitAsync: WaitAsync };
  const real = engine.waitAsync;
  engine.waitAsync = (array, index, value, timeout) => {
    if (timeout !== undefined) return real(array, index, value, timeout); // a parked read's
    if (watches++ === 0) Atomics.add(array, index, 1);
    const result = real(array, index, value) as { async: boolean; value: unknown };
    if (result.async) lastWatch = result.value as Promise<unknown>;
    return result;
  };
}
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
} else if (mode === "close-watch") {
  const reader = other.subscribe();
  const subs = Array.from({ length: 50 }, () => bus.subscribe());
  for (const sub of subs) void sub.closed;
  await sleep(0);
  const looked = watches;
  // A read parked on the other view, woken by a send here: the signal moves, and with subscribers here it watches on.
  let got = reader.recv();
  await sleep(20); // parked by now: the send bumps the signal
  let armed = lastWatch;
  bus.send(1);
  await got;
  await armed;
  const woken = watches;
  for (const sub of subs) sub.close();
  got = reader.recv();
  await sleep(20);
  armed = lastWatch;
  bus.send(2);
  await got;
  await armed;
  const left = watches;
  const late = bus.subscribe();
  const closed = late.closed;
  other.close();
  const ended = await Promise.race([closed.then(() => true), sleep(2000).then(() => false)]);
  console.log(JSON.stringify({ looked, woken, left, late: watches, ended }));
} else if (mode === "closed-without-wait-async") {
  const a = bus.subscribe();
  const b = bus.subscribe();
  let aEnded = false;
  a.closed.then(() => aEnded = true);
  other.close();
  await sleep(20);
  const before = aEnded;
  const both = Promise.all([a.closed, b.closed]).then(() => true);
  const after = await Promise.race([both, sleep(2000).then(() => false)]);
  console.log(JSON.stringify({ before, after }));
} else throw new TypeError(`Unknown case: ${mode}`);
