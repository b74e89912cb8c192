/**
 * Type-level tests: each `@ts-expect-error` below must stay an error, or
 * `deno check` and `tsc` (in `npm test`) fail. The runtime checks only keep
 * the file a test like the others.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, type Subscriber } from "../mod.ts";

describe("Bus<T> types", () => {
  it("Bus<T> is invariant: a bus of numbers is neither a bus of numbers or strings nor a bus of ones", () => {
    const numbers = new Bus<number>();
    // @ts-expect-error whoever holds the wider type could send strings to readers of numbers
    const wider: Bus<number | string> = numbers;
    // @ts-expect-error readers of the narrower type would see numbers other than 1
    const narrower: Bus<1> = numbers;
    assert.equal(wider, narrower);
  });

  it("Subscriber<T> is covariant: a reader of numbers serves where a reader of numbers or strings is wanted", () => {
    const bus = new Bus<number>();
    const reader: Subscriber<number | string> = bus.subscribe();
    bus.send(1);
    assert.equal(reader.tryRecv(), 1);
    // @ts-expect-error a reader of numbers or strings is not a reader of numbers
    const narrowed: Subscriber<number> = reader;
    assert.equal(narrowed, reader);
  });

  it("send() takes only T, and read() narrows on done", async () => {
    const bus = new Bus<number>();
    const sub = bus.subscribe();
    // @ts-expect-error a string is not a number
    bus.send("1");
    assert.equal(sub.tryRecv(), "1", "the bus does not check types at run time; TypeScript does");
    bus.send(2);
    const result = await sub.read();
    if (!result.done) {
      const n: number = result.value;
      assert.equal(n, 2);
    }
  });
});
