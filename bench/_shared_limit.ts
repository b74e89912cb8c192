/**
 * The shared "limit": a minimal ring of four-number records in a
 * `SharedArrayBuffer`, one producer, read from workers. It is to `SharedBus`
 * what `_limit.ts` is to `Bus`: a yardstick measured in the same run, the
 * practical ceiling of the hardware and the engine for this traffic, not a
 * competitor.
 *
 * It keeps what any such ring must pay: a store of the tail per send (one
 * atomic operation, which is what makes the value visible to other threads),
 * each reader's position published once per batch, a producer that never
 * overwrites a value a reader has not read (as `"wait"` does), a record made
 * per value on the reading side (as `SharedBus` decodes one), and the same
 * wake-up protocol (a sleeper sets a flag, a waker that finds it set clears
 * it and notifies), so both pay alike to sleep.
 *
 * It leaves out everything else: several producers (the bus claims each
 * number with a compare-and-swap and takes each slot with another), torn-read
 * checks (one producer that never overwrites an unread value cannot tear a
 * read; the bus checks each slot's mark before and after copying), positions
 * past 2^31, lag counting, joining and leaving while it runs, liveness, and
 * codecs. No input checks.
 *
 * Like the bus, it does not trust a wake-up to arrive: a reader asleep for
 * a quarter of a second notifies its own signal word, and says so on
 * stderr (a `waitAsync` that was never woken hung this benchmark once on
 * Deno before it did).
 *
 * @module
 */

/** Word indices; each group on a 64-byte line of its own, as in the bus's layout. */
const HEAD = 0;
const CLOSED = 16;
const READERS_ASLEEP = 32;
const DATA_SIGNAL = 33;
const PRODUCER_ASLEEP = 48;
const ROOM_SIGNAL = 49;
const CURSORS = 64;
const CURSOR_WORDS = 16;
const FIELDS = 4;

/** What a worker needs to read a ring: structured-cloneable. */
export interface LimitSharedHandle {
  buffer: SharedArrayBuffer;
  capacity: number;
  readers: number;
}

/** One value: the fields `bench/shared.ts` sends. */
export interface LimitTick {
  a: number;
  b: number;
  c: number;
  t: number;
}

type WaitAsync = (words: Int32Array, index: number, value: number) => { async: boolean; value: unknown };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

function wake(words: Int32Array, asleep: number, signal: number): void {
  if (Atomics.load(words, asleep) !== 0 && Atomics.exchange(words, asleep, 0) !== 0) {
    Atomics.add(words, signal, 1);
    Atomics.notify(words, signal);
  }
}

/** How long a sleep may last before the sleeper wakes itself (ms). */
const RESCUE_AFTER = 250;

/** Threads' sleeps in progress, by signal word, for the rescue timer: the time each began. */
const sleeping = new Map<Int32Array, { signal: number; since: number }[]>();
let rescuer: ReturnType<typeof setInterval> | undefined;

/** Sleeps until `signal` moves, unless `ready()` turns true once this thread is flagged asleep. */
async function sleep(words: Int32Array, asleep: number, signal: number, ready: () => boolean): Promise<void> {
  Atomics.store(words, asleep, 1);
  const seen = Atomics.load(words, signal);
  if (ready()) return;
  if (waitAsync === undefined) return await new Promise((resolve) => setTimeout(resolve, 1));
  const result = waitAsync(words, signal, seen);
  if (!result.async) return;
  const entry = { signal, since: performance.now() };
  const list = sleeping.get(words) ?? [];
  sleeping.set(words, list);
  list.push(entry);
  rescuer ??= setInterval(rescue, RESCUE_AFTER);
  await result.value;
  list.splice(list.indexOf(entry), 1);
  if (list.length === 0) sleeping.delete(words);
  if (sleeping.size === 0) {
    clearInterval(rescuer);
    rescuer = undefined;
  }
}

function rescue(): void {
  const now = performance.now();
  for (const [words, list] of sleeping) {
    for (const { signal, since } of list) {
      if (now - since < RESCUE_AFTER) continue;
      console.error(`limit ring: a sleep on word ${signal} went ${Math.round(now - since)} ms without a wake-up`);
      Atomics.notify(words, signal);
    }
  }
}

