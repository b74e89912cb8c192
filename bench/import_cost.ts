/**
 * What comparing with the imported `EMPTY` and `CLOSED` costs a hot
 * `tryRecv` loop: V8 checks an imported binding at every use, a module-level
 * constant it does not. Three loops read 8 subscribers of one bus, each
 * value handed to the same sum, and differ only in how they stop:
 *
 * - `imported`: `v !== EMPTY && v !== CLOSED`, the imports themselves;
 * - `constants`: the same against module-level copies of them (which
 *   TypeScript does not narrow by, hence a cast);
 * - `typeof`: `typeof v !== "symbol"`, for a bus whose values are never symbols.
 *
 * Prints deliveries/s, the median of 7 passes of each, interleaved:
 *
 * ```sh
 * node --import tsx bench/import_cost.ts
 * deno run bench/import_cost.ts
 * bun bench/import_cost.ts
 * ```
 *
 * @module
 */

import { Bus, CLOSED, EMPTY } from "../mod.ts";

const SUBSCRIBERS = 8;
const CHUNK = 128;
const ROUNDS = 20_000;
const PASSES = 7;

const empty = EMPTY;
const closed = CLOSED;

type Value = { id: number };
const bus = new Bus<Value>(256);
const subs = Array.from({ length: SUBSCRIBERS }, () => bus.subscribe());
const pool = Array.from({ length: 1024 }, (_, id) => ({ id }));
let sum = 0;

const loops: Record<string, () => void> = {
  imported: () => {
    for (const sub of subs) for (let v = sub.tryRecv(); v !== EMPTY && v !== CLOSED; v = sub.tryRecv()) sum += v.id;
  },
  constants: () => {
    for (const sub of subs) {
      for (let v = sub.tryRecv(); v !== empty && v !== closed; v = sub.tryRecv()) sum += (v as Value).id;
    }
  },
  typeof: () => {
    for (const sub of subs) {
      for (let v = sub.tryRecv(); typeof v !== "symbol"; v = sub.tryRecv()) sum += v.id;
    }
  },
};

function deliveriesPerSecond(read: () => void): number {
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < CHUNK; i++) bus.send(pool[(round * CHUNK + i) & 1023]);
    read();
  }
  return (ROUNDS * CHUNK * SUBSCRIBERS) / ((performance.now() - started) / 1000);
}

const passes: Record<string, number[]> = { imported: [], constants: [], typeof: [] };
for (let pass = 0; pass < PASSES; pass++) {
  for (const name in loops) passes[name].push(deliveriesPerSecond(loops[name]));
}
const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
const base = median(passes.imported);
for (const name in passes) {
  const rate = median(passes[name]);
  console.log(`${name.padEnd(9)} ${(rate / 1e6).toFixed(1)}M deliveries/s  ${(rate / base).toFixed(2)}x imported`);
}
if (sum === 0) console.log("nothing was read");
