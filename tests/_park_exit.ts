/**
 * A process for `shared_reading.test.ts`: it parks reads on a `SharedBus`,
 * closes the subscriber, and then has nothing left to do. It prints how many
 * milliseconds passed between the close and its exit: a parked read keeps a
 * process alive, a closed subscriber must not.
 *
 * @module
 */

import process from "node:process";
import { SharedBus } from "../mod.ts";

const bus = new SharedBus<number>();
const sub = bus.subscribe();
// Two reads, so the subscriber parks again while parked.
sub.recv().catch(() => {});
sub.recv().catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 20));
const closedAt = performance.now();
sub.close();
process.on("exit", () => console.log(`${Math.round(performance.now() - closedAt)}`));
