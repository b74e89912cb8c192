/**
 * Quick start: one producer, two consumers reading the same bus two ways.
 *
 * Run with any of:
 *   deno run examples/quickstart.ts
 *   bun examples/quickstart.ts
 *   node --import tsx examples/quickstart.ts
 *
 * @module
 */

import { Bus } from "../mod.ts"; // in your own project: from "@ron/bus", after `deno add jsr:@ron/bus`

interface Tick {
  symbol: string;
  price: number;
}

const bus = new Bus<Tick>({ capacity: 256 });

// A consumer that pays one promise per value: simplest to write.
const logger = bus.subscribe();
const logging = (async () => {
  for await (const tick of logger) console.log(`${tick.symbol} ${tick.price}`);
})();

// A consumer that pays one await per batch: the fast path.
const totals = bus.subscribe();
const summing = (async () => {
  let sum = 0;
  while (await totals.wait()) totals.drain((tick) => sum += tick.price);
  return sum;
})();

for (let i = 0; i < 5; i++) bus.send({ symbol: "RON", price: 100 + i });
bus.close();

await logging;
console.log(`total ${await summing}`);
