/**
 * The `process` global that the `assert` package and its `util` dependency
 * expect from a bundler (browserify provided one): they read only
 * `process.env.NODE_DEBUG` and, where it exists, `process.stderr`. esbuild
 * injects this wherever the bundle names `process`.
 *
 * @module
 */

export const process: { env: Record<string, string> } = { env: {} };
