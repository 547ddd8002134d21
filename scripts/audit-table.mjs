// Writes the blind audit's precision tables into README.md (between their markers): by kind
// and audit, and by family of host stack (read off the captures with tshark: without tshark
// that table is left as it is). --check only compares.
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { precisionTable, readAudit, withBlock, withTable } from "./audit-lib.mjs";
import { FAMILY_TABLE_BEGIN, FAMILY_TABLE_END, familyTable, labelRows } from "./audit-by-stack.mjs";
import { tsharkAvailable } from "./capture-stacks.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const readmePath = join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const rows = readAudit(join(root, "test", "audit"));
let updated = withTable(readme, precisionTable(rows));
if (tsharkAvailable())
  updated = withBlock(updated, FAMILY_TABLE_BEGIN, FAMILY_TABLE_END, familyTable(rows, await labelRows(rows, root)));
else console.warn("tshark is not on PATH: the table by family of host stack is left as it is");
if (process.argv.includes("--check")) {
  if (updated !== readme) {
    console.error("README.md's audit tables are stale: run node scripts/audit-table.mjs");
    process.exit(1);
  }
} else if (updated !== readme) writeFileSync(readmePath, updated);
