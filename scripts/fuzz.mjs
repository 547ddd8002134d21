#!/usr/bin/env node
/**
 * npm run fuzz -- [--seconds N] [--seed N] [--seeds DIR]... [--no-save]
 *
 * Mutation-fuzzes the readers, decoders, reassembly and analyzers from real captures
 * (scripts/fuzz-lib.mjs says what is mutated and checked). Seeds: every capture up to
 * 256 KB under fixtures/ and test/corpus/captures/, plus any --seeds DIR. Each input that
 * breaks an invariant is saved under test/fuzz-regressions/ (named by its SHA-1, listed
 * in INDEX.tsv with the problem), where test/fuzz.test.ts replays it from then on.
 * Runs the built code: `npm run build` first. Exit 1 when anything failed.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fuzz, knownOpen, readRegressionIndex, sha1 } from "./fuzz-lib.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const REGRESSIONS = join(ROOT, "test", "fuzz-regressions");
const MAX_SEED_BYTES = 256 * 1024;

const { values: v } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    seeds: { type: "string", multiple: true, default: [] },
    "no-save": { type: "boolean", default: false },
  },
});
const seconds = Number(v.seconds),
  seed = v.seed !== undefined ? Number(v.seed) : Date.now() % 1_000_000_007;
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed)) {
  console.error("fuzz: --seconds takes a positive number and --seed an integer");
  process.exit(2);
}

/** Capture files (by extension) under dir, recursively, up to MAX_SEED_BYTES each. */
function captures(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng|cap)$/.test(e.name) && statSync(p).size <= MAX_SEED_BYTES) out.push(p);
  }
  return out.sort();
}

const seedFiles = [join(ROOT, "fixtures"), join(ROOT, "test", "corpus", "captures"), ...v.seeds].flatMap(captures);
if (seedFiles.length === 0) {
  console.error("fuzz: no seed captures found");
  process.exit(2);
}
const seeds = seedFiles.map((f) => new Uint8Array(readFileSync(f)));
console.log(`fuzz: seed ${seed}, ${seconds} s, ${seeds.length} seed captures`);

const stats = await fuzz({
  seeds,
  seconds,
  seed,
  // Defects already kept as regressions and marked open are not reported again.
  known: knownOpen(readRegressionIndex(REGRESSIONS)),
  onFailure(bytes, problem) {
    const pcapng =
      bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d && bytes[3] === 0x0a;
    const name = `${sha1(bytes).slice(0, 16)}.${pcapng ? "pcapng" : "pcap"}`;
    console.log(`FAIL ${problem}`);
    if (v["no-save"]) return;
    mkdirSync(REGRESSIONS, { recursive: true });
    writeFileSync(join(REGRESSIONS, name), bytes);
    appendFileSync(
      join(REGRESSIONS, "INDEX.tsv"),
      `${name}\tnew\t${problem.replace(/[\t\n]/g, " ")}\tnpm run fuzz -- --seed ${seed}\n`,
    );
    console.log(`     saved ${relative(ROOT, join(REGRESSIONS, name))}`);
  },
  onProgress(s) {
    if (process.stdout.isTTY) process.stdout.write(`\r${s.runs} inputs, ${s.failures} failing, pool +${s.poolAdded}`);
  },
});
if (process.stdout.isTTY) process.stdout.write("\n");
console.log(
  `fuzz: ${stats.runs} inputs in ${seconds} s, ${stats.failures} distinct new failures, ` +
    `${stats.knownHits} inputs hitting a defect marked open, ` +
    `${stats.features} report features seen, pool grew by ${stats.poolAdded}, slowest input ${Math.round(stats.slowestMs)} ms`,
);
process.exit(stats.failures > 0 ? 1 : 0);
