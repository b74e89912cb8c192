import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
const manifest = (path: string): { name: string; version: string; exports: unknown } => JSON.parse(read(path));

describe("project", () => {
  it("deno.json, jsr.json and package.json agree on name and version, and export the same entry modules", () => {
    const deno = manifest("deno.json");
    const jsr = manifest("jsr.json");
    const npm = manifest("package.json");
    assert.equal(deno.name, "@ron/bus");
    assert.deepEqual([jsr.name, npm.name], [deno.name, deno.name]);
    assert.deepEqual([jsr.version, npm.version], [deno.version, deno.version]);
    const exports = {
      ".": "./mod.ts",
      "./sse": "./sse.ts",
    };
    assert.deepEqual([deno.exports, jsr.exports, npm.exports], [exports, exports, exports]);
  });

  it("has no runtime dependencies", () => {
    const npm = JSON.parse(read("package.json"));
    assert.equal(npm.dependencies, undefined);
  });

  it("the README shows the test command CI runs", () => {
    assert.match(read(".ci/run"), /^npm test$/m);
    assert.match(read("README.md"), /npm ci && npm test/);
  });
});
