/**
 * `npm run test:browser`: the core suite in headless Chromium.
 *
 * 1. Picks the test files: every `tests/*.test.ts` whose import graph, helpers
 *    and packages included, reaches no runtime module but `node:test` and
 *    `node:assert/strict`. A file that reaches `node:fs` or `node:http` is left
 *    out, and the run says which module, through which file.
 * 2. Bundles them with esbuild for the browser, one entry per file, mapping
 *    `node:test` to `test_shim.ts` and `node:assert/strict` to the `assert`
 *    package (`assert_strict.ts`).
 * 3. Serves the page on 127.0.0.1 with the cross-origin isolation headers
 *    (COOP `same-origin`, COEP `require-corp`) and fails unless the page sees
 *    `crossOriginIsolated`, so `SharedArrayBuffer` is there for the tests that
 *    need it.
 * 4. Drives Debian's Chromium (`/usr/bin/chromium`, or `$CHROMIUM`) with
 *    playwright-core, prints every failure with its test name and message and
 *    every skip with its reason, and exits non-zero on any failure, on an error
 *    no test caught, or when the watchdog fires.
 * 5. Opens the import-map example from README.md's "Browsers" section, with the
 *    library bundled to the path its import map names, and checks what it logs.
 *
 * Without Chromium it prints a loud skip and exits 0, except under `CI=true`,
 * where a missing browser is a failure.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { isBuiltin } from "node:module";
import { fileURLToPath } from "node:url";
import process from "node:process";
import * as esbuild from "esbuild";
import { type Browser, chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_FLAGS } from "./_chromium.ts";
import type { PageMessage } from "./page.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const here = "tests/browser";
/** The whole browser run, from launch to the last test; the suite takes seconds. */
const DEADLINE_MS = 300_000;
/** The runtime modules a browser test may import: the shims below stand in for them. */
const SHIMS: Record<string, string> = {
  "node:test": `${root}${here}/test_shim.ts`,
  "node:assert/strict": `${root}${here}/assert_strict.ts`,
};

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(2)} s`;

/** A test file, and why it cannot run in a browser (undefined when it can). */
interface Candidate {
  file: string;
  leftOut: string | undefined;
}

/** Step 1: the rule. Bundles every test file with runtime modules kept external, then walks each import graph. */
async function selectFiles(): Promise<Candidate[]> {
  const files = readdirSync(`${root}tests`).filter((name) => name.endsWith(".test.ts")).sort();
  const { metafile } = await esbuild.build({
    absWorkingDir: root,
    entryPoints: files.map((name) => `tests/${name}`),
    bundle: true,
    write: false,
    metafile: true,
    platform: "browser",
    format: "esm",
    outdir: "out",
    logLevel: "silent",
    plugins: [{
      name: "runtime-modules-stay-external",
      setup(build) {
        build.onResolve({ filter: /.*/ }, ({ path }) => isRuntimeModule(path) ? { path, external: true } : undefined);
      },
    }],
  });
  return files.map((name) => ({ file: name, leftOut: runtimeImport(`tests/${name}`, metafile.inputs) }));
}

function isRuntimeModule(path: string): boolean {
  return path.startsWith("node:") || isBuiltin(path);
}

/** The first runtime module `entry` reaches, other than those we shim, as "node:fs (via tests/_serve.ts)". */
function runtimeImport(entry: string, inputs: esbuild.Metafile["inputs"]): string | undefined {
  const seen = new Set<string>([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const { path, external } of inputs[file]?.imports ?? []) {
      if (external) {
        if (!(path in SHIMS)) return `imports ${path}${file === entry ? "" : ` (via ${file})`}`;
      } else if (!seen.has(path)) {
        seen.add(path);
        queue.push(path);
      }
    }
  }
  return undefined;
}

/** Step 2: one browser bundle per test file plus the page, sharing chunks, so the shim is one module. */
async function bundle(files: string[]): Promise<Map<string, Uint8Array>> {
  const outdir = `${root}.browser-bundle`;
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [
      { in: `${here}/page.ts`, out: "page" },
      ...files.map((file) => ({ in: `tests/${file}`, out: `tests/${file.replace(/\.ts$/, "")}` })),
    ],
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    write: false,
    outdir,
    chunkNames: "chunks/[name]-[hash]",
    logLevel: "warning",
    plugins: [{
      name: "node-test-in-the-browser",
      setup(build) {
        build.onResolve({ filter: /^node:/ }, ({ path }) => path in SHIMS ? { path: SHIMS[path] } : undefined);
        // The assert package and its util dependency expect the `process` browserify gave them; they read only
        // `process.env.NODE_DEBUG`, and `process.stderr` where it exists. A local one, so no test sees a `process`.
        build.onLoad({ filter: /[\\/]node_modules[\\/](assert|util)[\\/].*\.js$/ }, async ({ path }) => ({
          contents: `var process = { env: {} };\n${await readFile(path, "utf8")}`,
          loader: "js",
        }));
      },
    }],
  });
  return new Map(result.outputFiles.map((file) => [file.path.slice(outdir.length), file.contents]));
}

/** A response body and its content type, by path. */
type Routes = Map<string, Route>;
type Route = { type: string; body: string | Uint8Array };

/** The test page, its file list and its scripts. */
function suiteRoutes(assets: Map<string, Uint8Array>, files: string[]): Routes {
  const html = `<!doctype html><meta charset="utf-8"><title>@ron/bus tests</title>
