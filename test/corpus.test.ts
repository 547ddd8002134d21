/**
 * The corpus (test/corpus: other projects' published captures) against its
 * manifest: every file reads to exactly the manifest's packet count with the manifest's
 * format variant and link types; broken files fail cleanly (one-line messages with an
 * offset, never anything but CaptureError); the whole pipeline runs on every file within
 * a time budget; and flows that differ only by VLAN stay apart.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CaptureError } from "../src/capture/errors.js";
import { readCapture } from "../src/capture/reader.js";
import type { CaptureInfo } from "../src/capture/record.js";
import { runCapture } from "../src/run/pipeline.js";
import { corpusEntries, type CorpusEntry } from "./helpers/corpus.js";
import { CORPUS } from "./helpers/paths.js";
import { tsharkAvailable } from "./helpers/tshark.js";

const entries = corpusEntries();

/** Per-file budget for the whole pipeline; the largest corpus file takes ~50 ms today. */
const PIPELINE_BUDGET_MS = 5_000;

/** Link-type numbers in a manifest cell: "1 ETHERNET; 0 NULL; 12 RAW (DLT 12)" → [1, 0, 12]. */
function manifestLinkTypes(cell: string): number[] {
  return cell.split(";").map((part) => {
    const m = /^\s*(\d+)\b/.exec(part);
    if (m === null) throw new Error(`manifest link-type cell not understood: "${cell}"`);
    return Number(m[1]);
  });
}

/** The oracle's per-interface link types (capinfos, one per pcapng IDB), when present. */
function oracleLinkTypes(file: string): number[] | null {
  const p = join(CORPUS, "oracle", `${file}.summary`);
  if (!existsSync(p)) return null;
  const last = readFileSync(p, "utf8").trim().split("\n").pop()!;
  const cell = last.slice(last.lastIndexOf(",") + 1);
  return cell.split(";").map((x) => Number(/^\s*(\d+)/.exec(x)![1]));
}

/** One line naming the file and the byte offset, as CaptureError formats it. */
function expectOneLine(msg: string, e: CorpusEntry): void {
  expect(msg.startsWith(`${e.path}: offset `), msg).toBe(true);
  expect(msg).toMatch(/^.+: offset \d+: \S[^\n]*$/);
}

describe("corpus manifest", () => {
  it("lists the captures", () => {
    expect(entries.length).toBeGreaterThanOrEqual(100);
    for (const e of entries) expect(existsSync(e.path), e.file).toBe(true);
  });
  it("has every format variant the reader claims to know", () => {
    const formats = new Set(entries.map((e) => e.format));
    for (const f of [
      "pcap-us-le",
      "pcap-us-be",
      "pcap-ns-le",
      "pcap-ns-be",
      "pcapng-le",
      "pcapng-be",
      "pcapng-mixed",
    ]) {
      expect(formats.has(f), f).toBe(true);
    }
  });
});

describe("reading every corpus file", () => {
  for (const e of entries) {
    it(e.file, async () => {
      let delivered = 0;
      let lastFrame = 0;
      let badRecord: string | null = null;
      let info: CaptureInfo | undefined;
      try {
        info = await readCapture(e.path, (r) => {
          delivered++;
          // Complete records only: the view holds every captured byte; frames count from 1, one
          // a packet, and pcapng custom blocks take a number too, as in Wireshark (the oracle's
          // frame numbers: test/differential.test.ts).
          if (badRecord === null && (r.bytes.length !== r.capLen || r.frame < delivered || r.frame <= lastFrame)) {
            badRecord = `frame ${r.frame}: ${r.bytes.length} bytes for capLen ${r.capLen}`;
          }
          lastFrame = r.frame;
        });
      } catch (err) {
        // Only "cannot read at all" may throw, and only as a CaptureError; no corpus file is that.
        expect(err).toBeInstanceOf(CaptureError);
        expectOneLine((err as Error).message, e);
        throw new Error(`${e.file}: readCapture threw: ${(err as Error).message}`);
      }
      expect(badRecord).toBeNull();
      expect(delivered).toBe(e.packets);
      expect(info.packets).toBe(e.packets);
      expect(info.variant).toBe(e.format);
      expect(e.format.startsWith(info.format)).toBe(true);

      // Link types: the manifest lists each distinct one in order of first appearance; the
      // oracle lists one per interface.
      const lts = info.interfaces.map((i) => i.linkType);
      expect([...new Set(lts)]).toEqual(manifestLinkTypes(e.linktype));
      const perIface = oracleLinkTypes(e.file);
      if (perIface !== null) expect(lts).toEqual(perIface);

      for (const m of info.warnings) expectOneLine(m, e);
      if (info.error !== null) expectOneLine(info.error, e);
      if (!e.broken) {
        expect(info.error, `${e.file} is not marked broken`).toBeNull();
        expect(info.warnings, `${e.file} is not marked broken`).toEqual([]);
      }
    });
  }
});

