import { SharedBus } from "../mod.ts";
const bus = new SharedBus<number>({ capacity: 1 });
bus.send(0);
const a = bus.subscribe();
console.log(bus.stats());
const b = bus.subscribe({ from: "oldest" });
console.log(bus.stats(), a.position, b.position);
