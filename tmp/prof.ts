import { SharedBus } from "../mod.ts";
const codec = process.argv[2] === "json" ? "json" : { f64: ["a", "b", "c", "t"] };
const bus = new SharedBus<any>({ capacity: 4096, overflow: "wait", codec: codec as any, maxBytes: codec === "json" ? 96 : undefined });
const sub = bus.subscribe();
let sum = 0;
const N = 3_000_000;
const t0 = performance.now();
for (let n = 0; n < N; n += 1024) {
  for (let k = 0; k < 1024; k++) bus.send({ a: k, b: 1, c: 2, t: 0 });
  sub.drain((v) => sum += v.a);
}
console.log((N / (performance.now() - t0) / 1000).toFixed(2), "M/s");
