/**
 * Options for {@linkcode Bus} and {@linkcode Bus.subscribe}, and the checks
 * that turn bad input into a clear error before anything changes.
 *
 * @module
 */

/**
 * What {@linkcode Bus.send} does when the slowest subscriber is a full ring
 * behind:
 * - `"drop-oldest"`: overwrite the oldest value; the subscriber that had not
 *   read it counts it as missed (tokio broadcast, Effect's sliding strategy).
 * - `"drop-newest"`: discard the value being sent and count it as discarded
 *   (Effect's dropping strategy).
 * - `"wait"`: lose nothing; `send` throws {@linkcode BusFullError} until
 *   {@linkcode Bus.ready} resolves (the Disruptor's backpressure).
 *
 * @example Choosing a policy
 * ```ts
 * import { Bus, type OverflowPolicy } from "@ron/bus";
 *
 * const policy: OverflowPolicy = "wait";
 * const bus = new Bus<string>({ overflow: policy });
 * ```
 */
export type OverflowPolicy = "drop-oldest" | "drop-newest" | "wait";

/**
 * How a subscriber learns that the ring overwrote values it had not read:
 * - `"skip"`: silently resume at the oldest value still held; `missed` counts
 *   the gap.
 * - `"error"`: the next read reports {@linkcode LaggedError} once, then resumes.
 *
 * @example Asking to be told
 * ```ts
 * import { Bus, type LagPolicy } from "@ron/bus";
 *
 * const lag: LagPolicy = "error";
 * const sub = new Bus<number>().subscribe({ lag });
 * ```
 */
export type LagPolicy = "skip" | "error";

/**
 * Options for a new {@linkcode Bus}.
 *
 * @example A lossless bus of 1024 values
 * ```ts
 * import { Bus, type BusOptions } from "@ron/bus";
 *
 * const options: BusOptions = { capacity: 1024, overflow: "wait" };
 * const bus = new Bus<Uint8Array>(options);
 * ```
 */
export interface BusOptions {
  /**
   * How many values the ring holds: an integer from 1 to
   * {@linkcode MAX_CAPACITY}, rounded up to a power of two. Default 256.
   */
  capacity?: number;
  /** What `send` does when the ring is full. Default `"drop-oldest"`. */
  overflow?: OverflowPolicy;
  /**
   * Keep the last `capacity` values for late subscribers that ask for
   * `from: "oldest"`, even after everyone has read them. Default `false`.
   */
  replay?: boolean;
}

/**
 * Options for {@linkcode Bus.subscribe}.
 *
 * @example Replaying what is retained, and hearing about gaps
 * ```ts
 * import { Bus, type SubscribeOptions } from "@ron/bus";
 *
 * const options: SubscribeOptions = { from: "oldest", lag: "error" };
 * const sub = new Bus<number>({ replay: true }).subscribe(options);
 * ```
 */
export interface SubscribeOptions {
  /**
   * Where reading starts: `"next"` (default), the next value sent, or
   * `"oldest"`, the oldest value still retained.
   */
  from?: "next" | "oldest";
  /** How lag is reported. Default `"skip"`. */
  lag?: LagPolicy;
}

/**
 * The largest capacity a bus accepts: 2^30 values. The ring allocates its
 * slots up front, so memory, not this limit, is the practical bound.
 *
 * @example
 * ```ts
 * import { Bus, MAX_CAPACITY } from "@ron/bus";
 *
 * console.log(new Bus({ capacity: MAX_CAPACITY }).capacity === MAX_CAPACITY); // true
 * ```
 */
export const MAX_CAPACITY: number = 2 ** 30;

const OVERFLOW_POLICIES: readonly string[] = ["drop-oldest", "drop-newest", "wait"];
const LAG_POLICIES: readonly string[] = ["skip", "error"];
const FROM_POSITIONS: readonly string[] = ["next", "oldest"];
const BUS_KEYS: readonly string[] = ["capacity", "overflow", "replay"];
const SUBSCRIBE_KEYS: readonly string[] = ["from", "lag"];

/** Bus options with every default filled in and every value checked. */
export interface ResolvedBusOptions {
  capacity: number;
  overflow: OverflowPolicy;
  replay: boolean;
}

/** Checks `new Bus(options)`; a bare number is shorthand for `{ capacity }`. */
export function resolveBusOptions(options: number | BusOptions | undefined): ResolvedBusOptions {
  if (options === undefined) return { capacity: 256, overflow: "drop-oldest", replay: false };
  // The only primitive accepted is a capacity, so a string such as "256" gets the capacity's error.
  if (typeof options !== "object" && typeof options !== "function") {
    return { capacity: checkCapacity(options), overflow: "drop-oldest", replay: false };
  }
  checkObject(options, "Bus options", BUS_KEYS);
  const { capacity = 256, overflow = "drop-oldest", replay = false } = options;
  checkChoice(overflow, "overflow", OVERFLOW_POLICIES);
  if (typeof replay !== "boolean") {
    throw new TypeError(`Invalid replay: ${describe(replay)}; expected true or false`);
  }
  return { capacity: checkCapacity(capacity), overflow, replay };
}

/** Checks `bus.subscribe(options)`. */
export function resolveSubscribeOptions(options: SubscribeOptions | undefined): Required<SubscribeOptions> {
  if (options === undefined) return { from: "next", lag: "skip" };
  checkObject(options, "Subscribe options", SUBSCRIBE_KEYS);
  const { from = "next", lag = "skip" } = options;
  checkChoice(from, "from", FROM_POSITIONS);
  checkChoice(lag, "lag", LAG_POLICIES);
  return { from, lag };
}

/** Returns the ring size for `capacity`: the next power of two. */
function checkCapacity(capacity: unknown): number {
  if (typeof capacity !== "number") {
    throw new TypeError(`Invalid capacity: ${describe(capacity)}; expected an integer from 1 to 2^30`);
  }
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(`Invalid capacity: ${describe(capacity)}; expected an integer from 1 to 2^30`);
  }
  let size = 1;
  while (size < capacity) size *= 2;
  return size;
}

function checkObject(options: unknown, what: string, known: readonly string[]): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`Invalid ${what.toLowerCase()}: ${describe(options)}; expected an object`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option in ${what.toLowerCase()}: "${key}"; expected one of ${list(known)}`);
    }
  }
}

function checkChoice(value: unknown, name: string, allowed: readonly string[]): void {
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new TypeError(`Invalid ${name}: ${describe(value)}; expected one of ${list(allowed)}`);
  }
}

function list(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(", ");
}

/** Renders a bad value for an error message: strings quoted, others as written. */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "symbol" || typeof value === "function") return String(value);
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}
