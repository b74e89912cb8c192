/**
 * The model-based property test, for any bus with `Bus`'s surface: random
 * sequences of commands run against a real bus and against the reference
 * model in `_model.ts`, under each overflow policy, with and without replay,
 * at capacities 1, 2, 3 (4) and 8, with sequence numbers starting at 0, just
 * below 2^31 and just below 2^32. The commands: send, whose value may carry
 * a `then` getter that calls back into the bus when `recv()` resolves with
 * it (where the bus hands over the very values sent); write, which waits its
 * turn under "wait"; subscribe (`from` next, oldest or a sequence number,
 * `lag` skip or error); tryRecv; drain, with or without `max`, whose
 * callback may throw or call back into the bus; wait, recv and read, which
 * may park; unsubscribe by close, `using`, cancel or releaseLock; bus.close;
 * and bus.ready.
 *
 * After every command both must agree on everything observable: each value,
 * symbol and error (with `LaggedError.missed`), how every parked read,
 * write and `bus.ready` settled, `sub.missed`, `sub.position`, `sub.closed`,
 * `bus.stats()`, `subscriberCount` and `closed`. The accounting laws of the
 * reliability issue are checked on the real bus alone: `dropped` is the sum
 * of `missed`, no value arrives twice and each was taken by the bus,
 * nothing is missed under "wait" and "drop-newest", and `received + missed`
 * is what was sent while subscribed.
 *
 * A test file describes its bus with a {@linkcode ModelTarget} and calls
 * {@linkcode describeModel}. A failure prints fast-check's seed and path;
 * pass them back as `fc.assert(..., { seed, path })` to replay it.
 *
 * @module
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BusClosedError,
  BusFullError,
  type BusStats,
  CLOSED,
  EMPTY,
  LaggedError,
  type OverflowPolicy,
  type SubscribeOptions,
  type Subscriber,
  type WriteOptions,
} from "../mod.ts";
import { type AsyncRead, BusModel, type From, type Lag, type ModelOptions, type Outcome } from "./_model.ts";

/** What the test calls on a bus: the surface `Bus` and `SharedBus` share. */
export interface ModelBus {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly closed: boolean;
  readonly subscriberCount: number;
  readonly ready: Promise<void>;
  send(value: unknown): number;
  write(value: unknown, options?: WriteOptions): Promise<number>;
  subscribe(options?: SubscribeOptions): Subscriber<unknown>;
  close(): void;
  stats(): BusStats;
}

/** A kind of bus under test, and what it supports. */
export interface ModelTarget<B extends ModelBus = ModelBus> {
  /** The class, as test names call it: "Bus". */
  readonly name: string;
  /** A new bus whose first value gets sequence number `start`. */
  create(options: ModelOptions, start: number): B;
  /**
   * Whether readers get the very values sent, so a `then` getter on one runs
   * when `recv()` resolves with it: the commands whose values call back into
   * the bus. A bus that hands over decoded copies has no getters to run.
   */
  readonly getters: boolean;
  /** Calls `fn` with each value the bus takes, in order, if the bus has taps; else `send` and `write` note it. */
  tap?(bus: B, fn: (value: unknown) => void): void;
  /** `bus.stats()` as the model counts, having checked any counter only this bus has. */
  stats(bus: B): BusStats;
}

/** The error the test's `drain` callbacks throw on purpose. */
class CallbackError extends Error {
  constructor() {
    super("Thrown by the test's drain callback");
    this.name = "CallbackError";
  }
}

/** A bus's options, and the sequence number its first value gets. */
type Options = ModelOptions & { start: number };

/** Starts: fresh, and 7 values below 2^31 and 2^32, where positions and shared 32-bit words wrap or rebase. */
const STARTS = [0, 2 ** 31 - 7, 2 ** 32 - 7];

/** Counters at one moment, for the laws: the bus's, and the test's counts of send calls and of writes sent. */
interface Counters {
  sent: number;
  attempts: number;
  written: number;
  discarded: number;
  blocked: number;
}

