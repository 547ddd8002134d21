// Draws a fresh sample of findings for a blind audit (test/audit/README.md): runs the built
// analysis (dist/) over the corpus and the fixtures, leaves out every finding an earlier
// audit already judged, and picks findings round-robin by kind (so a noisy kind does not
// fill the sample), in a seeded random order within a kind, at most 3 per capture per kind.
//
//   node scripts/audit-sample.mjs [--n 100] [--seed 1] [--out /tmp/sample.jsonl] [--corpus] [--rejudge]
//
// --corpus draws only from other people's captures (test/corpus), not our fixtures;
// --rejudge keeps findings an earlier audit judged (a fresh measure of precision once
// most findings have been judged once); --family NAME keeps findings on connections with a
// host of that stack family ("macOS/iOS", "Windows", "Linux": scripts/audit-by-stack.mjs,
// needs tshark), to give a family with few judged rows its own stratum.
//
// Writes one JSON object per finding (what the auditor judges: the finding as the user
// reads it, with its connection) and prints the per-kind counts.
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readAudit } from "./audit-lib.mjs";
import { seededRandom } from "./seeded-random.mjs";

const ROOT = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const N = Number(opt("--n", "100"));
const SEED = Number(opt("--seed", "1"));
const OUT = opt("--out", "/tmp/audit-sample.jsonl");
const CORPUS_ONLY = args.includes("--corpus");
const REJUDGE = args.includes("--rejudge");
const FAMILY = opt("--family", null);
const PER_CAPTURE_PER_KIND = 3;

const { analyzeFile } = await import(join(ROOT, "dist", "run", "pipeline.js"));

function captures() {
  const files = readdirSync(join(ROOT, "test", "corpus", "captures")).map((f) => `test/corpus/captures/${f}`);
  if (CORPUS_ONLY) return files.sort();
  for (const d of readdirSync(join(ROOT, "fixtures"), { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    for (const f of readdirSync(join(ROOT, "fixtures", d.name)))
      if (/\.pcap(ng)?$/.test(f)) files.push(`fixtures/${d.name}/${f}`);
  }
  return files.sort();
}

const judged = readAudit(join(ROOT, "test", "audit"));
const alreadyJudged = (file, f, client, server) =>
  judged.some(
    (r) =>
      r.file === file &&
      r.kind === f.kind &&
      r.severity === f.severity &&
      r.client === client &&
      r.server === server &&
      (f.frames.includes(r.frame) || f.frames.length === 0),
  );

const byKind = new Map();
for (const file of captures()) {
  let r;
  try {
    r = await analyzeFile(join(ROOT, file));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    continue;
  }
  const flows = new Map(r.flows.map((f) => [f.id, f]));
  for (const f of r.findings) {
    const flow = f.flow === null ? undefined : flows.get(f.flow);
    const client = flow?.client ?? "";
    const server = flow?.server ?? "";
    if (!REJUDGE && alreadyJudged(file, f, client, server)) continue;
    const list = byKind.get(f.kind) ?? [];
    list.push({ file, ...f, client, server });
    byKind.set(f.kind, list);
  }
}

if (FAMILY !== null) {
  const { labelRows } = await import("./audit-by-stack.mjs");
  const all = [...byKind.values()].flat();
  const rows = all.map((f, i) => ({ ...f, frame: f.frames[0] ?? 0, source: `sample:${i}` }));
  const labels = await labelRows(rows, ROOT, () => {});
  const keep = new Set(
    rows.filter((r) => labels.get(r.source).families.includes(FAMILY)).map((r) => all[Number(r.source.slice(7))]),
  );
  for (const [kind, list] of byKind)
    byKind.set(
      kind,
      list.filter((f) => keep.has(f)),
    );
}

const unjudged = new Map([...byKind].map(([kind, list]) => [kind, list.length]));
const rand = seededRandom(SEED);
const queues = [...byKind.keys()].sort().map((kind) => {
  const list = byKind.get(kind);
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return { kind, list, perCapture: new Map() };
});
const sample = [];
while (sample.length < N && queues.some((q) => q.list.length > 0)) {
  for (const q of queues) {
    if (sample.length >= N) break;
    while (q.list.length > 0) {
      const f = q.list.shift();
      const n = q.perCapture.get(f.file) ?? 0;
      if (n >= PER_CAPTURE_PER_KIND) continue;
      q.perCapture.set(f.file, n + 1);
      sample.push(f);
      break;
    }
  }
}
writeFileSync(OUT, sample.map((f) => JSON.stringify(f)).join("\n") + "\n");
const counts = new Map();
for (const f of sample) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
for (const [kind, n] of [...counts].sort())
  console.log(`${kind}\t${n}\tof ${unjudged.get(kind)} ${REJUDGE ? "in all" : "unjudged"}`);
console.log(`${sample.length} findings → ${OUT}`);
