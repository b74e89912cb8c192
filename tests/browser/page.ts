/**
 * The test page's script: checks that the page is cross-origin isolated,
 * then imports each bundled test file in turn, runs what it declared, and
 * hands every event to the driver through `__report`, a function that
 * `run.ts` exposes to the page. The driver catches errors no test caught.
 *
 * @module
 */

import { describeError, reset, run, type TestEvent } from "./test_shim.ts";

/** What the page tells the driver. */
export type PageMessage =
  | TestEvent
  | { type: "page"; crossOriginIsolated: boolean; sharedArrayBuffer: boolean; userAgent: string }
  | { type: "file"; file: string }
  | { type: "done" };

const page = globalThis as unknown as {
  __report(message: PageMessage): Promise<void>;
  crossOriginIsolated?: boolean;
  navigator: { userAgent: string };
};

const report = (message: PageMessage): Promise<void> => page.__report(message);

await report({
  type: "page",
  crossOriginIsolated: page.crossOriginIsolated === true,
  sharedArrayBuffer: typeof SharedArrayBuffer === "function",
  userAgent: page.navigator.userAgent,
});
const files: { file: string; url: string }[] = await (await fetch("/files.json")).json();
for (const { file, url } of files) {
  await report({ type: "file", file });
  reset();
  try {
    await import(url);
    await run(report);
  } catch (error) {
    // A file that throws while it declares its tests fails as a whole, as under node's runner.
    await report({ type: "fail", name: `${file} (loading)`, ms: 0, error: describeError(error) });
  }
}
await report({ type: "done" });
