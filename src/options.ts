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
   * Where reading starts: `"next"` (default), the next value sent;
   * `"oldest"`, the oldest value still retained; or a sequence number (see
   * {@linkcode Subscriber.position}), from 0 to `stats().sent`.
   */
  from?: "next" | "oldest" | number;
  /** How lag is reported. Default `"skip"`. */
  lag?: LagPolicy;
}

/**
 * Options for {@linkcode Bus.write}.
 *
 * @example Giving up a write that waits too long
 * ```ts
 * import { Bus, type WriteOptions } from "@ron/bus";
 *
 * const bus = new Bus<number>({ capacity: 1, overflow: "wait" });
 * bus.subscribe();
 * bus.send(1); // the subscriber never reads, so the next write waits
 * const options: WriteOptions = { signal: AbortSignal.timeout(10) };
 * await bus.write(2, options).catch((error) => console.log(error.name)); // "TimeoutError"
 * ```
 */
export interface WriteOptions {
  /** Aborting it gives the write up while it waits for room; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Options for {@linkcode Subscriber.stream}.
 *
 * @example A stream that reads up to 64 values ahead
 * ```ts
 * import { Bus, type StreamOptions } from "@ron/bus";
 *
 * const options: StreamOptions = { highWaterMark: 64 };
 * const stream = new Bus<number>().subscribe().stream(options);
 * ```
 */
export interface StreamOptions {
  /** How many values the stream may take ahead of its reader: a non-negative integer. Default 0. */
  highWaterMark?: number;
}

/**
 * The largest capacity a bus accepts: 2^24 values. A ring allocates its
 * slots and a histogram of twice as many counters on the first subscribe,
 * and engines cap array sizes near 2^27 (V8 aborts the process beyond), so
 * this leaves room; memory is the practical bound well before it.
 *
 * @example
 * ```ts
 * import { Bus, MAX_CAPACITY } from "@ron/bus";
 *
 * console.log(new Bus({ capacity: MAX_CAPACITY }).capacity === MAX_CAPACITY); // true
 * ```
 */
export const MAX_CAPACITY: number = 2 ** 24;

const OVERFLOW_POLICIES: readonly string[] = ["drop-oldest", "drop-newest", "wait"];
const LAG_POLICIES: readonly string[] = ["skip", "error"];
const FROM_POSITIONS: readonly string[] = ["next", "oldest"];
const BUS_KEYS: readonly string[] = ["capacity", "overflow", "replay"];
const SUBSCRIBE_KEYS: readonly string[] = ["from", "lag"];
const WRITE_KEYS: readonly string[] = ["signal"];
const STREAM_KEYS: readonly string[] = ["highWaterMark"];

/** Bus options with every default filled in and every value checked. */
export interface ResolvedBusOptions {
  capacity: number;
  overflow: OverflowPolicy;
  replay: boolean;
}

/*
 * One rule for every options object: it is read as a spread would read it,
 * own enumerable properties only. Inherited and non-enumerable properties
 * are ignored both as values and as unknown names, and `undefined` means
 * the default.
 */

/** Checks `new Bus(options)`; a bare number is shorthand for `{ capacity }`. */
export function resolveBusOptions(options: number | BusOptions | undefined): ResolvedBusOptions {
  if (options === undefined) return { capacity: 256, overflow: "drop-oldest", replay: false };
  // The only primitive accepted is a capacity, so "256", or a boxed 256, gets the capacity's error; a function is
  // neither, and gets the options' error.
  if ((typeof options !== "object" && typeof options !== "function") || isBoxed(options)) {
    return { capacity: checkCapacity(options), overflow: "drop-oldest", replay: false };
  }
  const own = ownOptions(options, "bus options", BUS_KEYS);
  const { capacity = 256, overflow = "drop-oldest", replay = false } = own as BusOptions;
  checkChoice(overflow, "overflow", OVERFLOW_POLICIES);
  if (typeof replay !== "boolean") {
    throw new TypeError(`Invalid replay: ${describe(replay)}; expected true or false`);
  }
  return { capacity: checkCapacity(capacity), overflow, replay };
}

/** Checks `bus.subscribe(options)`; a numeric `from` is checked against the bus by {@linkcode checkFrom}. */
export function resolveSubscribeOptions(options: SubscribeOptions | undefined): Required<SubscribeOptions> {
  if (options === undefined) return { from: "next", lag: "skip" };
  const own = ownOptions(options, "subscribe options", SUBSCRIBE_KEYS);
  const { from = "next", lag = "skip" } = own as SubscribeOptions;
  if (typeof from !== "number") checkChoice(from, "from", FROM_POSITIONS, " or a sequence number");
  checkChoice(lag, "lag", LAG_POLICIES);
  return { from, lag };
}

/** Checks a numeric `from` against `next`, the sequence number the bus gives next. */
export function checkFrom(from: number, next: number): void {
  if (!Number.isInteger(from) || from < 0 || from > next) {
    throw new RangeError(
      `Invalid from: ${
        describe(from)
      }; expected "next", "oldest" or a sequence number from 0 to ${next} (the next one)`,
    );
  }
}

/** Checks `bus.write(value, options)` and returns its signal. */
export function resolveWriteOptions(options: WriteOptions | undefined): AbortSignal | undefined {
  if (options === undefined) return undefined;
  const { signal } = ownOptions(options, "write options", WRITE_KEYS) as WriteOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Invalid signal: ${describe(signal)}; expected an AbortSignal`);
  }
  return signal;
}

/** Checks `sub.stream(options)` and returns its high-water mark. */
export function resolveStreamOptions(options: StreamOptions | undefined): number {
  if (options === undefined) return 0;
  const { highWaterMark = 0 } = ownOptions(options, "stream options", STREAM_KEYS) as StreamOptions;
  if (typeof highWaterMark !== "number") {
    throw new TypeError(`Invalid highWaterMark: ${describe(highWaterMark)}; expected a non-negative integer`);
  }
  if (!Number.isInteger(highWaterMark) || highWaterMark < 0) {
    throw new RangeError(`Invalid highWaterMark: ${describe(highWaterMark)}; expected a non-negative integer`);
  }
  return highWaterMark;
}

/** Returns the ring size for `capacity`: the next power of two. */
function checkCapacity(capacity: unknown): number {
  if (typeof capacity !== "number") {
    throw new TypeError(`Invalid capacity: ${describe(capacity)}; expected an integer from 1 to 2^24`);
  }
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_CAPACITY) {
    throw new RangeError(`Invalid capacity: ${describe(capacity)}; expected an integer from 1 to 2^24`);
  }
  let size = 1;
  while (size < capacity) size *= 2;
  return size;
}

/**
 * An options object's own enumerable properties, once each name has been
 * checked: the one rule every options object of the package is read by.
 * `what` names the object in errors, as in "Invalid bus options".
 */
export function ownOptions(options: unknown, what: string, known: readonly string[]): Record<string, unknown> {
  if (typeof options !== "object" || options === null || Array.isArray(options) || isBoxed(options)) {
    throw new TypeError(`Invalid ${what}: ${describe(options)}; expected an object`);
  }
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option in ${what}: "${key}"; expected one of ${list(known)}`);
    }
    own[key] = (options as Record<string, unknown>)[key];
  }
  return own;
}

function isBoxed(value: object): boolean {
  return value instanceof Number || value instanceof String || value instanceof Boolean;
}

function checkChoice(value: unknown, name: string, allowed: readonly string[], more = ""): void {
  if (typeof value !== "string" || !allowed.includes(value)) {
    throw new TypeError(`Invalid ${name}: ${describe(value)}; expected one of ${list(allowed)}${more}`);
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
  if (value !== null && typeof value === "object") {
    return isBoxed(value) ? `a boxed ${typeof value.valueOf()} (${describe(value.valueOf())})` : "an object";
  }
  return String(value);
}
