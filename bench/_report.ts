/**
 * Renders a matrix result three ways from the same tables: a plain-text
 * report for the terminal, `MATRIX.md`, and `matrix.svg`, a hand-written bar
 * chart of runtime x subject with the peers beside us (no chart library).
 *
 * @module
 */

import type { RuntimeName } from "./_measure.ts";
import { SUBJECTS } from "./_subjects.ts";
import {
  type CaseResult,
  type Check,
  type Figure,
  figureOf,
  type MatrixResult,
  ratioText,
  REFERENCES,
  type RuntimeResult,
} from "./targets.ts";
import {
  CAPACITY,
  CHUNK,
  CLIFF_STARTS,
  CLIFF_SUBJECTS,
  LATENCY_BURST,
  LATENCY_CONSUMERS,
  LATENCY_TARGET_US,
  MEMORY_SUBSCRIBERS,
  SLOW_BATCH,
} from "./workloads.ts";

interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Said under the title in MATRIX.md. */
  note?: string;
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

/** What each subject's throughput ratio is taken against: ours their reference path, the rest the limit of their kind. */
function yardstick(subject: string): string | undefined {
  if (REFERENCES[subject]) return REFERENCES[subject];
  if (subject === "limit.tryRecv") return "limit.sync";
  if (SUBJECTS[subject].family === "limit") return undefined;
  return SUBJECTS[subject].mode === "sync" ? "limit.sync" : "limit.async";
}

/** "16.3M 0.85x [0.81-0.90]": a case's median rate and its ratio to `ref` over processes. */
function rateCell(r: RuntimeResult, id: string, ref: string | undefined, perDelivery = false): string {
  const c = r.cases[id];
  if (!c) return "-";
  const rate = si(perDelivery ? c.deliveriesPerSec : c.eventsPerSec);
  const f = ref ? r.ratioFigures[`${id} : ${ref}`] : undefined;
  return f ? `${rate} ${ratioText(f)}` : rate;
}

/** Nanoseconds per run of a case over processes. */
function nsFigure(c: CaseResult | undefined, per = 1): Figure | undefined {
  return c && figureOf(c.perProcess!.map((perSec) => 1e9 / perSec / per));
}

function checkCell(check: Check): string {
  return `${check.met === undefined ? "n/a" : check.met ? "ok" : "MISS"} ${check.measured}`;
}

