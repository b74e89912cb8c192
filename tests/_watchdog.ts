/**
 * A deadline for a promise that may never settle. It imports nothing from a
 * runtime, so the browser suite can run the tests that use it.
 *
 * @module
 */

/** Rejects with `message` after `ms` unless `promise` settles first; the timer never outlives it. */
export async function watchdog<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alarm = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Watchdog: ${message()} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, alarm]);
  } finally {
    clearTimeout(timer);
  }
}
