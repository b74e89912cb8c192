/**
 * Codecs: how a value becomes bytes in a shared slot, and bytes become a
 * value again in each reader's own memory. Nothing crosses threads by
 * reference: every reader decodes its own copy.
 *
 * - `"json"` (the default): `JSON.stringify`, then UTF-8.
 * - `"string"`: strings as UTF-8, with `TextEncoder.encodeInto`.
 * - `{ f64: ["price", "qty"] }`: records of numbers, written by the producer
 *   straight into a `Float64Array` view of the slot and read back field by
 *   field; no bytes to encode, no text to parse. The fast path.
 * - `{ encode, decode }`: your own, bytes in and bytes out.
 *
 * Byte codecs encode into the producer's private memory first, so a value
 * too large for a slot is refused before anything is claimed. A reader
 * copies a slot's bytes into private memory and checks that the slot was
 * not rewritten meanwhile before it decodes: decoding shared bytes that
 * another thread is rewriting crashed Node 20's `TextDecoder`, and a torn
 * copy must never be delivered.
 *
 * Internal, but for the {@linkcode SharedCodec} and
 * {@linkcode SharedCodecOption} types.
 *
 * @module
 */

import { describe } from "../options.ts";

/**
 * A codec of your own for {@linkcode SharedBus}: `encode` turns a value into
 * bytes, `decode` turns those bytes back into a value. `decode` gets its own
 * copy of the bytes, which it may keep.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example A codec for bigints
 * ```ts
 * import { SharedBus, type SharedCodec } from "@ron/bus";
 *
 * const bigints: SharedCodec<bigint> = {
 *   encode: (value) => new TextEncoder().encode(value.toString()),
 *   decode: (bytes) => BigInt(new TextDecoder().decode(bytes)),
 * };
 * const bus = new SharedBus<bigint>({ codec: bigints, maxBytes: 64 });
 * const sub = bus.subscribe();
 * bus.send(2n ** 100n);
 * console.log(sub.tryRecv()); // 1267650600228229401496703205376n
 * ```
 */
export interface SharedCodec<T> {
  /** Encodes one value; the bytes are copied into the ring. */
  encode(value: T): Uint8Array;
  /** Decodes one value from a private copy of the bytes `encode` gave. */
  decode(bytes: Uint8Array): T;
}

/**
 * The `codec` option of {@linkcode SharedBus}: `"json"` (the default),
 * `"string"`, `{ f64: fieldNames }` for records of numbers, or a
 * {@linkcode SharedCodec} of your own.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example Records of two numbers, the fast path
 * ```ts
 * import { SharedBus, type SharedCodecOption } from "@ron/bus";
 *
 * type Quote = { bid: number; ask: number };
 * const codec: SharedCodecOption<Quote> = { f64: ["bid", "ask"] };
 * const bus = new SharedBus<Quote>({ codec });
 * console.log(bus.maxBytes); // 16
 * ```
 */
export type SharedCodecOption<T> = "json" | "string" | { readonly f64: readonly string[] } | SharedCodec<T>;

/** How a bus's codec travels in its handle: user codecs cannot be cloned, so they are named only. */
export type CodecName = "json" | "string" | { readonly f64: readonly string[] } | "custom";

/**
 * One thread's codec for one bus. `fields` is set for f64 records, which are
 * written and read through a float64 view; the others go through bytes.
 */
export interface Coder<T> {
  readonly name: CodecName;
  /** For f64 records: the field names, in slot order. */
  readonly fields: readonly string[] | undefined;
  /** Bytes every value takes when the codec fixes it (f64 records), else undefined. */
  readonly fixedBytes: number | undefined;
  /** Encodes into private memory; the result is valid until the next call. */
  encode(value: T): Uint8Array;
  /** Decodes from a private copy, which the next read reuses. */
  decode(bytes: Uint8Array): T;
}

