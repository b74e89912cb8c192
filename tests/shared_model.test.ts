/**
 * The model-based property test for {@linkcode SharedBus} (`_model_run.ts`
 * has the commands, the comparison and the laws; `_model.ts` the reference
 * model), read and written on one thread, with sequence numbers starting
 * just below the edges of the shared 32-bit words. The commands are
 * `Bus`'s, less values whose getters run user code when a promise resolves
 * with them: a shared bus hands over decoded copies, which have none. It has
 * no taps either: `send` and `write` note which values the bus took.
 * `stats().released` must stay 0. `model.test.ts`'s memory test has no
 * counterpart, as a shared bus holds no references.
 */

import assert from "node:assert/strict";
import { SharedBus } from "../mod.ts";
import { startSharedSequenceAt } from "../src/shared/bus.ts";
import { describeModel, type ModelTarget } from "./_model_run.ts";

const SHARED_BUS: ModelTarget<SharedBus<unknown>> = {
  name: "SharedBus",
  create(options, start) {
    const bus = new SharedBus<unknown>(options);
    if (start !== 0) startSharedSequenceAt(bus, start);
    return bus;
  },
  getters: false,
  stats(bus) {
    const { released, ...stats } = bus.stats();
    assert.equal(released, 0, "no subscriber is released on one thread");
    return stats;
  },
};

describeModel(SHARED_BUS);
