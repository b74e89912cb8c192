/**
 * Writes `testing/mutation/SUMMARY.md` from Stryker's JSON reports (one per
 * area: `report/<area>.json`) and the list of judged survivors in
 * `testing/mutation/equivalents.json`.
 *
 * ```sh
 * node --import tsx testing/mutation/summary.ts [report.json ...] [--out SUMMARY.md] [--candidates]
 * ```
 *
 * `npm run mutation` runs it after Stryker; run it alone to re-read an
 * existing report after editing the equivalents file. `--candidates` also
 * prints, for every survivor not yet judged, a ready-to-edit entry for the
 * equivalents file with the source around it, and the reason of any stale
 * entry that looks like the same mutant, so re-judging after a rewrite is a
 * matter of reading and pasting.
 *
 * An entry is keyed by its file, the mutator, and the original and replaced
 * source text (whitespace collapsed), never by line number, so it survives
 * edits elsewhere in the file. When that text occurs on several lines, the
 * entry also names the line (its trimmed text). An entry that matches no
 * mutant is reported as stale, so it can be pruned; one that matches a mutant
 * the tests killed is reported as contradicted.
 *
 * @module
 */

import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** The areas `stryker.config.mjs` knows, in the order `run.ts` runs them. */
const AREAS = ["core", "shared", "nats", "sse"];

/** One judged survivor, as written in `equivalents.json`. */
interface Equivalent {
  file: string;
  mutator: string;
  /** The source text the mutant replaces, whitespace collapsed; a long one may end with "…" and match as a prefix. */
  original: string;
  /** The text Stryker put in its place, whitespace collapsed. */
  replacement: string;
  /** The trimmed text of the line the mutant starts on; only needed when the rest matches on several lines. */
  line?: string;
  /** `equivalent`: no program using the public API can tell; `performance`: only speed or memory churn changes. */
  kind: "equivalent" | "performance";
  reason: string;
}

/** The parts of Stryker's JSON report (mutation-testing-report-schema) read here. */
interface Report {
  files: Record<string, { source: string; mutants: ReportMutant[] }>;
}

interface ReportMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number }; end: { line: number; column: number } };
}

/** A mutant with the text needed to match it. */
interface Mutant {
  file: string;
  id: string;
  mutator: string;
  status: string;
  line: number;
  lineText: string;
  original: string;
  replacement: string;
}

/** Per-file counts; `listed` are survivors matched by an entry of the equivalents file. */
interface FileCounts {
  file: string;
  mutants: number;
  killed: number;
  timeout: number;
  survived: number;
  noCoverage: number;
  errors: number;
  equivalent: number;
  performance: number;
}

const ELLIPSIS = "…";
const TRUNCATE_AT = 120;
/** The target of issue 12, per file. */
const TARGET = 97;

