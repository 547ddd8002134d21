// Writes the blind audit's precision table into README.md (between its markers); --check only compares.
import { readFileSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { precisionTable, readAudit, withTable } from "./audit-lib.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const readmePath = join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const updated = withTable(readme, precisionTable(readAudit(join(root, "test", "audit"))));
if (process.argv.includes("--check")) {
  if (updated !== readme) {
    console.error("README.md's audit table is stale: run node scripts/audit-table.mjs");
    process.exit(1);
  }
} else if (updated !== readme) writeFileSync(readmePath, updated);
