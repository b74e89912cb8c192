/**
 * Options for {@linkcode bridge} and {@linkcode bridgeJetStream}, and the
 * checks that turn bad input into a clear error before anything connects.
 *
 * @module
 */

import { describe } from "../options.ts";
import type { Codec } from "./codec.ts";

/**
 * Options for {@linkcode bridge}, the core NATS bridge.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import type { BridgeOptions } from "@ron/bus/nats";
 *
 * const options: BridgeOptions<{ price: number }> = { subject: "ticks", maxBatchBytes: 16_384 };
 * ```
 */
export interface BridgeOptions<T> {
  /** The NATS subject to publish on and subscribe to; no wildcards. */
  subject: string;
  /** How values become bytes. Default: JSON. Every bridge on the subject must use the same. */
  codec?: Codec<T>;
  /**
   * A batch is published as soon as its values take this many bytes (and at
   * the end of every microtask turn in any case). `0` publishes each value
   * on its own. Default 65,536; keep it under the server's `max_payload`.
   */
  maxBatchBytes?: number;
  /**
   * How many values from NATS may wait for room in a `"wait"` bus; beyond
   * it they are dropped and counted in `stats().overflowed`. Default 65,536.
   */
  maxQueued?: number;
  /**
   * Milliseconds of silence after which the bridge publishes an empty
   * message carrying its next sequence number, so receivers count values
   * lost at the end of a burst. `0` turns heartbeats off. Default 1,000.
   */
  heartbeat?: number;
  /**
   * Milliseconds after which a receiver forgets an origin it has not heard
   * from (its count restarts if it speaks again). Default 60,000.
   */
  forgetAfter?: number;
}

/**
 * Where a JetStream bridge starts reading its stream: `"next"`, the first
 * message published after the bridge starts; `"oldest"`, the oldest message
 * the stream holds; or a stream sequence number.
 *
 * @example
 * ```ts
 * import type { StartPosition } from "@ron/bus/nats";
 *
 * const resume: StartPosition = 1042; // the sequence after the last one processed
 * ```
 */
export type StartPosition = "next" | "oldest" | number;

/**
 * Options for {@linkcode bridgeJetStream}.
 *
 * @typeParam T The type of the values on the bus.
 *
 * @example
 * ```ts
 * import type { JetStreamBridgeOptions } from "@ron/bus/nats";
 *
 * const options: JetStreamBridgeOptions<{ price: number }> = { stream: "TICKS", subject: "ticks", start: "oldest" };
 * ```
 */
export interface JetStreamBridgeOptions<T> {
  /** The stream: it must hold exactly one subject, `subject`, so its sequence numbers count values. */
  stream: string;
  /** The subject to publish on and read. */
  subject: string;
  /** Where to start reading. Default `"next"`. */
  start?: StartPosition;
  /** How values become bytes. Default: JSON. */
  codec?: Codec<T>;
  /**
   * How many publishes may await their acknowledgement at once. Default 64,
   * which published as fast as 256 or faster in `bench/nats.ts`.
   */
  window?: number;
  /**
   * How many values may wait in each direction: from NATS for room in a
   * `"wait"` bus (beyond it counted in `stats().overflowed`), and local
   * values for a place in the window (beyond it counted in
   * `stats().publishOverflowed`). Default 65,536.
   */
  maxQueued?: number;
}

/** Core bridge options with every default filled in and every value checked. */
export type ResolvedBridgeOptions<T> = Required<Omit<BridgeOptions<T>, "codec">> & { codec: Codec<T> | undefined };

/** JetStream bridge options with every default filled in and every value checked. */
export type ResolvedJetStreamBridgeOptions<T> = Required<Omit<JetStreamBridgeOptions<T>, "codec">> & {
  codec: Codec<T> | undefined;
};

const BRIDGE_KEYS = ["subject", "codec", "maxBatchBytes", "maxQueued", "heartbeat", "forgetAfter"];
const JETSTREAM_KEYS = ["stream", "subject", "start", "codec", "window", "maxQueued"];

