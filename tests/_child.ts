/**
 * Runs a TypeScript file in a child process of the runtime running the test
 * (Deno, Bun, or Node through tsx), for the tests whose verdict is what a
 * whole process does: whether it exits, and what it prints.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";

declare const Deno: unknown;
declare const Bun: unknown;

/** The command and arguments that run a TypeScript file on the runtime running this test. */
export function runtimeCommand(script: string, ...args: string[]): [string, string[]] {
  if (typeof Deno !== "undefined") return [process.execPath, ["run", "-A", script, ...args]];
  if (typeof Bun !== "undefined") return [process.execPath, [script, ...args]];
  return [process.execPath, ["--import", "tsx", script, ...args]];
}

/** What a child process did: its exit code, and its standard output (trimmed) and error. */
export interface ChildRun {
  code: number | null;
  output: string;
  errors: string;
}

/** Runs `script` with `args` on this runtime, to its exit. */
export async function runScript(script: string, ...args: string[]): Promise<ChildRun> {
  const [command, argv] = runtimeCommand(script, ...args);
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let errors = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => errors += chunk);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, output: output.trim(), errors };
}
