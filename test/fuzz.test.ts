/**
 * Fuzzing in the test suite (scripts/fuzz-lib.mjs; docs/fuzzing.md for the long runs):
 * every input kept under test/fuzz-regressions/ is replayed against the fuzzer's
 * invariants, and 250 fresh mutants of the fixture and corpus captures (a few seconds) must
 * break none of them except the defects marked open in its INDEX.tsv. Runs the built code.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";

const BUILT = existsSync(join(ROOT, "dist", "run", "pipeline.js"));
// The fuzzer runs the built dist/ (as `npm run fuzz` does): without a build it skips, saying so; CI must not.
if (!BUILT && process.env.CI) throw new Error("dist/run/pipeline.js is missing: npm run build before the tests");
if (!BUILT) console.warn("fuzz.test.ts: dist/ is not built (npm run build); the fuzz replay is skipped");
const REGRESSIONS = join(ROOT, "test", "fuzz-regressions");
/** Small seeds keep the short run's inputs fast; the script takes bigger ones. */
const MAX_SEED_BYTES = 32 * 1024;

function captures(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return captures(p);
      return /\.(pcap|pcapng|cap)$/.test(e.name) && statSync(p).size <= MAX_SEED_BYTES ? [p] : [];
    })
    .sort();
}

describe.skipIf(!BUILT)("fuzzing (needs `npm run build`: it runs dist/)", async () => {
  const lib = BUILT ? await import("../scripts/fuzz-lib.mjs") : null;
  const entries = lib ? lib.readRegressionIndex(REGRESSIONS) : [];
  const dir = mkdtempSync(join(tmpdir(), "sockscope-fuzz-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("every regression file is listed in INDEX.tsv, and every entry has its file", () => {
    const files = readdirSync(REGRESSIONS)
      .filter((f) => /\.(pcap|pcapng)$/.test(f))
      .sort();
    expect(entries.map((e) => e.file).sort()).toEqual(files);
  });

  for (const e of entries) {
    const open = e.status.startsWith("open");
    // A fixed (or new) input must pass every invariant; an open defect must still fail the
    // same way, so that its fix is noticed and the entry marked fixed.
    const name = open
      ? `regression ${e.file} still fails as known (${e.status})`
      : `regression ${e.file} (${e.status}): was "${e.problem}"`;
    it(name, async () => {
      const r = await lib!.checkCapture(new Uint8Array(readFileSync(join(REGRESSIONS, e.file))), dir);
      if (!open) expect(r.problem).toBeNull();
      else {
        expect(
          r.problem,
          "the defect is fixed: change its status in test/fuzz-regressions/INDEX.tsv to fixed",
        ).not.toBeNull();
        expect(lib!.shape(r.problem!)).toBe(lib!.shape(e.problem));
      }
    });
  }

  it("250 mutants of the fixtures and corpus (a few seconds) break no invariant but the open ones", async () => {
    const seedFiles = [...captures(FIXTURES), ...captures(join(CORPUS, "captures"))];
    expect(seedFiles.length).toBeGreaterThan(10);
    const failures: string[] = [];
    const stats = await lib!.fuzz({
      seeds: seedFiles.map((f) => new Uint8Array(readFileSync(f))),
      // A fixed count, not a time: the same inputs on every machine, so no flaky result.
      seconds: 60,
      maxRuns: 250,
      seed: 20261207,
      known: lib!.knownOpen(entries),
      onFailure(bytes: Uint8Array, problem: string) {
        // Kept for reproduction: `npm run fuzz` would save it under test/fuzz-regressions/.
        const path = join(tmpdir(), `sockscope-fuzz-failure-${lib!.sha1(bytes).slice(0, 16)}.cap`);
        writeFileSync(path, bytes);
        failures.push(`${problem} (input saved as ${path})`);
      },
    });
    expect(failures).toEqual([]);
    expect(stats.runs).toBe(250);
  });

  it("the mutations reach the length fields: a pcap's record lengths and the IP/TCP/UDP ones are found", () => {
    const fields = lib!.fieldsOf(new Uint8Array(readFileSync(join(FIXTURES, "abortive-close", "never-read.pcap"))));
    const kinds = new Set(fields.map((f: { what: string }) => f.what));
    for (const k of ["incl_len", "orig_len", "ts", "ip_total_len", "tcp_doff"]) expect(kinds).toContain(k);
    const udp = lib!.fieldsOf(new Uint8Array(readFileSync(join(FIXTURES, "udp-fixed-retry", "refused.pcap"))));
    expect(udp.map((f: { what: string }) => f.what)).toContain("udp_len");
  });
});
