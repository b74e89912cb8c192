/**
 * Codecs and framing: how a batch of values becomes the bytes after an
 * envelope, and back. JSON by default, as a JSON array with one value per
 * line (`[v1,\nv2,\nv3]`): a receiver decodes a whole batch with one
 * `TextDecoder` call and one `JSON.parse` (measured 1.2-2x faster than a
 * parse per value on every runtime), and if that fails falls back to one
 * parse per line (JSON.stringify never emits a raw newline) to skip just
 * the values that are bad. With a {@linkcode Codec}, length-prefixed frames.
 *
 * @module
 */

import { CLOSED, EMPTY } from "../signals.ts";
import { type Framing, HEADER_BYTES, JSON_LIST, LENGTH_PREFIXED } from "./envelope.ts";

/**
 * Turns values into bytes and back, for a bridge that should not use JSON.
 * `decode` may throw (to reject a value that does not validate, say): the
 * bridge counts the value in `stats().decodeErrors` and skips it, as it does
 * a value `decode` returns as `EMPTY` or `CLOSED`, which no bus can send. The bytes
 * handed to `decode` are a view into the message (under Node, a `Buffer`,
 * whose `slice()` is another view): read them in place, or copy them with
 * `new Uint8Array(bytes)` to keep them.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example A codec for strings
 * ```ts
 * import type { Codec } from "@ron/bus/nats";
 *
 * const text: Codec<string> = {
 *   encode: (value) => new TextEncoder().encode(value),
 *   decode: (bytes) => new TextDecoder().decode(bytes),
 * };
 * console.log(text.decode(text.encode("hi"))); // "hi"
 * ```
 */
export interface Codec<T> {
  /** The bytes for `value`. May throw; the bridge counts it in `stats().encodeErrors`. */
  encode(value: T): Uint8Array;
  /**
   * The value in `bytes`. May throw; the bridge counts it in
   * `stats().decodeErrors`, as it does a returned `EMPTY` or `CLOSED`.
   */
  decode(bytes: Uint8Array): T;
}

/** Collects encoded values for one message. */
export interface Packer<T> {
  /** How the packed values are laid out. */
  readonly framing: Framing;
  /** Values held. */
  readonly count: number;
  /** A close estimate of the bytes they will take. */
  readonly bytes: number;
  /** Encodes and holds `value`; `false` if it could not be encoded (it is not held). */
  add(value: T): boolean;
  /** The held values after `HEADER_BYTES` of room for the envelope; empties the packer. */
  take(): Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A packer for the codec, or for JSON without one. */
export function createPacker<T>(codec: Codec<T> | undefined): Packer<T> {
  return codec === undefined ? new JsonListPacker<T>() : new LengthPrefixedPacker(codec);
}

class JsonListPacker<T> implements Packer<T> {
  readonly framing = JSON_LIST;
  #lines: string[] = [];
  #chars = 0;

  get count(): number {
    return this.#lines.length;
  }

  get bytes(): number {
    return this.#chars;
  }

  add(value: T): boolean {
    let line: string | undefined;
    try {
      line = JSON.stringify(value);
    } catch {
      return false; // a cycle or a BigInt
    }
    if (line === undefined) return false; // undefined, a function or a symbol
    this.#lines.push(line);
    this.#chars += line.length + 2;
    return true;
  }

  take(): Uint8Array {
    const text = `[${this.#lines.join(",\n")}]`;
    this.#lines = [];
    this.#chars = 0;
    // Sized for ASCII, the usual JSON; encodeInto says when it was not enough.
    const bytes = new Uint8Array(HEADER_BYTES + text.length);
    const { read, written } = encoder.encodeInto(text, bytes.subarray(HEADER_BYTES));
    if (read === text.length) return bytes.subarray(0, HEADER_BYTES + written);
    const utf8 = encoder.encode(text);
    const wide = new Uint8Array(HEADER_BYTES + utf8.length);
    wide.set(utf8, HEADER_BYTES);
    return wide;
  }
}

class LengthPrefixedPacker<T> implements Packer<T> {
  readonly framing = LENGTH_PREFIXED;
  #codec: Codec<T>;
  #frames: Uint8Array[] = [];
  #bytes = 0;

