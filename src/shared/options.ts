/**
 * Options for {@linkcode SharedBus}, checked before any memory is allocated.
 *
 * @module
 */

import { type BusOptions, describe, resolveBusOptions } from "../options.ts";
import { type Coder, resolveCodec, type SharedCodecOption } from "./codec.ts";
import { type Geometry, totalBytes } from "./layout.ts";

/**
 * Options for a new {@linkcode SharedBus}: those of {@linkcode Bus}, plus
 * how values become bytes and how much room each gets.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example A lossless bus of small JSON values
 * ```ts
 * import { SharedBus, type SharedBusOptions } from "@ron/bus";
 *
 * const options: SharedBusOptions<{ id: number }> = { capacity: 1024, overflow: "wait", maxBytes: 64 };
 * const bus = new SharedBus(options);
 * console.log(bus.capacity, bus.maxBytes); // 1024 64
 * ```
 */
export interface SharedBusOptions<T> extends BusOptions {
  /**
   * How values are encoded: `"json"` (default), `"string"`,
   * `{ f64: fieldNames }` for records of numbers, or a
   * {@linkcode SharedCodec}.
   */
  codec?: SharedCodecOption<T>;
  /**
   * The most bytes one encoded value may take: each of the `capacity` slots
   * reserves this much. An integer from 1 to 2^24; default 256. For
   * `{ f64 }` records it is 8 bytes per field, and may be left out.
   */
  maxBytes?: number;
  /** How many subscribers may be subscribed at once, across every thread: 1 to 4096, default 64. */
  maxSubscribers?: number;
  /**
   * Milliseconds a subscriber may hold a full ring without reading before a
   * producer presumes its thread dead and releases it (see
   * {@linkcode SharedBusStats.released}). Default 5000; `Infinity` never
   * releases. A subscriber whose thread stopped in the middle of
   * `subscribe()` is released after this or 2 seconds, whichever is longer.
   */
  releaseAfter?: number;
  /**
   * How often a producer wakes readers asleep on other threads within one
   * task: an integer from 1 (the default: every send that finds them asleep
   * wakes them) to 2^24. Above 1, the first send of a task that finds them
   * asleep still wakes them at once, but later sends of the same task wake
   * them once per `wakeBatch`, and the task's end (a microtask) wakes them
   * for the rest: readers sleep through more of a flood and read it in
   * larger batches, for more throughput at saturation and less CPU spent
   * waking. A producer that sends several values and then blocks its thread
   * before its task ends (a long synchronous loop, `Atomics.wait`) may leave
   * readers asleep until it yields, its next `wakeBatch`-th send, or their
   * half-second timeout. Readers on the producer's own thread are woken at
   * once either way.
   */
  wakeBatch?: number;
}

/** The largest capacity of a shared bus: 2^24 slots. */
export const MAX_SHARED_CAPACITY = 2 ** 24;
const MAX_BYTES = 2 ** 24;
const MAX_SUBSCRIBERS = 4096;
const MAX_WAKE_BATCH = 2 ** 24;
const KEYS: readonly string[] = [
  "capacity",
  "overflow",
  "replay",
  "codec",
  "maxBytes",
  "maxSubscribers",
  "releaseAfter",
  "wakeBatch",
];

/** Shared bus options with every default filled in and every value checked. */
export interface ResolvedSharedBusOptions<T> extends Geometry {
  overflow: "drop-oldest" | "drop-newest" | "wait";
  replay: boolean;
  coder: Coder<T>;
  /** Milliseconds, or -1 for never. */
  releaseAfter: number;
  wakeBatch: number;
}

/** Checks `new SharedBus(options)`. */
export function resolveSharedBusOptions<T>(options: SharedBusOptions<T> | undefined): ResolvedSharedBusOptions<T> {
  if (options !== undefined && (typeof options !== "object" || options === null || Array.isArray(options))) {
    throw new TypeError(`Invalid shared bus options: ${describe(options)}; expected an object`);
  }
  const given = options ?? {};
  for (const key of Object.keys(given)) {
    if (!KEYS.includes(key)) {
      throw new TypeError(
        `Unknown option in shared bus options: "${key}"; expected one of ${KEYS.map((k) => `"${k}"`).join(", ")}`,
      );
    }
  }
  const { capacity, overflow, replay, codec, maxBytes, maxSubscribers = 64, releaseAfter = 5000, wakeBatch = 1 } =
    given;
  const bus = resolveBusOptions({
    ...(capacity === undefined ? {} : { capacity }),
    ...(overflow === undefined ? {} : { overflow }),
    ...(replay === undefined ? {} : { replay }),
  });
  if (bus.capacity > MAX_SHARED_CAPACITY) {
    throw new RangeError(`Invalid capacity: ${describe(capacity)}; a SharedBus holds at most 2^24 slots`);
  }
  const coder = resolveCodec<T>(codec);
  let slotBytes: number;
  if (coder.fixedBytes !== undefined) {
    if (maxBytes !== undefined && maxBytes !== coder.fixedBytes) {
      throw new RangeError(
        `Invalid maxBytes: ${describe(maxBytes)}; f64 records of ${
          coder.fields!.length
        } fields take ${coder.fixedBytes} bytes`,
      );
    }
    slotBytes = coder.fixedBytes;
  } else slotBytes = checkInteger(maxBytes ?? 256, "maxBytes", 1, MAX_BYTES, "1 to 2^24");
  const subscriberSlots = checkInteger(maxSubscribers, "maxSubscribers", 1, MAX_SUBSCRIBERS, "1 to 4096");
  if (typeof releaseAfter !== "number") {
    throw new TypeError(
      `Invalid releaseAfter: ${describe(releaseAfter)}; expected milliseconds, a number from 0, or Infinity`,
    );
  }
  if (Number.isNaN(releaseAfter) || releaseAfter < 0) {
    throw new RangeError(
      `Invalid releaseAfter: ${describe(releaseAfter)}; expected milliseconds, a number from 0, or Infinity`,
    );
  }
  const wakes = checkInteger(wakeBatch, "wakeBatch", 1, MAX_WAKE_BATCH, "1 to 2^24");
  const geometry = { capacity: bus.capacity, slotBytes, subscriberSlots };
  if (totalBytes(geometry) > 2 ** 31 - 1) {
    throw new RangeError(
      `Invalid capacity and maxBytes: ${bus.capacity} slots of ${slotBytes} bytes and ${subscriberSlots} subscriber ` +
        `slots need ${totalBytes(geometry)} bytes of shared memory; a SharedBus takes less than 2 GiB`,
    );
  }
  return {
    ...geometry,
    overflow: bus.overflow,
    replay: bus.replay,
    coder,
    releaseAfter: releaseAfter >= 2 ** 31 ? -1 : Math.ceil(releaseAfter),
    wakeBatch: wakes,
  };
}

function checkInteger(value: unknown, name: string, min: number, max: number, range: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`Invalid ${name}: ${describe(value)}; expected an integer ${range}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`Invalid ${name}: ${describe(value)}; expected an integer from ${range}`);
  }
  return value;
}
