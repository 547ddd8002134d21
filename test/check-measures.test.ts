/**
 * src/check/measures.ts lists the measures each finding kind reports, so that an
 * expectations file naming an unknown one is refused (exit 2). Analyzers build their
 * measures in code: this holds the table to every finding of every phenomenon fixture and
 * corpus capture, so a measure added to an analyzer without being listed fails here.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANALYZERS } from "../src/analyze/registry.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { MEASURES } from "../src/check/measures.js";
import { corpusEntries } from "./helpers/corpus.js";
import { phenomenonFixtures } from "./helpers/fixtures.js";
import { CORPUS } from "./helpers/paths.js";

describe("the measure table of `check`", () => {
  it("has an entry for every finding kind, and only those", () => {
    expect(Object.keys(MEASURES).sort()).toEqual(ANALYZERS.map((a) => a.id).sort());
  });

  it("lists every measure that fixtures and corpus captures report", async () => {
    const paths = phenomenonFixtures().map((f) => f.path);
    if (existsSync(join(CORPUS, "MANIFEST.tsv"))) paths.push(...corpusEntries().map((e) => e.path));
    const unlisted = new Set<string>();
    const seen = new Set<string>();
    for (const path of paths) {
      for (const f of (await analyzeFile(path)).findings) {
        for (const k of Object.keys(f.measure)) {
          seen.add(`${f.kind}.${k}`);
          if (!MEASURES[f.kind]?.includes(k)) unlisted.add(`${f.kind}.${k} (${path})`);
        }
      }
    }
    expect([...unlisted]).toEqual([]);
    expect(seen.size).toBeGreaterThan(50); // the captures did report measures
  }, 180_000);
});