const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Checks the `codec` option and builds the coder; `maxBytes` sizes the encoding scratch. */
export function resolveCodec<T>(option: unknown): Coder<T> {
  if (option === undefined || option === "json") return new JsonCoder() as Coder<T>;
  if (option === "string") return new StringCoder() as unknown as Coder<T>;
  if (typeof option === "object" && option !== null && !Array.isArray(option)) {
    if ("f64" in option) return f64Coder((option as { f64: unknown }).f64) as Coder<T>;
    const { encode, decode } = option as Partial<SharedCodec<T>>;
    if (typeof encode === "function" && typeof decode === "function") return new CustomCoder(encode, decode, option);
  }
  throw new TypeError(
    `Invalid codec: ${
      describe(option)
    }; expected "json", "string", { f64: [field names] } or { encode(value), decode(bytes) }`,
  );
}

function f64Coder(fields: unknown): Coder<Record<string, number>> {
  if (!Array.isArray(fields) || fields.length === 0 || fields.length > 4096) {
    throw new TypeError(`Invalid codec.f64: ${describe(fields)}; expected an array of 1 to 4096 field names`);
  }
  for (const field of fields) {
    if (typeof field !== "string" || !FIELD_NAME.test(field)) {
      throw new TypeError(`Invalid codec.f64 field: ${describe(field)}; expected an identifier such as "price"`);
    }
  }
  if (new Set(fields).size !== fields.length) {
    throw new TypeError(`Invalid codec.f64: ${describe(fields)}; field names must differ`);
  }
  return new F64Coder(Object.freeze([...fields]) as string[]);
}

/** A growable private buffer for encoding and for readers' copies. */
export class Scratch {
  bytes: Uint8Array = new Uint8Array(256);

  /** A private buffer of at least `size` bytes. */
  reserve(size: number): Uint8Array {
    if (this.bytes.length < size) this.bytes = new Uint8Array(Math.max(size, this.bytes.length * 2));
    return this.bytes;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes `text` into `scratch`; a result longer than `limit` is returned whole so the caller can refuse it. */
function encodeText(text: string, scratch: Scratch, limit: number): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 unit, so this room is always enough for what fits.
  const buffer = scratch.reserve(Math.min(text.length * 3, limit + 4));
  const { read, written } = encoder.encodeInto(text, buffer);
  if (read === text.length) return buffer.subarray(0, written);
  return encoder.encode(text); // too large: the caller reports the real size
}

class JsonCoder implements Coder<unknown> {
  readonly name = "json";
  readonly fields = undefined;
  readonly fixedBytes = undefined;
  limit = Infinity;
  #scratch = new Scratch();

  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(`Invalid value: ${describe(value)}; the "json" codec sends what JSON.stringify can encode`);
    }
    return encodeText(text, this.#scratch, this.limit);
  }

  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  }
}

class StringCoder implements Coder<string> {
  readonly name = "string";
  readonly fields = undefined;
  readonly fixedBytes = undefined;
  limit = Infinity;
  #scratch = new Scratch();

  encode(value: string): Uint8Array {
    if (typeof value !== "string") {
      throw new TypeError(`Invalid value: ${describe(value)}; the "string" codec sends strings`);
    }
    return encodeText(value, this.#scratch, this.limit);
  }

  decode(bytes: Uint8Array): string {
    return decoder.decode(bytes);
  }
}

class CustomCoder<T> implements Coder<T> {
  readonly name = "custom";
  readonly fields = undefined;
  readonly fixedBytes = undefined;

  readonly encodeValue: (value: T) => Uint8Array;
  readonly decodeValue: (bytes: Uint8Array) => T;
  readonly codec: object;

  constructor(encodeValue: (value: T) => Uint8Array, decodeValue: (bytes: Uint8Array) => T, codec: object) {
    this.encodeValue = encodeValue;
    this.decodeValue = decodeValue;
    this.codec = codec;
  }

