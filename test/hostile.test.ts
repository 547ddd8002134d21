/**
 * Inputs a fresh-eyes review found that crashed or ballooned earlier versions: they must
 * now be analysed to the end, with no internal error in the report.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { ethernet, ipv4, pcapFile, udp } from "./helpers/build.js";

const dir = mkdtempSync(join(tmpdir(), "sockscope-hostile-"));
const A = 0x0a000001,
  B = 0x0a000002;

function capture(name: string, frames: Uint8Array[], stepUs = 1000): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    pcapFile(
      frames.map((data, i) => ({
        tsSec: 1_700_000_000 + Math.floor((i * stepUs) / 1e6),
        tsFrac: (i * stepUs) % 1e6,
        data,
      })),
    ),
  );
  return path;
}

function noInternalError(warnings: string[]): void {
  expect(warnings.filter((w) => w.includes("internal error"))).toEqual([]);
}

describe("hostile captures", () => {
  it("fragments beyond the last fragment's end are a conflict, not a crash", async () => {
    const body = udp(1111, 2222, new Uint8Array(40).fill(65));
    const frag = (off: number, end: number, mf: boolean) =>
      ethernet(
        0x0800,
        ipv4({
          src: A,
          dst: B,
          proto: 17,
          id: 7,
          fragOffset: off,
          moreFragments: mf,
          payload: body.subarray(off, end),
        }),
      );
    const r = await analyzeFile(
      capture("frag-past-end.pcap", [frag(16, 24, true), frag(24, 40, true), frag(0, 8, true), frag(8, 16, false)]),
    );
    noInternalError(r.warnings);
    expect(r.findings.map((f) => f.kind)).toEqual(["fragment-loss"]);
    expect(r.findings[0]!.summary).toMatch(/overlapping fragments carried different data/);
  });
  it("a long one-way stream of identical datagrams is no retry storm, and costs no memory", async () => {
    const dgram = ethernet(
      0x0800,
      ipv4({ src: A, dst: B, proto: 17, payload: udp(5000, 514, new TextEncoder().encode("<14>hello")) }),
    );
    const r = await analyzeFile(
      capture(
        "syslog.pcap",
        Array.from({ length: 20_000 }, () => dgram),
      ),
    );
    noInternalError(r.warnings);
    expect(r.findings).toEqual([]);
    expect(r.capture.packets).toBe(20_000);
  });
  it("a fixed-interval retry is still found", async () => {
    // A DNS query (one question, "a.test" A IN): a request by its header, so its repeats are retries.
    const query = Uint8Array.from([
      0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1,
    ]);
    const dgram = ethernet(0x0800, ipv4({ src: A, dst: B, proto: 17, payload: udp(40000, 53, query) }));
    const r = await analyzeFile(
      capture(
        "retry.pcap",
        Array.from({ length: 6 }, () => dgram),
        500_000,
      ),
    );
    expect(r.findings.map((f) => [f.kind, f.measure.sends, f.measure.meanIntervalMs])).toEqual([
      ["udp-fixed-retry", 6, 500],
    ]);
  });
});
