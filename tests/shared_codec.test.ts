/**
 * The codecs of a `SharedBus`: which `codec` options are accepted and the
 * error each wrong one gets, f64 records (their field names, their
 * refusals, and the same behaviour where `new Function` is forbidden, as
 * under a Content-Security-Policy without 'unsafe-eval'), a user codec whose
 * `encode` returns something other than bytes, and values larger than the
 * private buffers a producer encodes into and a reader copies into.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EMPTY, SharedBus, type SharedCodec } from "../mod.ts";
import { take } from "./_read.ts";

type Quote = { price: number; qty: number };

const EXPECTED_CODEC = 'expected "json", "string", { f64: [field names] } or { encode(value), decode(bytes) }';

/**
 * Runs `make` where `new Function` throws, as a page whose
 * Content-Security-Policy forbids 'unsafe-eval' does; returns what `make`
 * returned and how many times it tried `new Function`.
 */
function withoutEval<T>(make: () => T): { made: T; tries: number } {
  const original = globalThis.Function;
  let tries = 0;
  globalThis.Function = function () {
    tries++;
    throw new EvalError("Code generation from strings disallowed for this context");
  } as unknown as FunctionConstructor;
  try {
    return { made: make(), tries };
  } finally {
    globalThis.Function = original;
  }
}

/** Sends records from `producer` and reads them on `reader` (views of one bus), then checks every refusal. */
function checkRecords(producer: SharedBus<Quote>, reader: SharedBus<Quote>): void {
  const sub = reader.subscribe();
  const sent: Quote[] = [
    { price: 1.5, qty: -2 },
    { price: NaN, qty: -0 },
    { price: Infinity, qty: 7 },
    { price: 3, qty: 4 },
  ];
  for (const quote of sent) producer.send(quote);
  assert.deepEqual(take(sub), sent, "each record whole, its own fields only");
  producer.send({ price: 5, qty: 6, extra: "ignored" } as Quote);
  assert.deepEqual(sub.tryRecv(), { price: 5, qty: 6 });

  const refusals: [unknown, string][] = [
    [42, "Invalid value: 42; expected an object with number fields price, qty"],
    [null, "Invalid value: null; expected an object with number fields price, qty"],
    ["1,2", 'Invalid value: "1,2"; expected an object with number fields price, qty'],
    [{ qty: 1 }, "Invalid value.price: undefined; expected a number"],
    [{ price: 1, qty: "2" }, 'Invalid value.qty: "2"; expected a number'],
    [{ price: 1 }, "Invalid value.qty: undefined; expected a number"],
  ];
  const before = producer.stats().sent;
  for (const [value, message] of refusals) {
    assert.throws(() => producer.send(value as Quote), { name: "TypeError", message });
  }
  assert.equal(producer.stats().sent, before, "a refused record sends nothing");
  assert.equal(sub.tryRecv(), EMPTY);
  sub.close();
}

describe("SharedBus codec option", () => {
  it("accepts only the named codecs and an object with both encode and decode functions", () => {
    const encode = (value: string): Uint8Array => new TextEncoder().encode(value);
    const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
    const wrong: [unknown, string][] = [
      [null, "null"],
      [{}, "an object"],
      [[], "an array"],
      [{ encode }, "an object"],
      [{ decode }, "an object"],
      [{ encode, decode: "utf-8" }, "an object"],
      [{ encode: "utf-8", decode }, "an object"],
      [42, "42"],
    ];
    for (const [codec, described] of wrong) {
      assert.throws(() => new SharedBus({ codec: codec as never }), {
        name: "TypeError",
        message: `Invalid codec: ${described}; ${EXPECTED_CODEC}`,
      }, described);
    }
    const bus = new SharedBus<string>({ codec: { encode, decode } });
    const sub = bus.subscribe();
    bus.send("ok");
    assert.equal(sub.tryRecv(), "ok");
  });
});