  encode(value: T): Uint8Array {
    const bytes = this.encodeValue.call(this.codec, value);
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(`Invalid result of codec.encode: ${describe(bytes)}; expected a Uint8Array`);
    }
    return bytes;
  }

  decode(bytes: Uint8Array): T {
    // The user's decode may keep the bytes, so it gets a copy of its own.
    return this.decodeValue.call(this.codec, bytes.slice());
  }
}

/** f64 records never go through `encode`/`decode`: the ring reads and writes their fields directly. */
class F64Coder implements Coder<Record<string, number>> {
  readonly name: { readonly f64: readonly string[] };
  readonly fixedBytes: number;

  readonly fields: readonly string[];

  constructor(fields: readonly string[]) {
    this.fields = fields;
    this.name = { f64: fields };
    this.fixedBytes = fields.length * 8;
  }

  encode(): Uint8Array {
    throw new Error("f64 records are written field by field");
  }

  decode(): Record<string, number> {
    throw new Error("f64 records are read field by field");
  }
}

/** Sets the size past which byte codecs stop encoding into their scratch. */
export function limitCoder<T>(coder: Coder<T>, maxBytes: number): void {
  if (coder instanceof JsonCoder || coder instanceof StringCoder) coder.limit = maxBytes;
}

/** Reads and writes the records of one field list. */
export interface RecordAccess {
  /** Reads `value`'s fields into `out`, checking each is a number; throws before anything is claimed. */
  write(value: unknown, out: Float64Array): void;
  /** A new record from `floats[base]`, `floats[base + 1]`, ... */
  read(floats: Float64Array, base: number): Record<string, number>;
}

/**
 * The record reader and writer for `fields`. V8 runs property accesses whose
 * names are only known at run time (`record[fields[i]]`) 4 to 6 times slower
 * than literal ones, so where the page allows it (no CSP forbidding
 * `new Function`) they are compiled from the field names, which are checked
 * identifiers; elsewhere they loop.
 */
export function recordAccess(fields: readonly string[]): RecordAccess {
  const names = fields.map((field) => JSON.stringify(field));
  try {
    const read = new Function(
      "floats",
      "base",
      `return { ${names.map((name, i) => `${name}: floats[base + ${i}]`).join(", ")} };`,
    ) as RecordAccess["read"];
    const write = new Function(
      "refuse",
      `return (value, out) => {
        if (typeof value !== "object" || value === null) refuse(value, -1);
        ${names.map((name, i) => `const f${i} = value[${name}];`).join("\n")}
        ${names.map((_, i) => `if (typeof f${i} !== "number") refuse(f${i}, ${i});`).join("\n")}
        ${names.map((_, i) => `out[${i}] = f${i};`).join("\n")}
      };`,
    )((bad: unknown, index: number) => refuse(bad, index, fields)) as RecordAccess["write"];
    return { read, write };
  } catch {
    return {
      read: (floats, base) => readLoop(floats, base, fields),
      write: (value, out) => writeLoop(value, out, fields),
    };
  }
}

function refuse(value: unknown, index: number, fields: readonly string[]): never {
  if (index < 0) {
    throw new TypeError(
      `Invalid value: ${describe(value)}; expected an object with number fields ${fields.join(", ")}`,
    );
  }
  throw new TypeError(`Invalid value.${fields[index]}: ${describe(value)}; expected a number`);
}

function readLoop(floats: Float64Array, base: number, fields: readonly string[]): Record<string, number> {
  const record: Record<string, number> = {};
  for (let i = 0; i < fields.length; i++) record[fields[i]!] = floats[base + i]!;
  return record;
}

function writeLoop(value: unknown, out: Float64Array, fields: readonly string[]): void {
  if (typeof value !== "object" || value === null) refuse(value, -1, fields);
  for (let i = 0; i < fields.length; i++) {
    const field = (value as Record<string, unknown>)[fields[i]!];
    if (typeof field !== "number") refuse(field, i, fields);
    out[i] = field as number;
  }
}
