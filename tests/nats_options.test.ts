// The NATS bridges' options, checked before anything touches the bus or the connection: every default, every bound,
// and the exact error for each wrong value. Pure functions: no nats-server is needed (nats_bridge.test.ts checks that
// bridge() itself throws these, leaving the bus untouched).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mod.ts";
import type { Codec } from "../src/nats/codec.ts";
import { checkBus, resolveBridgeOptions, resolveJetStreamBridgeOptions } from "../src/nats/options.ts";

const codec: Codec<string> = { encode: (value) => new TextEncoder().encode(value), decode: () => "" };

type Resolve = (options: never) => unknown;

/** Asserts `resolve(options)` throws `type` with exactly `message`. */
function refuses(resolve: Resolve, options: unknown, type: ErrorConstructor, message: string): void {
  assert.throws(() => resolve(options as never), (error: Error) => {
    assert.equal(error.constructor, type, `${error.name} for ${JSON.stringify(options)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe("bridge options", () => {
  it("fill in every default", () => {
    assert.deepEqual(resolveBridgeOptions({ subject: "ticks" }), {
      subject: "ticks",
      codec: undefined,
      maxBatchBytes: 65_536,
      maxQueued: 65_536,
      heartbeat: 1_000,
      forgetAfter: 60_000,
    });
  });

  it("keep what is given, down to each lower bound", () => {
    assert.deepEqual(
      resolveBridgeOptions({
        subject: "a.b-c.D_9",
        codec,
        maxBatchBytes: 0,
        maxQueued: 1,
        heartbeat: 0,
        forgetAfter: 1,
      }),
      { subject: "a.b-c.D_9", codec, maxBatchBytes: 0, maxQueued: 1, heartbeat: 0, forgetAfter: 1 },
    );
  });

  it("refuse a number option below its bound, not an integer, or not a number, naming it", () => {
    const bounds = { maxBatchBytes: 0, maxQueued: 1, heartbeat: 0, forgetAfter: 1 };
    for (const [name, min] of Object.entries(bounds)) {
      const expected = `expected an integer from ${min}`;
      for (const value of [min - 1, min + 0.5, Number.NaN, Infinity, 2 ** 53]) {
        refuses(
          resolveBridgeOptions,
          { subject: "s", [name]: value },
          RangeError,
          `Invalid ${name}: ${value}; ${expected}`,
        );
      }
      refuses(resolveBridgeOptions, { subject: "s", [name]: "1" }, TypeError, `Invalid ${name}: "1"; ${expected}`);
      refuses(resolveBridgeOptions, { subject: "s", [name]: null }, TypeError, `Invalid ${name}: null; ${expected}`);
    }
  });

  it("refuse a subject with wildcards, empty tokens or spaces", () => {
    for (const subject of ["", "a.", ".a", "a..b", "a.*", "*", "a.>", ">", "a b", "a\tb", "ti*cks", 5, undefined]) {
      const shown = typeof subject === "string" ? JSON.stringify(subject) : String(subject);
      refuses(
        resolveBridgeOptions,
        { subject },
        TypeError,
        `Invalid subject: ${shown}; expected a NATS subject without wildcards, such as "ticks"`,
      );
    }
  });

  it("refuse what is not an options object, and name an unknown key with every known one", () => {
    for (const [options, shown] of [[undefined, "undefined"], [null, "null"], [[], "an array"], ["ticks", '"ticks"']]) {
      refuses(
        resolveBridgeOptions,
        options,
        TypeError,
        `Invalid bridge options: ${shown}; expected an object with a subject`,
      );
    }
    refuses(
      resolveBridgeOptions,
      { subject: "s", window: 4 },
      TypeError,
      'Unknown option in bridge options: "window"; expected one of "subject", "codec", "maxBatchBytes", "maxQueued", ' +
        '"heartbeat", "forgetAfter"',
    );
  });

  it("refuse a codec without both functions", () => {
    const message = "expected an object with encode and decode functions";
    for (
      const [bad, shown] of [[null, "null"], [{ encode() {} }, "an object"], [{ decode() {} }, "an object"], [5, "5"]]
    ) {
      refuses(resolveBridgeOptions, { subject: "s", codec: bad }, TypeError, `Invalid codec: ${shown}; ${message}`);
    }
  });
});

describe("JetStream bridge options", () => {
  it("fill in every default", () => {
    assert.deepEqual(resolveJetStreamBridgeOptions({ stream: "TICKS", subject: "ticks" }), {
      stream: "TICKS",
      subject: "ticks",
      start: "next",
      codec: undefined,
      window: 64,
      maxQueued: 65_536,
    });
  });

  it("keep what is given: each start, and each bound", () => {
    for (const start of ["next", "oldest", 1, 2 ** 53 - 1] as const) {
      const options = { stream: "S-1_x", subject: "s.t", start, codec, window: 1, maxQueued: 1 };
      assert.deepEqual(resolveJetStreamBridgeOptions(options), options);
    }
  });

  it("refuse a start that is not next, oldest or a sequence number from 1", () => {
    const message = 'expected "next", "oldest" or a sequence number from 1';
    for (const start of [0, -1, 1.5, 2 ** 53, Number.NaN]) {
      refuses(
        resolveJetStreamBridgeOptions,
        { stream: "S", subject: "s", start },
        RangeError,
        `Invalid start: ${start}; ${message}`,
      );
    }
    for (const [start, shown] of [["first", '"first"'], [null, "null"], [{}, "an object"]]) {
      refuses(
        resolveJetStreamBridgeOptions,
        { stream: "S", subject: "s", start },
        TypeError,
        `Invalid start: ${shown}; ${message}`,
      );
    }
  });

  it("refuse a stream name with dots, wildcards, slashes or spaces", () => {
    for (const stream of ["", "A.B", "A*", "A>", "A/B", "A\\B", "A B", 5, undefined]) {
      const shown = typeof stream === "string" ? JSON.stringify(stream) : String(stream);
      refuses(
        resolveJetStreamBridgeOptions,
        { stream, subject: "s" },
        TypeError,
        `Invalid stream: ${shown}; expected a stream name such as "TICKS"`,
      );
    }
  });

  it("refuse bad bounds, subjects, codecs and keys with the messages bridge() gives", () => {
    refuses(
      resolveJetStreamBridgeOptions,
      { stream: "S", subject: "s", window: 0 },
      RangeError,
      "Invalid window: 0; expected an integer from 1",
    );
    refuses(
      resolveJetStreamBridgeOptions,
      { stream: "S", subject: "s", maxQueued: 0 },
      RangeError,
      "Invalid maxQueued: 0; expected an integer from 1",
    );
    refuses(
      resolveJetStreamBridgeOptions,
      { stream: "S", subject: "a.*" },
      TypeError,
      'Invalid subject: "a.*"; expected a NATS subject without wildcards, such as "ticks"',
    );
    refuses(
      resolveJetStreamBridgeOptions,
      { stream: "S", subject: "s", codec: {} },
      TypeError,
      "Invalid codec: an object; expected an object with encode and decode functions",
    );
    refuses(
      resolveJetStreamBridgeOptions,
      { stream: "S", subject: "s", heartbeat: 5 },
      TypeError,
      'Unknown option in JetStream bridge options: "heartbeat"; expected one of "stream", "subject", "start", "codec", ' +
        '"window", "maxQueued"',
    );
    refuses(
      resolveJetStreamBridgeOptions,
      undefined,
      TypeError,
      "Invalid JetStream bridge options: undefined; expected an object with a subject",
    );
  });
});

describe("checkBus()", () => {
  it("takes anything with tap, send and subscribe functions, and refuses the rest, saying what it got", () => {
    checkBus(new Bus<number>());
    checkBus({ tap() {}, send() {}, subscribe() {} });
    const fn = () => {};
    for (
      const [bus, shown] of [
        [undefined, "undefined"],
        [null, "null"],
        [{}, "an object"],
        [{ send: fn, subscribe: fn }, "an object"],
        [{ tap: fn, subscribe: fn }, "an object"],
        [{ tap: fn, send: fn }, "an object"],
        [{ tap: 1, send: fn, subscribe: fn }, "an object"],
      ] as const
    ) {
      refuses(checkBus, bus, TypeError, `Invalid bus: ${shown}; expected a Bus from @ron/bus`);
    }
  });
});
