import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type Codec, createPacker, unpack } from "../src/nats/codec.ts";
import { Outbox } from "../src/nats/outbox.ts";
import { CLOSED, EMPTY } from "../mod.ts";
import { newCounters } from "../src/nats/stats.ts";
import {
  type Header,
  HEADER_BYTES,
  JSON_LIST,
  LENGTH_PREFIXED,
  originKey,
  originOf,
  randomOrigin,
  readHeader,
  writeHeader,
} from "../src/nats/envelope.ts";

const text: Codec<string> = {
  encode: (value) => new TextEncoder().encode(value),
  decode: (bytes) => {
    const value = new TextDecoder().decode(bytes);
    if (value.startsWith("bad")) throw new SyntaxError(`rejected ${value}`);
    return value;
  },
};

/** Packs `values` and returns the body after the header, and how many were packed. */
function pack<T>(values: T[], codec?: Codec<T>): { body: Uint8Array; count: number; framing: 0 | 1 } {
  const packer = createPacker(codec);
  for (const value of values) packer.add(value);
  const count = packer.count;
  return { body: packer.take().subarray(HEADER_BYTES), count, framing: packer.framing };
}

describe("envelope", () => {
  it("writeHeader() and readHeader() round-trip origin, first sequence, count, framing and goodbye", () => {
    const origin = randomOrigin();
    const bytes = new Uint8Array(HEADER_BYTES + 3);
    writeHeader(bytes, LENGTH_PREFIXED, origin, 2 ** 40 + 7, 123_456, true);
    const header = readHeader(bytes, {} as Header)!;
    assert.deepEqual(header, {
      framing: LENGTH_PREFIXED,
      originKey: origin.key,
      first: 2 ** 40 + 7,
      count: 123_456,
      goodbye: true,
    });
    writeHeader(bytes, JSON_LIST, origin, 1, 0);
    assert.equal(readHeader(bytes, {} as Header)!.goodbye, false);
    assert.match(origin.hex, /^[0-9a-f]{16}$/);
  });

  it("readHeader() refuses what is not an envelope: too short, wrong magic, version or framing, a bad sequence", () => {
    const good = new Uint8Array(HEADER_BYTES);
    writeHeader(good, JSON_LIST, randomOrigin(), 5, 1);
    assert.ok(readHeader(good, {} as Header));
    assert.equal(readHeader(good.subarray(0, HEADER_BYTES - 1), {} as Header), undefined);
    assert.equal(readHeader(new TextEncoder().encode('{"plain":"json","not":"ours"}'), {} as Header), undefined);
    for (const [offset, byte] of [[0, 0x7b], [1, 2], [2, 9]]) {
      const bad = good.slice();
      bad[offset] = byte;
      assert.equal(readHeader(bad, {} as Header), undefined, `byte ${offset} = ${byte}`);
    }
    for (const first of [1.5, -1, 2 ** 53]) {
      const bad = good.slice();
      new DataView(bad.buffer).setFloat64(12, first, true);
      assert.equal(readHeader(bad, {} as Header), undefined, `first sequence ${first}`);
    }
    writeHeader(good, JSON_LIST, randomOrigin(), 0, 0);
    assert.equal(readHeader(good, {} as Header)?.first, 0, "0 is a sequence number");
  });

  it("an origin's key is its low word plus 21 bits of its high word; its hex is all 64 bits, zero-padded", () => {
    assert.equal(originKey(7, 0), 7);
    assert.equal(originKey(0, 1), 2 ** 32);
    assert.equal(originKey(0xffff_ffff, 0xffff_ffff), 2 ** 53 - 1);
    assert.equal(originKey(5, 2 ** 21 + 3), 3 * 2 ** 32 + 5, "the high word's top 11 bits are not in the key");
    assert.deepEqual(originOf(1, 2), { low: 1, high: 2, key: 2 * 2 ** 32 + 1, hex: "0000000200000001" });
  });

  it("randomOrigin() draws distinct ids", () => {
    const keys = new Set(Array.from({ length: 1000 }, () => randomOrigin().key));
    assert.equal(keys.size, 1000);
  });
});

