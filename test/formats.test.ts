/**
 * Every capture format and link-type variant in fixtures/formats, checked against the
 * facts its builder recorded with capinfos (fixtures/formats/manifest.json): packet
 * counts, format variant, link types, the first packet's exact timestamp, snap-length
 * truncation; and decoded alike: converted copies of one recording must give the same
 * flows whatever their byte order, timestamp resolution or link layer.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCapture } from "../src/capture/reader.js";
import { CaptureError } from "../src/capture/errors.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { FIXTURES } from "./helpers/paths.js";

interface Entry {
  format?: string;
  packets?: number;
  linktypes?: number[];
  first_ts?: string | null;
  truncated?: number;
  good_packets?: number;
  damage_offset?: number | null;
}
const dir = join(FIXTURES, "formats");
const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Record<string, Entry>;
const good = Object.entries(manifest).filter(([name]) => !name.startsWith("broken/"));
const broken = Object.entries(manifest).filter(([name]) => name.startsWith("broken/"));

/** "sec.fraction" → [sec, ns], truncating below a nanosecond as readers do. */
function parseTs(s: string): [number, number] {
  const [sec, frac = ""] = s.split(".");
  return [Number(sec), Number((frac + "000000000").slice(0, 9))];
}

async function read(file: string) {
  let first: [number, number] | null = null;
  let truncated = 0;
  let packets = 0;
  const info = await readCapture(join(dir, file), (rec) => {
    if (first === null) first = [rec.tsSec, rec.tsNsec];
    if (rec.capLen < rec.origLen) truncated++;
    packets++;
  });
  return { info, first: first as [number, number] | null, truncated, packets };
}

describe("format fixtures match capinfos", () => {
  it("has them all", () => expect(good.length).toBeGreaterThan(25));
  for (const [file, e] of good) {
    it(file, async () => {
      const r = await read(file);
      expect(r.info.error).toBeNull();
      expect(r.packets).toBe(e.packets);
      expect(r.info.variant).toBe(e.format);
      expect([...new Set(r.info.interfaces.map((i) => i.linkType))].sort()).toEqual([...e.linktypes!].sort());
      expect(r.truncated).toBe(e.truncated);
      if (e.first_ts) expect(r.first).toEqual(parseTs(e.first_ts));
    });
  }
});

/** The flows of a report without what legitimately differs between copies. */
async function flowShape(file: string) {
  const r = await analyzeFile(join(dir, file));
  return r.flows.map((f) => ({
    proto: f.proto,
    client: f.client,
    server: f.server,
    packets: f.packets,
    close: f.close,
  }));
}

