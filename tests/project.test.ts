import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");
const manifest = (path: string): { name: string; version: string; exports: unknown } => JSON.parse(read(path));

describe("project", () => {
  it("deno.json, jsr.json and package.json agree on name and version, and export mod.ts, nats.ts and sse.ts", () => {
    const deno = manifest("deno.json");
    const jsr = manifest("jsr.json");
    const npm = manifest("package.json");
    assert.equal(deno.name, "@ron/bus");
    assert.deepEqual([jsr.name, npm.name], [deno.name, deno.name]);
    assert.deepEqual([jsr.version, npm.version], [deno.version, deno.version]);
    const exports = { ".": "./mod.ts", "./nats": "./nats.ts", "./sse": "./sse.ts" };
    assert.deepEqual(deno.exports, exports);
    assert.deepEqual(jsr.exports, exports);
    assert.deepEqual(npm.exports, exports);
  });

  it("publishes every entry module it exports", () => {
    const deno: { publish: { include: string[] } } = JSON.parse(read("deno.json"));
    const jsr: { publish: { include: string[] } } = JSON.parse(read("jsr.json"));
    for (const entry of ["mod.ts", "nats.ts", "sse.ts"]) {
      assert.ok(deno.publish.include.includes(entry), `deno.json publishes ${entry}`);
      assert.ok(jsr.publish.include.includes(entry), `jsr.json publishes ${entry}`);
    }
  });

  it("keeps the NATS clients out of the runtime: devDependencies only, and no import of them from src/ or nats.ts", () => {
    const npm = JSON.parse(read("package.json"));
    for (const name of ["@nats-io/nats-core", "@nats-io/jetstream", "@nats-io/transport-node"]) {
      assert.ok(npm.devDependencies[name], `${name} is a devDependency`);
    }
    const sources = ["nats.ts", ...readdirSync(new URL("../src/nats/", import.meta.url)).map((f) => `src/nats/${f}`)];
    for (const path of sources) {
      assert.match(read(path), /^(import|export) /m, `${path} has imports to check`);
      assert.doesNotMatch(read(path), /^(import|export)\b[^;]*from "(@nats-io|node:|npm:)/m, path);
    }
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
