/**
 * `node:assert/strict` in the browser: the `assert` package (browserify's
 * port of Node's assert, the one bundlers use) in its strict mode, so
 * `deepEqual` is `deepStrictEqual` as in Node.
 *
 * @module
 */

// The package path, not the bare name, so no runtime mistakes it for its built-in `assert`.
import assert from "assert/build/assert.js";

const strict: typeof import("node:assert/strict") = assert.strict;
export default strict;
