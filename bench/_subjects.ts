/**
 * Everything the benchmarks send values through, behind one small interface:
 * each reading path of the bus ("ours"), the peers a user might pick instead
 * ("peer"), and the minimal rings that mark the ceiling ("limit").
 *
 * A subject is created with one handler per subscriber. Handlers are
 * distinct functions (see `makeHandlers` in `workloads.ts`), as real
 * components' are. Sync subjects deliver during `send` (push) or `flush`
 * (pull); async subjects deliver from consumer tasks started at creation.
 *
 * @module
 */

import { EventEmitter, on, setMaxListeners } from "node:events";
import { Effect, Exit, Fiber, PubSub, Scope } from "effect";
import { Subject as RxSubject } from "rxjs";
import { Bus, startSequenceAt, Subscriber } from "./_bus.ts";

import { LimitReader, LimitRing } from "./_limit.ts";

/** What travels through every subject: a reference from a fixed pool, so sending allocates nothing. */
export interface Payload {
  readonly id: number;
  /** `performance.now()` at send, for the latency workload. */
  sentAt: number;
}

export type Handler = (value: Payload) => void;

/** A live broadcast channel with its subscribers attached. */
export interface Subject {
  send(value: Payload): void;
  /** Hands every pending value to the handlers; does nothing for push and async subjects. */
  flush(): void;
  close(): void;
  /** Counters a workload reports, where it inspects them. */
  stats?(): Record<string, number>;
  /** Called after each async round, for workloads that act on the clock. */
  tick?: () => void;
}

export interface SubjectSpec {
  readonly label: string;
  readonly family: "ours" | "peer" | "limit";
  /** "sync": delivered by the time `flush` returns. "async": delivered by consumer tasks. */
  readonly mode: "sync" | "async";
  /**
   * `start`, where given, is the sequence number of the first value sent: the
   * bus and the limit rings start there, as if that many values had gone
   * through them (the `cliff` workload). Other subjects ignore it.
   */
  create(handlers: readonly Handler[], capacity: number, start?: number): Subject;
  /** False when the bus under test lacks the API (an older checkout, see `_bus.ts`): its cases are left out. */
  readonly available?: boolean;
}

const nothing = (): void => {};

let copies = 0;

/**
 * Compiles a private copy of `fn` from its source. Code that two subjects
 * (or two cases) share also shares its JIT feedback: whichever runs first
 * shapes how it is optimised for the other, so the figures would depend on
 * the order cases run in. A copy each keeps each one's own. `fn` must be
 * self-contained; `__name` is the helper tsx (esbuild) inserts into sources.
 */
export function fresh<F>(fn: F): F {
  return new Function("__name", `return (${fn});\n// copy ${copies++}`)((named: unknown) => named);
}

/** The async batch path: one await per batch, not per value. */
export async function consumeBatches(sub: Subscriber<Payload>, handler: Handler, max = Infinity): Promise<void> {
  while (await sub.wait()) sub.drain(handler, max);
}

async function consumeIterator(source: AsyncIterable<Payload>, handler: Handler): Promise<void> {
  for await (const value of source) handler(value);
}

/** One promise per value through `recv()`, until the bus closes. */
async function consumeRecv(sub: Subscriber<Payload>, handler: Handler): Promise<void> {
  try {
    for (;;) handler(await sub.recv());
  } catch (error) {
    if ((error as Error)?.name !== "BusClosedError") throw error;
  }
}

async function consumeStream(stream: ReadableStream<Payload>, handler: Handler): Promise<void> {
  const reader = stream.getReader();
  for (let result = await reader.read(); !result.done; result = await reader.read()) handler(result.value);
}

/** The limit's async batch path: awaits only when caught up. */
async function consumeLimit(reader: LimitReader<Payload>, handler: Handler): Promise<void> {
  for (;;) {
    if (reader.caughtUp) await reader.arrival();
    reader.drain(handler);
  }
}

interface Channel {
  send(value: Payload): unknown;
  close?(): void;
}

/** A subject read by pulling: `flush` calls `read` for each reader. Self-contained, for {@linkcode fresh}. */
function pulledSubject<R>(
  channel: Channel,
  readers: R[],
  handlers: readonly Handler[],
  read: (reader: R, handler: Handler) => void,
): Subject {
  return {
    send: (value) => channel.send(value),
    flush: () => {
      for (let i = 0; i < readers.length; i++) read(readers[i], handlers[i]);
    },
    close: () => channel.close?.(),
  };
}

/** A subject read by consumer tasks, one per reader. Self-contained, for {@linkcode fresh}. */
function pushedSubject<R>(
  channel: Channel,
  readers: R[],
  handlers: readonly Handler[],
  consume: (reader: R, handler: Handler) => unknown,
): Subject {
  for (let i = 0; i < readers.length; i++) consume(readers[i], handlers[i]);
  return { send: (value) => channel.send(value), flush: () => {}, close: () => channel.close?.() };
}

