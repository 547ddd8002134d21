/**
 * Adding a kind means one module, one registry line and fixtures. This test fails when
 * any of the three is missing, or a catalogue entry is thin.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ANALYZERS } from "../src/analyze/registry.js";
import { FIXTURES, ROOT } from "./helpers/paths.js";

const moduleDir = join(ROOT, "src", "analyze", "analyzers");
const modules = readdirSync(moduleDir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""));

describe("analyzer registry", () => {
  it("registers every module once, under the module's own name", () => {
    expect(ANALYZERS.map((a) => a.id).sort()).toEqual([...modules].sort());
  });
  for (const a of ANALYZERS) {
    it(`${a.id}: positive fixture, catalogue entry`, () => {
      const dir = join(FIXTURES, a.id);
      expect(existsSync(dir) && readdirSync(dir).some((f) => /\.pcap(ng)?$/.test(f))).toBe(true);
      expect(a.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(a.title.length).toBeGreaterThan(10);
      expect(a.wire.length).toBeGreaterThan(20);
      expect(a.explanation.length).toBeGreaterThan(200);
      expect(a.references.length).toBeGreaterThan(0);
      for (const r of a.references) expect(r).toMatch(/^00[0-4] /);
    });
  }
  it("every family with analyzers has healthy fixtures that must stay silent", () => {
    const healthy = existsSync(join(FIXTURES, "healthy"))
      ? readdirSync(join(FIXTURES, "healthy")).filter((f) => /\.pcap(ng)?$/.test(f))
      : [];
    const families = new Set(ANALYZERS.map((a) => a.family));
    if (families.has("tcp-transfer")) expect(healthy).toContain("bulk-transfer.pcap");
    if ([...families].some((f) => f.startsWith("tcp"))) expect(healthy).toContain("graceful-close.pcap");
    if (families.has("udp-ip-icmp")) expect(healthy).toContain("udp-request-response.pcap");
  });
});
