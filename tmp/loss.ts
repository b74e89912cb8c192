import { SharedBus } from "../mod.ts";
import { Thread } from "../tests/_threads.ts";
import { check } from "../tests/_shared_worker.ts";
const runs = Number(process.argv[2] ?? 5);
const t = new Thread(new URL("../tests/_shared_worker.ts", import.meta.url));
await t.ask({ kind: "ping" });
for (let r = 0; r < runs; r++) {
  const bus = new SharedBus<any>({ capacity: 4096, overflow: "wait", codec: { f64: ["p", "n", "c"] } });
  await t.ask({ kind: "read", handle: bus.handle, single: true, mode: "wait+drain", lag: "skip", slowEvery: 1e9, slowMicros: 0 });
  const rep = t.next<any>();
  const N = 1_000_000;
  for (let n = 0; n < N; n++) {
    try { bus.send({ p: 0, n, c: check(0, n, false) }); } catch (e) { await bus.ready; n--; }
  }
  bus.close();
  const r2 = await rep;
  console.log(r, r2.received, r2.missed, r2.unexplained, r2.torn, r2.disorder, bus.stats().released, r2.received + r2.missed === N ? "ok" : "LOSS");
}
await t.stop();
