/**
 * Renders a matrix result three ways from the same tables: a plain-text
 * report for the terminal, `MATRIX.md`, and `matrix.svg`, a hand-written bar
 * chart of runtime x subject with the peers beside us (no chart library).
 *
 * @module
 */

import type { RuntimeName } from "./_measure.ts";
import { SUBJECTS } from "./_subjects.ts";
import type { MatrixResult, RuntimeResult } from "./targets.ts";
import { CAPACITY, CHUNK, LATENCY_BURST, LATENCY_CONSUMERS, SLOW_BATCH } from "./workloads.ts";

interface Table {
  title: string;
  headers: string[];
  rows: string[][];
}

/** 12345678 -> "12.3M". */
export function si(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  for (const [scale, suffix] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]] as const) {
    if (Math.abs(n) >= scale) return `${Number((n / scale).toPrecision(3))}${suffix}`;
  }
  return `${Number(n.toPrecision(3))}`;
}

const fixed = (n: number | undefined, digits = 2) => n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);

function runtimesOf(result: MatrixResult): [RuntimeName, RuntimeResult][] {
  return Object.entries(result.runtimes) as [RuntimeName, RuntimeResult][];
}

/** The ceiling each subject's throughput is shown against. */
const ceiling = (subject: string) => SUBJECTS[subject].mode === "sync" ? "limit.sync" : "limit.async";

function tables(result: MatrixResult): Table[] {
  const runtimes = runtimesOf(result);
  const names = runtimes.map(([name]) => name);
  const out: Table[] = [];

  const targets = new Map<string, { goal: string; cells: string[] }>();
  runtimes.forEach(([, r], i) => {
    for (const check of r.checks) {
      const row = targets.get(check.target) ?? { goal: check.goal, cells: names.map(() => "-") };
      row.cells[i] = `${check.met ? "ok" : "MISS"} ${check.measured}`;
      targets.set(check.target, row);
    }
  });
  out.push({
    title: "Targets (ratios within one run of one runtime)",
    headers: ["target", "goal", ...names],
    rows: [...targets].map(([target, row]) => [target, row.goal, ...row.cells]),
  });

  out.push({
    title: `Fan-out, 1 producer x 8 subscribers: events/s (x the limit ring of the same kind)`,
    headers: ["subject", "kind", ...names],
    rows: Object.entries(SUBJECTS).map(([subject, spec]) => [
      spec.label,
      spec.family === "ours" ? "ours" : spec.family,
      ...runtimes.map(([, r]) => {
        const c = r.cases[`fanout/${subject}/S=8`];
        const limit = r.cases[`fanout/${ceiling(subject)}/S=8`];
        return c ? `${si(c.eventsPerSec)} (${fixed(c.eventsPerSec / limit?.eventsPerSec)}x)` : "-";
      }),
    ]),
  });

  const subscriberCounts = [...new Set(runtimes.flatMap(([, r]) => Object.values(r.cases)))]
    .filter((c) => c.workload === "fanout").map((c) => c.subscribers);
  const counts = [...new Set(subscriberCounts)].sort((a, b) => a - b);
  for (const [name, r] of runtimes) {
    out.push({
      title: `Fan-out scaling on ${name}: deliveries/s by subscribers S`,
      headers: ["subject", ...counts.map((s) => `S=${s}`)],
      rows: Object.entries(SUBJECTS).map(([subject, spec]) => [
        spec.label,
        ...counts.map((s) => si(r.cases[`fanout/${subject}/S=${s}`]?.deliveriesPerSec)),
      ]),
    });
  }

  const otherIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.cases)))]
    .filter((id) => !id.startsWith("fanout/"));
  out.push({
    title: "Send, 4 producers x 8 subscribers, lag, churn: events/s; cold start: ns",
    headers: ["case", "what", ...names],
    rows: otherIds.map((id) => {
      const first = runtimes.map(([, r]) => r.cases[id]).find(Boolean)!;
      return [
        id,
        first.label,
        ...runtimes.map(([, r]) => {
          const c = r.cases[id];
          if (!c) return "-";
          if (c.workload === "coldStart") return `${fixed(1e9 / c.eventsPerSec, 0)} ns`;
          const dropped = c.counters?.dropped;
          return si(c.eventsPerSec) +
            (c.workload === "lag" ? `, ${fixed(100 * dropped! / c.counters!.sent, 1)}% lost` : "") +
            (c.workload === "churn" ? `, ${c.counters!.churned} churned` : "");
        }),
      ];
    }),
  });

  const latencySubjects = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.latency)))];
  out.push({
    title: `publish->recv latency, 1 producer x ${LATENCY_CONSUMERS} consumers, bursts of ${LATENCY_BURST}: ` +
      "p50 / p95 / p99 us",
    headers: ["subject", ...names],
    rows: latencySubjects.map((subject) => [
      SUBJECTS[subject].label,
      ...runtimes.map(([, r]) => {
        const l = r.latency[subject];
        return l ? `${fixed(l.p50)} / ${fixed(l.p95)} / ${fixed(l.p99)}` : "-";
      }),
    ]),
  });

  const allocationIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.allocations)))];
  out.push({
    title: "Heap bytes per event / per delivery",
    headers: ["case", "what", ...names],
    rows: [
      ["calibration", "{ a, b } object; 1 KiB of doubles", ...runtimes.map(([, r]) => calibrationCell(r))],
      ...allocationIds.map((id) => {
        const first = runtimes.map(([, r]) => r.allocations[id]).find(Boolean)!;
        return [
          id,
          first.label,
          ...runtimes.map(([, r]) => {
            const a = r.allocations[id];
            if (!a) return "-";
            return !Number.isFinite(a.bytesPerDelivery)
              ? fixed(a.bytesPerEvent, 1)
              : `${fixed(a.bytesPerEvent, 1)} / ${fixed(a.bytesPerDelivery, 2)}`;
          }),
        ];
      }),
    ],
  });
  return out;
}