/** Collapses runs of whitespace, so re-indentation does not break a key. */
function collapse(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Reads every mutant of the report with its original source text. */
function readMutants(report: Report): Mutant[] {
  const mutants: Mutant[] = [];
  for (const [file, { source, mutants: list }] of Object.entries(report.files)) {
    const lines = source.split("\n");
    // Offsets of each line start, to turn 1-based line and column into an index.
    const starts = [0];
    for (const line of lines) starts.push(starts[starts.length - 1] + line.length + 1);
    const at = ({ line, column }: { line: number; column: number }) => starts[line - 1] + column - 1;
    for (const mutant of list) {
      const { start, end } = mutant.location;
      mutants.push({
        file,
        // Each area's report numbers its mutants from 0.
        id: `${file}#${mutant.id}`,
        mutator: mutant.mutatorName,
        status: mutant.status,
        line: start.line,
        lineText: collapse(lines[start.line - 1]),
        original: collapse(source.slice(at(start), at(end))),
        replacement: collapse(mutant.replacement ?? ""),
      });
    }
  }
  return mutants;
}

/** Whether `entry` names `mutant`, its line aside. */
function sameText(entry: Equivalent, mutant: Mutant): boolean {
  if (entry.file !== mutant.file || entry.mutator !== mutant.mutator) return false;
  if (collapse(entry.replacement) !== mutant.replacement) return false;
  const original = collapse(entry.original);
  return original.endsWith(ELLIPSIS)
    ? mutant.original.startsWith(original.slice(0, -ELLIPSIS.length))
    : mutant.original === original;
}

/** How each entry of the equivalents file matched the report. */
interface Matching {
  /** Mutant id -> the entry that lists it. */
  listed: Map<string, Equivalent>;
  stale: Equivalent[];
  /** Entries whose text occurs on several lines and that do not say which. */
  ambiguous: { entry: Equivalent; lines: number[] }[];
  /** Entries matching a mutant the tests killed: the judgement, or a test, is wrong. */
  contradicted: { entry: Equivalent; mutant: Mutant }[];
}

/** Matches the entries against the mutants. */
function match(entries: readonly Equivalent[], mutants: readonly Mutant[]): Matching {
  const matching: Matching = { listed: new Map(), stale: [], ambiguous: [], contradicted: [] };
  for (const entry of entries) {
    let found = mutants.filter((mutant) => sameText(entry, mutant));
    if (entry.line !== undefined) found = found.filter((mutant) => mutant.lineText === collapse(entry.line!));
    const lines = [...new Set(found.map((mutant) => mutant.line))];
    if (found.length === 0) matching.stale.push(entry);
    else if (lines.length > 1 && entry.line === undefined) matching.ambiguous.push({ entry, lines });
    else if (!found.some(isSurvivor)) {
      // Only killed mutants match: the judgement, or a test, is wrong. (Where the same line occurs twice, one copy may
      // be killed and the other not; the survivor is the one judged.)
      for (const mutant of found) matching.contradicted.push({ entry, mutant });
    } else {
      for (const mutant of found) if (isSurvivor(mutant)) matching.listed.set(mutant.id, entry);
    }
  }
  return matching;
}

function isSurvivor(mutant: Mutant): boolean {
  return mutant.status === "Survived" || mutant.status === "NoCoverage";
}

/** Counts of zero for `file`. */
function noCounts(file: string): FileCounts {
  return {
    file,
    mutants: 0,
    killed: 0,
    timeout: 0,
    survived: 0,
    noCoverage: 0,
    errors: 0,
    equivalent: 0,
    performance: 0,
  };
}

/** Counts per file, in file order. */
function count(mutants: readonly Mutant[], listed: Map<string, Equivalent>): FileCounts[] {
  const byFile = new Map<string, FileCounts>();
  for (const mutant of mutants) {
    let counts = byFile.get(mutant.file);
    if (counts === undefined) {
      counts = noCounts(mutant.file);
      byFile.set(mutant.file, counts);
    }
    if (mutant.status === "Ignored" || mutant.status === "Pending") continue;
    counts.mutants++;
    if (mutant.status === "Killed") counts.killed++;
    else if (mutant.status === "Timeout") counts.timeout++;
    else if (mutant.status === "Survived") counts.survived++;
    else if (mutant.status === "NoCoverage") counts.noCoverage++;
    else counts.errors++; // CompileError, RuntimeError: not valid mutants
    const entry = listed.get(mutant.id);
    if (entry?.kind === "equivalent") counts.equivalent++;
    else if (entry?.kind === "performance") counts.performance++;
  }
  return [...byFile.values()].sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * The score counting only mutants not listed: killed and timed-out mutants
 * over every valid mutant but the listed ones. `undefined` when a file has no
 * mutant left to count.
 */
function score(counts: FileCounts): number | undefined {
  const detected = counts.killed + counts.timeout;
  const counted = detected + counts.survived + counts.noCoverage - counts.equivalent - counts.performance;
  return counted === 0 ? undefined : (100 * detected) / counted;
}

/** Stryker's own score, counting every survivor. */
function rawScore(counts: FileCounts): number | undefined {
  const detected = counts.killed + counts.timeout;
  const valid = detected + counts.survived + counts.noCoverage;
  return valid === 0 ? undefined : (100 * detected) / valid;
}

function percent(value: number | undefined): string {
  return value === undefined ? "n/a" : `${Math.floor(value * 100) / 100}%`;
}

function sum(rows: readonly FileCounts[]): FileCounts {
  const total = noCounts("all files");
  for (const row of rows) {
    for (const key of Object.keys(total) as (keyof FileCounts)[]) {
      if (key !== "file") total[key] += row[key];
    }
  }
  return total;
}

/** A Markdown-safe inline code span. */
function code(text: string): string {
  const shown = text.length > TRUNCATE_AT ? text.slice(0, TRUNCATE_AT) + ELLIPSIS : text;
  return shown.includes("`") ? `\`\` ${shown} \`\`` : `\`${shown}\``;
}

function describeEntry(entry: Equivalent): string {
  const where = entry.line === undefined ? "" : ` on line ${code(entry.line)}`;
  return `${entry.file} ${entry.mutator}: ${code(entry.original)} -> ${code(entry.replacement)}${where}`;
}

/** The source files of an area, as the reports name them (`src/...`); see the config's globs. */
function sourcesOf(area: string): string[] {
  const directory = area === "core" ? "src" : `src/${area}`;
  const names = readdirSync(new URL(`../../${directory}/`, import.meta.url), { recursive: true }) as string[];
  return names.filter((name) => name.endsWith(".ts") && (area !== "core" || !name.includes("/")))
    .map((name) => `${directory}/${name}`).sort();
}

/** The Markdown summary. */
function render(
  options: { dates: Map<string, Date>; reports: string[] },
  mutants: readonly Mutant[],
  matching: Matching,
): string {
  const rows = count(mutants, matching.listed);
  const total = sum(rows);
  const out: string[] = [];
  out.push("# Mutation testing summary", "");
  out.push(
    `Written by \`testing/mutation/summary.ts\` from ${options.reports.map(code).join(", ")} and ` +
      "[`equivalents.json`](equivalents.json); do not edit by hand.",
    "",
  );
  const when = (date: Date) => `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  out.push(`- Run: ${[...options.dates].map(([report, date]) => `${report} ${when(date)}`).join("; ")}`);
  const missing = AREAS.filter((area) => !options.reports.some((report) => report.endsWith(`/${area}.json`)));
  if (missing.length !== 0) {
    out.push(
      `- **Not run:** the ${missing.join(" and ")} area${missing.length === 1 ? "" : "s"}: no score for those files`,
    );
  }
  const absent = AREAS.filter((area) => !missing.includes(area)).flatMap((area) =>
    sourcesOf(area).filter((file) => !mutants.some((mutant) => mutant.file === file))
  );
  if (absent.length !== 0) {
    out.push(
      `- **In no report:** ${absent.map(code).join(", ")}: no mutants, or left out of a run narrowed by ` +
        "`MUTATION_MUTATE`; no score for them",
    );
  }
  out.push(
    "- Command: `npm run mutation` (StrykerJS 9.6.1 and its tap runner, config `testing/mutation/stryker.config.mjs`; " +
      "each mutant runs, in Node, the test files of its area that reach its code, stopping at the first failure)",
  );
  out.push(
    "- Score: killed and timed-out mutants over all valid mutants except those listed as equivalent or " +
      `performance-only; the target is ${TARGET}% per file. Stryker's own score, counting every survivor, is beside it.`,
    "",
  );
  out.push(
    "| file | mutants | killed | timed out | survived | no coverage | listed equivalent | listed performance | score | Stryker's score |",
    "| ---- | ------: | -----: | --------: | -------: | ----------: | ----------------: | -----------------: | ----: | --------------: |",
  );
  for (const row of [...rows, total]) {
    const name = row === total ? "**all files**" : `\`${row.file}\``;
    const s = score(row);
    const mark = row !== total && s !== undefined && s < TARGET ? " (below target)" : "";
    out.push(
      `| ${name} | ${row.mutants} | ${row.killed} | ${row.timeout} | ${row.survived} | ${row.noCoverage} | ` +
        `${row.equivalent} | ${row.performance} | ${percent(s)}${mark} | ${percent(rawScore(row))} |`,
    );
  }
  if (total.errors !== 0) out.push("", `${total.errors} mutants gave compile or runtime errors and are not counted.`);

  const open = mutants.filter((mutant) => isSurvivor(mutant) && !matching.listed.has(mutant.id));
  out.push("", "## Survivors not listed as equivalent", "");
  if (open.length === 0) out.push("None.");
  else {
    out.push("Each is a behaviour no test checks, or a mutant still to judge (`summary.ts --candidates`).", "");
    for (const mutant of open) {
      out.push(
        `- ${mutant.file}:${mutant.line} ${mutant.mutator}${mutant.status === "NoCoverage" ? " (no coverage)" : ""}: ` +
          `${code(mutant.original)} -> ${code(mutant.replacement)}`,
      );
    }
  }
  const problems = [
    ...matching.stale.map((entry) => `- stale, matches no mutant: ${describeEntry(entry)}`),
    ...matching.ambiguous.map(({ entry, lines }) =>
      `- ambiguous, matches lines ${lines.join(", ")}; add \`line\`: ${describeEntry(entry)}`
    ),
    ...matching.contradicted.map(({ entry, mutant }) =>
      `- contradicted, mutant ${mutant.id} on line ${mutant.line} was ${mutant.status}: ${describeEntry(entry)}`
    ),
  ];
  out.push("", "## Equivalents file entries to fix", "");
  out.push(problems.length === 0 ? "None: every entry matches a surviving mutant." : problems.join("\n"));
  return out.join("\n") + "\n";
}

/** Ready-to-edit entries for the survivors not yet judged, with their source and any similar stale entry. */
function candidates(report: Report, mutants: readonly Mutant[], matching: Matching): string {
  const out: string[] = [];
  for (const mutant of mutants) {
    if (!isSurvivor(mutant) || matching.listed.has(mutant.id)) continue;
    const lines = report.files[mutant.file].source.split("\n");
    const from = Math.max(0, mutant.line - 3);
    const context = lines.slice(from, mutant.line + 2).map((text, i) =>
      `${from + i + 1 === mutant.line ? ">" : " "} ${String(from + i + 1).padStart(4)} | ${text}`
    );
    const unique = mutants.filter((other) =>
      other.file === mutant.file && other.mutator === mutant.mutator && other.original === mutant.original &&
      other.replacement === mutant.replacement
    ).length === 1;
    const original = mutant.original.length > TRUNCATE_AT
      ? mutant.original.slice(0, TRUNCATE_AT) + ELLIPSIS
      : mutant.original;
    const entry: Equivalent = {
      file: mutant.file,
      mutator: mutant.mutator,
      original,
      replacement: mutant.replacement,
      ...(unique ? {} : { line: mutant.lineText }),
      kind: "equivalent",
      reason: "TODO: why no program using the public API can tell, or write the test that does",
    };
    const similar = matching.stale.filter((stale) =>
      stale.mutator === mutant.mutator && collapse(stale.replacement) === mutant.replacement
    );
    out.push(`${mutant.file}:${mutant.line} ${mutant.mutator} (${mutant.status})`, ...context);
    for (const stale of similar) {
      out.push(`  similar stale entry (${stale.kind}): ${stale.reason}`);
    }
    out.push(JSON.stringify(entry, null, 2) + ",", "");
  }
  return out.length === 0 ? "No survivor left to judge.\n" : out.join("\n");
}

function main(args: string[]): void {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const reportPaths: string[] = [];
  let outPath = `${here}SUMMARY.md`;
  let printCandidates = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--out") outPath = args[++i];
    else if (args[i] === "--candidates") printCandidates = true;
    else if (args[i].startsWith("--")) throw new TypeError(`Unknown flag: ${args[i]}`);
    else reportPaths.push(args[i]);
  }
  if (reportPaths.length === 0) {
    for (const area of AREAS) {
      if (existsSync(`${here}report/${area}.json`)) reportPaths.push(`${here}report/${area}.json`);
    }
  }
  if (reportPaths.length === 0) throw new Error(`No report in ${here}report/: run npm run mutation first`);
  const report: Report = { files: {} };
  for (const path of reportPaths) Object.assign(report.files, (JSON.parse(readFileSync(path, "utf8")) as Report).files);
  const entries: Equivalent[] = JSON.parse(readFileSync(`${here}equivalents.json`, "utf8"));
  const mutants = readMutants(report);
  const matching = match(entries, mutants);
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const reports = reportPaths.map((path) => relative(root, path));
  const summary = render(
    { dates: new Map(reportPaths.map((path, i) => [reports[i], statSync(path).mtime])), reports },
    mutants,
    matching,
  );
  writeFileSync(outPath, summary);
  const total = sum(count(mutants, matching.listed));
  console.log(
    `${relative(root, outPath)}: score ${percent(score(total))} over ${total.mutants} mutants ` +
      `(${total.survived + total.noCoverage - total.equivalent - total.performance} unlisted survivors, ` +
      `${matching.stale.length} stale, ${matching.ambiguous.length} ambiguous, ` +
      `${matching.contradicted.length} contradicted entries)`,
  );
  if (printCandidates) console.log(candidates(report, mutants, matching));
}

main(process.argv.slice(2));