/** Each subject's own copies of the shared loops above. */
const own = {
  busDrain: fresh(pulledSubject<Subscriber<Payload>>),
  busTryRecv: fresh(pulledSubject<Subscriber<Payload>>),
  busWait: fresh(pushedSubject<Subscriber<Payload>>),
  busForAwait: fresh(pushedSubject<Subscriber<Payload>>),
  busIterator: fresh(consumeIterator),
  busRecv: fresh(pushedSubject<Subscriber<Payload>>),
  busRecvLoop: fresh(consumeRecv),
  busReadable: fresh(pushedSubject<Subscriber<Payload>>),
  busStream: fresh(consumeStream),
  busStream64: fresh(pushedSubject<Subscriber<Payload>>),
  busStream64Loop: fresh(consumeStream),
  limitSync: fresh(pulledSubject<LimitReader<Payload>>),
  limitTryRecv: fresh(pulledSubject<LimitReader<Payload>>),
  limitAsync: fresh(pushedSubject<LimitReader<Payload>>),
  limitIterator: fresh(pushedSubject<LimitReader<Payload>>),
  limitIteratorLoop: fresh(consumeIterator),
  stream: fresh(consumeStream),
  tee: fresh(consumeStream),
};

function busWithSubscribers(handlers: readonly Handler[], capacity: number, start = 0) {
  const bus = new Bus<Payload>(capacity);
  if (start !== 0) {
    if (startSequenceAt === undefined) throw new Error("the bus under test has no startSequenceAt hook");
    startSequenceAt(bus, start);
  }
  return [bus, handlers.map(() => bus.subscribe())] as const;
}

/**
 * The limit ring's classes by start: rings started at 0 use the module's,
 * every other start a private copy, so positions that became doubles teach
 * the engine nothing about the rings the other workloads measure.
 */
const limitClasses = new Map<number, { Ring: typeof LimitRing; Reader: typeof LimitReader }>([
  [0, { Ring: LimitRing, Reader: LimitReader }],
]);

function ringWithReaders(handlers: readonly Handler[], capacity: number, start = 0) {
  let classes = limitClasses.get(start);
  if (classes === undefined) limitClasses.set(start, classes = { Ring: fresh(LimitRing), Reader: fresh(LimitReader) });
  const ring = new classes.Ring<Payload>(capacity, start);
  return [ring, handlers.map(() => new classes.Reader(ring))] as const;
}

/** Binary `tee()` splits until there is one branch per handler. */
function teeBranches(source: ReadableStream<Payload>, count: number): ReadableStream<Payload>[] {
  if ((count & (count - 1)) !== 0) throw new RangeError(`tee() fans out to powers of two, not ${count}`);
  let branches = [source];
  while (branches.length < count) branches = branches.flatMap((branch) => branch.tee());
  return branches;
}

