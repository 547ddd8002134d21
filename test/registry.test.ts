/**
 * Adding a kind means one module, one registry line and fixtures (`npm run new-analyzer`
 * writes all but the capture). This test fails, naming the kind, when any is missing or a
 * catalogue entry is thin:
 *
 * - positive: fixtures/<kind>/*.pcap, each with its golden report <case>.golden.json, and
 *   at least one golden showing the kind (test/fixtures.test.ts holds the goldens to what
 *   the analysis reports now, so reading them here is reading the analysis);
 * - negative: a healthy capture where the kind stays silent. "Healthy for this kind" is a
 *   capture in fixtures/healthy/ (recorded from correct programs, nothing above info
 *   allowed) carrying traffic the analyzer reads, found from its hooks: a TCP flow for
 *   onTcpSegment, a UDP flow for onUdpDatagram (both, when it has both), and any TCP or
 *   UDP flow for an analyzer that reads only IP-level events (ICMP errors, fragments) of
 *   the flows. Silence on a capture the analyzer never looks at would prove nothing.
 *
 * It also holds the `explain` listing to one header per family whatever the registry order.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AnalyzerDescriptor } from "../src/analyze/analyzer.js";
import { ANALYZERS } from "../src/analyze/registry.js";
import { kindListing } from "../src/cli/explain.js";
import { FIXTURES, ROOT } from "./helpers/paths.js";

const moduleDir = join(ROOT, "src", "analyze", "analyzers");
const modules = readdirSync(moduleDir)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.replace(/\.ts$/, ""));

/** What a golden report says that matters here. */
interface Golden {
  case: string;
  protos: Set<string>;
  kinds: Set<string>;
}

/** The captures of fixtures/<dir>/ with their goldens (null: the capture has none). */
function goldens(dir: string): { capture: string; golden: Golden | null }[] {
  const at = join(FIXTURES, dir);
  if (!existsSync(at)) return [];
  return readdirSync(at)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .sort()
    .map((capture) => {
      const path = join(at, capture.replace(/\.pcap(ng)?$/, ".golden.json"));
      if (!existsSync(path)) return { capture, golden: null };
      const g = JSON.parse(readFileSync(path, "utf8")) as { flows: { proto: string }[]; findings: { kind: string }[] };
      return {
        capture,
        golden: {
          case: `${dir}/${capture}`,
          protos: new Set(g.flows.map((f) => f.proto)),
          kinds: new Set(g.findings.map((f) => f.kind)),
        },
      };
    });
}

/** Sets of flow protocols, each of which a healthy capture must carry for the analyzer to have looked. */
function protocolsRead(a: AnalyzerDescriptor<unknown>): string[][] {
  const need: string[][] = [];
  if (a.onTcpSegment !== undefined || a.wakeOn !== undefined) need.push(["tcp"]);
  if (a.onUdpDatagram !== undefined) need.push(["udp"]);
  return need.length > 0 ? need : [["tcp", "udp"]];
}

const healthy = goldens("healthy");

describe("analyzer registry", () => {
  it("registers every module once, under the module's own name", () => {
    expect(ANALYZERS.map((a) => a.id).sort()).toEqual([...modules].sort());
  });
  it("has healthy fixtures, each with its golden", () => {
    expect(healthy.length).toBeGreaterThan(0);
    expect(healthy.filter((h) => h.golden === null).map((h) => h.capture)).toEqual([]);
  });
  for (const a of ANALYZERS) {
    it(`${a.id}: catalogue entry`, () => {
      expect(a.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(a.title.length, `${a.id}: title`).toBeGreaterThan(10);
      expect(a.wire.length, `${a.id}: wire`).toBeGreaterThan(20);
      expect(a.explanation.length, `${a.id}: explanation`).toBeGreaterThan(200);
      expect(a.references.length, `${a.id}: references`).toBeGreaterThan(0);
      for (const r of a.references) expect(r).toMatch(/^00[0-4] /);
    });
    it(`${a.id}: a positive fixture whose golden shows it`, () => {
      const own = goldens(a.id);
      expect(own.length, `${a.id}: no capture in fixtures/${a.id}/`).toBeGreaterThan(0);
      const noGolden = own.filter((o) => o.golden === null).map((o) => `fixtures/${a.id}/${o.capture}`);
      expect(noGolden, `${a.id}: captures without <case>.golden.json`).toEqual([]);
      expect(
        own.some((o) => o.golden?.kinds.has(a.id)),
        `${a.id}: no golden in fixtures/${a.id}/ shows the kind`,
      ).toBe(true);
    });
    it(`${a.id}: a healthy fixture with traffic it reads, where it stays silent`, () => {
      for (const protos of protocolsRead(a)) {
        const silent = healthy.filter(
          (h) => h.golden !== null && protos.some((p) => h.golden!.protos.has(p)) && !h.golden.kinds.has(a.id),
        );
        expect(
          silent.map((h) => h.golden!.case),
          `${a.id}: no capture in fixtures/healthy/ with a ${protos.join(" or ")} flow where it stays silent`,
        ).not.toEqual([]);
      }
    });
  }
});

describe("explain's listing", () => {
  const familyOf = new Map(ANALYZERS.map((a) => [a.id, a.family]));
  /** Family headers in order, and which header each kind line stands under. */
  function parse(listing: string): { headers: string[]; under: Map<string, string> } {
    const headers: string[] = [];
    const under = new Map<string, string>();
    for (const line of listing.split("\n")) {
      if (/^[a-z]/.test(line)) headers.push(line);
      else if (line.startsWith("  ")) under.set(line.trim().split(/\s+/)[0]!, headers.at(-1)!);
    }
    return { headers, under };
  }
  const inOrder = kindListing(ANALYZERS);
  const orders: [string, AnalyzerDescriptor<unknown>[]][] = [
    ["reversed", [...ANALYZERS].reverse()],
    // Alternating families: a listing that follows registry order prints every header many times.
    ["interleaved", [...ANALYZERS].sort((x, y) => (x.id < y.id ? -1 : 1))],
  ];
  for (const [name, order] of orders) {
    it(`prints each family's header once, with its kinds under it, for a ${name} registry`, () => {
      const { headers, under } = parse(kindListing(order));
      expect(headers).toEqual(parse(inOrder).headers);
      expect(new Set(headers).size).toBe(headers.length);
      expect(under.size).toBe(ANALYZERS.length);
      for (const [id, header] of under) expect(header, id).toBe(familyOf.get(id));
    });
  }
  it("lists families in the catalogue's order and kinds in the registry's order within one", () => {
    const { headers, under } = parse(inOrder);
    expect(headers).toEqual(["tcp-opening", "tcp-transfer", "tcp-closing", "udp-ip-icmp"]);
    for (const h of headers) {
      expect(
        [...under].filter(([, f]) => f === h).map(([id]) => id),
        h,
      ).toEqual(ANALYZERS.filter((a) => a.family === h).map((a) => a.id));
    }
  });
});
