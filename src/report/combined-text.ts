/**
 * The combined text report of many captures: each capture's own report (text.ts) under a
 * heading naming it (host and content hash when known), or its one-line error, then one
 * table of the captures: packets, flows, findings by severity, and whether it was read whole.
 */
import { combinedCapture, type CombinedCapture, type CombinedRun } from "./combined.js";
import { PLAIN, type Style } from "./style.js";
import { renderText, type TextOptions } from "./text.js";

function heading(c: CombinedCapture, i: number, n: number, st: Style): string {
  const about = [
    c.host === null ? null : `host ${c.host}`,
    c.contentHash === null ? null : `sha256 ${c.contentHash.slice(0, 16)}`,
  ]
    .filter((x) => x !== null)
    .join(", ");
  return st.bold(`=== capture ${i + 1} of ${n}: ${c.file}${about === "" ? "" : ` (${about})`} ===`);
}

function status(c: CombinedCapture): string {
  if (c.error !== null) return "not read";
  return c.summary!.partial ? "partial" : "read";
}

/** The table of captures, columns padded to their widest cell. */
export function renderCaptureTable(captures: readonly CombinedCapture[], st: Style = PLAIN): string {
  const rows = [
    ["#", "capture", "host", "packets", "flows", "err/warn/info", "status"],
    ...captures.map((c, i) => [
      String(i + 1),
      c.file,
      c.host ?? "-",
      c.summary === null ? "-" : String(c.summary.packets),
      c.summary === null ? "-" : String(c.summary.flows.tcp + c.summary.flows.udp),
      c.summary === null ? "-" : `${c.findings.error}/${c.findings.warning}/${c.findings.info}`,
      status(c),
    ]),
  ];
  const widths = rows[0]!.map((_, k) => Math.max(...rows.map((r) => r[k]!.length)));
  const numeric = new Set([0, 3, 4]);
  return rows
    .map((r, ri) => {
      const line = r
        .map((cell, k) => (numeric.has(k) ? cell.padStart(widths[k]!) : cell.padEnd(widths[k]!)))
        .join("  ");
      return ri === 0 ? st.bold(line.trimEnd()) : line.trimEnd();
    })
    .join("\n");
}

/** Per-capture reports one after the other (as strings, so one capture's text is held at a time), then the table. */
export function* combinedTextParts(run: CombinedRun, opts: TextOptions): Generator<string> {
  const st = opts.style ?? PLAIN;
  const n = run.outcomes.length;
  const captures = run.outcomes.map((o, i) => combinedCapture(o, run.hosts[i] ?? null));
  for (let i = 0; i < n; i++) {
    const o = run.outcomes[i]!;
    yield heading(captures[i]!, i, n, st);
    yield o.report === null ? st.red(`  not read: ${o.error}`) + "\n" : renderText(o.report, opts);
  }
  const packets = captures.reduce((s, c) => s + (c.summary?.packets ?? 0), 0);
  const findings = captures.reduce((s, c) => s + c.findings.error + c.findings.warning + c.findings.info, 0);
  const unread = captures.filter((c) => c.error !== null).length;
  yield st.bold(
    `Captures (${n}): ${packets} packets, ${findings} findings` + (unread > 0 ? `; ${unread} not read` : ""),
  );
  yield renderCaptureTable(captures, st);
  if (run.warnings.length > 0)
    yield ["", st.bold(`Skipped (${run.warnings.length})`), ...run.warnings.map((w) => st.yellow(`  ${w}`))].join("\n");
}