function views(handle: LimitSharedHandle): { words: Int32Array; floats: Float64Array } {
  const headerWords = CURSORS + CURSOR_WORDS * handle.readers;
  return {
    words: new Int32Array(handle.buffer, 0, headerWords),
    floats: new Float64Array(handle.buffer, 4 * headerWords, FIELDS * handle.capacity),
  };
}

/** The producer's side. `capacity` is a power of two; `readers` must all attach before it fills. */
export class LimitSharedRing {
  readonly handle: LimitSharedHandle;
  readonly #words: Int32Array;
  readonly #floats: Float64Array;
  readonly #capacity: number;
  readonly #mask: number;
  #tail = 0;
  /** The slowest reader's position when last looked at. */
  #floor = 0;

  constructor(capacity: number, readers: number) {
    const buffer = new SharedArrayBuffer(4 * (CURSORS + CURSOR_WORDS * readers) + 8 * FIELDS * capacity);
    this.handle = { buffer, capacity, readers };
    ({ words: this.#words, floats: this.#floats } = views(this.handle));
    this.#capacity = capacity;
    this.#mask = capacity - 1;
  }

  /** Sends `tick`, or returns false, sending nothing, while the slowest reader is a whole ring behind. */
  trySend(tick: LimitTick): boolean {
    const tail = this.#tail;
    if (tail - this.#floor >= this.#capacity && tail - (this.#floor = this.#slowest()) >= this.#capacity) return false;
    const floats = this.#floats;
    const at = (tail & this.#mask) * FIELDS;
    floats[at] = tick.a;
    floats[at + 1] = tick.b;
    floats[at + 2] = tick.c;
    floats[at + 3] = tick.t;
    this.#tail = tail + 1;
    Atomics.store(this.#words, HEAD, tail + 1);
    wake(this.#words, READERS_ASLEEP, DATA_SIGNAL);
    return true;
  }

  /** Resolves once a reader has moved on, or at once if there is room. */
  room(): Promise<void> {
    return sleep(this.#words, PRODUCER_ASLEEP, ROOM_SIGNAL, () => this.#tail - this.#slowest() < this.#capacity);
  }

  /** Readers end once they have read everything sent. */
  close(): void {
    Atomics.store(this.#words, CLOSED, 1);
    Atomics.add(this.#words, DATA_SIGNAL, 1);
    Atomics.notify(this.#words, DATA_SIGNAL);
  }

  #slowest(): number {
    const words = this.#words;
    let slowest = this.#tail;
    for (let i = 0; i < this.handle.readers; i++) {
      slowest = Math.min(slowest, Atomics.load(words, CURSORS + i * CURSOR_WORDS));
    }
    return slowest;
  }
}

/** One reader, in any thread: `while (await reader.wait()) reader.drain(fn)`. */
export class LimitSharedReader {
  readonly #words: Int32Array;
  readonly #floats: Float64Array;
  readonly #mask: number;
  readonly #cursor: number;
  #position = 0;

  constructor(handle: LimitSharedHandle, index: number) {
    ({ words: this.#words, floats: this.#floats } = views(handle));
    this.#mask = handle.capacity - 1;
    this.#cursor = CURSORS + index * CURSOR_WORDS;
  }

  /** Hands every value sent so far to `fn`, then publishes how far it read. */
  drain(fn: (tick: LimitTick) => void): number {
    const words = this.#words;
    const floats = this.#floats;
    const mask = this.#mask;
    const head = Atomics.load(words, HEAD);
    const start = this.#position;
    for (let position = start; position < head; position++) {
      const at = (position & mask) * FIELDS;
      fn({ a: floats[at]!, b: floats[at + 1]!, c: floats[at + 2]!, t: floats[at + 3]! });
    }
    this.#position = head;
    Atomics.store(words, this.#cursor, head);
    wake(words, PRODUCER_ASLEEP, ROOM_SIGNAL);
    return head - start;
  }

  /** Resolves true once there is a value to read, false once the ring is closed and read to the end. */
  async wait(): Promise<boolean> {
    const words = this.#words;
    const readable = () => Atomics.load(words, HEAD) !== this.#position;
    for (;;) {
      if (readable()) return true;
      if (Atomics.load(words, CLOSED) !== 0) return readable();
      await sleep(words, READERS_ASLEEP, DATA_SIGNAL, () => readable() || Atomics.load(words, CLOSED) !== 0);
    }
  }
}
