/**
 * The many-capture text report: each capture's own report (text.ts) under a heading naming
 * it (host and content hash when known), or its one-line error, then one table of the
 * captures: packets, flows, findings by severity, and whether it was read whole.
 */
import type { CaptureRow, CombinedWriter } from "./combined.js";
import { PLAIN, type Style } from "./style.js";

function heading(c: CaptureRow, i: number, n: number, st: Style): string {
  const about = [
    c.host === null ? null : `host ${c.host}`,
    c.contentHash === null ? null : `sha256 ${c.contentHash.slice(0, 16)}`,
  ]
    .filter((x) => x !== null)
    .join(", ");
  return st.bold(`=== capture ${i + 1} of ${n}: ${c.file}${about === "" ? "" : ` (${about})`} ===`);
}

function status(c: CaptureRow): string {
  if (c.error !== null) return "not read";
  return c.summary!.partial ? "partial" : "read";
}

/** The table of captures, columns padded to their widest cell. */
export function renderCaptureTable(captures: readonly CaptureRow[], st: Style = PLAIN): string {
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
        .join("  ")
        .trimEnd();
      return ri === 0 ? st.bold(line) : line;
    })
    .join("\n");
}

export function textWriter(st: Style): CombinedWriter {
  return {
    begin: () => [],
    capture: (o, i, n) => [
      heading(o.row, i, n, st),
      // The part is the capture's text report (written by its worker), ending in a newline: a blank line before the next heading.
      ...(o.part ?? [st.red(`  not read: ${o.error}`) + "\n"]),
    ],
    *end(rows, skipped) {
      const packets = rows.reduce((s, c) => s + (c.summary?.packets ?? 0), 0);
      const findings = rows.reduce((s, c) => s + c.findings.error + c.findings.warning + c.findings.info, 0);
      const unread = rows.filter((c) => c.error !== null).length;
      yield st.bold(
        `Captures (${rows.length}): ${packets} packets, ${findings} findings` +
          (unread > 0 ? `; ${unread} not read` : ""),
      );
      yield renderCaptureTable(rows, st);
      if (skipped.length > 0)
        yield ["", st.bold(`Skipped (${skipped.length})`), ...skipped.map((w) => st.yellow(`  ${w}`))].join("\n");
    },
  };
}
