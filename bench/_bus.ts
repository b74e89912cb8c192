/**
 * The bus under test: this checkout's, or the one in the directory that
 * `BENCH_BUS` names (a checkout or `git archive` of another commit). The
 * second is how the reference figures of the code a change started from
 * are recorded with today's harness:
 *
 * ```sh
 * git worktree add /tmp/ron-bus-ref <commit>
 * BENCH_BUS=/tmp/ron-bus-ref npm run bench:gate -- --update-reference
 * ```
 *
 * @module
 */

import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as here from "../mod.ts";
import * as hereInternals from "../src/bus.ts";

/** Reads `BENCH_BUS` where the runtime lets us (`deno bench` may run without `--allow-env`). */
function benchBus(): string | undefined {
  if (typeof Deno === "undefined") return process.env.BENCH_BUS || undefined;
  const granted = Deno.permissions.querySync({ name: "env", variable: "BENCH_BUS" }).state === "granted";
  return granted ? Deno.env.get("BENCH_BUS") || undefined : undefined;
}

/** The root directory of the bus under test, or undefined for this checkout's. */
export const busRoot: string | undefined = benchBus();
const root = busRoot === undefined ? undefined : pathToFileURL(resolve(busRoot) + "/");

const mod: typeof here = root ? await import(new URL("mod.ts", root).href) : here;
const internals: Partial<typeof hereInternals> = root ? await import(new URL("src/bus.ts", root).href) : hereInternals;

export const Bus: typeof here.Bus = mod.Bus;
export type Bus<T> = here.Bus<T>;
export const Subscriber: typeof here.Subscriber = mod.Subscriber;
export type Subscriber<T> = here.Subscriber<T>;
export const EMPTY: typeof here.EMPTY = mod.EMPTY;
export const CLOSED: typeof here.CLOSED = mod.CLOSED;

/**
 * The test hook that starts a bus's sequence high (see `src/bus.ts`), or
 * undefined when the bus under test predates it.
 */
export const startSequenceAt: typeof hereInternals.startSequenceAt | undefined = internals.startSequenceAt;