/** One real subscriber and what the test saw of it. */
interface Tracked {
  readonly sub: Subscriber<unknown>;
  readonly from: From;
  readonly joined: Counters;
  /** Every value handed over, by every path, in order. */
  readonly received: number[];
  /** Set when the test unsubscribed it. */
  left?: Counters;
  /** `sub.closed` has resolved. */
  ended: boolean;
}

/** The system under test, with the bookkeeping to compare it. */
export class Real {
  readonly bus: ModelBus;
  readonly subs: Tracked[] = [];
  readonly settled: Map<number, Outcome> = new Map();
  operations = 0;
  /** `send` calls on an open bus, whatever became of the value. */
  attempts = 0;
  /** `write` calls that sent their value. */
  written = 0;
  /** The next number a value gets. */
  numbered = 0;
  /** The getter act of each value made with one, by number. */
  readonly made: Map<number, GetterAct> = new Map();
  /** Each value's place in the order the bus took them, seen through a tap, or noted by `send` and `write`. */
  readonly order: Map<number, number> = new Map();
  /** Whether a tap notes {@linkcode order}. */
  readonly tapped: boolean;
  /** What user code run inside the bus (getters) did on the real side, for the model's side to match in turn. */
  readonly acts: ActRecord[] = [];

  readonly start: number;

  constructor(readonly target: ModelTarget, { start, ...options }: Options, readonly payload: Payload) {
    this.bus = target.create(options, start);
    this.start = start;
    this.tapped = target.tap !== undefined;
    target.tap?.(this.bus, (value) => this.taken(payload.number(value) as number));
  }

  /** Notes that the bus took value number `n`. */
  taken(n: number): void {
    this.order.set(n, this.order.size);
  }

  /** `bus.stats()` with `sent` counted from the start, as the model counts it. */
  stats(): BusStats {
    const stats = this.target.stats(this.bus);
    return { ...stats, sent: stats.sent - this.start };
  }

  counters(): Counters {
    const { sent, discarded, blocked } = this.stats();
    return { sent, attempts: this.attempts, written: this.written, discarded, blocked };
  }

  /** What a call returned or threw, in the model's terms. */
  observe(call: () => unknown): Outcome {
    try {
      return { ok: this.normalize(call()) };
    } catch (error) {
      return failure(error);
    }
  }

  normalize(result: unknown): unknown {
    if (result === EMPTY) return "EMPTY";
    if (result === CLOSED) return "CLOSED";
    return this.payload.number(result);
  }

  /** Records how `promise` settles under the next operation id, as the model numbers them. */
  track(promise: Promise<unknown>, onValue: (value: unknown) => unknown = (value) => value): number {
    return this.trackAs(this.operations++, promise, onValue);
  }

  /**
   * As `track`, under an id taken before the call that made `promise`: user
   * code run inside that call (a getter) may start operations of its own,
   * and the model numbers the outer one first.
   */
  trackAs(id: number, promise: Promise<unknown>, onValue: (value: unknown) => unknown = (value) => value): number {
    promise.then(
      (value) => this.settled.set(id, { ok: onValue(value) }),
      (error) => this.settled.set(id, failure(error)),
    );
    return id;
  }
}

function failure(error: unknown): Outcome {
  if (error instanceof LaggedError) return { error: error.name, missed: error.missed };
  if (error instanceof BusClosedError || error instanceof BusFullError || error instanceof CallbackError) {
    return { error: error.name };
  }
  throw error;
}

/** How the test makes values from sequence numbers, and back. */
export interface Payload {
  /** `act`, if given, runs the first time a promise resolves with the value (its `then` getter). */
  make(n: number, act?: () => void): unknown;
  number(value: unknown): unknown;
}

/** Gives `value` a `then` getter that runs `act` the first time it is read; it returns no function: not a thenable. */
export function withGetter<V extends object>(value: V, act: () => void): V {
  let fired = false;
  return Object.defineProperty(value, "then", {
    get() {
      if (!fired) {
        fired = true;
        act();
      }
      return undefined;
    },
  });
}

