/**
 * The model-based property test, for {@linkcode SharedBus}: the commands,
 * laws and reference model of `model.test.ts` and `_model.ts`, run against a
 * shared bus read and written on one thread, under each overflow policy,
 * with and without replay, at capacities 1, 2, 3 (4) and 8. After every
 * command both must agree on everything observable: each value, symbol and
 * error (with `LaggedError.missed`), how every parked read and `bus.ready`
 * settled, `sub.missed`, `sub.closed`, `bus.stats()` (whose `released` stays
 * 0), `subscriberCount` and `closed`.
 *
 * The commands are a copy of `model.test.ts`'s with the bus swapped; the
 * memory test there has no counterpart, as a shared bus holds copies.
 *
 * A failure prints fast-check's seed and path; pass them back as
 * `fc.assert(..., { seed, path })` to replay it.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BusClosedError, BusFullError, CLOSED, EMPTY, LaggedError, SharedBus, type Subscriber } from "../mod.ts";
import { type AsyncRead, BusModel, type From, type Lag, type Outcome, type Overflow } from "./_model.ts";

/** The error the test's `drain` callbacks throw on purpose. */
class CallbackError extends Error {
  constructor() {
    super("Thrown by the test's drain callback");
    this.name = "CallbackError";
  }
}

type Options = { capacity: number; overflow: Overflow; replay: boolean };

/** Counters at one moment, for the laws: the bus's, and the test's count of send calls. */
interface Counters {
  sent: number;
  attempts: number;
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
class Real {
  readonly bus: SharedBus<unknown>;
  readonly subs: Tracked[] = [];
  readonly settled: Map<number, Outcome> = new Map();
  operations = 0;
  /** `send` calls on an open bus, whatever became of the value. */
  attempts = 0;

  constructor(options: Options, readonly payload: Payload) {
    this.bus = new SharedBus(options);
  }

  counters(): Counters {
    const { sent, discarded, blocked } = this.bus.stats();
    return { sent, attempts: this.attempts, discarded, blocked };
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
    const id = this.operations++;
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
interface Payload {
  make(n: number): unknown;
  number(value: unknown): unknown;
}

const NUMBERS: Payload = { make: (n) => n, number: (value) => value };

type BusCommand = fc.AsyncCommand<BusModel, Real>;

/** Lets every promise that can settle now settle: each path needs one or two microtask turns. */
async function flush(): Promise<void> {
  for (let turn = 0; turn < 6; turn++) await Promise.resolve();
}

/** Everything observable, compared after each command, plus the laws that hold at every check. */
async function compare(model: BusModel, real: Real): Promise<void> {
  await flush();
  const { bus } = real;
  assert.deepEqual(bus.stats(), { ...model.stats(), released: 0 }, "bus.stats()");
  assert.equal(bus.capacity, model.capacity, "bus.capacity");
  assert.equal(bus.subscriberCount, model.current.length, "bus.subscriberCount");
  assert.equal(bus.closed, model.closed, "bus.closed");
  real.subs.forEach((tracked, i) => {
    const expected = model.subscribers[i];
    assert.equal(tracked.sub.missed, expected.missed, `missed of subscriber ${i}`);
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
  assert.equal(bus.stats().dropped, missed, "stats().dropped is the sum of every subscriber's missed");
  subs.forEach(({ received }, i) => {
    for (let k = 1; k < received.length; k++) {
      assert.ok(received[k - 1] < received[k], `subscriber ${i} received ${received} in strictly increasing order`);
    }
  });
  if (bus.overflow !== "drop-oldest") {
    subs.forEach(({ sub }, i) => assert.equal(sub.missed, 0, `subscriber ${i} misses nothing under ${bus.overflow}`));
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
      until.attempts - joined.attempts - (until.discarded - joined.discarded) - (until.blocked - joined.blocked),
      `values sent while subscriber ${i} was subscribed are the sends neither discarded nor refused`,
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

/** Sends on the real bus. The number sent counts the attempts, so every subscriber's numbers must increase. */
function send(real: Real): [number, Outcome] {
  const n = real.attempts;
  if (!real.bus.closed) real.attempts++;
  return [n, real.observe(() => real.bus.send(real.payload.make(n)))];
}

class Send implements BusCommand {
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    const [n, actual] = send(real);
    assert.deepEqual(actual, model.send(n), `send(${n})`);
    await compare(model, real);
  }
  toString = (): string => "send";
}

function subscribe(real: Real, from: From, lag: Lag): void {
  const sub = real.bus.subscribe({ from, lag });
  const tracked: Tracked = { sub, from, joined: real.counters(), received: [], ended: false };
  sub.closed.then(() => tracked.ended = true);
  real.subs.push(tracked);
}

class Subscribe implements BusCommand {
  constructor(readonly from: From, readonly lag: Lag) {}
  check = (): boolean => true;
  async run(model: BusModel, real: Real): Promise<void> {
    subscribe(real, this.from, this.lag);
    model.subscribe(this.from, this.lag);
    await compare(model, real);
  }
  toString = (): string => `subscribe({ from: "${this.from}", lag: "${this.lag}" })`;
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
    const { sub, received } = tracked(model, real, index);
    const take = (value: unknown): unknown => {
      const n = real.payload.number(value);
      received.push(n as number);
      return n;
    };
    const readResult = (result: unknown): unknown => {
      const { done, value } = result as ReadableStreamReadResult<unknown>;
      return done ? { done } : { done, value: take(value) };
    };
    let id: number;
    if (kind === "wait") id = real.track(sub.wait());
    else if (kind === "recv") id = real.track(sub.recv(), take);
    else id = real.track(sub.read(), readResult);
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
/** Sends are common and closing the bus rare, so runs get deep enough to lag, fill and park. */
const COMMANDS: fc.Arbitrary<BusCommand>[] = [
  fc.oneof(
    { weight: 16, arbitrary: fc.constant(null).map(() => new Send()) },
    {
      weight: 4,
      arbitrary: fc.tuple(fc.constantFrom<From>("next", "oldest"), fc.constantFrom<Lag>("skip", "error"))
        .map(([from, lag]) => new Subscribe(from, lag)),
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
  ),
];

function isClosed(outcome: Outcome): boolean {
  return "ok" in outcome && outcome.ok === "CLOSED";
}

/** Closes the bus and reads every subscriber to its end on both sides, comparing each answer. */
async function finish(model: BusModel, real: Real): Promise<void> {
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
async function start(options: Options, commands: Iterable<BusCommand>, payload: Payload): Promise<[BusModel, Real]> {
  const model = new BusModel(options);
  const real = new Real(options, payload);
  await fc.asyncModelRun(() => ({ model, real }), commands);
  return [model, real];
}

const CAPACITIES = [1, 2, 3, 8];
const RUNS = Number(globalThis.process?.env?.MODEL_RUNS ?? 0) || 150;

describe("SharedBus matches the reference model", () => {
  for (const overflow of ["drop-oldest", "drop-newest", "wait"] as const) {
    it(`SharedBus matches the reference model and the accounting laws under "${overflow}"`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...CAPACITIES),
          fc.boolean(),
          fc.commands(COMMANDS, { maxCommands: 60, size: "max" }),
          async (capacity, replay, commands) => {
            await finish(...await start({ capacity, overflow, replay }, commands, NUMBERS));
          },
        ),
        { numRuns: RUNS, includeErrorInReport: true },
      );
    });
  }
});
