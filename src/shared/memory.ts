/**
 * Allocating and checking the shared memory of a bus: the creator writes
 * the settings and the initial marks once; a thread that attaches checks
 * them before trusting any offset.
 *
 * Internal.
 *
 * @module
 */

import {
  EPOCH,
  epochOf,
  HEAD,
  headWord,
  LAYOUT_VERSION,
  MAGIC,
  mark,
  POLICY_CODES,
  S_CAPACITY,
  S_MAGIC,
  S_ORIGIN_HIGH,
  S_ORIGIN_LOW,
  S_POLICY,
  S_RELEASE_AFTER,
  S_REPLAY,
  S_SLOT_BYTES,
  S_SUBSCRIBER_SLOTS,
  S_VERSION,
  S_WAKE_BATCH,
  slotsByte,
  slotStride,
  totalBytes,
} from "./layout.ts";
import type { ResolvedSharedBusOptions } from "./options.ts";

/**
 * What a thread needs to attach to a shared bus: the memory, and the name
 * of the codec. Plain data, so `postMessage` can send it; the memory is
 * shared, not copied.
 *
 * @example Handing a bus to a worker
 * ```ts ignore
 * import { SharedBus, type SharedBusHandle } from "@ron/bus";
 *
 * const bus = new SharedBus<number>();
 * const handle: SharedBusHandle = bus.handle;
 * new Worker(new URL("./worker.ts", import.meta.url), { type: "module" }).postMessage(handle);
 * ```
 */
export interface SharedBusHandle {
  /** The bus's memory: settings, counters, subscriber slots and the ring. */
  readonly buffer: SharedArrayBuffer;
  /** The codec, by name; `"custom"` means the attaching thread passes its own. */
  readonly codec: "json" | "string" | { readonly f64: readonly string[] } | "custom";
}

/** Throws a clear error where `SharedArrayBuffer` is missing, rather than a `ReferenceError` later. */
export function checkSharedMemory(): void {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") {
    throw new TypeError(
      "SharedArrayBuffer is not available here: browsers provide it only to cross-origin isolated pages " +
        "(serve them with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp " +
        "or credentialless)",
    );
  }
}

/** Allocates the memory of a new bus and writes its settings and initial marks. */
export function allocate(options: ResolvedSharedBusOptions<unknown>): SharedArrayBuffer {
  checkSharedMemory();
  const buffer = new SharedArrayBuffer(totalBytes(options));
  const words = new Int32Array(buffer);
  words[S_MAGIC] = MAGIC;
  words[S_VERSION] = LAYOUT_VERSION;
  words[S_CAPACITY] = options.capacity;
  words[S_SLOT_BYTES] = options.slotBytes;
  words[S_SUBSCRIBER_SLOTS] = options.subscriberSlots;
  words[S_POLICY] = POLICY_CODES[options.overflow];
  words[S_REPLAY] = options.replay ? 1 : 0;
  words[S_RELEASE_AFTER] = options.releaseAfter;
  words[S_WAKE_BATCH] = options.wakeBatch;
  startAt(buffer, 0);
  return buffer;
}

/**
 * Makes `origin` the next sequence number of a bus nobody has used: HEAD,
 * EPOCH, and each slot's mark as if it held the last value before `origin`
 * that maps to it.
 */
export function startAt(buffer: SharedArrayBuffer, origin: number): void {
  const words = new Int32Array(buffer);
  const floats = new Float64Array(buffer);
  const capacity = words[S_CAPACITY]!;
  const geometry = { capacity, slotBytes: words[S_SLOT_BYTES]!, subscriberSlots: words[S_SUBSCRIBER_SLOTS]! };
  const first = slotsByte(geometry);
  const stride = slotStride(geometry.slotBytes);
  words[S_ORIGIN_LOW] = origin | 0;
  words[S_ORIGIN_HIGH] = Math.floor(origin / 2 ** 32);
  for (let slot = 0; slot < capacity; slot++) {
    const held = origin - capacity + ((slot - origin) & (capacity - 1));
    const at = first + slot * stride;
    words[at >> 2] = mark(held);
    floats[(at >> 3) + 1] = held;
  }
  Atomics.store(words, EPOCH, epochOf(origin));
  Atomics.store(words, HEAD, headWord(origin));
}

/** Checks that `handle` is one this module made, before any offset in it is trusted. */
export function checkHandle(handle: unknown): SharedBusHandle {
  checkSharedMemory();
  const buffer = (handle as Partial<SharedBusHandle> | null)?.buffer;
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < 64) {
    throw new TypeError("Invalid handle: expected the `handle` of a SharedBus, sent as it is (it holds its memory)");
  }
  const words = new Int32Array(buffer, 0, 16);
  if (words[S_MAGIC] !== MAGIC) throw new TypeError("Invalid handle: its memory is not a SharedBus's");
  if (words[S_VERSION] !== LAYOUT_VERSION) {
    throw new TypeError(
      `Invalid handle: made by a SharedBus of layout ${words[S_VERSION]}; this one reads layout ${LAYOUT_VERSION}`,
    );
  }
  return handle as SharedBusHandle;
}
