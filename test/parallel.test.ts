/**
 * `--jobs`: the report of N worker threads is the report of one, byte for byte, on every
 * fixture and every corpus capture (damaged ones included; fixtures/parallel holds the
 * cases a first version got wrong), and on captures whose IP fragments arrive before
 * their first fragment. Runs the built code (dist/): worker threads load compiled modules.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpusEntries } from "./helpers/corpus.js";
import { CLI, FIXTURES, ROOT } from "./helpers/paths.js";
import { execFileSync } from "node:child_process";

const dist = (m: string) => import(join(ROOT, "dist", m));
const { analyzeFile } = await dist("run/pipeline.js");
const { readCapture } = await dist("capture/reader.js");
const { ShardRouter, UNSPLITTABLE } = await dist("run/parallel/router.js");

function captures(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...captures(p));
    else if (/\.(pcap|pcapng|cap)$/.test(name)) out.push(p);
  }
  return out.sort();
}

/** The JSON report, or the error's message when the capture can't be read at all. */
async function reportOf(path: string, jobs: number): Promise<string> {
  try {
    return JSON.stringify(await analyzeFile(path, { jobs }), null, 2);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** A classic pcap with its records in reverse order (first fragments come last). */
function reversed(src: string, dst: string): void {
  const b = readFileSync(src);
  const le = b.readUInt32BE(0) === 0xd4c3b2a1 || b.readUInt32BE(0) === 0x4d3cb2a1;
  const records: Buffer[] = [];
  for (let pos = 24; pos + 16 <= b.length; ) {
    const len = 16 + (le ? b.readUInt32LE(pos + 8) : b.readUInt32BE(pos + 8));
    records.push(b.subarray(pos, pos + len));
    pos += len;
  }
  writeFileSync(dst, Buffer.concat([b.subarray(0, 24), ...records.reverse()]));
}

describe("--jobs N gives the report of one thread", () => {
  const files = [...captures(FIXTURES), ...corpusEntries().map((e) => e.path)];

  it(`on every fixture and corpus capture (${files.length} files)`, async () => {
    expect(files.length).toBeGreaterThan(100);
    const differ: string[] = [];
    for (const f of files) {
      const one = await reportOf(f, 1);
      if ((await reportOf(f, 3)) !== one) differ.push(f);
    }
    expect(differ).toEqual([]);
  }, 300_000);

  it("when fragments arrive before their first fragment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-jobs-"));
    for (const name of [
      "ip-fragmentation/ipv4.pcap",
      "ip-fragmentation/ipv6.pcap",
      "fragment-loss/ipv4.pcap",
      "fragment-loss/ipv6.pcap",
    ]) {
      const out = join(dir, name.replace("/", "-"));
      reversed(join(FIXTURES, name), out);
      const one = await reportOf(out, 1);
      expect(JSON.parse(one).capture.fragments).toBeGreaterThan(0);
      expect(await reportOf(out, 2)).toBe(one);
      expect(await reportOf(out, 4)).toBe(one);
    }
  }, 60_000);

  it("through the CLI, text and JSON alike", () => {
    const f = join(FIXTURES, "retransmission");
    for (const file of captures(f)) {
      for (const format of ["json", "text"]) {
        const run = (jobs: string) =>
          execFileSync(process.execPath, [
            CLI,
            "analyze",
            "--format",
            format,
            "--no-color",
            "-j",
            jobs,
            file,
          ]).toString();
        expect(run("2")).toBe(run("1"));
      }
    }
  }, 60_000);
});

describe("the shard router", () => {
  it("keeps both directions of a flow on one worker and spreads flows over all workers", async () => {
    const flowsByWorker = new Map<string, Set<number>>();
    for (const path of captures(join(FIXTURES, "healthy"))) {
      const router = new ShardRouter(3);
      await readCapture(path, (rec: { bytes: Uint8Array; frame: number }) => {
        const owner = router.route(rec);
        const key = flowKey(rec.bytes);
        if (key === "") return;
        let s = flowsByWorker.get(key);
        if (s === undefined) flowsByWorker.set(key, (s = new Set()));
        s.add(owner);
      });
    }
    expect(flowsByWorker.size).toBeGreaterThan(5);
    for (const [flow, workers] of flowsByWorker) expect([flow, workers.size]).toEqual([flow, 1]);
    const used = new Set([...flowsByWorker.values()].map((s) => [...s][0]));
    expect(used.size).toBe(3);
  });

  it("says a capture with IP fragments, several VLANs or ICMP time exceeded cannot be split, at the first sign", async () => {
    for (const [file, reason] of [
      ["ip-fragmentation/ipv4.pcap", /^IP fragments \(frame \d+\)$/],
      ["parallel/r12_vlanorder.pcap", /^more than one VLAN \(frame \d+\)$/],
      ["traceroute/udp-ipv4.pcap", /^ICMP time exceeded \(frame \d+\)$/],
    ] as const) {
      const router = new ShardRouter(2);
      const owners: number[] = [];
      await readCapture(join(FIXTURES, file), (rec: unknown) => {
        owners.push(router.route(rec));
      });
      expect(router.unsplittable).toMatch(reason);
      expect(owners).toContain(UNSPLITTABLE);
    }
  });
});
/** Ethernet/IPv4/TCP or UDP only (enough for the healthy fixtures): "a:p-b:p" sorted, else "". */
function flowKey(b: Uint8Array): string {
  if (b.length < 38 || b[12] !== 0x08 || b[13] !== 0x00) return "";
  const ihl = (b[14]! & 15) * 4,
    at = 14 + ihl;
  if (b[23] !== 6 && b[23] !== 17) return "";
  const src = `${b.subarray(26, 30).join(".")}:${(b[at]! << 8) | b[at + 1]!}`;
  const dst = `${b.subarray(30, 34).join(".")}:${(b[at + 2]! << 8) | b[at + 3]!}`;
  return [src, dst].sort().join("-");
}