function calibrationCell(r: RuntimeResult): string {
  const c = r.calibration;
  if (!c) return "-";
  return `${fixed(c.pair.measured, 1)} (of ${c.pair.expected}); ${fixed(c.kibArray.measured, 0)}; ` +
    (c.trusted ? "trusted" : "NOT trusted");
}

function header(result: MatrixResult): string[] {
  const m = result.machine;
  return [
    `${result.date} · profile ${result.profile} · \`${result.command}\``,
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, load ${m.load.join(" ")}`,
    ...runtimesOf(result).map(([name, r]) =>
      `${name} ${r.version}: ${r.seconds.toFixed(0)} s${r.error ? `, FAILED: ${r.error}` : ""}`
    ),
  ];
}

/** The report for the terminal: plain, aligned columns. */
export function renderText(result: MatrixResult): string {
  const lines = header(result);
  for (const table of tables(result)) {
    const widths = table.headers.map((h, i) => Math.max(h.length, ...table.rows.map((row) => row[i].length)));
    const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
    lines.push("", table.title, line(table.headers), widths.map((w) => "-".repeat(w)).join("  "));
    for (const row of table.rows) lines.push(line(row));
  }
  return lines.join("\n");
}

/** `MATRIX.md`: the same tables, with how to read them. */
export function renderMarkdown(result: MatrixResult): string {
  const lines = [
    "# @ron/bus benchmark matrix",
    "",
    ...header(result).map((line) => `${line}  `),
    "",
    "![matrix](matrix.svg)",
    "",
    "How to read this: every figure is a median over many rounds; a round sends " +
    `${CHUNK} values through a ring of ${CAPACITY} and ends when every subscriber has them. ` +
    "Compare ratios, not absolute numbers: a ratio puts two subjects measured in the same process, " +
    "minutes apart, on the same noisy machine. `limit` is a minimal ring with no bookkeeping, the ceiling, " +
    "not a competitor. Each subscriber has its own handler function, compiled from its own source, and each " +
    "subject runs its own copy of the loops it shares with others, so none inherits another's JIT feedback. " +
    `The lag workload's slow subscriber reads at most ${SLOW_BATCH} values per wake. ` +
    "Each case is measured in several passes, each from a new fixture, interleaved with every other case; " +
    "the figure is the median of the passes' medians, and `latest.json` keeps each case's `spread` " +
    "(slowest pass over fastest) to show how noisy the machine was. " +
    "Heap bytes are measured by collecting garbage and reading the heap counter around windows of runs, " +
    "and trusted only where the calibration against objects of known size passes.",
  ];
  for (const table of tables(result)) {
    lines.push("", `## ${table.title}`, "", `| ${table.headers.join(" | ")} |`);
    lines.push(`|${table.headers.map(() => " --- ").join("|")}|`);
    for (const row of table.rows) lines.push(`| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

const COLORS: Record<RuntimeName, string> = { deno: "#1f2937", bun: "#d9779f", node: "#5fa04e" };

interface Bar {
  label: string;
  family: string;
  values: [RuntimeName, number][];
}

/**
 * `matrix.svg`: horizontal bars on a log axis, three per subject (one per
 * runtime), in three panels: sync fan-out and async fan-out at S=8
 * (events/s, longer is better) and p95 latency (us, shorter is better).
 */
export function renderSvg(result: MatrixResult): string {
  const runtimes = runtimesOf(result);
  const bars = (mode: string): Bar[] =>
    Object.entries(SUBJECTS).filter(([, spec]) => spec.mode === mode).map(([subject, spec]) => ({
      label: spec.label,
      family: spec.family,
      values: runtimes.map(([name, r]) => [name, r.cases[`fanout/${subject}/S=8`]?.eventsPerSec ?? NaN]),
    }));
  const latency: Bar[] = Object.entries(SUBJECTS).filter(([subject]) => runtimes.some(([, r]) => r.latency[subject]))
    .map(([subject, spec]) => ({
      label: spec.label,
      family: spec.family,
      values: runtimes.map(([name, r]) => [name, r.latency[subject]?.p95 ?? NaN]),
    }));
  const panels: [string, Bar[], (n: number) => string][] = [
    ["Sync fan-out, 1 producer x 8 subscribers: events/s", bars("sync"), si],
    ["Async fan-out, 1 producer x 8 subscribers: events/s", bars("async"), si],
    [`p95 publish->recv latency, 1 producer x ${LATENCY_CONSUMERS} consumers: us (shorter is better)`, latency, si],
  ];
  const width = 960, labelWidth = 250, plotWidth = width - labelWidth - 70, barHeight = 9, rowGap = 8;
  const parts: string[] = [];
  let y = 56;
  for (const [title, rows, format] of panels) {
    const values = rows.flatMap((row) => row.values.map(([, v]) => v)).filter((v) => v > 0 && Number.isFinite(v));
    if (values.length === 0) continue;
    const low = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const high = 10 ** Math.ceil(Math.log10(Math.max(...values)));
    const x = (v: number) =>
      Math.round(10 * (labelWidth + plotWidth * Math.log10(v / low) / Math.log10(high / low))) / 10;
    parts.push(`<text x="12" y="${y}" class="title">${escape(title)}</text>`);
    y += 10;
    const top = y;
    const height = rows.length * (runtimes.length * barHeight + rowGap);
    for (let tick = low; tick <= high; tick *= 10) {
      parts.push(`<line x1="${x(tick)}" y1="${top}" x2="${x(tick)}" y2="${top + height}" class="grid"/>`);
      parts.push(`<text x="${x(tick)}" y="${top + height + 12}" class="tick">${format(tick)}</text>`);
    }
    for (const row of rows) {
      const cls = row.family === "ours" ? "ours" : row.family === "limit" ? "limit" : "peer";
      const middle = y + (runtimes.length * barHeight) / 2 + 4;
      parts.push(`<text x="${labelWidth - 8}" y="${middle}" class="label ${cls}">${escape(row.label)}</text>`);
      for (const [name, value] of row.values) {
        if (value > 0 && Number.isFinite(value)) {
          const w = Math.max(1, Math.round(10 * (x(value) - labelWidth)) / 10);
          parts.push(
            `<rect x="${labelWidth}" y="${y}" width="${w}" height="${barHeight - 1}" fill="${COLORS[name]}"` +
              ` class="${cls}"><title>${name}: ${format(value)}</title></rect>`,
            `<text x="${labelWidth + w + 4}" y="${y + barHeight - 1}" class="value">${format(value)}</text>`,
          );
        }
        y += barHeight;
      }
      y += rowGap;
    }
    y += 36;
  }
  const legend = runtimes.map(([name, r], i) =>
    `<rect x="${12 + i * 300}" y="24" width="12" height="12" fill="${COLORS[name]}"/>` +
    `<text x="${30 + i * 300}" y="34" class="legend">${escape(`${name} ${r.version}`)}</text>`
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" ` +
    `font-family="system-ui, sans-serif" font-size="11">`,
    "<style>.title{font-size:13px;font-weight:600}.grid{stroke:#ddd}.tick{fill:#777;text-anchor:middle}" +
    ".label{text-anchor:end}.ours{font-weight:700}.limit{font-style:italic;fill-opacity:.45}" +
    ".value{fill:#555;font-size:9px}.legend{fill:#333}</style>",
    `<rect width="${width}" height="${y}" fill="#fff"/>`,
    `<text x="12" y="16" class="title">@ron/bus vs peers and the limit ring, ${escape(result.date.slice(0, 10))}, ` +
    `profile ${escape(result.profile)} (bold: ours, italic: limit)</text>`,
    ...legend,
    ...parts,
    "</svg>",
  ].join("\n") + "\n";
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
