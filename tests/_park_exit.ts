/**
 * A process for `shared_reading.test.ts`: it parks reads on a `SharedBus`,
 * closes the subscriber, and then has nothing left to do. A parked read
 * keeps a process alive; a closed subscriber must not. An unreferenced timer
 * prints "lingered" only if something else still holds the process open
 * when it is due, so the verdict does not depend on how loaded the machine is.
 *
 * @module
 */

import { setTimeout as timer } from "node:timers";
import { SharedBus } from "../mod.ts";

const bus = new SharedBus<number>();
const sub = bus.subscribe();
// Two reads, so the subscriber parks again while parked.
sub.recv().catch(() => {});
sub.recv().catch(() => {});
await new Promise((resolve) => setTimeout(resolve, 20));
sub.close();
// Due well before a parked wait's own timeout (PARK_TIMEOUT, 500 ms), which is what would hold the process.
timer(() => console.log("lingered"), 200).unref();