  constructor(codec: Codec<T>) {
    this.#codec = codec;
  }

  get count(): number {
    return this.#frames.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  add(value: T): boolean {
    let frame: unknown;
    try {
      frame = this.#codec.encode(value);
    } catch {
      return false;
    }
    if (!(frame instanceof Uint8Array)) return false;
    this.#frames.push(frame);
    this.#bytes += 4 + frame.byteLength;
    return true;
  }

  take(): Uint8Array {
    const bytes = new Uint8Array(HEADER_BYTES + this.#bytes);
    const view = new DataView(bytes.buffer);
    let offset = HEADER_BYTES;
    for (const frame of this.#frames) {
      view.setUint32(offset, frame.byteLength, true);
      bytes.set(frame, offset + 4);
      offset += 4 + frame.byteLength;
    }
    this.#frames = [];
    this.#bytes = 0;
    return bytes;
  }
}

/**
 * Decodes the values of a message body into `out`, in order: `count`
 * values, of which the first `skip` are dropped unread and at most `room`
 * are kept. Returns how many could not be decoded, counting the frames the
 * body should have held and does not.
 */
export function unpack<T>(
  codec: Codec<T> | undefined,
  framing: Framing,
  body: Uint8Array,
  count: number,
  skip: number,
  room: number,
  out: (T | undefined)[],
): number {
  const wanted = Math.min(count, skip + room);
  if (codec === undefined) {
    if (framing !== JSON_LIST) return wanted - skip;
    return unpackJsonList(body, count, wanted, skip, out as unknown[]);
  }
  if (framing !== LENGTH_PREFIXED) return wanted - skip;
  return unpackFrames(codec, body, wanted, skip, out);
}

function unpackJsonList(body: Uint8Array, count: number, wanted: number, skip: number, out: unknown[]): number {
  const text = decoder.decode(body);
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch {
    return unpackJsonLines(text, wanted, skip, out);
  }
  if (!Array.isArray(values) || values.length !== count) {
    return unpackJsonLines(text, wanted, skip, out);
  }
  for (let index = skip; index < wanted; index++) out.push(values[index]);
  return 0;
}

/**
 * The slow path, when the batch does not parse whole: one parse per line
 * (less the bracket before the first and after the last, and the comma after
 * each but the last), so only the bad values are lost.
 */
function unpackJsonLines(text: string, wanted: number, skip: number, out: unknown[]): number {
  let errors = 0;
  let start = text.charCodeAt(0) === 0x5b ? 1 : 0;
  const last = text.charCodeAt(text.length - 1) === 0x5d ? text.length - 1 : text.length;
  let index = 0;
  for (; index < wanted && start <= last; index++) {
    let end = text.indexOf("\n", start);
    if (end < 0 || end > last) end = last;
    if (index >= skip) {
      try {
        out.push(JSON.parse(text.slice(start, text.charCodeAt(end - 1) === 0x2c ? end - 1 : end)));
      } catch {
        errors++;
      }
    }
    start = end + 1;
  }
  return errors + wanted - Math.max(index, skip);
}

function unpackFrames<T>(codec: Codec<T>, body: Uint8Array, wanted: number, skip: number, out: T[]): number {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let errors = 0;
  let offset = 0;
  let index = 0;
  for (; index < wanted && offset + 4 <= body.byteLength; index++) {
    const length = view.getUint32(offset, true);
    const end = offset + 4 + length;
    if (end > body.byteLength) break;
    if (index >= skip) {
      try {
        const value = codec.decode(body.subarray(offset + 4, end));
        // The bus's own signals cannot be sent: a codec that returns one decoded nothing usable.
        if (value === EMPTY || value === CLOSED) errors++;
        else out.push(value);
      } catch {
        errors++;
      }
    }
    offset = end;
  }
  return errors + wanted - Math.max(index, skip);
}
