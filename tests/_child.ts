/**
 * Runs a TypeScript file in a child process of the runtime running the test
 * (Deno, Bun, or Node through tsx), for the tests whose verdict is what a
 * whole process does: whether it exits, and what it prints.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
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
  const hook = strykerHook();
  if (hook !== undefined) argv.unshift("-r", hook);
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let errors = "";
  child.stdout!.on("data", (chunk) => output += chunk);
  child.stderr!.on("data", (chunk) => errors += chunk);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (hook !== undefined) addCoverage(child.pid!);
  return { code, output: output.trim(), errors };
}

/**
 * Under the mutation run's dry run (`npm run mutation`), the hook that Stryker's tap runner loaded into this process,
 * so a child runs it too: Stryker counts only what the test process itself executed, and would report code that only
 * a child process reaches as uncovered, and never run its mutants.
 */
function strykerHook(): string | undefined {
  if (process.env.STRYKER_DRY_RUN !== "true") return undefined;
  const at = process.execArgv.indexOf("-r");
  const hook = at === -1 ? undefined : process.execArgv[at + 1];
  return hook?.endsWith("hook.cjs") ? hook : undefined;
}

type Coverage = { static?: Record<string, number>; perTest?: Record<string, Record<string, number>> };

/** Adds the coverage the hook wrote at the child's exit to this process's, which the hook reports at its own. */
function addCoverage(pid: number): void {
  const file = `stryker-output-${pid}.json`;
  if (!existsSync(file)) return; // killed before its exit handler ran: nothing to add
  const child = JSON.parse(readFileSync(file, "utf8")) as { mutantCoverage?: Coverage };
  rmSync(file);
  const namespace = process.env.STRYKER_NAMESPACE ?? "__stryker__";
  const ours = (globalThis as unknown as Record<string, { mutantCoverage?: Coverage }>)[namespace];
  const into = (ours.mutantCoverage ??= {}).static ??= {};
  for (const counts of [child.mutantCoverage?.static ?? {}, ...Object.values(child.mutantCoverage?.perTest ?? {})]) {
    for (const [id, count] of Object.entries(counts)) into[id] = (into[id] ?? 0) + count;
  }
}