/** Numbers, or objects with a `then` getter where a send asks for one. */
export const NUMBERS: Payload = {
  make: (n, act) => act === undefined ? n : withGetter({ n }, act),
  number: (value) => typeof value === "object" && value !== null ? (value as { n: number }).n : value,
};

export type BusCommand = fc.AsyncCommand<BusModel, Real>;

/** Lets every promise that can settle now settle: each path needs one or two microtask turns. */
async function flush(): Promise<void> {
  for (let turn = 0; turn < 6; turn++) await Promise.resolve();
}

/** Everything observable, compared after each command, plus the laws that hold at every check. */
async function compare(model: BusModel, real: Real): Promise<void> {
  await flush();
  model.flushWrites(); // where the bus's microtask sends its waiting writes
  const { bus } = real;
  assert.deepEqual(real.stats(), model.stats(), "bus.stats()");
  assert.equal(bus.capacity, model.capacity, "bus.capacity");
  assert.equal(bus.subscriberCount, model.current.length, "bus.subscriberCount");
  assert.equal(bus.closed, model.closed, "bus.closed");
  real.subs.forEach((tracked, i) => {
    const expected = model.subscribers[i];
    assert.equal(tracked.sub.missed, expected.missed, `missed of subscriber ${i}`);
    assert.equal(tracked.sub.position - real.start, expected.position - expected.gap, `position of subscriber ${i}`);
    assert.equal(tracked.ended, expected.ended, `whether subscriber ${i}'s closed promise resolved`);
  });
  assert.deepEqual(sortedEntries(real.settled), sortedEntries(model.settled), "settled wait/recv/read/ready calls");
  checkLawsAlways(real);
}

function sortedEntries(map: Map<number, Outcome>): [number, Outcome][] {
  return [...map].sort(([a], [b]) => a - b);
}

/** The laws that hold at every check: counts add up, order holds. */
function checkLawsAlways(real: Real): void {
  const { bus, subs } = real;
  const missed = subs.reduce((sum, { sub }) => sum + sub.missed, 0);
  assert.equal(real.stats().dropped, missed, "stats().dropped is the sum of every subscriber's missed");
  // Order itself is the model's to check, value by value; a promise's value reaches `received` a turn late.
  subs.forEach(({ received }, i) => {
    assert.equal(new Set(received).size, received.length, `subscriber ${i} received ${received}: none twice`);
    for (const n of received) assert.ok(real.order.has(n), `subscriber ${i} received ${n}, which the bus took`);
  });
  if (bus.overflow !== "drop-oldest") {
    subs.forEach(({ sub, from }, i) => {
      // One that starts from a number may start with a gap: values gone before it subscribed.
      if (typeof from !== "number") assert.equal(sub.missed, 0, `subscriber ${i} misses nothing under ${bus.overflow}`);
    });
  }
}

/** The laws that need every subscriber read to its end: once the bus is closed and drained. */
function checkLawsAtEnd(real: Real): void {
  const end = real.counters();
  real.subs.forEach(({ sub, from, joined, received, left }, i) => {
    if (from !== "next") return;
    const until = left ?? end;
    const sent = until.sent - joined.sent;
    assert.equal(
      sent,
      until.attempts - joined.attempts - (until.discarded - joined.discarded) - (until.blocked - joined.blocked) +
        (until.written - joined.written),
      `values sent while subscriber ${i} was subscribed are the sends neither discarded nor refused, and the writes`,
    );
    if (left === undefined) {
      assert.equal(received.length + sub.missed, sent, `subscriber ${i}: received + missed == sent while subscribed`);
    } else {
      // It left with values unread; those count nowhere.
      assert.ok(received.length + sub.missed <= sent, `subscriber ${i}: received + missed <= sent while subscribed`);
    }
  });
}

function tracked(model: BusModel, real: Real, index: number): Tracked {
  assert.equal(real.subs.length, model.subscribers.length, "both sides have the same subscribers");
  return real.subs[index];
}

/** A number no value has had: sends and writes are numbered by one counter, in call order. */
function nextNumber(real: Real): number {
  return real.numbered++;
}

