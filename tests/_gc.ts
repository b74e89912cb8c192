/**
 * Forces a full garbage collection where the runtime allows it: `gc()` under
 * Node and Deno started with `--expose-gc`, `Bun.gc(true)` under Bun.
 *
 * @module
 */

type Collector = () => void;

function findCollector(): Collector | undefined {
  const global = globalThis as { gc?: Collector; Bun?: { gc(force: boolean): void } };
  if (typeof global.gc === "function") return global.gc;
  if (global.Bun !== undefined) return () => global.Bun!.gc(true);
  return undefined;
}

/** Whether {@linkcode collectGarbage} can really collect here. */
export const canCollect: boolean = findCollector() !== undefined;

/**
 * Collects garbage after letting the current job end, since a `WeakRef`
 * keeps its target alive until then.
 */
export async function collectGarbage(): Promise<void> {
  const collect = findCollector();
  if (collect === undefined) throw new Error("No garbage collector is exposed; run with --expose-gc");
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    collect();
  }
}
