import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { FIXTURES } from "./paths.js";
import type { Report } from "../../src/report/model.js";

export interface Fixture {
  /** Directory name: a kind id, or "healthy". */
  group: string;
  name: string;
  path: string;
  /** The golden report `<case>.golden.json` (not the `check` expectations, `<case>.expect.json`). */
  goldenPath: string;
}

/** Directories under fixtures/ that hold something other than phenomenon captures. */
// one-way: a capture condition, not a kind (test/one-way-capture.test.ts holds them).
const NOT_PHENOMENA = new Set(["scenarios", "formats", "parallel", "one-way"]);

export function phenomenonFixtures(): Fixture[] {
  if (!existsSync(FIXTURES)) return [];
  const out: Fixture[] = [];
  for (const group of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!group.isDirectory() || NOT_PHENOMENA.has(group.name)) continue;
    for (const f of readdirSync(join(FIXTURES, group.name)).sort()) {
      if (!/\.pcap(ng)?$/.test(f)) continue;
      const path = join(FIXTURES, group.name, f);
      out.push({
        group: group.name,
        name: basename(f).replace(/\.pcap(ng)?$/, ""),
        path,
        goldenPath: path.replace(/\.pcap(ng)?$/, ".golden.json"),
      });
    }
  }
  return out.sort((a, b) => (a.group + a.name < b.group + b.name ? -1 : 1));
}

/**
 * The stable part of a report, for golden files: everything but the file path and the
 * explanation prose (the catalogue text is checked by its own tests).
 */
export function goldenView(r: Report): unknown {
  return {
    capture: { ...r.capture, file: basename(r.capture.file) },
    flows: r.flows,
    findings: r.findings.map(({ explanation: _e, references: _r, ...rest }) => rest),
    warnings: r.warnings.map((w) => w.replace(/^.*\//, "")),
  };
}