/**
 * Sends on the real bus. The value may carry `act`, user code its `then`
 * getter runs the first time a promise resolves with it.
 */
function send(real: Real, act?: GetterAct): [number, Outcome] {
  const n = nextNumber(real);
  if (!real.bus.closed) real.attempts++;
  const value = real.payload.make(n, act === undefined ? undefined : () => runActReal(real, act));
  if (real.tapped) return [n, real.observe(() => real.bus.send(value))];
  const sent = real.bus.stats().sent;
  const outcome = real.observe(() => real.bus.send(value));
  if (real.bus.stats().sent !== sent) real.taken(n);
  return [n, outcome];
}

/** What a value's `then` getter does when a promise first resolves with it. */
type GetterAct = { what: "send" | "close" | "close the bus" | "subscribe" | "tryRecv" | "recv"; index: number };

/** What a getter did on the real side; the model's side replays it in the same order and compares. */
type ActRecord = { act: GetterAct; n?: number; outcome?: Outcome; id?: number };

function runActReal(real: Real, act: GetterAct): void {
  const record: ActRecord = { act };
  real.acts.push(record);
  const target = real.subs[act.index];
  if (act.what === "send") [record.n, record.outcome] = send(real);
  else if (act.what === "close the bus") real.bus.close();
  else if (act.what === "subscribe") subscribe(real, "next", "skip");
  else if (target === undefined) return;
  else if (act.what === "close") {
    if (!target.ended) target.left = real.counters();
    target.sub.close();
  } else if (act.what === "tryRecv") {
    record.outcome = real.observe(() => target.sub.tryRecv());
    const got = record.outcome;
    if ("ok" in got && typeof got.ok === "number") target.received.push(got.ok);
  } else {
    record.id = real.operations++;
    real.trackAs(record.id, target.sub.recv(), takeInto(real, target));
  }
}

/** The model's side of the getters, run as `recv()` resolves with each value, first time only. */
function runActsModel(model: BusModel, real: Real): void {
  const fired = new Set<number>();
  model.onRecv = (value) => {
    const act = real.made.get(value);
    if (act === undefined || fired.has(value)) return;
    fired.add(value);
    const record = real.acts.shift();
    assert.deepEqual(record?.act, act, `the getter of value ${value} ran on both sides, in the same order`);
    const index = act.index;
    const exists = index < model.subscribers.length;
    if (act.what === "send") assert.deepEqual(model.send(record!.n!), record!.outcome, `send from a getter`);
    else if (act.what === "close the bus") model.close();
    else if (act.what === "subscribe") model.subscribe("next", "skip");
    else if (!exists) return;
    else if (act.what === "close") model.unsubscribe(index);
    else if (act.what === "tryRecv") assert.deepEqual(record!.outcome, model.tryRecv(index), `tryRecv from a getter`);
    else assert.equal(record!.id, model.read(index, "recv"), "operation ids agree");
  };
}

class Send implements BusCommand {
  constructor(readonly act?: GetterAct) {}
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    if (this.act !== undefined) real.made.set(real.numbered, this.act);
    const [n, actual] = send(real, this.act);
    assert.deepEqual(actual, model.send(n), `send(${n})`);
    await compare(model, real);
  }
  toString = (): string =>
    this.act === undefined ? "send" : `send(a value whose then getter does ${this.act.what} ${this.act.index})`;
}

/** `bus.write()`: its number is taken when it is called, its place in the ring when it goes out. */
class Write implements BusCommand {
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    const n = nextNumber(real);
    const id = real.operations++;
    real.trackAs(id, real.bus.write(real.payload.make(n)), (readers) => {
      real.written++;
      if (!real.tapped) real.taken(n);
      return readers;
    });
    assert.equal(id, model.write(n), "operation ids agree");
    await compare(model, real);
  }
  toString = (): string => "write";
}

function subscribe(real: Real, from: From, lag: Lag): void {
  const sub = real.bus.subscribe({ from: typeof from === "number" ? real.start + from : from, lag });
  const tracked: Tracked = { sub, from, joined: real.counters(), received: [], ended: false };
  sub.closed.then(() => tracked.ended = true);
  real.subs.push(tracked);
}