<script type="module" src="/page.js"></script>`;
  const list = files.map((file) => ({ file, url: `/tests/${file.replace(/\.ts$/, ".js")}` }));
  return new Map<string, Route>([
    ["/", { type: "text/html", body: html }],
    ["/files.json", { type: "application/json", body: JSON.stringify(list) }],
    ["/favicon.ico", { type: "image/x-icon", body: "" }],
    ...[...assets].map(([path, body]): [string, Route] => [path, { type: "text/javascript", body }]),
  ]);
}

/** Step 3: pages and scripts on loopback, every response cross-origin isolated. */
function serve(routes: Routes): Promise<{ server: Server; url: string }> {
  const isolation = {
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
  };
  const server = createServer((request, response) => {
    const route = routes.get(new URL(request.url ?? "/", "http://127.0.0.1").pathname);
    if (route !== undefined) response.writeHead(200, { ...isolation, "content-type": route.type }).end(route.body);
    else response.writeHead(404, isolation).end();
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/` });
    });
  });
}

/**
 * The README's import-map example, from its "Browsers" section, as a page, with the library bundled to one module at
 * the path its import map names, and what its `console.log(...); // text` line says it logs.
 */
async function readmeExample(): Promise<{ routes: Routes; expected: string }> {
  const section = readFileSync(`${root}README.md`, "utf8").split(/^## /m).find((text) => text.startsWith("Browsers"));
  const html = section?.match(/```html\n([\s\S]*?)```/)?.[1];
  const map = html?.match(/<script type="importmap">([\s\S]*?)<\/script>/)?.[1];
  const expected = html?.match(/console\.log\(.*\);\s*\/\/\s*(.+)$/m)?.[1].trim();
  if (html === undefined || map === undefined || expected === undefined) {
    throw new Error('README.md has no "## Browsers" html example with an import map and a `console.log(...); // text`');
  }
  const path: string = JSON.parse(map).imports["@ron/bus"];
  const library = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ["mod.ts"],
    bundle: true,
    format: "esm",
    minify: true,
    write: false,
    logLevel: "warning",
  });
  return {
    routes: new Map<string, Route>([
      ["/readme.html", { type: "text/html", body: `<!doctype html><meta charset="utf-8">\n${html}` }],
      [path, { type: "text/javascript", body: library.outputFiles[0].contents }],
    ]),
    expected,
  };
}

/** Opens the README's example and returns what it logged (or threw) within ten seconds. */
async function runReadmeExample(browser: Browser, url: string): Promise<string> {
  const page = await browser.newPage();
  try {
    const logged = new Promise<string>((resolve) => {
      page.on("console", (message) => message.type() === "log" && resolve(message.text()));
      page.on("pageerror", (error) => resolve(`an error: ${error.message}`));
      setTimeout(() => resolve("nothing within 10 s"), 10_000).unref();
    });
    await page.goto(`${url}readme.html`);
    return await logged;
  } finally {
    await page.close();
  }
}

/** What the run saw, for the summary and the exit code. */
interface Tally {
  passed: number;
  failed: string[];
  skipped: number;
  todo: number;
  isolated: boolean | undefined;
}

