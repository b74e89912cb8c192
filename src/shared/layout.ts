/**
 * The memory layout of a shared bus: where each word lives in the
 * `SharedArrayBuffer`, and how 53-bit sequence numbers are kept in 32-bit
 * words that wrap.
 *
 * ```text
 * bytes 0..63      settings, written once by the creator: magic, version, capacity, slot bytes,
 *                  subscriber slots, policy, replay, release delay, first sequence number, and
 *                  the closed flag, written once more at close
 * bytes 64..127    HEAD: the next sequence number to claim, with the closed and rescan flags
 * bytes 128..191   EPOCH (how many 2^29-blocks of sequence numbers are complete), SUBSCRIBERS,
 *                  TABLE_HIGH (one past the highest subscriber slot taken)
 * bytes 192..255   READERS_ASLEEP, DATA_SIGNAL: whether readers may be asleep, and the word they sleep on
 * bytes 256..319   PRODUCERS_ASLEEP, ROOM_SIGNAL: the same for producers waiting for room
 * bytes 320..383   counters as 64-bit integers: dropped, discarded, blocked, released
 * then             one 64-byte line per subscriber slot: state (generation and status), cursor
 * then             `capacity` slots of SLOT_HEADER + slotBytes bytes each
 * ```
 *
 * Hot words sit on lines of their own, so a producer claiming sequence
 * numbers does not slow readers that sleep or count.
 *
 * **Sequence numbers.** Values are numbered from 0 (or from the test hook's
 * start) up to 2^53, as in `Bus`. Shared words hold them modulo a power of
 * two, and a reader rebuilds the full number:
 *
 * - HEAD holds the next number modulo 2^30 in its upper 30 bits, so claiming
 *   is one compare-and-swap that also sees the flags. EPOCH counts the
 *   2^29-blocks already claimed in full; the producer that claims the last
 *   number of a block adds 1 to it after its claim. EPOCH therefore lags by at
 *   most one block, the true number lies in `[EPOCH * 2^29, EPOCH * 2^29 +
 *   2^30)`, and the 30 low bits pick the one number in that window
 *   ({@linkcode fullSequence}). Both words are read with no lock and no
 *   retry, EPOCH first, so the HEAD read after it is at most a block ahead.
 * - A slot's mark is twice the number it holds, modulo 2^32, plus 1 while it
 *   is being written: a seqlock whose even value says which value is there.
 *   Readers compare marks by their signed difference, exact within 2^30 of
 *   their position; the slot also keeps the full number as a float64, which
 *   a reader checks after copying, so a reader more than 2^30 values behind
 *   cannot mistake a newer lap for its own.
 * - A subscriber publishes its position modulo 2^32 for producers to gate
 *   on; under the gated policies no subscriber is more than `capacity` (at
 *   most 2^24) behind, so the difference is exact.
 *
 * Internal: {@linkcode SharedBus} is the public face.
 *
 * @module
 */

/** Identifies a buffer made by this module, and its layout version. */
export const MAGIC = 0x52424d53; // "RBMS"
export const LAYOUT_VERSION = 1;

// Settings (Int32 indices), written once before the buffer is shared.
export const S_MAGIC = 0;
export const S_VERSION = 1;
export const S_CAPACITY = 2;
export const S_SLOT_BYTES = 3;
export const S_SUBSCRIBER_SLOTS = 4;
export const S_POLICY = 5;
export const S_REPLAY = 6;
/** Milliseconds, or -1 for never. */
export const S_RELEASE_AFTER = 7;
/** The first sequence number, in two halves (low 32 bits, then the rest). */
export const S_ORIGIN_LOW = 8;
export const S_ORIGIN_HIGH = 9;
/**
 * 1 once the bus is closed. HEAD's flag is what stops claims; this copy sits
 * on a line nobody writes until then, so a reader can look at it after every
 * read without contending with producers.
 */
export const S_CLOSED = 10;
/** The `wakeBatch` option: how often a task's sends wake sleeping readers (see `ring.ts`). 0 means 1. */
export const S_WAKE_BATCH = 11;

