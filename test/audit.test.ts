/**
 * The blind audit as a regression set (issue 15): findings from corpus and fixture captures,
 * each judged against the packets by an engineer who did not read the analyzers
 * (test/audit/*.tsv, one reason per row). A finding judged correct must still be made; a
 * finding judged wrong and marked fixed must not come back; one judged wrong and still
 * open must still be made the same way, so that its fix is noticed and the row marked
 * fixed (the tenth column). The README's precision table is this file's sum.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding } from "../src/analyze/finding.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { precisionTable, readAudit, withTable } from "../scripts/audit-lib.mjs";
import { ROOT } from "./helpers/paths.js";

interface AuditRow {
  source: string;
  file: string;
  kind: string;
  severity: string;
  client: string;
  server: string;
  frame: number;
  verdict: string;
  reason: string;
  status: string;
  /** Phrases of the wrong claim (eleventh column): the finding counts as made only while its summary has one. */
  absentText: string[];
}

const rows = readAudit(join(ROOT, "test", "audit")) as AuditRow[];

/** Findings per capture, each with its flow's endpoints (flow ids may move; endpoints and frames do not). */
const reports = new Map<string, Promise<{ finding: Finding; client: string; server: string; copies: number }[]>>();
function findingsOf(file: string) {
  let p = reports.get(file);
  if (p === undefined) {
    p = analyzeFile(join(ROOT, file)).then((r) => {
      const flows = new Map(r.flows.map((f) => [f.id, f]));
      return r.findings.map((finding) => {
        const flow = finding.flow === null ? undefined : flows.get(finding.flow);
        const copies = r.flows.filter((f) => f.copyOf !== null && f.copyOf === finding.flow).length;
        return { finding, client: flow?.client ?? "", server: flow?.server ?? "", copies };
      });
    });
    reports.set(file, p);
  }
  return p;
}

/**
 * Is the judged finding still made: same kind and severity, same connection, the judged
 * frame among its evidence, and, when the row pins the wrong claim's words, one of them in
 * its summary. A finding whose severity changed says something else (a warning that names
 * why no program saw an error is not the error judged wrong), so it is a new finding, for
 * a new audit to judge.
 */
async function stillMade(r: AuditRow): Promise<boolean> {
  return (await findingsOf(r.file)).some(
    (x) =>
      x.finding.kind === r.kind &&
      x.finding.severity === r.severity &&
      x.client === r.client &&
      x.server === r.server &&
      (x.finding.frames.includes(r.frame) || x.finding.frames.length === 0) &&
      (r.absentText.length === 0 || r.absentText.some((t) => x.finding.summary.includes(t))),
  );
}

describe("blind audit", () => {
  it("has at least 150 judged findings, every one with a reason", () => {
    expect(rows.length).toBeGreaterThanOrEqual(150);
    expect(rows.filter((r) => r.reason.trim().length < 10).map((r) => r.source)).toEqual([]);
  });

  it("README's precision table is the audit's", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(withTable(readme, precisionTable(rows)), "run node scripts/audit-table.mjs").toBe(readme);
  });

  for (const r of rows) {
    const what = `${r.file.replace(/^.*\//, "")} ${r.kind} ${r.client} ${r.server} frame ${r.frame}`;
    if (r.verdict === "correct" && r.status === "mirrored")
      it(`finds ${what} once, on the connection's fuller copy (judged correct: ${r.reason})`, async () => {
        const made = (await findingsOf(r.file)).filter(
          (x) =>
            x.finding.kind === r.kind &&
            x.finding.severity === r.severity &&
            x.client === r.client &&
            x.server === r.server,
        );
        expect(
          made.some((x) => x.finding.frames.includes(r.frame)),
          `${r.source}: still made on the copy`,
        ).toBe(false);
        expect(
          made.some((x) => x.copies > 0),
          `${r.source}: not made on the flow the copy repeats`,
        ).toBe(true);
      });
    else if (r.status === "out-of-scope")
      it(`no longer finds ${what}: its case left the kind on purpose (${r.reason})`, async () => {
        expect(await stillMade(r), `${r.source}: a case taken out of the kind is back`).toBe(false);
      });
    else if (r.verdict === "correct")
      it(`still finds ${what} (judged correct: ${r.reason})`, async () => {
        expect(await stillMade(r), `${r.source}: a finding judged correct is gone`).toBe(true);
      });
    else if (r.verdict === "wrong" && r.status === "fixed")
      it(`no longer finds ${what} (judged wrong: ${r.reason})`, async () => {
        expect(await stillMade(r), `${r.source}: a finding judged wrong is back`).toBe(false);
      });
    else if (r.verdict === "wrong")
      it(`still wrong as known, ${what} (issue 15; mark the row fixed when it goes)`, async () => {
        expect(await stillMade(r), `${r.source}: no longer made: mark the row "fixed" (tenth column)`).toBe(true);
      });
  }
});
