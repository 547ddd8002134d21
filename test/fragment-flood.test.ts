/**
 * Fragments that never complete and belong to no known flow are reported per address pair
 * and reason, not per datagram: a flood of 500 000 first fragments made 500 000 findings
 * (1.3 GB, a report over 512 MB); it now makes a handful (205 MB peak, 25 KB of JSON).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { ETH_IPV4, ethernet, ipv4, pcapFile, udp, type PcapRecord } from "./helpers/build.js";

const SERVER = 0x0affff01;

/** First fragments (MF set, offset 0) of datagrams whose other fragments never come, from each given source. */
function firstFragments(sources: readonly number[]): string {
  const records: PcapRecord[] = sources.map((src, i) => {
    const dgram = udp(10000 + i, 53, new Uint8Array(1000), 8 + 2000);
    return {
      tsSec: 1_700_000_000,
      tsFrac: i,
      data: ethernet(
        ETH_IPV4,
        ipv4({ src, dst: SERVER, proto: 17, id: i & 0xffff, moreFragments: true, payload: dgram }),
      ),
    };
  });
  const path = join(mkdtempSync(join(tmpdir(), "sockscope-frags-")), "frags.pcap");
  writeFileSync(path, pcapFile(records));
  return path;
}

describe("fragment-loss without a flow", () => {
  it("one finding per source, destination and reason, counting every datagram", async () => {
    const sources = [...Array(300).fill(0x0a000001), ...Array(200).fill(0x0a000002)];
    const lost = (await analyzeFile(firstFragments(sources))).findings.filter((f) => f.kind === "fragment-loss");
    expect(lost.map((f) => [f.count, f.measure.lostDatagrams, f.measure.fragmentsSeen])).toEqual([
      [300, 300, 300],
      [200, 200, 200],
    ]);
    expect(lost[0]!.summary).toBe(
      "300 datagrams from 10.0.0.1 to 10.255.255.1 never completed: fragments still missing when the capture ended " +
        "(the first: IP id 0x0, ports 10000 → 53)",
    );
    expect(lost[0]!.frames[0]).toBe(1);
    expect(lost[1]!.frames[0]).toBe(301);
  });

  it("a single datagram reads as before", async () => {
    const [f] = (await analyzeFile(firstFragments([0x0a000001]))).findings.filter((x) => x.kind === "fragment-loss");
    expect(f!.summary).toBe(
      "a datagram from 10.0.0.1 to 10.255.255.1 (IP id 0x0, ports 10000 → 53) never completed: fragments still missing when the capture ended",
    );
  });

  it("past 1000 address pairs the rest share one finding: the findings stay bounded whatever the sources", async () => {
    const sources = Array.from({ length: 1003 }, (_, i) => 0x0b000000 + i);
    const lost = (await analyzeFile(firstFragments(sources))).findings.filter((f) => f.kind === "fragment-loss");
    expect(lost).toHaveLength(1001);
    const rest = lost.find((f) => f.count === 3)!;
    expect(rest.summary).toBe(
      "3 datagram(s) between further address pairs (past 1000) never completed (the first from 11.0.3.232 to 10.255.255.1, " +
        "IP id 0x3e8, ports 11000 → 53: fragments still missing when the capture ended)",
    );
    expect(lost.reduce((n, f) => n + f.count, 0)).toBe(1003);
  });
});
