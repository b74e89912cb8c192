import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";
import process from "node:process";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (path: string): string => readFileSync(`${root}${path}`, "utf8");

/**
 * The files `deno publish` would upload, relative to the root. `--no-check`
 * only skips the type check, which `npm run check` does; the list is the same.
 */
function publishedFiles(): string[] {
  const run = spawnSync(`${root}node_modules/.bin/deno`, ["publish", "--dry-run", "--allow-dirty", "--no-check"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const output = `${run.stdout}${run.stderr}`; // deno prints the list on stderr
  assert.equal(run.status, 0, `deno publish --dry-run failed:\n${output}`);
  const files = [...output.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map(([, path]) => posix.relative(root, path));
  assert.ok(files.includes("README.md"), `deno publish --dry-run listed no README.md:\n${output}`);
  return files;
}

/** Every relative link and image target in a Markdown text, with its line, outside fenced code. */
function relativeLinks(markdown: string): { target: string; line: number }[] {
  const links: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split("\n").forEach((text, index) => {
    if (/^\s*(```|~~~)/.test(text)) fenced = !fenced;
    if (fenced) return;
    const targets = [
      ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]), // [text](target), ![alt](target)
      ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g)].map((m) => m[1]), // [label]: target
      ...[...text.matchAll(/\b(?:src|href)\s*=\s*"([^"]+)"/g)].map((m) => m[1]), // <img src="..."> and <a href="...">
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:|^\/\/|^#/i.test(target)) continue; // a URL, or an anchor in the README itself
      links.push({ target: decodeURIComponent(target.replace(/[#?].*$/, "")), line: index + 1 });
    }
  });
  return links;
}

/** Whether `target` (a file, or a folder with a trailing slash or not) is among `files`. */
function resolves(target: string, files: string[]): boolean {
  const path = posix.normalize(target).replace(/^\.\//, "").replace(/\/$/, "");
  return files.some((file) => file === path || file.startsWith(`${path}/`));
}

/** Whether jsr.json's `publish.include` (files and folders, no globs) covers `target`. */
function included(target: string, include: string[]): boolean {
  const path = posix.normalize(target).replace(/^\.\//, "").replace(/\/$/, "");
  return include.some((entry) => {
    const prefix = entry.replace(/^\.\//, "").replace(/\/$/, "");
    return path === prefix || path.startsWith(`${prefix}/`);
  });
}

describe("the published package", () => {
  it("holds every file that README.md, or any Markdown file it publishes, links to or shows", () => {
    const files = publishedFiles();
    const jsrInclude: string[] = JSON.parse(read("jsr.json")).publish.include;
    assert.ok(!jsrInclude.some((entry) => /[*?[]/.test(entry)), "jsr.json's include has a glob; teach this test globs");
    const markdown = files.filter((file) => file.endsWith(".md"));
    const dead = markdown.flatMap((page) => {
      const links = relativeLinks(read(page)).map(({ target, line }) => ({
        target: posix.join(posix.dirname(page), target),
        where: `${page}:${line}`,
      }));
      if (page === "README.md") assert.ok(links.length > 0, "the README has relative links to check");
      return links
        .filter(({ target }) => !resolves(target, files) || !included(target, jsrInclude))
        .map(({ target, where }) => `${where} links to ${target}`);
    });
    assert.deepEqual(
      dead,
      [],
      `links that the published package would not hold:\n${dead.join("\n")}\npublished: ${files}`,
    );
  });
});