describe("broken and edge-case files", () => {
  const broken = entries.filter((e) => e.broken);
  it("are in the manifest", () => {
    expect(broken.length).toBeGreaterThanOrEqual(15);
  });
  // The ones that stop early must say where; the ones that read on must say what was odd.
  const stopsEarly = ["suricata--bug-6875-01-fuzz.pcap", "suricata--smtp-to-comma-garbage-tail.pcap"];
  const warns = [
    "libpcap--linktype-reserved-field-not-zero.pcap",
    "libpcap--pcap-invalid-version-1.pcap",
    "libpcap--pcap-invalid-version-2.pcap",
    "libpcap--pcapng-invalid-vers-1.pcapng",
    "libpcap--shb-option-too-long.pcapng",
    "suricata--http-mime-truncated-zwp.pcap",
    "tcpdump--aoe-oobr-1.pcap",
    "tcpdump--timestamp_invalid_micro.pcap",
    "tcpdump--timestamp_invalid_nano.pcap",
    "zeek--trunc-hdr.pcap",
  ];
  for (const file of stopsEarly) {
    it(`${file}: stops with one error line and keeps the records before it`, async () => {
      const e = entries.find((x) => x.file === file)!;
      let n = 0;
      const info = await readCapture(e.path, () => {
        n++;
      });
      expect(info.error).not.toBeNull();
      expectOneLine(info.error!, e);
      expect(n).toBe(e.packets);
      expect(n).toBeGreaterThan(0);
    });
  }
  for (const file of warns) {
    it(`${file}: reads on with a warning`, async () => {
      const e = entries.find((x) => x.file === file)!;
      const info = await readCapture(e.path, () => {});
      expect(info.error).toBeNull();
      expect(info.warnings.length).toBeGreaterThan(0);
    });
  }
  it("the truncated file names the truncation", async () => {
    const e = entries.find((x) => x.file === "suricata--http-mime-truncated-zwp.pcap")!;
    const info = await readCapture(e.path, () => {});
    expect(info.warnings.some((w) => /truncated final record/.test(w))).toBe(true);
  });
  it("a missing file is a CaptureError naming it", async () => {
    const path = join(CORPUS, "captures", "no-such-file.pcap");
    await expect(readCapture(path, () => {})).rejects.toThrow(CaptureError);
    await expect(readCapture(path, () => {})).rejects.toThrow(`${path}: no such file`);
  });
});

describe("the whole pipeline on every corpus file", () => {
  for (const e of entries) {
    it(
      e.file,
      async () => {
        const t0 = performance.now();
        const { info, engine } = await runCapture(e.path);
        const ms = performance.now() - t0;
        expect(ms, `${e.file} took ${ms.toFixed(0)} ms`).toBeLessThan(PIPELINE_BUDGET_MS);
        expect(engine.stats.packets).toBe(e.packets);
        expect(info.packets).toBe(e.packets);
        // No packet is counted in two flows (flows made from ICMP quotes may have none).
        let inFlows = 0;
        for (const f of engine.flows.all) inFlows += f.packets[0] + f.packets[1];
        expect(inFlows).toBeLessThanOrEqual(engine.stats.ipPackets);
      },
      PIPELINE_BUDGET_MS * 2,
    );
  }
});

