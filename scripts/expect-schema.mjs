#!/usr/bin/env node
// Writes the analyzer registry's finding kinds into schema/expect.schema.json
// (definitions.kind.enum), so that list is never kept by hand. Reads the built registry:
// run `npm run build` first (npm run new-analyzer does both).
//
//   npm run schema:kinds              rewrite the list (nothing else in the file changes)
//   npm run schema:kinds -- --check   exit 1, naming the difference, when the file is stale
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ANALYZERS } from "../dist/analyze/registry.js";
import { schemaKinds, schemaWithKinds } from "../dist/check/expect-schema.js";

const file = fileURLToPath(new URL("../schema/expect.schema.json", import.meta.url));
const text = readFileSync(file, "utf8");
const kinds = ANALYZERS.map((a) => a.id);
const listed = schemaKinds(text);
const missing = kinds.filter((k) => !listed.includes(k));
const extra = listed.filter((k) => !kinds.includes(k));
if (process.argv.includes("--check")) {
  if (listed.join() === kinds.join()) process.exit(0);
  console.error(
    `schema/expect.schema.json is stale (missing: ${missing.join(", ") || "none"}; not in the registry: ${extra.join(", ") || "none"}; or out of order): run npm run schema:kinds`,
  );
  process.exit(1);
}
const out = schemaWithKinds(text, kinds);
if (out !== text) writeFileSync(file, out);
console.log(
  out === text
    ? `schema/expect.schema.json: already lists the ${kinds.length} kinds`
    : `schema/expect.schema.json: ${kinds.length} kinds${missing.length > 0 ? `, added ${missing.join(", ")}` : ""}${extra.length > 0 ? `, removed ${extra.join(", ")}` : ""}`,
);