describe("link layers decode to the same flows", () => {
  // All of these were converted from (or recorded with) pcap-us-le.pcap's traffic.
  const siblings = [
    "pcap-us-be.pcap",
    "pcap-ns-le.pcap",
    "pcap-ns-be.pcap",
    "pcapng-le.pcapng",
    "pcapng-be.pcapng",
    "pcapng-tsresol-ns.pcapng",
    "pcapng-tsresol-pow2.pcapng",
    "pcapng-tsoffset.pcapng",
    "pcapng-spb.pcapng",
    "pcapng-obsolete-pb.pcapng",
    "pcapng-unknown-blocks.pcapng",
    "linktype-raw-101.pcap",
    "linktype-raw-12.pcap",
    "linktype-raw-14.pcap",
    "linktype-null-le.pcap",
    "linktype-null-be.pcap",
    "linktype-loop-108.pcap",
    "linktype-sll.pcap",
    "linktype-sll2.pcap",
  ];
  it("the reference has TCP and UDP flows over IPv4 and IPv6", async () => {
    const ref = await flowShape("pcap-us-le.pcap");
    expect(ref.map((f) => f.proto)).toEqual(expect.arrayContaining(["tcp", "udp"]));
    expect(ref.some((f) => f.client.startsWith("["))).toBe(true);
    expect(ref.some((f) => !f.client.startsWith("["))).toBe(true);
  });
  for (const file of siblings) {
    it(file, async () => {
      const ref = await flowShape("pcap-us-le.pcap");
      if (file !== "pcapng-unknown-blocks.pcapng") return expect(await flowShape(file)).toEqual(ref);
      // Its two custom blocks (before packets 3 and 5) take frame numbers, as in Wireshark
      // (README: `tshark -r` lists 36 records): every later frame is two further on.
      const ours = await flowShape(file);
      expect(
        ours.map((f) => ({ ...f, close: f.close === null ? null : { ...f.close, frame: (f.close.frame ?? 0) - 2 } })),
      ).toEqual(ref);
    });
  }
  it("snap length 60 keeps every IPv4 flow; IPv6 headers don't fit and are marked cut", async () => {
    const ipv4 = (fs: Awaited<ReturnType<typeof flowShape>>) => fs.filter((f) => !f.client.startsWith("["));
    expect(await flowShape("snaplen-60.pcap")).toEqual(ipv4(await flowShape("pcap-us-le.pcap")));
    const r = await analyzeFile(join(dir, "snaplen-60.pcap"));
    expect(r.capture.truncatedPackets).toBe(28);
    expect(r.warnings.join("\n")).not.toMatch(/could not be fully decoded/);
  });
  it("raw IPv4 (228) and IPv6 (229) split the reference by family", async () => {
    const v4 = await flowShape("linktype-ipv4-228.pcap");
    const v6 = await flowShape("linktype-ipv6-229.pcap");
    const ref = await flowShape("pcap-us-le.pcap");
    expect([...v4, ...v6].length).toBe(ref.length);
    expect(v4.every((f) => !f.client.startsWith("["))).toBe(true);
    expect(v6.every((f) => f.client.startsWith("["))).toBe(true);
  });
  it("802.1Q and QinQ tags end up in the flow's vlan", async () => {
    const vlan = await analyzeFile(join(dir, "linktype-ethernet-vlan.pcap"));
    expect(vlan.flows.length).toBeGreaterThan(0);
    for (const f of vlan.flows) expect(f.vlan).toBe(10);
    const qinq = await analyzeFile(join(dir, "linktype-ethernet-qinq.pcap"));
    expect(qinq.flows.length).toBeGreaterThan(0);
    for (const f of qinq.flows) expect(f.vlan).toBe(20 | (30 << 12));
  });
  it("multi-interface and mixed-endian pcapng decode every interface", async () => {
    for (const file of ["pcapng-multi-if.pcapng", "pcapng-mixed-endian.pcapng"]) {
      const r = await analyzeFile(join(dir, file));
      expect(r.capture.nonIpPackets).toBe(0);
      expect(r.flows.length).toBeGreaterThan(0);
    }
  });
});

describe("broken files: the packets before the damage, and its offset", () => {
  for (const [file, e] of broken) {
    it(file, async () => {
      let packets = 0;
      if (file === "broken/pcapng-trailer-mismatch.pcapng") {
        // Deliberately lenient, as libpcap: the leading length frames the file, so every
        // packet is read and the mismatch is a warning at the trailer's offset.
        const info = await readCapture(join(dir, file), () => {
          packets++;
        });
        expect(packets).toBe(5);
        expect(info.warnings.join("\n")).toMatch(
          /offset 412: pcapng block of type 0x6 ends with length 104 but starts with 100/,
        );
        return;
      }
      try {
        const info = await readCapture(join(dir, file), () => {
          packets++;
        });
        expect(packets).toBe(e.good_packets);
        const said = [info.error ?? "", ...info.warnings].join("\n");
        if (e.damage_offset !== null && e.damage_offset !== undefined && !file.includes("linktype")) {
          expect(said).toContain(`offset ${e.damage_offset}:`);
        }
      } catch (err) {
        // Only "cannot be read as a capture at all" may throw, and only as a CaptureError.
        expect(err).toBeInstanceOf(CaptureError);
        expect(e.good_packets).toBe(0);
        expect((err as CaptureError).offset).toBe(e.damage_offset ?? 0);
      }
    });
  }
  it("an unsupported link type is read, and said to be undecodable", async () => {
    const r = await analyzeFile(join(dir, "broken/unsupported-linktype-147.pcap"));
    expect(r.capture.packets).toBe(5);
    expect(r.capture.nonIpPackets).toBe(5);
    expect(r.warnings.join("\n")).toMatch(/unsupported link type 147/);
  });
});