function tables(result: MatrixResult): Table[] {
  const runtimes = runtimesOf(result);
  const names = runtimes.map(([name]) => name);
  const out: Table[] = [];

  const targets = new Map<string, { issue: number; goal: string; cells: string[] }>();
  runtimes.forEach(([, r], i) => {
    for (const check of r.checks) {
      const row = targets.get(check.target) ?? { issue: check.issue, goal: check.goal, cells: names.map(() => "-") };
      row.cells[i] = checkCell(check);
      targets.set(check.target, row);
    }
  });
  out.push({
    title: "Targets: median over processes [lowest-highest process]",
    note: "Ratios are taken within each process, then summarised; a target is judged on the median. " +
      "Issue 8 is the performance issue (no cliff, Bun at parity, honest yardsticks); issue 3 set the matrix's first targets.",
    headers: ["issue", "target", "goal", ...names],
    rows: [...targets].sort((a, b) => b[1].issue - a[1].issue)
      .map(([target, row]) => [String(row.issue), target, row.goal, ...row.cells]),
  });

  out.push({
    title: "Fan-out, 1 producer x 8 subscribers: events/s, and x its yardstick [range over processes]",
    note: "Each of ours against the path it must be measured by: drain against the limit's drain, tryRecv against " +
      "the limit read one value per call, wait()+drain against the limit's await-when-caught-up, for await and " +
      "recv() against the limit's promise per value, the streams against a ReadableStream fed by enqueue. " +
      "Peers against the limit of their kind; the per-call limit against the limit's drain.",
    headers: ["subject", "against", ...names],
    rows: Object.keys(SUBJECTS).map((subject) => {
      const ref = yardstick(subject);
      return [
        SUBJECTS[subject].label,
        ref ?? "",
        ...runtimes.map(([, r]) => rateCell(r, `fanout/${subject}/S=8`, ref && `fanout/${ref}/S=8`)),
      ];
    }),
  });

  const sendIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.cases)))]
    .filter((id) => id.startsWith("send/bus."));
  out.push({
    title: "send(): ns per send, and ours x the limit ring doing the same (events/s) [range]",
    note: "Overwrite: subscribers that never read, so every send past the first ring overwrites the slowest " +
      "reader's value (S=0: nobody subscribed). Fan-out: the subscribers drain every round; only the sends are timed, " +
      "by the round itself, less what the clock adds.",
    headers: ["case", "what", ...names],
    rows: sendIds.map((id) => {
      const limitId = id.replace("send/bus.", "send/limit.");
      const label = runtimes.map(([, r]) => r.cases[id]).find(Boolean)!.label;
      return [
        id,
        label,
        ...runtimes.map(([, r]) => {
          const ns = nsFigure(r.cases[id]);
          const f = r.ratioFigures[`${id} : ${limitId}`];
          return ns ? `${fixed(ns.median)} ns, ${ratioText(f)} limit` : "-";
        }),
      ];
    }),
  });

  const counts = [...new Set(runtimes.flatMap(([, r]) => Object.values(r.cases)))]
    .filter((c) => c.workload === "fanout").map((c) => c.subscribers);
  const subscriberCounts = [...new Set(counts)].sort((a, b) => a - b);
  for (const [name, r] of runtimes) {
    out.push({
      title: `Fan-out scaling on ${name}: deliveries/s by subscribers S`,
      headers: ["subject", ...subscriberCounts.map((s) => `S=${s}`)],
      rows: Object.entries(SUBJECTS).map(([subject, spec]) => [
        spec.label,
        ...subscriberCounts.map((s) => si(r.cases[`fanout/${subject}/S=${s}`]?.deliveriesPerSec)),
      ]),
    });
  }

  const hasReference = runtimes.some(([, r]) => r.reference !== undefined);
  out.push({
    title: "drain and wait()+drain by S: x the limit ring [range], beside the reference (the code before issue 8)",
    note: hasReference
      ? "Target: no S more than 5% below the reference's ratio."
      : "No reference recorded: see `gate.ts --update-reference`.",
    headers: ["runtime", "subject", ...subscriberCounts.map((s) => `S=${s}`)],
    rows: runtimes.flatMap(([name, r]) =>
      [["bus.drain", "limit.sync"], ["bus.wait", "limit.async"]].map(([subject, limit]) => [
        name,
        subject,
        ...subscriberCounts.map((s) => {
          const key = `fanout/${subject}/S=${s} : fanout/${limit}/S=${s}`;
          const reference = r.reference?.[key];
          return `${ratioText(r.ratioFigures[key])}${reference === undefined ? "" : ` (ref ${fixed(reference)}x)`}`;
        }),
      ])
    ),
  });

  const otherIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.cases)))]
    .filter((id) => /^(producers4|lag|churn)\//.test(id));
  out.push({
    title: "4 producers x 8 subscribers, lag, churn: events/s [range over processes]",
    headers: ["case", "what", ...names],
    rows: otherIds.map((id) => {
      const first = runtimes.map(([, r]) => r.cases[id]).find(Boolean)!;
      return [
        id,
        first.label,
        ...runtimes.map(([, r]) => {
          const c = r.cases[id];
          if (!c) return "-";
          const f = figureOf(c.perProcess!);
          const range = f.values.length > 1 ? ` [${si(f.min)}-${si(f.max)}]` : "";
          const dropped = c.counters?.dropped;
          return si(c.eventsPerSec) + range +
            (c.workload === "lag" ? `, ${fixed(100 * dropped! / c.counters!.sent, 1)}% lost` : "") +
            (c.workload === "churn" ? `, ${c.counters!.churned} churned` : "");
        }),
      ];
    }),
  });

  const coldIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.cases)))]
    .filter((id) => id.startsWith("coldStart/"));
  out.push({
    title: "Cold start: ns [range over processes]",
    note: "The first subscribe alone is `new Bus(256).subscribe()` less `new Bus(256)`, per process. " +
      "Target (issue 8): the first subscribe, with the bus, <= 1 us on every runtime.",
    headers: ["case", "what", ...names],
    rows: [
      ...coldIds.map((id) => [
        id,
        runtimes.map(([, r]) => r.cases[id]).find(Boolean)!.label,
        ...runtimes.map(([, r]) => ratioText(nsFigure(r.cases[id]), " ns", 0)),
      ]),
      [
        "(derived)",
        "first subscribe() alone",
        ...runtimes.map(([, r]) => {
          const [subscribed, bus] = [
            nsFigure(r.cases["coldStart/bus.subscribed/-"]),
            nsFigure(r.cases["coldStart/bus.number/-"]),
          ];
          return subscribed && bus
            ? ratioText(figureOf(subscribed.values.map((ns, i) => ns - bus.values[i])), " ns", 0)
            : "-";
        }),
      ],
    ],
  });

  const cliffRows: string[][] = [];
  for (const subject of CLIFF_SUBJECTS) {
    for (const start of Object.keys(CLIFF_STARTS)) {
      const id = `cliff/${subject}/start=${start}`;
      if (!runtimes.some(([, r]) => r.cases[id])) continue;
      cliffRows.push([
        SUBJECTS[subject].label,
        start,
        ...runtimes.map(([, r]) => rateCell(r, id, start === "0" ? undefined : `cliff/${subject}/start=0`)),
      ]);
    }
  }
  for (const subject of ["bus.drain", "bus.wait", "bus.tryRecv"]) {
    const key = `cliff/${subject}/start=0 : fanout/${subject}/S=8, over limit.sync`;
    if (!runtimes.some(([, r]) => r.ratioFigures[key])) continue;
    cliffRows.push([
      `${SUBJECTS[subject].label}: fresh bus in the cliff phase / in the fan-out phase, each over limit.sync`,
      "0",
      ...runtimes.map(([, r]) => ratioText(r.ratioFigures[key])),
    ]);
  }
  out.push({
    title: "The 2^31 cliff, S=8: events/s, and x a fresh one in the same process [range]",
    note:
      "Buses started past 2^31 and 2^32 values (`startSequenceAt`; positions rebase every 2^29), beside a fresh bus, " +
      "in a phase after every other case. Target: no difference (>= 0.95x). The limit ring started past 2^31 shows " +
      "what positions that became doubles cost. The last rows: 1 when big positions elsewhere did not slow fresh buses.",
    headers: ["subject", "start", ...names],
    rows: cliffRows,
  });

  const latencySubjects = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.latency)))];
  out.push({
    title: `publish->recv latency, 1 producer x ${LATENCY_CONSUMERS} consumers, bursts of ${LATENCY_BURST}: ` +
      "p50 / p95 [range of p95] / p99 us",
    note: `The seed's target, on every reading path of ours: p95 < ${LATENCY_TARGET_US} us. ` +
      "Sync paths (drain, tryRecv) read right after each burst.",
    headers: ["subject", "target", ...names],
    rows: latencySubjects.map((subject) => [
      SUBJECTS[subject].label,
      SUBJECTS[subject].family === "ours" ? `p95 < ${LATENCY_TARGET_US} us` : "",
      ...runtimes.map(([, r]) => {
        const l = r.latency[subject];
        if (!l) return "-";
        const verdict = SUBJECTS[subject].family === "ours" ? (l.p95 < LATENCY_TARGET_US ? "ok " : "MISS ") : "";
        return `${verdict}${fixed(l.p50)} / ${ratioText(figureOf(l.p95s), "", 2)} / ${fixed(l.p99)}`;
      }),
    ]),
  });

  for (const [name, r] of runtimes) {
    const capacities = [
      ...new Set([...Object.values(r.capacity).map((c) => c.capacity), ...r.memory.map((m) => m.capacity)]),
    ]
      .sort((a, b) => a - b);
    if (capacities.length === 0) continue;
    out.push({
      title: `Capacity on ${name}: memory per bus, and p95 publish->recv on wait()+drain(), 1 x ${LATENCY_CONSUMERS}`,
      note: "Bytes a bus keeps alive with its ring full (heap after a forced collection, plus array buffers; " +
        "the values are shared, so only the ring counts), with 0, 1 and 8 idle subscribers. Latency with consumers " +
        `that keep up (bursts of ${LATENCY_BURST}) and with bursts of half the capacity, where each value waits behind ` +
        "those sent before it.",
      headers: [
        "capacity",
        ...MEMORY_SUBSCRIBERS.map((s) => `bytes, S=${s}`),
        "per more subscriber",
        "p95 kept up, us",
        "p95 half full, us",
      ],
      rows: capacities.map((capacity) => {
        const memory = (s: number) => r.memory.find((m) => m.capacity === capacity && m.subscribers === s)?.bytesPerBus;
        const perSubscriber = ((memory(8) ?? NaN) - (memory(1) ?? NaN)) / 7;
        const p95 = (load: string) => {
          const c = r.capacity[`${capacity}/${load}`];
          return c ? ratioText(figureOf(c.p95s), "", 1) : "-";
        };
        return [
          String(capacity),
          ...MEMORY_SUBSCRIBERS.map((s) => bytes(memory(s))),
          bytes(perSubscriber),
          p95("keepUp"),
          p95("halfFull"),
        ];
      }),
    });
  }

  const allocationIds = [...new Set(runtimes.flatMap(([, r]) => Object.keys(r.allocations)))];
  out.push({
    title: "Heap bytes per event / per delivery (first process)",
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

  out.push({
    title: "Processes: wall and CPU seconds, load average at start",
    headers: ["runtime", "process", "wall s", "CPU s", "load", "status"],
    rows: runtimes.flatMap(([name, r]) =>
      r.processes.map((p) => [
        name,
        String(p.index),
        fixed(p.seconds, 0),
        fixed(p.cpuSeconds, 0),
        p.load.join(" "),
        p.error ? `FAILED: ${p.error}` : "ok",
      ])
    ),
  });
  return out;
}

/** 1234567 -> "1.18 MiB". */
function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (Math.abs(n) >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n.toFixed(0)} B`;
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
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, load ${m.load.join(" ")} at the start`,
    ...result.busRoot ? [`bus under test: ${result.busRoot} (BENCH_BUS)`] : [],
    ...runtimesOf(result).map(([name, r]) =>
      `${name} ${r.version}: ${r.processes.length} process${r.processes.length === 1 ? "" : "es"}, ` +
      `${r.seconds.toFixed(0)} s ` +
      `(${r.cpuSeconds.toFixed(0)} CPU s)${r.error ? `, FAILED: ${r.error}` : ""}`
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

/** How to read the matrix: the top of `MATRIX.md`, and the source of the README's paragraph. */
export function howToRead(result: MatrixResult): string {
  const [r] = Object.values(result.runtimes);
  const processes = r?.processes.length ?? 0;
  return "How to read this: a round sends " +
    `${CHUNK} values through a ring of ${CAPACITY} and ends when every subscriber has them. ` +
    `Each runtime ran in ${processes} separate processes, taken in turn (Deno, Bun, Node, Deno, ...) so a change ` +
    "in the machine's load reaches every runtime alike. In each process every case is measured in passes, each " +
    "from a new fixture and interleaved with every other case; the process's figure is the median of its passes. " +
    "A JIT decides per process what to inline (Bun inlines a different subset of the 8 distinct handlers in each), " +
    "so one process is one draw: every figure here is the median over processes, and [low-high] is the range " +
    "of the processes, which shows how far a single run can stray. Ratios are taken within each process, where " +
    "both sides saw the same JIT and the same load, then summarised the same way. Compare ratios, not absolute " +
    "numbers. `limit` is a minimal ring with no bookkeeping, the ceiling, not a competitor; each of our paths is " +
    "held against the limit read the same way. Each subscriber has its own handler function, compiled from its own " +
    "source, and each subject runs its own copy of the loops it shares with others, so none inherits another's " +
    `JIT feedback. The lag workload's slow subscriber reads at most ${SLOW_BATCH} values per wake. ` +
    "`latest.json` keeps every process's figures (`processes`), each with its passes. " +
    "Heap bytes (first process of each runtime) are measured by collecting garbage and reading the heap counter " +
    "around windows of runs, and trusted only where the calibration against objects of known size passes.";
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
    howToRead(result),
  ];
  for (const table of tables(result)) {
    lines.push("", `## ${table.title}`, "");
    if (table.note) lines.push(table.note, "");
    lines.push(`| ${table.headers.join(" | ")} |`, `|${table.headers.map(() => " --- ").join("|")}|`);
    for (const row of table.rows) lines.push(`| ${row.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`);
  }
  return lines.join("\n") + "\n";
}

const COLORS: Record<RuntimeName, string> = { deno: "#1f2937", bun: "#d9779f", node: "#5fa04e" };

interface Bar {
  label: string;
  family: string;
  /** Per runtime: the median over processes, and the range of the processes. */
  values: [RuntimeName, Figure | undefined][];
}

/**
 * `matrix.svg`: horizontal bars on a log axis, three per subject (one per
 * runtime), in three panels: sync fan-out and async fan-out at S=8
 * (events/s, longer is better) and p95 latency (us, shorter is better).
 * A bar is the median over processes; its whisker spans the processes.
 */
export function renderSvg(result: MatrixResult): string {
  const runtimes = runtimesOf(result);
  const bars = (mode: string): Bar[] =>
    Object.entries(SUBJECTS).filter(([, spec]) => spec.mode === mode).map(([subject, spec]) => ({
      label: spec.label,
      family: spec.family,
      values: runtimes.map(([name, r]) => {
        const c = r.cases[`fanout/${subject}/S=8`];
        return [name, c && figureOf(c.perProcess!)];
      }),
    }));
  const latency: Bar[] = Object.entries(SUBJECTS).filter(([subject]) => runtimes.some(([, r]) => r.latency[subject]))
    .map(([subject, spec]) => ({
      label: spec.label,
      family: spec.family,
      values: runtimes.map(([name, r]) => [name, r.latency[subject] && figureOf(r.latency[subject].p95s)]),
    }));
  // Title, bars, and where a target line goes (the latency target), if anywhere.
  const panels: [string, Bar[], number | undefined][] = [
    ["Sync fan-out, 1 producer x 8 subscribers: events/s", bars("sync"), undefined],
    ["Async fan-out, 1 producer x 8 subscribers: events/s", bars("async"), undefined],
    [
      `p95 publish->recv latency, 1 producer x ${LATENCY_CONSUMERS} consumers: us (shorter is better; ` +
      `dashed: the ${LATENCY_TARGET_US} us target)`,
      latency,
      LATENCY_TARGET_US,
    ],
  ];
  const format = si;
  const width = 960, labelWidth = 250, plotWidth = width - labelWidth - 70, barHeight = 9, rowGap = 8;
  const parts: string[] = [];
  let y = 76;
  for (const [title, rows, target] of panels) {
    const values = [...rows.flatMap((row) => row.values.flatMap(([, f]) => f ? [f.min, f.max] : [])), target ?? NaN]
      .filter((v) => v > 0 && Number.isFinite(v));
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
    if (target !== undefined) {
      parts.push(`<line x1="${x(target)}" y1="${top}" x2="${x(target)}" y2="${top + height}" class="target"/>`);
    }
    for (const row of rows) {
      const cls = row.family === "ours" ? "ours" : row.family === "limit" ? "limit" : "peer";
      const middle = y + (runtimes.length * barHeight) / 2 + 4;
      parts.push(`<text x="${labelWidth - 8}" y="${middle}" class="label ${cls}">${escape(row.label)}</text>`);
      for (const [name, f] of row.values) {
        const value = f?.median ?? NaN;
        if (f && value > 0 && Number.isFinite(value)) {
          const w = Math.max(1, Math.round(10 * (x(value) - labelWidth)) / 10);
          const [from, to] = [x(f.min), x(f.max)];
          const mid = y + (barHeight - 1) / 2;
          parts.push(
            `<rect x="${labelWidth}" y="${y}" width="${w}" height="${barHeight - 1}" fill="${COLORS[name]}"` +
              ` class="${cls}"><title>${name}: ${format(value)} (${format(f.min)}-${format(f.max)})</title></rect>`,
            ...(to > from ? [`<line x1="${from}" y1="${mid}" x2="${to}" y2="${mid}" class="whisker"/>`] : []),
            `<text x="${Math.max(labelWidth + w, to) + 4}" y="${y + barHeight - 1}" class="value">${
              format(value)
            }</text>`,
          );
        }
        y += barHeight;
      }
      y += rowGap;
    }
    y += 36;
  }
  const legend = runtimes.map(([name, r], i) =>
    `<rect x="${12 + i * 300}" y="42" width="12" height="12" fill="${COLORS[name]}"/>` +
    `<text x="${30 + i * 300}" y="52" class="legend">${escape(`${name} ${r.version}`)}</text>`
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" ` +
    `font-family="system-ui, sans-serif" font-size="11">`,
    "<style>.title{font-size:13px;font-weight:600}.grid{stroke:#ddd}.tick{fill:#777;text-anchor:middle}" +
    ".label{text-anchor:end}.ours{font-weight:700}.limit{font-style:italic;fill-opacity:.45}" +
    ".value{fill:#555;font-size:9px}.legend{fill:#333}.whisker{stroke:#000;stroke-width:1.5;stroke-opacity:.6}" +
    ".target{stroke:#c00;stroke-dasharray:4 3}.subtitle{fill:#555}</style>",
    `<rect width="${width}" height="${y}" fill="#fff"/>`,
    `<text x="12" y="16" class="title">@ron/bus vs peers and the limit ring, ${escape(result.date.slice(0, 10))}, ` +
    `profile ${escape(result.profile)}</text>`,
    `<text x="12" y="32" class="subtitle">bold: ours; italic: the limit rings; bars: the median over ` +
    `${runtimes[0]?.[1].processes.length ?? 0} processes per runtime; whiskers: the lowest and highest process</text>`,
    ...legend,
    ...parts,
    "</svg>",
  ].join("\n") + "\n";
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