class Subscribe implements BusCommand {
  /** `from` as a number counts back from the next sequence number. */
  constructor(readonly from: "next" | "oldest" | { back: number }, readonly lag: Lag) {}
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    const from = typeof this.from === "object" ? Math.max(0, model.tail - this.from.back) : this.from;
    subscribe(real, from, this.lag);
    model.subscribe(from, this.lag);
    await compare(model, real);
  }
  toString = (): string =>
    `subscribe({ from: ${
      typeof this.from === "object" ? `sent - ${this.from.back}` : `"${this.from}"`
    }, lag: "${this.lag}" })`;
}

/** What a test does with a value a promise handed over: note it as received, and compare its number. */
function takeInto(real: Real, target: Tracked): (value: unknown) => unknown {
  return (value) => {
    const n = real.payload.number(value);
    target.received.push(n as number);
    return n;
  };
}

/** A command on subscriber number `index`, skipped until it exists. */
abstract class OnSubscriber implements BusCommand {
  constructor(readonly index: number) {}
  check = (model: Readonly<BusModel>): boolean => this.index < model.subscribers.length;
  abstract run(model: BusModel, real: Real): Promise<void>;
  abstract toString(): string;
}

/** `tryRecv()` on both sides; returns what it gave. */
function tryRecv(model: BusModel, real: Real, index: number): Outcome {
  const { sub, received } = tracked(model, real, index);
  const actual = real.observe(() => sub.tryRecv());
  if ("ok" in actual && typeof actual.ok === "number") received.push(actual.ok);
  assert.deepEqual(actual, model.tryRecv(index), `sub[${index}].tryRecv()`);
  return actual;
}

class TryRecv extends OnSubscriber {
  async run(model: BusModel, real: Real): Promise<void> {
    tryRecv(model, real, this.index);
    await compare(model, real);
  }
  toString = (): string => `sub[${this.index}].tryRecv()`;
}

/** What a `drain` callback does besides taking its value, on one call: throw, or call the bus back. */
type Reentry = "throw" | "send" | "send three" | "tryRecv" | "close" | "close the bus" | "subscribe from oldest";

/** How many values a callback sends: three can overwrite the draining subscriber's next value. */
const SENDS: Partial<Record<Reentry, number>> = { "send": 1, "send three": 3 };

class Drain extends OnSubscriber {
  constructor(index: number, readonly max: number | undefined, readonly act?: { at: number; what: Reentry }) {
    super(index);
  }
  override check = (model: Readonly<BusModel>): boolean => this.index < model.subscribers.length;
  async run(model: BusModel, real: Real): Promise<void> {
    const { index, max, act } = this;
    const draining = tracked(model, real, index);
    const { sub, received } = draining;
    // What each callback saw, in order: its values, and the outcome of each call back into the bus.
    const seen: unknown[] = [];
    const sent: number[] = [];
    let calls = 0;
    const fn = (value: unknown) => {
      const n = real.payload.number(value) as number;
      received.push(n);
      seen.push(n);
      if (calls++ !== act?.at) return;
      if (act.what === "throw") throw new CallbackError();
      if (SENDS[act.what] !== undefined) {
        for (let k = 0; k < SENDS[act.what]!; k++) {
          const [number, outcome] = send(real);
          sent.push(number);
          seen.push(outcome);
        }
      } else if (act.what === "tryRecv") {
        const outcome = real.observe(() => sub.tryRecv());
        if ("ok" in outcome && typeof outcome.ok === "number") received.push(outcome.ok);
        seen.push(outcome);
      } else if (act.what === "close") {
        draining.left = real.counters();
        sub.close();
      } else if (act.what === "subscribe from oldest") subscribe(real, "oldest", "skip");
      else real.bus.close();
    };
    const actual = real.observe(() => max === undefined ? sub.drain(fn) : sub.drain(fn, max));

    const expected: unknown[] = [];
    let modelCalls = 0;
    const modelFn = (n: number) => {
      expected.push(n);
      if (modelCalls++ !== act?.at) return;
      if (act.what === "throw") throw new CallbackError();
      if (SENDS[act.what] !== undefined) {
        for (let k = 0; k < SENDS[act.what]!; k++) expected.push(model.send(sent.shift() ?? -1));
      } else if (act.what === "tryRecv") expected.push(model.tryRecv(index));
      else if (act.what === "close") model.unsubscribe(index);
      else if (act.what === "subscribe from oldest") model.subscribe("oldest", "skip");
      else model.close();
    };
    const outcome = model.drain(index, modelFn, max ?? Infinity);
    assert.deepEqual({ outcome: actual, seen }, { outcome, seen: expected }, this.toString());
    await compare(model, real);
  }
  toString = (): string =>
    `sub[${this.index}].drain(${
      this.act === undefined ? "fn" : `fn that does ${this.act.what} on call ${this.act.at}`
    }${this.max === undefined ? "" : `, ${this.max}`})`;
}

