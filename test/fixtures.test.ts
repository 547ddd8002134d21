/**
 * Golden fixtures: every capture under fixtures/<kind>/ and fixtures/healthy/ analysed,
 * compared with its golden report <case>.golden.json (update with `npx vitest run -u` after checking
 * the change is right). Beyond the golden diff: a kind's own fixtures must show that kind,
 * and healthy fixtures must raise nothing above info.
 */
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { goldenView, phenomenonFixtures } from "./helpers/fixtures.js";
import { ANALYZERS } from "../src/analyze/registry.js";
import { FIXTURES } from "./helpers/paths.js";

const fixtures = phenomenonFixtures();
const known = new Set(ANALYZERS.map((a) => a.id));

describe("golden fixtures", () => {
  it("has fixtures", () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  it("names goldens <case>.golden.json: none is left under the old name <case>.expected.json", () => {
    // A golden under the old name would be neither compared nor noticed.
    const old = readdirSync(FIXTURES, { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".expected.json"),
    );
    expect(old).toEqual([]);
  });
  for (const fx of fixtures) {
    it(`${fx.group}/${fx.name}`, async () => {
      const report = await analyzeFile(fx.path);
      await expect(JSON.stringify(goldenView(report), null, 2) + "\n").toMatchFileSnapshot(fx.goldenPath);
      if (fx.group === "healthy") {
        const loud = report.findings.filter((f) => f.severity !== "info");
        expect(loud.map((f) => `${f.kind} ${f.summary}`)).toEqual([]);
      } else if (known.has(fx.group)) {
        expect(report.findings.map((f) => f.kind)).toContain(fx.group);
      }
    });
  }
});