/** Every subject, by the id used in case names, results and baselines. */
export const SUBJECTS: Readonly<Record<string, SubjectSpec>> = {
  "bus.drain": {
    label: "Bus drain()",
    family: "ours",
    mode: "sync",
    create: (handlers, capacity, start) =>
      own.busDrain(...busWithSubscribers(handlers, capacity, start), handlers, (sub, handler) => sub.drain(handler)),
  },
  "bus.tryRecv": {
    label: "Bus tryRecv() loop",
    family: "ours",
    mode: "sync",
    create: (handlers, capacity, start) =>
      own.busTryRecv(...busWithSubscribers(handlers, capacity, start), handlers, (sub, handler) => {
        // `typeof`, as the README advises for hot loops: V8 checks an imported binding such as EMPTY at each use
        // (1.15-1.2x in `bench/import_cost.ts`; 2x here, where `_bus.ts` exports it after a top-level await).
        for (let value = sub.tryRecv(); typeof value !== "symbol"; value = sub.tryRecv()) handler(value);
      }),
  },
  "bus.wait": {
    label: "Bus wait()+drain()",
    family: "ours",
    mode: "async",
    create: (handlers, capacity, start) =>
      own.busWait(...busWithSubscribers(handlers, capacity, start), handlers, consumeBatches),
  },
  "bus.forAwait": {
    label: "Bus for await",
    family: "ours",
    mode: "async",
    create: (handlers, capacity) =>
      own.busForAwait(...busWithSubscribers(handlers, capacity), handlers, own.busIterator),
  },
  "bus.recv": {
    label: "Bus recv() loop",
    family: "ours",
    mode: "async",
    create: (handlers, capacity) => own.busRecv(...busWithSubscribers(handlers, capacity), handlers, own.busRecvLoop),
  },
  "bus.readable": {
    label: "Bus readable",
    family: "ours",
    mode: "async",
    create: (handlers, capacity) =>
      own.busReadable(
        ...busWithSubscribers(handlers, capacity),
        handlers,
        (sub, handler) => own.busStream(sub.readable, handler),
      ),
  },
  "bus.stream64": {
    label: "Bus stream({ highWaterMark: 64 })",
    family: "ours",
    mode: "async",
    available: typeof Subscriber.prototype.stream === "function",
    create: (handlers, capacity) =>
      own.busStream64(
        ...busWithSubscribers(handlers, capacity),
        handlers,
        (sub, handler) => own.busStream64Loop(sub.stream({ highWaterMark: 64 }), handler),
      ),
  },
  "limit.sync": {
    label: "limit: ring, sync drain",
    family: "limit",
    mode: "sync",
    create: (handlers, capacity, start) =>
      own.limitSync(
        ...ringWithReaders(handlers, capacity, start),
        handlers,
        (reader, handler) => reader.drain(handler),
      ),
  },
  "limit.tryRecv": {
    label: "limit: ring, tryRecv per value",
    family: "limit",
    mode: "sync",
    create: (handlers, capacity, start) =>
      own.limitTryRecv(...ringWithReaders(handlers, capacity, start), handlers, (reader, handler) => {
        for (let value = reader.tryRecv(); value !== undefined; value = reader.tryRecv()) handler(value);
      }),
  },
  "limit.async": {
    label: "limit: ring, await when caught up",
    family: "limit",
    mode: "async",
    create: (handlers, capacity, start) =>
      own.limitAsync(...ringWithReaders(handlers, capacity, start), handlers, consumeLimit),
  },
  "limit.iterator": {
    label: "limit: ring, promise per value",
    family: "limit",
    mode: "async",
    create: (handlers, capacity) =>
      own.limitIterator(...ringWithReaders(handlers, capacity), handlers, own.limitIteratorLoop),
  },
  "eventEmitter": {
    label: "node:events EventEmitter",
    family: "peer",
    mode: "sync",
    create: (handlers) => {
      const emitter = new EventEmitter().setMaxListeners(0);
      for (const handler of handlers) emitter.on("value", handler);
      return {
        send: (value) => emitter.emit("value", value),
        flush: nothing,
        close: () => emitter.removeAllListeners(),
      };
    },
  },
  "eventTarget": {
    label: "EventTarget + CustomEvent",
    family: "peer",
    mode: "sync",
    create: (handlers) => {
      const target = new EventTarget();
      setMaxListeners(0, target); // Node warns past 10 listeners
      for (const handler of handlers) {
        target.addEventListener("value", (event) => handler((event as CustomEvent<Payload>).detail));
      }
      return {
        send: (value) => target.dispatchEvent(new CustomEvent("value", { detail: value })),
        flush: nothing,
        close: nothing,
      };
    },
  },
  "rxjs": {
    label: "RxJS Subject",
    family: "peer",
    mode: "sync",
    create: (handlers) => {
      const subject = new RxSubject<Payload>();
      for (const handler of handlers) subject.subscribe(handler);
      return { send: (value) => subject.next(value), flush: nothing, close: () => subject.complete() };
    },
  },
  "eventsOn": {
    label: "events.on() async iteration",
    family: "peer",
    mode: "async",
    create: (handlers) => {
      const emitter = new EventEmitter().setMaxListeners(0);
      const abort = new AbortController();
      setMaxListeners(0, abort.signal);
      for (const handler of handlers) {
        const values = on(emitter, "value", { signal: abort.signal });
        (async () => {
          for await (const [value] of values) handler(value);
        })().catch(nothing); // aborted at close
      }
      return { send: (value) => emitter.emit("value", value), flush: nothing, close: () => abort.abort() };
    },
  },
  "stream": {
    label: "ReadableStream per subscriber",
    family: "peer",
    mode: "async",
    create: (handlers) => {
      const controllers: ReadableStreamDefaultController<Payload>[] = [];
      for (const handler of handlers) {
        own.stream(new ReadableStream<Payload>({ start: (controller) => void controllers.push(controller) }), handler);
      }
      return {
        send: (value) => {
          for (let i = 0; i < controllers.length; i++) controllers[i].enqueue(value);
        },
        flush: nothing,
        close: () => controllers.forEach((controller) => controller.close()),
      };
    },
  },
  "streamTee": {
    label: "ReadableStream.tee()",
    family: "peer",
    mode: "async",
    create: (handlers) => {
      let source!: ReadableStreamDefaultController<Payload>;
      const root = new ReadableStream<Payload>({ start: (controller) => void (source = controller) });
      teeBranches(root, handlers.length).forEach((branch, i) => own.tee(branch, handlers[i]));
      return { send: (value) => source.enqueue(value), flush: nothing, close: () => source.close() };
    },
  },
  "effect": {
    label: "Effect PubSub.sliding",
    family: "peer",
    mode: "async",
    create: (handlers, capacity) => {
      const pubsub = Effect.runSync(PubSub.sliding<Payload>(capacity));
      const scope = Scope.makeUnsafe();
      const fibers = handlers.map((handler) => {
        const subscription = Effect.runSync(Scope.provide(PubSub.subscribe(pubsub), scope));
        const deliver = (batch: readonly Payload[]) => {
          for (let i = 0; i < batch.length; i++) handler(batch[i]);
        };
        return Effect.runFork(Effect.forever(Effect.map(PubSub.takeAll(subscription), deliver)));
      });
      return {
        send: (value) => void PubSub.publishUnsafe(pubsub, value),
        flush: nothing,
        close: () => {
          Effect.runFork(Fiber.interruptAll(fibers));
          Effect.runFork(Scope.close(scope, Exit.void));
        },
      };
    },
  },
};