/** `wait()`, `recv()` or `read()`: settles now or parks; either way the model says which, and with what. */
class Read extends OnSubscriber {
  constructor(index: number, readonly kind: AsyncRead) {
    super(index);
  }
  async run(model: BusModel, real: Real): Promise<void> {
    const { index, kind } = this;
    const target = tracked(model, real, index);
    const { sub } = target;
    const take = takeInto(real, target);
    const readResult = (result: unknown): unknown => {
      const { done, value } = result as ReadableStreamReadResult<unknown>;
      return done ? { done } : { done, value: take(value) };
    };
    const id = real.operations++;
    if (kind === "wait") real.trackAs(id, sub.wait());
    else if (kind === "recv") real.trackAs(id, sub.recv(), take);
    else real.trackAs(id, sub.read(), readResult);
    assert.equal(id, model.read(index, kind), "operation ids agree");
    await compare(model, real);
  }
  toString = (): string => `sub[${this.index}].${this.kind}()`;
}

type Leave = "close" | "dispose" | "cancel" | "releaseLock";

class Unsubscribe extends OnSubscriber {
  constructor(index: number, readonly how: Leave) {
    super(index);
  }
  async run(model: BusModel, real: Real): Promise<void> {
    const { index, how } = this;
    const leaving = tracked(model, real, index);
    const { sub } = leaving;
    if (!model.subscribers[index].ended) leaving.left = real.counters();
    if (how === "close") sub.close();
    else if (how === "dispose") {
      using _sub = sub;
    } else if (how === "cancel") await sub.cancel("done");
    else sub.releaseLock();
    model.unsubscribe(index);
    await compare(model, real);
  }
  toString = (): string =>
    this.how === "dispose" ? `{ using _ = sub[${this.index}] }` : `sub[${this.index}].${this.how}()`;
}

class Close implements BusCommand {
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    real.bus.close();
    model.close();
    await compare(model, real);
  }
  toString = (): string => "bus.close()";
}

class Ready implements BusCommand {
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    assert.equal(real.track(real.bus.ready), model.readyProbe(), "operation ids agree");
    await compare(model, real);
  }
  toString = (): string => "bus.ready";
}

const index = fc.nat({ max: 3 });

