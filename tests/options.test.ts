import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus, type BusOptions, type SubscribeOptions } from "../mod.ts";

/** Asserts `fn` throws `type` with a message matching every pattern. */
function assertRejects(fn: () => unknown, type: new (...args: never[]) => Error, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe("new Bus() options", () => {
  for (const capacity of [0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 24 + 1, 2 ** 31]) {
    it(`rejects capacity ${capacity} with a RangeError naming the value and the range`, () => {
      assertRejects(() => new Bus({ capacity }), RangeError, /capacity/, new RegExp(String(capacity)), /1 to 2\^24/);
      assertRejects(() => new Bus(capacity), RangeError, /capacity/);
    });
  }

  for (const capacity of ["256", null, true, 10n, {}]) {
    it(`rejects capacity ${String(capacity)} with a TypeError`, () => {
      assertRejects(() => new Bus({ capacity } as unknown as BusOptions), TypeError, /capacity/, /integer/);
    });
  }

  it("rejects an unknown overflow policy with a TypeError listing the allowed ones", () => {
    assertRejects(
      () => new Bus({ overflow: "drop-all" } as unknown as BusOptions),
      TypeError,
      /overflow/,
      /"drop-all"/,
      /"drop-oldest", "drop-newest", "wait"/,
    );
  });

  it("rejects a non-boolean replay", () => {
    assertRejects(() => new Bus({ replay: "yes" } as unknown as BusOptions), TypeError, /replay/, /"yes"/);
  });

  it("rejects option names that are not ours, such as a typo", () => {
    assertRejects(() => new Bus({ capacty: 8 } as unknown as BusOptions), TypeError, /"capacty"/, /"capacity"/);
  });

  it("rejects options that are neither an object nor a capacity", () => {
    for (const options of [null, []]) {
      assertRejects(() => new Bus(options as unknown as BusOptions), TypeError, /options/, /object/);
    }
    for (const options of ["big", true]) {
      assertRejects(() => new Bus(options as unknown as BusOptions), TypeError, /capacity/, /integer from 1 to 2\^24/);
    }
  });

  it("accepts a missing options object and undefined fields", () => {
    assert.equal(new Bus(undefined).capacity, 256);
    assert.equal(new Bus({ capacity: undefined, overflow: undefined }).capacity, 256);
  });
});

describe("options objects are read as a spread reads them: own enumerable properties only", () => {
  it("ignores an inherited capacity and an inherited misspelling alike", () => {
    assert.equal(new Bus(Object.create({ capacity: 8 })).capacity, 256);
    assert.equal(new Bus(Object.create({ capacty: 8 })).capacity, 256);
    assert.equal(new Bus<number>().subscribe(Object.create({ from: "bogus" })).position, 0);
  });

  it("ignores non-enumerable properties, and reads own getters once each", () => {
    const options = Object.defineProperty({}, "capacity", { value: 8, enumerable: false });
    assert.equal(new Bus(options).capacity, 256);
    let reads = 0;
    const getter = {
      get capacity() {
        reads++;
        return 4;
      },
    };
    assert.equal(new Bus(getter).capacity, 4);
    assert.equal(reads, 1);
  });

  it("rejects boxed primitives with the capacity's TypeError", () => {
    for (const boxed of [new Number(8), new String("8"), new Boolean(true)]) {
      assertRejects(() => new Bus(boxed as unknown as number), TypeError, /^Invalid capacity: a boxed /, /1 to 2\^24/);
    }
    assertRejects(() => new Bus<number>().subscribe(new String("next") as never), TypeError, /subscribe options/);
  });
});

describe("error messages", () => {
  it("drain(fn, NaN) throws a RangeError naming max, the value and what is allowed", () => {
    const sub = new Bus<number>().subscribe();
    assert.throws(() => sub.drain(() => {}, NaN), {
      name: "RangeError",
      message: "Invalid max: NaN; expected a non-negative integer or Infinity",
    });
  });

  it("BusFullError reads well for a ring of one slot and of many", () => {
    for (const capacity of [1, 4]) {
      const bus = new Bus<number>({ capacity, overflow: "wait" });
      bus.subscribe();
      for (let i = 0; i < capacity; i++) bus.send(i);
      assert.throws(() => bus.send(capacity), {
        name: "BusFullError",
        message: capacity === 1
          ? "Bus is full: its one slot holds an unread value; await bus.ready before sending, or use bus.write()"
          : "Bus is full: all 4 slots hold unread values; await bus.ready before sending, or use bus.write()",
      });
    }
  });
});

describe("Bus.subscribe() options", () => {
  const cases: [string, SubscribeOptions, RegExp[]][] = [
    ["an unknown from", { from: "newest" } as unknown as SubscribeOptions, [
      /from/,
      /"newest"/,
      /"next", "oldest" or a sequence number/,
    ]],
    ["an unknown lag", { lag: "panic" } as unknown as SubscribeOptions, [/lag/, /"panic"/, /"skip", "error"/]],
    ["an unknown option name", { form: "oldest" } as unknown as SubscribeOptions, [/"form"/, /"from", "lag"/]],
    ["a non-object", 5 as unknown as SubscribeOptions, [/options/, /object/]],
  ];
  for (const [what, options, patterns] of cases) {
    it(`rejects ${what} with a TypeError and leaves the bus as it was`, () => {
      const bus = new Bus<number>();
      const sub = bus.subscribe();
      bus.send(1);
      assertRejects(() => bus.subscribe(options), TypeError, ...patterns);
      assert.equal(bus.subscriberCount, 1);
      assert.equal(bus.send(2), 1);
      assert.equal(sub.tryRecv(), 1);
      assert.equal(sub.tryRecv(), 2);
    });
  }
});
