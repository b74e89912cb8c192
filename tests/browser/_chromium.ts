/**
 * Debian's Chromium, as the browser runs drive it with playwright-core
 * (which cannot download a browser of its own here): where it is, and the
 * flags it needs.
 *
 * @module
 */

import process from "node:process";

/** The browser: `/usr/bin/chromium` (`apt-get install -y chromium`), or `$CHROMIUM`. */
export const CHROMIUM: string = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Flags from the machine notes: without the background-networking ones, Chromium keeps dialling a closed network. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