/** The commands for `target`. Sends are common and closing the bus rare, so runs get deep enough to lag, fill and park. */
export function commands(target: ModelTarget): fc.Arbitrary<BusCommand>[] {
  const getters = {
    weight: 3,
    arbitrary: fc.record({
      what: fc.constantFrom<GetterAct["what"]>("send", "close", "close the bus", "subscribe", "tryRecv", "recv"),
      index,
    }).map((act) => new Send(act)),
  };
  return [fc.oneof(
    { weight: 14, arbitrary: fc.constant(null).map(() => new Send()) },
    ...(target.getters ? [getters] : []),
    { weight: 3, arbitrary: fc.constant(null).map(() => new Write()) },
    {
      weight: 4,
      arbitrary: fc.tuple(
        fc.oneof(fc.constantFrom<"next" | "oldest">("next", "oldest"), fc.nat({ max: 10 }).map((back) => ({ back }))),
        fc.constantFrom<Lag>("skip", "error"),
      ).map(([from, lag]) => new Subscribe(from, lag)),
    },
    { weight: 6, arbitrary: index.map((i) => new TryRecv(i)) },
    {
      weight: 4,
      arbitrary: fc.tuple(
        index,
        fc.option(fc.nat({ max: 9 }), { nil: undefined }),
        fc.option(
          fc.record({
            at: fc.nat({ max: 2 }),
            what: fc.constantFrom<Reentry>(
              "throw",
              "send",
              "send three",
              "tryRecv",
              "close",
              "close the bus",
              "subscribe from oldest",
            ),
          }),
          { nil: undefined },
        ),
      ).map(([i, max, act]) => new Drain(i, max, act)),
    },
    {
      weight: 8,
      arbitrary: fc.tuple(index, fc.constantFrom<AsyncRead>("wait", "recv", "read")).map(([i, kind]) =>
        new Read(i, kind)
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(index, fc.constantFrom<Leave>("close", "dispose", "cancel", "releaseLock"))
        .map(([i, how]) => new Unsubscribe(i, how)),
    },
    { weight: 1, arbitrary: fc.constant(null).map(() => new Close()) },
    { weight: 1, arbitrary: fc.constant(null).map(() => new Ready()) },
  )];
}

function isClosed(outcome: Outcome): boolean {
  return "ok" in outcome && outcome.ok === "CLOSED";
}

/** Closes the bus and reads every subscriber to its end on both sides, comparing each answer. */
export async function finish(model: BusModel, real: Real): Promise<void> {
  await new Close().run(model, real);
  for (let i = 0; i < real.subs.length; i++) {
    let reads = 0;
    while (!isClosed(tryRecv(model, real, i))) assert.ok(++reads <= model.capacity + 2, `subscriber ${i} ends`);
  }
  await compare(model, real);
  assert.equal(real.settled.size, real.operations, "every wait/recv/read/ready call settled once the bus closed");
  checkLawsAtEnd(real);
}

/** Builds a bus and a model alike and runs the commands on both. */
export async function runBoth(
  target: ModelTarget,
  options: Options,
  commands: Iterable<BusCommand>,
  payload: Payload,
): Promise<[BusModel, Real]> {
  const model = new BusModel(options);
  const real = new Real(target, options, payload);
  runActsModel(model, real);
  await fc.asyncModelRun(() => ({ model, real }), commands);
  return [model, real];
}

export const CAPACITIES = [1, 2, 3, 8];
/**
 * `MODEL_RUNS=n` runs each property n times. The default, 400 per policy, takes about a second per policy on Node and
 * less on Deno and Bun; at 150 the mutation run found survivors only 2,000 runs killed.
 */
const RUNS = Number(globalThis.process?.env?.MODEL_RUNS ?? 0) || 400;
/**
 * `MODEL_SEED=n MODEL_OVERFLOW=policy` replays a failure from the seed fast-check printed: that policy's property only,
 * from that seed (add `MODEL_RUNS` past the failing run's number).
 */
const REPLAY = globalThis.process?.env ?? {};

/** Registers the model test of `target`: one test per overflow policy. */
export function describeModel(target: ModelTarget): void {
  describe(`${target.name} matches the reference model`, () => {
    for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
      if (REPLAY.MODEL_SEED !== undefined && REPLAY.MODEL_OVERFLOW !== overflow) continue;
      it(`${target.name} matches the reference model and the accounting laws under "${overflow}"`, async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...CAPACITIES),
            fc.boolean(),
            fc.constantFrom(...STARTS),
            fc.commands(commands(target), { maxCommands: 60, size: "max" }),
            async (capacity, replay, start, run) => {
              await finish(...await runBoth(target, { capacity, overflow, replay, start }, run, NUMBERS));
            },
          ),
          {
            numRuns: RUNS,
            includeErrorInReport: true,
            ...(REPLAY.MODEL_SEED === undefined ? {} : { seed: Number(REPLAY.MODEL_SEED) }),
          },
        );
      });
    }
  });
}