// ---------------------------------------------------------------- VLANs keep flows apart

/**
 * (VLAN, 5-tuple) combinations of TCP/UDP frames, counted independently of src/: with
 * tshark when it is installed, else the table below. VLAN ids are encoded as the decoder
 * stores them (outer in the low 12 bits, inner shifted by 12) so the sets can be compared.
 */
interface Conversation {
  vlan: number;
  key: string;
  packets: number;
}

function encodeVlans(cell: string): number {
  const ids = cell === "" ? [] : cell.split(",").map(Number);
  return (ids[0] ?? 0) | ((ids[1] ?? 0) << 12);
}

function conversationsWithTshark(path: string): Conversation[] {
  const out = execFileSync(
    "tshark",
    [
      "-r",
      path,
      "-n",
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      "-E",
      "separator=|",
      "-e",
      "vlan.id",
      "-e",
      "ip.src",
      "-e",
      "ip.dst",
      "-e",
      "ipv6.src",
      "-e",
      "ipv6.dst",
      "-e",
      "ip.proto",
      "-e",
      "tcp.srcport",
      "-e",
      "tcp.dstport",
      "-e",
      "udp.srcport",
      "-e",
      "udp.dstport",
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const byKey = new Map<string, Conversation>();
  for (const line of out.split("\n")) {
    if (line === "") continue;
    // occurrence=a for the VLAN stack ("10,20"); every other field: its outermost value.
    const [vlan, ...rest] = line.split("|") as string[];
    const [s4, d4, s6, d6, proto, ts, td, us, ud] = rest.map((c) => c.split(",")[0]!);
    const sport = ts || us,
      dport = td || ud;
    if (!sport) continue; // not TCP/UDP
    const a = `${s4 || s6}/${sport}`,
      b = `${d4 || d6}/${dport}`;
    const v = encodeVlans(vlan!);
    const key = `${v}|${proto}|${[a, b].sort().join("|")}`;
    const c = byKey.get(key) ?? { vlan: v, key, packets: 0 };
    c.packets++;
    byKey.set(key, c);
  }
  return [...byKey.values()];
}

/**
 * zeek--vlan-collisions.pcap by hand, checked against
 *   tshark -r zeek--vlan-collisions.pcap -n -T fields -e vlan.id -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport
 * (TShark 4.0.17): one TCP connection 141.142.228.5:59856 <-> 192.150.187.43:80 seen
 * untagged (frames 1,3-5,10-17,29,30: 14 packets), with VLAN 42 (2,7-9,21-28,39,40: 14) and
 * QinQ 10/20 (6,18-20,31-38,41,42: 14).
 */
const VLAN_COLLISIONS_BY_HAND: Conversation[] = [
  { vlan: 0, key: "untagged", packets: 14 },
  { vlan: 42, key: "vlan 42", packets: 14 },
  { vlan: 10 | (20 << 12), key: "qinq 10/20", packets: 14 },
];

describe("flows stay apart per VLAN", () => {
  const files = entries.filter((e) => e.file.startsWith("zeek--vlan-collisions"));
  it("the manifest has the vlan-collisions capture", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const e of files) {
    it(e.file, async () => {
      const convs = tsharkAvailable() ? conversationsWithTshark(e.path) : VLAN_COLLISIONS_BY_HAND;
      if (e.file === "zeek--vlan-collisions.pcap") {
        // The hand-made table and tshark must agree (when tshark is here to ask).
        expect(convs.map((c) => [c.vlan, c.packets]).sort()).toEqual(
          VLAN_COLLISIONS_BY_HAND.map((c) => [c.vlan, c.packets]).sort(),
        );
      }
      const { engine } = await runCapture(e.path);
      const flows = engine.flows.all;
      expect(flows.length).toBe(convs.length);
      // Same VLANs, and per VLAN the same number of packets.
      const ours = flows.map((f) => [f.vlan, f.packets[0] + f.packets[1]]).sort();
      expect(ours).toEqual(convs.map((c) => [c.vlan, c.packets]).sort());
    });
  }
});