// Live words (Int32 indices), each group on a 64-byte line of its own.
export const HEAD = 16;
export const EPOCH = 32;
export const SUBSCRIBERS = 33;
/** One past the highest subscriber slot ever taken, so producers scan no further. */
export const TABLE_HIGH = 34;
/** Flags, not counts: set by a sleeper, cleared by the waker that notifies (see `wake.ts`). */
export const READERS_ASLEEP = 48;
export const DATA_SIGNAL = 49;
export const PRODUCERS_ASLEEP = 64;
export const ROOM_SIGNAL = 65;

/** Counters (BigInt64 indices), 64-bit so they never wrap. */
export const COUNTERS_BYTE = 320;
export const DROPPED = 0;
export const DISCARDED = 1;
export const BLOCKED = 2;
export const RELEASED = 3;

export const TABLE_BYTE = 384;
/** Bytes per subscriber slot: a cache line each, as each is written by its own reader. */
export const ENTRY_BYTES = 64;
export const ENTRY_WORDS = ENTRY_BYTES / 4;
/** Word offsets inside a subscriber slot. */
export const ENTRY_STATE = 0;
export const ENTRY_CURSOR = 1;

/** Subscriber slot status, the low 3 bits of its state word; the rest is a generation. */
export const STATUS = 7;
export const FREE = 0;
export const ACTIVE = 1;
/** Released by a producer as presumed dead; freed by its reader if it turns out alive. */
export const RELEASED_SLOT = 2;

/** HEAD flags: the bus is closed; a subscriber joined, so producers must look at every cursor again. */
export const CLOSED_FLAG = 2;
export const RESCAN_FLAG = 1;
/** What one claim adds to HEAD. */
export const CLAIM = 4;

/**
 * Bytes before a slot's payload: its mark (int32), the payload length
 * (int32), and the full sequence number (float64).
 */
export const SLOT_HEADER = 16;

export const POLICY_CODES = { "drop-oldest": 0, "drop-newest": 1, "wait": 2 } as const;
export const DROP_OLDEST = 0;
export const DROP_NEWEST = 1;
export const WAIT = 2;

const BLOCK = 2 ** 29;
const LOW_MASK = 2 ** 30 - 1;

/** The full number HEAD stands for, given EPOCH; see the module doc. */
export function fullSequence(head: number, epoch: number): number {
  return epoch * BLOCK + (((head >>> 2) - ((epoch & 1) << 29)) & LOW_MASK);
}

/** HEAD for sequence number `sequence`, no flags. */
export function headWord(sequence: number): number {
  return (sequence | 0) << 2;
}

/** Whether claiming `sequence` completes a 2^29-block, so EPOCH must move on. */
export function endsBlock(sequence: number): boolean {
  return ((sequence + 1) & (BLOCK - 1)) === 0;
}

/** EPOCH when the next number to claim is `sequence`. */
export function epochOf(sequence: number): number {
  return Math.floor(sequence / BLOCK);
}

/** A slot's mark once it holds `sequence`; add 1 while it is being written. */
export function mark(sequence: number): number {
  return (sequence | 0) << 1;
}

/**
 * How many sequence numbers separate the value a slot's mark names from
 * `position` (positive: a later lap overwrote it), exact within 2^30.
 */
export function lapDistance(slotMark: number, position: number): number {
  return (((slotMark & ~1) - ((position | 0) << 1)) | 0) >> 1;
}

/** The sizes of one shared bus, as the settings words hold them. */
export interface Geometry {
  capacity: number;
  slotBytes: number;
  subscriberSlots: number;
}

/** Bytes of one slot: header plus payload, a multiple of 8 so float64 views line up. */
export function slotStride(slotBytes: number): number {
  return SLOT_HEADER + Math.ceil(slotBytes / 8) * 8;
}

export function slotsByte(geometry: Geometry): number {
  return TABLE_BYTE + geometry.subscriberSlots * ENTRY_BYTES;
}

export function totalBytes(geometry: Geometry): number {
  return slotsByte(geometry) + geometry.capacity * slotStride(geometry.slotBytes);
}
