// The blind audit (test/audit/*.tsv): findings judged against the packets, one row each.
// Shared by test/audit.test.ts (regressions) and scripts/audit-table.mjs (the README's table).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const AUDIT_COLUMNS = ["file", "kind", "severity", "flow", "client", "server", "frame", "verdict", "reason"];
export const VERDICTS = ["correct", "wrong", "debatable"];

/**
 * Every judged row of every TSV in `dir`. An optional tenth column `status` says of a wrong
 * finding whether the tool still makes it ("open", the default) or no longer does ("fixed");
 * of a correct one, "mirrored" says its flow turned out to repeat another (the same
 * connection recorded twice) and the finding is now made once, on the fuller copy;
 * "out-of-scope" that a later issue took its case out of the kind on purpose (the reason
 * says which and why), so it must not be made.
 * An optional eleventh, `absent-text`, pins the wrong claim itself for a finding that is
 * still made with other words: phrases separated by "|", and the judged finding counts as
 * made only while its summary contains one of them.
 */
export function readAudit(dir) {
  const rows = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith(".tsv"))
    .sort()) {
    const lines = readFileSync(join(dir, name), "utf8").split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "" || line.startsWith("#") || (i === 0 && line.startsWith("file\t"))) return;
      const cols = line.split("\t");
      if (cols.length < AUDIT_COLUMNS.length)
        throw new Error(`${name}:${i + 1}: ${cols.length} columns, want ${AUDIT_COLUMNS.length}`);
      const [file, kind, severity, flow, client, server, frame, verdict, reason, status = "open", absent = ""] = cols;
      if (!VERDICTS.includes(verdict))
        throw new Error(`${name}:${i + 1}: verdict "${verdict}" is not one of ${VERDICTS.join(", ")}`);
      if (!["open", "fixed", "mirrored", "out-of-scope"].includes(status))
        throw new Error(`${name}:${i + 1}: status "${status}" is not open, fixed, mirrored or out-of-scope`);
      rows.push({
        source: `${name}:${i + 1}`,
        file,
        kind,
        severity,
        flow: Number(flow),
        client,
        server,
        frame: Number(frame),
        verdict,
        reason,
        status,
        absentText: absent === "" ? [] : absent.split("|"),
      });
    });
  }
  return rows;
}

/** Per kind: how many findings were judged, and precision = correct / (correct + wrong), debatable left out. */
export function precisionByKind(rows) {
  const by = new Map();
  for (const r of rows) {
    const k = by.get(r.kind) ?? { kind: r.kind, correct: 0, wrong: 0, debatable: 0 };
    k[r.verdict]++;
    by.set(r.kind, k);
  }
  return [...by.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

const precision = (c, w) => (c + w === 0 ? "–" : (c / (c + w)).toFixed(2));

/** The README's table, as judged (the tool's findings at the time of the audit, fixed ones included). */
export function precisionTable(rows) {
  const kinds = precisionByKind(rows);
  const total = kinds.reduce(
    (t, k) => ({ correct: t.correct + k.correct, wrong: t.wrong + k.wrong, debatable: t.debatable + k.debatable }),
    { correct: 0, wrong: 0, debatable: 0 },
  );
  const fixed = rows.filter((r) => r.verdict === "wrong" && r.status === "fixed").length;
  const lines = [
    "| kind | judged | correct | wrong | debatable | precision |",
    "|---|---:|---:|---:|---:|---:|",
    ...kinds.map(
      (k) =>
        `| ${k.kind} | ${k.correct + k.wrong + k.debatable} | ${k.correct} | ${k.wrong} | ${k.debatable} | ${precision(k.correct, k.wrong)} |`,
    ),
    `| **all** | ${total.correct + total.wrong + total.debatable} | ${total.correct} | ${total.wrong} | ${total.debatable} | ${precision(total.correct, total.wrong)} |`,
  ];
  if (fixed > 0) lines.push("", `${fixed} of the wrong findings are no longer made (fixed since the audit).`);
  lines.push(
    "",
    "| audit | judged | correct | wrong | debatable | precision | wrong, still made |",
    "|---|---:|---:|---:|---:|---:|---:|",
  );
  for (const [name, group] of byAudit(rows)) {
    const n = (v) => group.filter((r) => r.verdict === v).length;
    const open = group.filter((r) => r.verdict === "wrong" && r.status !== "fixed").length;
    lines.push(
      `| ${name} | ${group.length} | ${n("correct")} | ${n("wrong")} | ${n("debatable")} | ${precision(n("correct"), n("wrong"))} | ${open} |`,
    );
  }
  return lines.join("\n");
}

/** Rows by the audit (TSV file) that judged them, in file order. */
function byAudit(rows) {
  const by = new Map();
  for (const r of rows) {
    const name = r.source.slice(0, r.source.indexOf(":")).replace(/\.tsv$/, "");
    by.set(name, [...(by.get(name) ?? []), r]);
  }
  return by;
}

export const TABLE_BEGIN = "<!-- audit-table:begin (scripts/audit-table.mjs) -->";
export const TABLE_END = "<!-- audit-table:end -->";

/** The README text with the table between the markers replaced. */
export function withTable(readme, table) {
  return withBlock(readme, TABLE_BEGIN, TABLE_END, table);
}

/** The README text with `text` between the markers `begin` and `end`. */
export function withBlock(readme, begin, end, text) {
  const a = readme.indexOf(begin),
    b = readme.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no markers ${begin} … ${end}`);
  return `${readme.slice(0, a + begin.length)}\n${text}\n${readme.slice(b)}`;
}