/** Step 4: Chromium opens the page; every event the page reports is printed and counted. */
async function drive(browser: Browser, url: string, tally: Tally): Promise<void> {
  let running = "(before the first test)";
  let file = "";
  let fileStarted = 0;
  let fileCounts = { passed: 0, skipped: 0 };
  const endFile = () => {
    if (file === "") return;
    const { passed, skipped } = fileCounts;
    console.log(`  ${file}: ${passed} passed${skipped ? `, ${skipped} skipped` : ""} (${seconds(fileStarted)})`);
  };
  const page = await browser.newPage();
  let finish!: () => void;
  let fail!: (error: Error) => void;
  const done = new Promise<void>((resolve, reject) => [finish, fail] = [resolve, reject]);
  await page.exposeFunction("__report", (message: PageMessage) => {
    switch (message.type) {
      case "page":
        tally.isolated = message.crossOriginIsolated;
        console.log(
          `  page: crossOriginIsolated=${message.crossOriginIsolated}, SharedArrayBuffer=${message.sharedArrayBuffer}`,
        );
        break;
      case "file":
        endFile();
        [file, fileStarted, fileCounts] = [message.file, performance.now(), { passed: 0, skipped: 0 }];
        break;
      case "start":
        running = `${file} > ${message.name}`;
        break;
      case "pass":
        if (message.todo !== undefined) tally.todo++;
        else {
          tally.passed++;
          fileCounts.passed++;
        }
        break;
      case "fail":
        if (message.todo !== undefined) {
          tally.todo++;
          console.log(`  # TODO ${file} > ${message.name}: ${message.todo}`);
          break;
        }
        tally.failed.push(`${file} > ${message.name}`);
        console.log(`\n  ✖ FAILED in Chromium: ${file} > ${message.name}\n${indent(message.error)}\n`);
        break;
      case "skip":
        tally.skipped++;
        fileCounts.skipped++;
        console.log(`  ﹣ SKIPPED in Chromium: ${file} > ${message.name} (${message.reason})`);
        break;
      case "done":
        endFile();
        finish();
    }
  });
  page.on("console", (message) => console.log(`  [chromium console.${message.type()}] ${message.text()}`));
  page.on("crash", () => fail(new Error(`The page crashed during ${running}`)));
  // Uncaught exceptions and unhandled rejections, the page's own included: a page that cannot start fails at once.
  page.on("pageerror", (error) => {
    if (tally.isolated === undefined) fail(new Error(`The test page failed to start: ${error.stack ?? error.message}`));
    tally.failed.push(`an uncaught error during ${running}`);
    console.log(`\n  ✖ UNCAUGHT in Chromium, during ${running}:\n${indent(error.stack ?? error.message)}\n`);
  });
  const watchdog = setTimeout(
    () => fail(new Error(`Watchdog: the browser run passed ${DEADLINE_MS / 1000} s, during ${running}`)),
    DEADLINE_MS,
  );
  try {
    await page.goto(url);
    await done;
  } finally {
    clearTimeout(watchdog);
  }
}

const indent = (text: string): string => text.split("\n").map((line) => `      ${line}`).join("\n");

async function main(): Promise<number> {
  if (!existsSync(CHROMIUM)) {
    const banner = `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set $CHROMIUM`;
    if (process.env.CI === "true") {
      console.error(`\n✖ ${banner}. CI must run the browser suite.\n`);
      return 1;
    }
    console.error(`\n${"!".repeat(100)}\n!! SKIPPED: the core suite in Chromium. ${banner}.\n${"!".repeat(100)}\n`);
    return 0;
  }
  let started = performance.now();
  const candidates = await selectFiles();
  const files = candidates.filter((c) => c.leftOut === undefined).map((c) => c.file);
  console.log(`browser: ${files.length} test files run in Chromium: ${files.join(", ")}`);
  for (const { file, leftOut } of candidates) if (leftOut !== undefined) console.log(`  left out ${file}: ${leftOut}`);
  const assets = await bundle(files);
  const readme = await readmeExample();
  console.log(`  selected and bundled in ${seconds(started)}`);

  const { server, url } = await serve(new Map([...suiteRoutes(assets, files), ...readme.routes]));
  started = performance.now();
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_FLAGS] });
  console.log(`  Chromium ${browser.version()} started in ${seconds(started)}, page at ${url}`);
  started = performance.now();
  const tally: Tally = { passed: 0, failed: [], skipped: 0, todo: 0, isolated: undefined };
  try {
    await drive(browser, url, tally);
    const logged = await runReadmeExample(browser, url);
    if (logged === readme.expected) {
      tally.passed++;
      console.log(`  README.md's Browsers example (import map): logged "${logged}"`);
    } else {
      tally.failed.push(`README.md's Browsers example (import map) logged "${logged}", not "${readme.expected}"`);
    }
  } catch (error) {
    tally.failed.push(error instanceof Error ? error.message : String(error));
    console.log(`\n  ✖ ${error instanceof Error ? error.message : error}\n`);
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`  ran in ${seconds(started)}`);
  if (tally.isolated !== true) {
    tally.failed.push("the page is not cross-origin isolated (crossOriginIsolated is false)");
  }
  if (tally.passed === 0) tally.failed.push("no test ran");
  if (tally.failed.length > 0) {
    console.log(`\nFailures in Chromium:\n${tally.failed.map((name) => `  ✖ ${name}`).join("\n")}`);
  }
  const todo = tally.todo > 0 ? `, ${tally.todo} todo` : "";
  console.log(`chromium: ${tally.passed} passed, ${tally.failed.length} failed, ${tally.skipped} skipped${todo}`);
  return tally.failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
