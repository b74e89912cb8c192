/**
 * `node:test` in the browser, for the suite's own files: `describe`, `it` and
 * `test`, with the `skip`, `todo` and `timeout` options, run in order and reported one
 * event at a time. No npm package offers `node:test` for browsers (the `test`
 * package is Node's own runner and needs `fs` and `child_process`; mocha, uvu
 * and tape have other APIs), so this is only what our tests call. Anything
 * else fails loudly: an import it lacks (`beforeEach`, `mock`) stops the
 * bundle, and an option it does not know throws where the test declares it.
 *
 * @module
 */

/** The options of `node:test` that the shim honours. */
export interface TestOptions {
  /** Skips the test or suite; a string is the reason shown. */
  skip?: boolean | string;
  /** Marks the test as unfinished: it runs, and a failure does not count. */
  todo?: boolean | string;
  /** Fails the test if it runs longer, in milliseconds. */
  timeout?: number;
}

/** A test or suite body. The shim passes no `TestContext`, so a body takes no parameter. */
export type TestFn = () => unknown;

/** What the runner reports, in order, for each test. */
export type TestEvent =
  | { type: "start"; name: string }
  | { type: "pass"; name: string; ms: number; todo?: string }
  | { type: "fail"; name: string; ms: number; error: string; todo?: string }
  | { type: "skip"; name: string; reason: string };

interface Node {
  name: string;
  skip: string | undefined;
  todo: string | undefined;
  fn: TestFn | undefined;
  timeout: number | undefined;
  /** Undefined for a test; the registered children for a suite. */
  children: Node[] | undefined;
}

const KNOWN_OPTIONS = new Set(["skip", "todo", "timeout"]);

let root: Node[] = [];
let current: Node[] = root;

function reason(value: boolean | string | undefined, otherwise: string): string | undefined {
  if (value === undefined || value === false) return undefined;
  return value === true ? otherwise : value;
}

function declare(kind: "suite" | "test", name: string, a?: TestOptions | TestFn, b?: TestFn): void {
  const options = typeof a === "object" && a !== null ? a : {};
  const fn = typeof a === "function" ? a : b;
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(`The browser's node:test shim does not support the option "${key}" (on "${name}")`);
    }
  }
  if (fn !== undefined && fn.length > 0) {
    throw new TypeError(`The browser's node:test shim passes no TestContext or callback; "${name}" takes ${fn.length}`);
  }
  const node: Node = {
    name,
    skip: reason(options.skip, "skipped"),
    todo: reason(options.todo, "todo"),
    fn,
    timeout: options.timeout,
    children: kind === "suite" ? [] : undefined,
  };
  current.push(node);
  if (kind === "suite" && fn !== undefined) {
    // Suites register their tests at once, as under Bun, so a skipped suite can still list what it skips.
    const parent = current;
    current = node.children!;
    try {
      const result = fn();
      if (result instanceof Promise) throw new TypeError(`The browser's node:test shim needs "${name}" to be sync`);
    } finally {
      current = parent;
    }
  }
}

/** Declares a suite: `describe(name, fn)` or `describe(name, options, fn)`. */
export function describe(name: string, options?: TestOptions | TestFn, fn?: TestFn): void {
  declare("suite", name, options, fn);
}

/** Declares a test: `it(name, fn)` or `it(name, options, fn)`. */
export function it(name: string, options?: TestOptions | TestFn, fn?: TestFn): void {
  declare("test", name, options, fn);
}

/** `test` is `it` under another name, as in `node:test`. */
export const test: typeof it = it;

/** Forgets what was declared, so each file starts afresh. */
export function reset(): void {
  root = [];
  current = root;
}

/**
 * Runs everything declared since the last {@linkcode reset}, in order, one
 * test at a time, and hands each event to `report` (awaited, so the page's
 * driver always knows which test is running). A name is the path of suites
 * and test, joined by " > ", as node's runner prints it.
 */
export async function run(report: (event: TestEvent) => Promise<void>): Promise<void> {
  await runNodes(root, [], {}, report);
}

async function runNodes(
  nodes: Node[],
  path: string[],
  inherited: { skip?: string; todo?: string },
  report: (event: TestEvent) => Promise<void>,
): Promise<void> {
  for (const node of nodes) {
    const name = [...path, node.name].join(" > ");
    const skip = inherited.skip ?? node.skip;
    const todo = inherited.todo ?? node.todo;
    if (node.children !== undefined) {
      await runNodes(node.children, [...path, node.name], { skip, todo }, report);
      continue;
    }
    if (skip !== undefined) {
      await report({ type: "skip", name, reason: skip });
      continue;
    }
    await report({ type: "start", name });
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const running = Promise.resolve(node.fn?.());
      const limit = node.timeout;
      await (limit === undefined ? running : Promise.race([
        running,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`test timed out after ${limit} ms`)), limit);
        }),
      ]));
      await report({ type: "pass", name, ms: performance.now() - started, todo });
    } catch (error) {
      await report({ type: "fail", name, ms: performance.now() - started, error: describeError(error), todo });
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The error as node's runner shows it: name, message, then the stack below the message. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `thrown: ${String(error)}`;
  const head = `${error.name}: ${error.message}`;
  const lines = [head];
  if ("operator" in error && "actual" in error && "expected" in error) {
    lines.push(`  actual: ${show(error.actual)}, expected: ${show(error.expected)}, operator: ${error.operator}`);
  }
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)).slice(0, 8);
  return [...lines, ...frames].join("\n");
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return `[Function ${value.name}]`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