describe("SharedBus f64 records", () => {
  it("take field names that are identifiers, from 1 to 4096 of them", () => {
    assert.equal(new SharedBus({ codec: { f64: ["price", "qty", "_x", "$y", "a1", "Z"] } }).maxBytes, 48);
    const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `field${i}`);
    const widest = new SharedBus<Record<string, number>>({ codec: { f64: names(4096) }, capacity: 1 });
    assert.equal(widest.maxBytes, 4096 * 8);
    const sub = widest.subscribe();
    const record = Object.fromEntries(names(4096).map((name, i) => [name, i / 2]));
    widest.send(record);
    assert.deepEqual(sub.tryRecv(), record);
    assert.throws(() => new SharedBus({ codec: { f64: names(4097) } }), {
      name: "TypeError",
      message: "Invalid codec.f64: an array; expected an array of 1 to 4096 field names",
    });
  });

  it("refuse a field name that is not an identifier, naming it", () => {
    const wrong: [unknown, string][] = [
      ["1a", '"1a"'],
      ["a b", '"a b"'],
      ["a-b", '"a-b"'],
      ["price ", '"price "'],
      ["", '""'],
      [null, "null"],
      [7, "7"],
      [["price"], "an array"],
      [{ toString: () => "price" }, "an object"],
    ];
    for (const [field, described] of wrong) {
      assert.throws(() => new SharedBus({ codec: { f64: ["ok", field as string] } }), {
        name: "TypeError",
        message: `Invalid codec.f64 field: ${described}; expected an identifier such as "price"`,
      }, described);
    }
  });

  it("carry records of numbers and refuse anything else, naming the value and the field", () => {
    const bus = new SharedBus<Quote>({ codec: { f64: ["price", "qty"] } });
    checkRecords(bus, bus);
  });

  it("work the same where new Function is forbidden (a CSP without 'unsafe-eval')", () => {
    const codec = { f64: ["price", "qty"] };
    const { made: looped, tries } = withoutEval(() => new SharedBus<Quote>({ codec }));
    assert.ok(tries > 0, "the bus tried new Function and was refused");
    checkRecords(looped, looped);
    const compiled = new SharedBus<Quote>({ codec });
    const view = withoutEval(() => SharedBus.attach<Quote>(structuredClone(compiled.handle))).made;
    checkRecords(compiled, view);
    checkRecords(view, compiled);
  });
});

describe("SharedBus user codecs", () => {
  it("refuse an encode result that is not a Uint8Array, naming it, and send nothing", () => {
    const results: [unknown, string][] = [
      ["abc", '"abc"'],
      [[1, 2, 3], "an array"],
      [new ArrayBuffer(3), "an object"],
      [undefined, "undefined"],
      [3, "3"],
    ];
    let next: unknown;
    const codec: SharedCodec<number> = {
      encode: () => next as Uint8Array,
      decode: (bytes) => bytes[0]!,
    };
    const bus = new SharedBus<number>({ codec, maxBytes: 8 });
    const sub = bus.subscribe();
    for (const [result, described] of results) {
      next = result;
      assert.throws(() => bus.send(1), {
        name: "TypeError",
        message: `Invalid result of codec.encode: ${described}; expected a Uint8Array`,
      }, described);
    }
    assert.equal(bus.stats().sent, 0);
    assert.equal(sub.tryRecv(), EMPTY);
    next = new Uint8Array([9]);
    bus.send(1);
    assert.equal(sub.tryRecv(), 9, "the bus goes on");
  });
});

describe("SharedBus large values", () => {
  it("a reader's first value may be many times larger than its starting buffer", () => {
    const strings = new SharedBus<string>({ codec: "string", maxBytes: 4096 });
    const text = strings.subscribe();
    const json = new SharedBus<unknown>({ maxBytes: 4096 });
    const values = json.subscribe();
    const long = "é✓x".repeat(600); // 3600 bytes of UTF-8
    strings.send(long);
    assert.equal(text.tryRecv(), long);
    const record = { text: "y".repeat(3000), list: [1, 2, 3] };
    json.send(record);
    assert.deepEqual(values.tryRecv(), record);
    for (const size of [10, 300, 1000, 4096]) {
      strings.send("z".repeat(size));
      assert.equal(text.tryRecv(), "z".repeat(size), `${size} bytes`);
    }
  });

  it("a value too large is refused with its real encoded size, however much larger than the slot", () => {
    const strings = new SharedBus<string>({ codec: "string", maxBytes: 8 });
    const json = new SharedBus<unknown>({ maxBytes: 8 });
    const subs = [strings.subscribe(), json.subscribe()];
    assert.throws(() => strings.send("x".repeat(300)), {
      name: "RangeError",
      message: "Value too large: it encodes to 300 bytes, and this bus's slots hold 8 (maxBytes)",
    });
    assert.throws(() => strings.send("ü".repeat(1000)), { name: "RangeError", message: /encodes to 2000 bytes/ });
    assert.throws(() => json.send("x".repeat(300)), {
      name: "RangeError",
      message: "Value too large: it encodes to 302 bytes, and this bus's slots hold 8 (maxBytes)",
    });
    const wide = new SharedBus<string>({ codec: "string", maxBytes: 1000 });
    assert.throws(() => wide.send("x".repeat(1001)), { name: "RangeError", message: /encodes to 1001 bytes/ });
    assert.equal(strings.stats().sent + json.stats().sent + wide.stats().sent, 0);
    for (const sub of subs) assert.equal(sub.tryRecv(), EMPTY);
  });
});
