/**
 * The outbound side of a bridge: the bridge's tap on the bus hands it every
 * local send synchronously, in order, losslessly (a subscriber could be
 * lapped by a burst); it encodes each at once (so later changes to the
 * object do not leak out) and packs it into the current batch. A batch becomes one NATS
 * message once the producer goes quiet for a few microtask turns (see
 * `coalesce.ts`), or as soon as it reaches its size bound, numbered with the
 * origin's next sequence numbers.
 *
 * @module
 */

import { type Codec, createPacker, type Packer } from "./codec.ts";
import { Coalescer } from "./coalesce.ts";
import { HEADER_BYTES, type Origin, writeHeader } from "./envelope.ts";
import type { Counters } from "./stats.ts";

/** Receives each finished message and how many values it holds. */
export type Publish = (message: Uint8Array, count: number) => void;

/** Batches local sends into numbered messages. */
export class Outbox<T> {
  #packer: Packer<T>;
  #origin: Origin;
  #maxBatchBytes: number;
  #counters: Counters;
  #publish: Publish;
  #coalescer: Coalescer;
  /** The sequence number the next value gets; the first is 1. */
  #next = 1;

  constructor(
    codec: Codec<T> | undefined,
    origin: Origin,
    maxBatchBytes: number,
    counters: Counters,
    publish: Publish,
  ) {
    this.#packer = createPacker(codec);
    this.#origin = origin;
    this.#maxBatchBytes = maxBatchBytes;
    this.#counters = counters;
    this.#publish = publish;
    this.#coalescer = new Coalescer(() => this.#packer.count, () => this.flush());
  }

  /** Batches a local send. */
  add(value: T): void {
    const packer = this.#packer;
    if (!packer.add(value)) {
      this.#counters.encodeErrors++;
      return;
    }
    if (packer.bytes >= this.#maxBatchBytes) this.flush();
    else this.#coalescer.schedule();
  }

  /** Publishes the current batch, if any. */
  flush(): void {
    const packer = this.#packer;
    const count = packer.count;
    if (count === 0) return;
    const message = packer.take();
    writeHeader(message, packer.framing, this.#origin, this.#next, count);
    this.#next += count;
    this.#publish(message, count);
  }

  /**
   * A message with no values and the next sequence number: a heartbeat, or
   * with `goodbye` the last message on close.
   */
  marker(goodbye: boolean): Uint8Array {
    const message = new Uint8Array(HEADER_BYTES);
    writeHeader(message, this.#packer.framing, this.#origin, this.#next, 0, goodbye);
    return message;
  }

  /** Publishes what is batched. */
  close(): void {
    this.flush();
  }
}
