/**
 * For the `SharedBus` tests: another view of a bus's memory, as a Worker
 * gets it, and the states another thread leaves in that memory when it is
 * stopped halfway through a send or a join (preempted, or terminated),
 * written by hand. A real one is a race; these freeze the state it leaves,
 * so a test checks it every run.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SharedBus, type SharedCodec } from "../mod.ts";
import {
  ENTRY_CURSOR,
  ENTRY_STATE,
  ENTRY_WORDS,
  EPOCH,
  fullSequence,
  HEAD,
  headWord,
  mark,
  RESCAN_FLAG,
  S_CAPACITY,
  S_SLOT_BYTES,
  S_SUBSCRIBER_SLOTS,
  SLOT_HEADER,
  slotsByte,
  slotStride,
  STATUS,
  TABLE_BYTE,
  TABLE_HIGH,
} from "../src/shared/layout.ts";

/** ring.ts's status of a subscriber slot whose joiner has published its cursor but is not counted yet. */
export const JOINING = 5;

/** Another view of the same memory, as a Worker would get it (with its own codec, if given). */
export function elsewhere<T>(bus: SharedBus<T>, codec?: SharedCodec<T>): SharedBus<T> {
  return SharedBus.attach<T>(structuredClone(bus.handle), codec === undefined ? undefined : { codec });
}

/** The byte where the slot of `sequence` starts. */
function slotAt(words: Int32Array, sequence: number): number {
  const capacity = words[S_CAPACITY]!;
  const slotBytes = words[S_SLOT_BYTES]!;
  const geometry = { capacity, slotBytes, subscriberSlots: words[S_SUBSCRIBER_SLOTS]! };
  return slotsByte(geometry) + (sequence & (capacity - 1)) * slotStride(slotBytes);
}

/** Claims the next sequence number on HEAD, as a producer does first; returns it. */
function claim(words: Int32Array): number {
  const head = Atomics.load(words, HEAD);
  const sequence = fullSequence(head, Atomics.load(words, EPOCH));
  assert.equal(Atomics.compareExchange(words, HEAD, head, headWord(sequence + 1)), head, "claimed");
  return sequence;
}

/**
 * What a producer stopped between its claim and its commit leaves: the next
 * sequence number claimed on HEAD and, if `slotTaken`, its slot marked as
 * being written (whatever the slot held). Returns the number.
 */
export function claimWithoutWriting(bus: SharedBus<unknown>, slotTaken = true): number {
  const words = new Int32Array(bus.handle.buffer);
  const sequence = claim(words);
  if (slotTaken) Atomics.store(words, slotAt(words, sequence) >> 2, mark(sequence) | 1);
  return sequence;
}

/**
 * As {@linkcode claimWithoutWriting}, on a slot that must hold the previous
 * lap's value, and with the commit that producer would make: it writes
 * `value` as JSON and stores the mark.
 */
export function stallProducer<T>(bus: SharedBus<T>, value: T): { sequence: number; commit: () => void } {
  const { buffer } = bus.handle;
  const words = new Int32Array(buffer);
  const sequence = claim(words);
  const at = slotAt(words, sequence);
  const previous = mark(sequence - bus.capacity);
  assert.equal(Atomics.compareExchange(words, at >> 2, previous, mark(sequence) | 1), previous, "slot taken");
  const commit = () => {
    const payload = new TextEncoder().encode(JSON.stringify(value));
    new Float64Array(buffer)[(at >> 3) + 1] = sequence;
    new Uint8Array(buffer).set(payload, at + SLOT_HEADER);
    words[(at >> 2) + 1] = payload.length;
    Atomics.store(words, at >> 2, mark(sequence));
  };
  return { sequence, commit };
}

/**
 * Writes the next unused subscriber slot of `bus` as a joiner on another
 * thread leaves it when stopped between writing its cursor and becoming
 * active: status JOINING, cursor `position`. Returns its state word's index.
 */
export function stallJoiner<T>(bus: SharedBus<T>, position: number): number {
  const words = new Int32Array(bus.handle.buffer);
  const index = Atomics.load(words, TABLE_HIGH);
  const entry = (TABLE_BYTE >> 2) + index * ENTRY_WORDS;
  const generation = Atomics.load(words, entry + ENTRY_STATE) & ~STATUS;
  Atomics.store(words, entry + ENTRY_CURSOR, position | 0);
  Atomics.store(words, entry + ENTRY_STATE, generation | JOINING);
  Atomics.store(words, TABLE_HIGH, index + 1);
  return entry + ENTRY_STATE;
}

/**
 * As {@linkcode stallJoiner}, in subscriber slot 0 of a bus that has used
 * none, one step later: HEAD flagged, so producers look at every cursor
 * again, as a join under the gated policies does. Returns the state word's
 * index.
 */
export function joinHalfway(bus: SharedBus<unknown>, position: number): number {
  const words = new Int32Array(bus.handle.buffer);
  const entry = TABLE_BYTE >> 2;
  Atomics.store(words, entry + ENTRY_CURSOR, position);
  Atomics.store(words, entry + ENTRY_STATE, (1 << 3) | JOINING);
  Atomics.store(words, TABLE_HIGH, 1);
  Atomics.or(words, HEAD, RESCAN_FLAG);
  return entry + ENTRY_STATE;
}
