#!/usr/bin/env node
// The last step of `npm run build`: writes the built analyzer registry's finding kinds into
// schema/expect.schema.json (definitions.kind.enum), so that list is never kept by hand.
// Only that array changes (src/check/expect-schema.ts); silent when it is already right.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ANALYZERS } from "../dist/analyze/registry.js";
import { schemaKinds, schemaWithKinds } from "../dist/check/expect-schema.js";

const file = fileURLToPath(new URL("../schema/expect.schema.json", import.meta.url));
const text = readFileSync(file, "utf8");
const kinds = ANALYZERS.map((a) => a.id);
const out = schemaWithKinds(text, kinds);
if (out !== text) {
  const listed = schemaKinds(text);
  const added = kinds.filter((k) => !listed.includes(k));
  const removed = listed.filter((k) => !kinds.includes(k));
  writeFileSync(file, out);
  console.log(
    `schema/expect.schema.json: the registry's ${kinds.length} kinds` +
      (added.length > 0 ? `, added ${added.join(", ")}` : "") +
      (removed.length > 0 ? `, removed ${removed.join(", ")}` : "") +
      (added.length + removed.length === 0 ? ", reordered" : ""),
  );
}
