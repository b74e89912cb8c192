/**
 * The envelope every bridge message carries: who sent it (a random origin id
 * per bridge), the sequence number of its first value, how many values it
 * holds and how they are framed. A fixed 24-byte binary header, because NATS
 * headers cost about twice as much per message to read.
 *
 * ```
 * offset  size  field
 *      0     1  magic 0xB5
 *      1     1  version 1
 *      2     1  framing: 0 a JSON array, a value per line; 1 length-prefixed bytes
 *      3     1  flags: 1 goodbye (the origin closed), else 0
 *      4     8  origin id, two little-endian u32 (low word first)
 *     12     8  sequence number of the first value, little-endian float64
 *     20     4  value count, little-endian u32
 *     24     -  the values
 * ```
 *
 * A message with a count of 0 carries only the origin's next sequence
 * number: a heartbeat while the origin is idle, or, with the goodbye flag,
 * its last word on close. Either lets a receiver count values lost at the
 * end of a burst without waiting for the next one.
 *
 * @module
 */

/** Bytes before the first value. */
export const HEADER_BYTES = 24;

const MAGIC = 0xb5;
const VERSION = 1;

/** A UTF-8 JSON array with one value per line (JSON.stringify never emits a raw newline). */
export const JSON_LIST = 0;
/** Each value as a u32 little-endian byte length, then the bytes. */
export const LENGTH_PREFIXED = 1;
/** How the values after the header are laid out. */
export type Framing = typeof JSON_LIST | typeof LENGTH_PREFIXED;

/** A bridge's identity on the wire: 64 random bits, and the number a receiver keys its map with. */
export interface Origin {
  low: number;
  high: number;
  /** 53 of the 64 bits, as one number: a cheap map key. */
  key: number;
  /** The 64 bits in hexadecimal, for people. */
  hex: string;
}

/** Draws a random origin id with `crypto.getRandomValues`. */
export function randomOrigin(): Origin {
  const [low = 0, high = 0] = crypto.getRandomValues(new Uint32Array(2));
  return originOf(low, high);
}

/** The origin with these two words. */
export function originOf(low: number, high: number): Origin {
  const hex = high.toString(16).padStart(8, "0") + low.toString(16).padStart(8, "0");
  return { low, high, key: originKey(low, high), hex };
}

/** The map key of an origin: its low word and 21 bits of its high word. */
export function originKey(low: number, high: number): number {
  return (high & 0x1fffff) * 0x1_0000_0000 + low;
}

/** Writes a header at the start of `bytes`. */
export function writeHeader(
  bytes: Uint8Array,
  framing: Framing,
  origin: Origin,
  first: number,
  count: number,
  goodbye = false,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  view.setUint32(0, MAGIC | VERSION << 8 | framing << 16 | (goodbye ? 1 : 0) << 24, true);
  view.setUint32(4, origin.low, true);
  view.setUint32(8, origin.high, true);
  view.setFloat64(12, first, true);
  view.setUint32(20, count, true);
}

/** A header as read back; `undefined` from {@linkcode readHeader} when the bytes are not one. */
export interface Header {
  framing: Framing;
  originKey: number;
  first: number;
  count: number;
  goodbye: boolean;
}

/**
 * Reads the header of a message, or returns `undefined` if it is too short,
 * has the wrong magic or version, an unknown framing, or a first sequence
 * number that is not a non-negative integer.
 */
export function readHeader(bytes: Uint8Array, into: Header): Header | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const tag = view.getUint32(0, true);
  const framing = tag >>> 16 & 0xff;
  if ((tag & 0xffff) !== (MAGIC | VERSION << 8) || framing > LENGTH_PREFIXED) return undefined;
  const first = view.getFloat64(12, true);
  if (!Number.isSafeInteger(first) || first < 0) return undefined;
  into.framing = framing as Framing;
  into.originKey = originKey(view.getUint32(4, true), view.getUint32(8, true));
  into.first = first;
  into.count = view.getUint32(20, true);
  into.goodbye = tag >>> 24 === 1;
  return into;
}