/** Checks the options of {@linkcode bridge}. */
export function resolveBridgeOptions<T>(options: BridgeOptions<T>): ResolvedBridgeOptions<T> {
  checkObject(options, "bridge options", BRIDGE_KEYS);
  const { maxBatchBytes = 65_536, maxQueued = 65_536, heartbeat = 1_000, forgetAfter = 60_000 } = options;
  return {
    subject: checkSubject(options.subject),
    codec: checkCodec(options.codec),
    maxBatchBytes: checkInteger(maxBatchBytes, "maxBatchBytes", 0),
    maxQueued: checkInteger(maxQueued, "maxQueued", 1),
    heartbeat: checkInteger(heartbeat, "heartbeat", 0),
    forgetAfter: checkInteger(forgetAfter, "forgetAfter", 1),
  };
}

/** Checks the options of {@linkcode bridgeJetStream}. */
export function resolveJetStreamBridgeOptions<T>(
  options: JetStreamBridgeOptions<T>,
): ResolvedJetStreamBridgeOptions<T> {
  checkObject(options, "JetStream bridge options", JETSTREAM_KEYS);
  const { start = "next", window = 64, maxQueued = 65_536 } = options;
  if (typeof options.stream !== "string" || !/^[^\s.*>/\\]+$/.test(options.stream)) {
    throw new TypeError(`Invalid stream: ${describe(options.stream)}; expected a stream name such as "TICKS"`);
  }
  if (typeof start === "number" ? !Number.isSafeInteger(start) || start < 1 : start !== "next" && start !== "oldest") {
    const Error = typeof start === "number" ? RangeError : TypeError;
    throw new Error(`Invalid start: ${describe(start)}; expected "next", "oldest" or a sequence number from 1`);
  }
  return {
    stream: options.stream,
    subject: checkSubject(options.subject),
    start,
    codec: checkCodec(options.codec),
    window: checkInteger(window, "window", 1),
    maxQueued: checkInteger(maxQueued, "maxQueued", 1),
  };
}

/** Checks that `bus` is a bus: something with `tap`, `send` and `subscribe`. */
export function checkBus(bus: unknown): void {
  const candidate = bus as { tap?: unknown; send?: unknown; subscribe?: unknown } | null;
  if (
    typeof candidate?.tap !== "function" || typeof candidate.send !== "function" ||
    typeof candidate.subscribe !== "function"
  ) {
    throw new TypeError(`Invalid bus: ${describe(bus)}; expected a Bus from @ron/bus`);
  }
}

function checkObject(options: unknown, what: string, known: readonly string[]): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`Invalid ${what}: ${describe(options)}; expected an object with a subject`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `Unknown option in ${what}: "${key}"; expected one of ${known.map((k) => `"${k}"`).join(", ")}`,
      );
    }
  }
}

function checkSubject(subject: unknown): string {
  if (typeof subject !== "string" || !/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(subject)) {
    throw new TypeError(
      `Invalid subject: ${describe(subject)}; expected a NATS subject without wildcards, such as "ticks"`,
    );
  }
  return subject;
}

function checkCodec<T>(codec: unknown): Codec<T> | undefined {
  if (codec === undefined) return undefined;
  const candidate = codec as Partial<Codec<T>> | null;
  if (typeof candidate?.encode !== "function" || typeof candidate.decode !== "function") {
    throw new TypeError(`Invalid codec: ${describe(codec)}; expected an object with encode and decode functions`);
  }
  return candidate as Codec<T>;
}

function checkInteger(value: unknown, name: string, min: number): number {
  if (typeof value !== "number") {
    throw new TypeError(`Invalid ${name}: ${describe(value)}; expected an integer from ${min}`);
  }
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Invalid ${name}: ${describe(value)}; expected an integer from ${min}`);
  }
  return value;
}
