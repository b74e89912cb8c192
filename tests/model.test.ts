/**
 * The model-based property test for {@linkcode Bus} (`_model_run.ts` has
 * the commands, the comparison and the laws; `_model.ts` the reference
 * model), with every command: values whose `then` getter calls back into
 * the bus when `recv()` resolves with them, and the order of values seen
 * through a tap. Buses started past 2^31 and 2^32 rebase their positions
 * during the run, {@linkcode HEADROOM} sends in.
 *
 * A smaller test checks with `WeakRef` and a forced GC that the bus lets go
 * of what nobody needs.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Bus } from "../mod.ts";
import { startSequenceAt } from "../src/bus.ts";
import type { BusModel, Overflow } from "./_model.ts";
import {
  CAPACITIES,
  commands,
  describeModel,
  finish,
  type ModelTarget,
  type Payload,
  type Real,
  runBoth,
  withGetter,
} from "./_model_run.ts";

/** Sends after the start before a bus started high rebases its positions. */
const HEADROOM = 7;

const BUS: ModelTarget<Bus<unknown>> = {
  name: "Bus",
  create(options, start) {
    const bus = new Bus<unknown>(options);
    if (start !== 0) startSequenceAt(bus, start, HEADROOM);
    return bus;
  },
  getters: true,
  tap: (bus, fn) => bus.tap(fn),
  stats: (bus) => bus.stats(),
};

describeModel(BUS);

/**
 * V8's `gc()`, exposed by `--expose-gc`. Bun's `Bun.gc(true)` is not used: its
 * collector scans the stack conservatively, so a value the bus let go of can
 * still look alive now and then, and the check would be flaky.
 */
const gc = (globalThis as { Bun?: unknown }).Bun === undefined ? (globalThis as { gc?: () => void }).gc : undefined;

/** Payloads are objects here, each watched through a `WeakRef`. The test itself keeps only their numbers. */
class Box {
  constructor(readonly n: number) {}
}

class WatchedBoxes implements Payload {
  readonly refs: Map<number, WeakRef<Box>> = new Map();
  make(n: number, act?: () => void): Box {
    const box = act === undefined ? new Box(n) : withGetter(new Box(n), act);
    this.refs.set(n, new WeakRef(box));
    return box;
  }
  number(value: unknown): unknown {
    return value instanceof Box ? value.n : value;
  }
}

/**
 * After a macrotask (a new `WeakRef` pins its target until the job ends) and a full GC, nothing the model frees may be
 * alive. A value still alive is looked at again, up to three rounds in all: an engine may keep one a job or a collection
 * longer now and then (seen with several test files in one process), where a leak stays through every round.
 */
async function checkFreed(runs: [BusModel, Real, WatchedBoxes][]): Promise<void> {
  for (let round = 1;; round++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc!();
    const leaks = runs.map(([model, , boxes], i) => {
      const held = new Set([...model.log.filter((_, seq) => model.mayHold(seq)), ...model.waitingWrites()]);
      const alive = [...boxes.refs].filter(([n, ref]) => !held.has(n) && ref.deref() !== undefined).map(([n]) => n);
      return { i, held, alive, boxes };
    }).filter(({ alive }) => alive.length !== 0);
    if (leaks.length === 0) return;
    if (round < 3) continue;
    const { i, held, alive, boxes } = leaks[0]!;
    const getters = alive.filter((n) => Object.getOwnPropertyDescriptor(boxes.refs.get(n)!.deref()!, "then"));
    assert.deepEqual(
      alive,
      [],
      `bus ${i} still references values it should have let go of (it may hold ${[...held]}; of those alive, ` +
        `${getters.length === 0 ? "none" : getters.join(", ")} had a then getter)`,
    );
  }
}

describe("Bus memory", () => {
  it(
    "Bus no longer references a value once every current subscriber has read it or left",
    { skip: gc === undefined ? "needs V8's gc(): run node or deno with --expose-gc" : false },
    async () => {
      // A full GC costs milliseconds, so each one checks a batch of buses, once after their commands and once after
      // the bus closed and every subscriber read to the end.
      const scenario = fc.tuple(
        fc.constantFrom<Overflow>("drop-oldest", "drop-newest", "wait"),
        fc.constantFrom(...CAPACITIES),
        fc.boolean(),
        fc.commands(commands(BUS), { maxCommands: 40, size: "max" }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(scenario, { minLength: 1, maxLength: 10 }), async (scenarios) => {
          const runs: [BusModel, Real, WatchedBoxes][] = [];
          for (const [overflow, capacity, replay, commands] of scenarios) {
            const boxes = new WatchedBoxes();
            runs.push([...await runBoth(BUS, { capacity, overflow, replay, start: 0 }, commands, boxes), boxes]);
          }
          await checkFreed(runs);
          for (const [model, real] of runs) await finish(model, real);
          await checkFreed(runs);
        }),
        { numRuns: 8, includeErrorInReport: true },
      );
    },
  );
});