describe("codec", () => {
  it("JSON: a batch packs into one JSON array and unpacks in order", () => {
    const values = [{ a: 1 }, "two", 3, null, [4, { five: "5\n" }], true];
    const { body, count, framing } = pack<unknown>(values);
    assert.equal(count, 6);
    assert.equal(framing, JSON_LIST);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(body)), values);
    const out: unknown[] = [];
    assert.equal(unpack(undefined, framing, body, count, 0, count, out), 0);
    assert.deepEqual(out, values);
  });

  it("JSON: non-ASCII text takes the UTF-8 path and survives", () => {
    const values = ["é", "日本語", "emoji 🎉", "x".repeat(1000)];
    const { body, count } = pack(values);
    const out: unknown[] = [];
    unpack(undefined, JSON_LIST, body, count, 0, count, out);
    assert.deepEqual(out, values);
  });

  it("JSON: a value it cannot encode is refused, not packed", () => {
    const packer = createPacker<unknown>(undefined);
    const cycle: { self?: unknown } = {};
    cycle.self = cycle;
    assert.equal(packer.add(undefined), false);
    assert.equal(packer.add(() => 1), false);
    assert.equal(packer.add(1n), false);
    assert.equal(packer.add(cycle), false);
    assert.equal(packer.add(1), true);
    assert.equal(packer.count, 1);
  });

  it("JSON: a bad line costs one decode error, and the values around it arrive", () => {
    const body = new TextEncoder().encode('[1,\n{"broken":,\n3]');
    const out: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, body, 3, 0, 3, out), 1);
    assert.deepEqual(out, [1, 3]);
  });

  it("JSON: a body with fewer values than its count counts the missing ones", () => {
    const { body } = pack([1, 2]);
    const out: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, body, 5, 0, 5, out), 3);
    assert.deepEqual(out, [1, 2]);
  });

  it("JSON: a body that parses whole as an array of its count values arrives whole, however it is spaced", () => {
    const body = new TextEncoder().encode("[1,2, 3]");
    const out: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, body, 3, 0, 3, out), 0);
    assert.deepEqual(out, [1, 2, 3]);
    const some: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, body, 3, 1, 1, some), 0);
    assert.deepEqual(some, [2]);
  });

  it("JSON: with a bad line, the values before `skip` and after `room` are neither kept nor counted", () => {
    const body = new TextEncoder().encode('[1,\n{"broken":,\n3,\n4,\n5]');
    const out: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, body, 5, 1, 2, out), 1);
    assert.deepEqual(out, [3]);
  });

  it("JSON: a bad body without its brackets, or with an empty line, loses only its bad lines", () => {
    const unbracketed: unknown[] = [];
    const body = new TextEncoder().encode('12,\n{"broken":,\n34');
    assert.equal(unpack(undefined, JSON_LIST, body, 3, 0, 3, unbracketed), 1);
    assert.deepEqual(unbracketed, [12, 34]);
    const emptyFirst: unknown[] = [];
    assert.equal(unpack(undefined, JSON_LIST, new TextEncoder().encode("\n1,\n{bad"), 3, 0, 3, emptyFirst), 2);
    assert.deepEqual(emptyFirst, [1], "the empty line and the bad one are the two errors");
  });

  it("unpack() drops the first `skip` values and keeps at most `room`", () => {
    for (const codec of [undefined, text]) {
      const { body, count, framing } = pack(["a", "b", "c", "d", "e"], codec);
      const out: unknown[] = [];
      assert.equal(unpack(codec, framing, body, count, 2, 2, out), 0);
      assert.deepEqual(out, ["c", "d"], codec ? "frames" : "JSON");
    }
  });

  it("a codec: length-prefixed frames round-trip, and each value decode rejects is one error", () => {
    const { body, count, framing } = pack(["one", "bad two", "three", ""], text);
    assert.equal(framing, LENGTH_PREFIXED);
    const out: unknown[] = [];
    assert.equal(unpack(text, framing, body, count, 0, count, out), 1);
    assert.deepEqual(out, ["one", "three", ""]);
  });

  it("a codec: a value decode returns as EMPTY or CLOSED, which no bus can send, is one error", () => {
    const signals: Codec<string | typeof EMPTY | typeof CLOSED> = {
      encode: (value) => new TextEncoder().encode(String(value)),
      decode: (bytes) => {
        const value = new TextDecoder().decode(bytes);
        return value === "empty" ? EMPTY : value === "closed" ? CLOSED : value;
      },
    };
    const { body, count, framing } = pack(["a", "empty", "b", "closed"], signals);
    const out: unknown[] = [];
    assert.equal(unpack(signals, framing, body, count, 0, count, out), 2);
    assert.deepEqual(out, ["a", "b"]);
  });

  it("a codec: encode that throws or returns no bytes refuses the value", () => {
    const picky: Codec<number> = {
      encode: (n) => {
        if (n < 0) throw new RangeError("negative");
        return (n === 0 ? "zero" : new Uint8Array([n])) as Uint8Array;
      },
      decode: (bytes) => bytes[0],
    };
    const packer = createPacker(picky);
    assert.deepEqual([packer.add(-1), packer.add(0), packer.add(7)], [false, false, true]);
  });

  it("a codec: a truncated body counts every frame it cannot read", () => {
    const { body, count } = pack(["aaaa", "bbbb", "cccc"], text);
    const out: unknown[] = [];
    assert.equal(unpack(text, LENGTH_PREFIXED, body.subarray(0, body.length - 2), count, 0, count, out), 1);
    assert.deepEqual(out, ["aaaa", "bbbb"]);
  });

  it("a codec: a body cut inside a length prefix, or with fewer frames than its count, counts the missing ones", () => {
    const { body, count } = pack(["aaaa", "bbbb", "cccc"], text);
    const cut: unknown[] = [];
    assert.equal(unpack(text, LENGTH_PREFIXED, body.subarray(0, body.length - 6), count, 0, count, cut), 1);
    assert.deepEqual(cut, ["aaaa", "bbbb"]);
    const short: unknown[] = [];
    assert.equal(unpack(text, LENGTH_PREFIXED, body, 5, 0, 5, short), 2);
    assert.deepEqual(short, ["aaaa", "bbbb", "cccc"]);
  });

  it("a codec: take() empties the packer, so the next batch holds only its own values", () => {
    const packer = createPacker(text);
    packer.add("a");
    packer.add("b");
    packer.take();
    assert.equal(packer.count, 0);
    packer.add("c");
    const out: unknown[] = [];
    const body = packer.take().subarray(HEADER_BYTES);
    assert.equal(unpack(text, LENGTH_PREFIXED, body, 1, 0, 1, out), 0);
    assert.deepEqual(out, ["c"]);
  });

  it("a framing that does not match the codec makes every value a decode error", () => {
    const json = pack([1, 2, 3]);
    const frames = pack(["x", "y"], text);
    assert.equal(unpack(text, json.framing, json.body, 3, 0, 3, []), 3);
    assert.equal(unpack(undefined, frames.framing, frames.body, 2, 0, 2, []), 2);
  });

  it("a framing that does not match the codec is not read the other way, and skipped values are not counted", () => {
    const json = pack([1, 2, 3, 4, 5]);
    const frames = pack(["a", "b", "c", "d", "e"], text);
    const asFrames: unknown[] = [];
    assert.equal(unpack(text, JSON_LIST, frames.body, 5, 2, 2, asFrames), 2);
    assert.deepEqual(asFrames, []);
    const asJson: unknown[] = [];
    assert.equal(unpack(undefined, LENGTH_PREFIXED, json.body, 5, 2, 2, asJson), 2);
    assert.deepEqual(asJson, []);
  });
});

describe("outbox", () => {
  it("publishes a batch the moment its values take maxBatchBytes, not one value later, with JSON or a codec", () => {
    const bytes: Codec<number> = {
      encode: (n) => new TextEncoder().encode(String(n)),
      decode: (b) => Number(new TextDecoder().decode(b)),
    };
    for (const codec of [undefined, bytes]) {
      const measure = createPacker<number>(codec);
      measure.add(12345);
      measure.add(67890);
      const published: number[] = [];
      const outbox = new Outbox<number>(codec, randomOrigin(), measure.bytes, newCounters(), (_, count) => {
        published.push(count);
      });
      outbox.add(12345);
      assert.deepEqual(published, [], "below the bound it waits for more");
      outbox.add(67890);
      assert.deepEqual(published, [2], `at the bound it goes out at once (${codec ? "codec" : "JSON"})`);
    }
  });
});
