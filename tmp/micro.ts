import { SharedBus, Bus } from "../mod.ts";
const N = 1_000_000;
for (const codec of [{ f64: ["a", "b", "c", "t"] }, "json"] as const) {
  const bus = new SharedBus<any>({ capacity: 4096, overflow: "wait", codec: codec as any, maxBytes: codec === "json" ? 96 : undefined });
  const sub = bus.subscribe();
  let sum = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let n = 0; n < N; n += 1024) {
      for (let k = 0; k < 1024; k++) bus.send({ a: k, b: 1, c: 2, t: 0 });
      sub.drain((v) => sum += v.a);
    }
    const ms = performance.now() - t0;
    console.log(JSON.stringify(codec), round, (N / ms / 1000).toFixed(2), "M/s (send+drain same thread)");
  }
}
const bus = new Bus<any>(4096); const sub = bus.subscribe(); let s = 0;
const t0 = performance.now();
for (let n = 0; n < N; n += 1024) { for (let k = 0; k < 1024; k++) bus.send({ a: k }); sub.drain((v) => s += v.a); }
console.log("Bus", (N / (performance.now() - t0) / 1000).toFixed(2), "M/s");
