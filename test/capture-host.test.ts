/**
 * The capture file's own word on the host it was recorded on: the pcapng section's
 * shb_hardware, shb_os and shb_userappl and the interfaces' if_name, if_description,
 * if_os and addresses, read bounded and printable from any bytes (capture/pcapng.ts), and
 * taken as evidence of a side's stack only where the packets show that side is the
 * capturing host and do not say otherwise (analyze/lib/recording-host.ts, stack-profile.ts).
 */
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_OPTION_TEXT, MAX_SECTIONS } from "../src/capture/pcapng.js";
import { readCapture, readSource } from "../src/capture/reader.js";
import type { CaptureInfo, InterfaceAddress, InterfaceInfo, SectionInfo } from "../src/capture/record.js";
import { addressToString } from "../src/decode/wire/address.js";
import { Flow } from "../src/decode/flow/record.js";
import { L4_TCP } from "../src/decode/wire/packet.js";
import {
  interfaceOs,
  recordingHostOf,
  stackOfOs,
  type CaptureFacts,
  type RecordingHost,
} from "../src/analyze/lib/recording-host.js";
import { identifyStack } from "../src/analyze/lib/side-stack.js";
import { Engine } from "../src/run/packet-loop.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { MemorySource, pcapFile, pcapngFile, type NgSection, type PcapRecord } from "./helpers/build.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

const captures = join(CORPUS, "captures");

async function infoOf(path: string): Promise<CaptureInfo> {
  return readCapture(path, () => undefined);
}

async function infoOfBytes(bytes: Uint8Array): Promise<{ info: CaptureInfo; packets: number }> {
  let packets = 0;
  const info = await readSource(new MemorySource(bytes, undefined, "mem.pcapng"), () => packets++);
  return { info, packets };
}

const iface = (o: Partial<InterfaceInfo> = {}): InterfaceInfo => ({
  linkType: 1,
  snapLen: 0,
  name: "",
  description: "",
  os: "",
  addresses: [],
  section: 0,
  ...o,
});
const DUMPCAP = "Dumpcap (Wireshark) 4.2.2 (Git v4.2.2 packaged as 4.2.2-1)";
const section = (os: string, userAppl = DUMPCAP): SectionInfo => ({ hardware: "", os, userAppl });
const facts = (interfaces: InterfaceInfo[], sections: SectionInfo[] = [section("")]): CaptureFacts => ({
  sections,
  interfaces,
});

const V4 = (s: string): number[] => [s.split(".").reduce((a, b) => a * 256 + Number(b), 0), 0, 0, 0];
const v4Address = (s: string): InterfaceAddress => ({ version: 4, words: V4(s) as [number, number, number, number] });
const texts = (i: InterfaceInfo): string[] => i.addresses.map((a) => addressToString(a.version, ...a.words));

/** A TCP flow between two IPv4 (or IPv6) addresses with each side's TTL and SYN option layout, as the tracker leaves them. */
function flowOf(
  client: string,
  server: string,
  ttl: [number, number],
  layout: [string, string] = ["", ""],
  ipVersion = 4,
): Flow {
  const addr = (a: string) => (ipVersion === 6 ? (a === "::1" ? [0, 0, 0, 1] : [0x20010db8, 0, 0, 1]) : V4(a));
  const f = new Flow(1, 0, L4_TCP, ipVersion, 0, addr(client), 40000, addr(server), 80);
  f.ep[0].ttl = ttl[0];
  f.ep[1].ttl = ttl[1];
  f.ep[0].synOptionLayout = layout[0];
  f.ep[1].synOptionLayout = layout[1];
  return f;
}

const LINUX_OS = "Linux 6.6.9-amd64";
const host = (f: Flow, dir: number, c: CaptureFacts): RecordingHost | null => recordingHostOf(f, dir, c);

describe("pcapng section and interface options", () => {
  it("reads them from files dumpcap and mergecap wrote (as capinfos shows them)", async () => {
    const dvwa = await infoOf(join(captures, "zeek--http-cooper-grill-dvwa.pcapng"));
    expect(dvwa.sections).toEqual([
      { hardware: "12th Gen Intel(R) Core(TM) i7-12800HX (with SSE4.2)", os: LINUX_OS, userAppl: DUMPCAP },
    ]);
    expect(dvwa.interfaces).toEqual([iface({ snapLen: 262144, name: "eth0", os: LINUX_OS })]);
    const merged = await infoOf(join(captures, "zeek--pcapng-multi-interface.pcapng"));
    expect(merged.sections[0]!.userAppl).toMatch(/^Mergecap /);
    expect(merged.interfaces.map((i) => [i.name, i.description, i.os])).toEqual([
      ["eth0", "", "Linux 6.8.0-90-generic"],
      ["\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}", "Ethernet 2", "64-bit Windows 11 (25H2), build 26200"],
    ]);
  });

  it("reads interface addresses in a big-endian section, and makes a newline in an OS string a space", async () => {
    const info = await infoOf(join(captures, "pcapng-testgen--be-test008-idb-options-tsresol9.pcapng"));
    expect(info.sections).toEqual([{ hardware: "Apple MBP", os: "OS-X 10.10.5", userAppl: "pcap_writer.lua" }]);
    expect(info.interfaces.map((i) => ({ description: i.description, os: i.os, addresses: texts(i) }))).toEqual([
      {
        description: "silly ethernet interface",
        os: "Microsoft Windows for Workgroups 3.11b patch 42",
        addresses: ["10.1.2.3", "2100:db8::1a2b"],
      },
      {
        description: "silly ethernet interface 2",
        os: "Novell NetWare 4.11 but not using IPX",
        addresses: ["0:db8:85a3:8d3:1319:8a2e:370:7344", "10.1.2.4"], // in the file's order
      },
    ]);
  });

  it("agrees with capinfos on the first section of every corpus pcapng", async (ctx) => {
    try {
      execFileSync("capinfos", ["-h"], { stdio: "ignore" });
    } catch {
      ctx.skip(); // capinfos (Wireshark's) is not installed: nothing to compare with
    }
    const files = readdirSync(captures).filter((f) => f.endsWith(".pcapng"));
    expect(files.length).toBeGreaterThan(10);
    let compared = 0;
    for (const f of files) {
      let out: string;
      try {
        out = execFileSync("capinfos", [join(captures, f)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      } catch {
        continue; // capinfos refuses some damaged files
      }
      const field = (label: string) => new RegExp(`^${label}:\\s+(.*?)\\s*$`, "m").exec(out)?.[1] ?? "";
      const s = (await infoOf(join(captures, f))).sections[0]!;
      expect([f, s.hardware, s.os, s.userAppl]).toEqual([
        f,
        field("Capture hardware"),
        field("Capture oper-sys"),
        field("Capture application"),
      ]);
      compared++;
    }
    expect(compared).toBeGreaterThan(10);
  });

  it("leaves out an address option of the wrong length, saying so once, and keeps the rest", async () => {
    const v4 = [10, 0, 0, 1, 255, 255, 255, 0];
    const { info } = await infoOfBytes(
      pcapngFile([
        {
          le: true,
          interfaces: [
            { linkType: 1, ipv4: [new Uint8Array([10, 0, 0, 9]), new Uint8Array(v4)] },
            { linkType: 1, ipv4: [new Uint8Array(3)], ipv6: [new Uint8Array([...new Array(15).fill(0), 1, 128])] },
          ],
          blocks: [],
        },
      ]).bytes,
    );
    expect(info.interfaces.map(texts)).toEqual([["10.0.0.1"], ["::1"]]);
    expect(info.warnings).toHaveLength(1);
    expect(info.warnings[0]).toMatch(/mem\.pcapng: offset \d+: .*if_IPv4addr has length 4, not 8; left out/);
  });

  it("makes strings printable and bounded: no control characters, U+FFFD for bytes not UTF-8, no trailing NULs", async () => {
    const bytes = pcapngFile([
      {
        le: false,
        os: "Linux\u001b[31m 6.1\u0000\u0000",
        hardware: "x".repeat(5000),
        interfaces: [{ linkType: 1, os: "ok" }],
        blocks: [],
      },
    ]).bytes;
    // "ok" → 0x6f 0xff: not UTF-8.
    const at = Buffer.from(bytes).indexOf(Buffer.from("ok"));
    bytes[at + 1] = 0xff;
    const { info } = await infoOfBytes(bytes);
    expect(info.sections[0]!.os).toBe("Linux [31m 6.1");
    expect(info.sections[0]!.hardware).toBe(`${"x".repeat(MAX_OPTION_TEXT - 1)}…`);
    expect(info.interfaces[0]!.os).toBe("o\ufffd");
  });

  it("keeps consecutive sections alike once and at most MAX_SECTIONS, saying so once; interfaces point at theirs", async () => {
    const alike = (os: string): NgSection => ({ le: true, os, interfaces: [{ linkType: 1 }], blocks: [] });
    const same = await infoOfBytes(pcapngFile([alike("Linux 6.1"), alike("Linux 6.1"), alike("FreeBSD 14")]).bytes);
    expect(same.info.sections.map((x) => x.os)).toEqual(["Linux 6.1", "FreeBSD 14"]);
    expect(same.info.interfaces.map((i) => i.section)).toEqual([0, 0, 1]);
    const many = Array.from({ length: MAX_SECTIONS + 3 }, (_, i) => alike(`Linux ${i}`));
    const { info } = await infoOfBytes(pcapngFile(many).bytes);
    expect(info.sections).toHaveLength(MAX_SECTIONS);
    expect(info.interfaces.slice(MAX_SECTIONS - 1).map((i) => i.section)).toEqual([MAX_SECTIONS - 1, -1, -1, -1]);
    expect(info.warnings).toEqual([
      expect.stringMatching(/more than 1024 pcapng sections with different header options/),
    ]);
  });

  it("reads on past any option bytes in either byte order: never throws, every packet delivered, strings bounded", async () => {
    const packet = { kind: "epb" as const, iface: 0, ts: 1n, data: new Uint8Array(60) };
    // Options near what writers put there (codes 0-15, any value, a length that may lie), then any bytes.
    const optionBytes = fc
      .tuple(
        fc.array(
          fc.record({
            code: fc.integer({ min: 0, max: 15 }),
            value: fc.uint8Array({ maxLength: 40 }),
            length: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
          }),
          { maxLength: 8 },
        ),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([opts, tail]) => (le: boolean) => {
        const out: number[] = [];
        const u16 = (v: number) => (le ? out.push(v & 255, v >>> 8) : out.push(v >>> 8, v & 255));
        for (const o of opts) {
          u16(o.code);
          u16(o.length ?? o.value.length);
          out.push(...o.value);
          while (out.length % 4 !== 0) out.push(0);
        }
        out.push(...tail);
        return new Uint8Array(out);
      });
    await fc.assert(
      fc.asyncProperty(fc.boolean(), optionBytes, optionBytes, async (le, shbOptions, idbOptions) => {
        const sections: NgSection[] = [
          {
            le,
            rawOptions: shbOptions(le),
            interfaces: [{ linkType: 1, rawOptions: idbOptions(le) }],
            blocks: [packet, packet],
          },
        ];
        const { info, packets } = await infoOfBytes(pcapngFile(sections).bytes);
        expect(info.error).toBeNull();
        expect(packets).toBe(2);
        const strings = [
          ...info.sections.flatMap((s) => [s.hardware, s.os, s.userAppl]),
          ...info.interfaces.flatMap((i) => [i.name, i.description, i.os]),
        ];
        for (const s of strings) {
          expect(s.length).toBeLessThanOrEqual(MAX_OPTION_TEXT);
          expect(s).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
        }
        for (const a of info.interfaces[0]!.addresses) {
          for (const w of a.words) expect(w >>> 0).toBe(w);
          if (a.version === 4) expect(a.words.slice(1)).toEqual([0, 0, 0]);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("the capturing host's OS", () => {
  it("maps the OS strings dumpcap writes to stacks, and anything else to none", () => {
    const named = [
      "Linux 6.1.0-18-amd64",
      "Linux 3.18.1-1-ARCH",
      "Mac OS X 10.10.4, build 14E46 (Darwin 14.4.0)",
      "Mac OS X 10.15.7, build 19H2 (Darwin 19.6.0)",
      "macOS 12.5.1, build 21G83 (Darwin 21.6.0)",
      "64-bit Windows 10 (22H2), build 19045",
      "64-bit Windows 11 (25H2), build 26200",
      "FreeBSD 13.2-RELEASE",
      "Novell NetWare 4.11 but not using IPX",
      "",
    ].map(stackOfOs);
    expect(named).toEqual(["linux", "linux", "macos", "macos", "macos", "windows", "windows", "freebsd", null, null]);
  });

  it("takes if_os first, a section's shb_os only from dumpcap (not mergecap's, editcap's or a generator's)", () => {
    const sections = [section(LINUX_OS), section("Linux 6.8.0", "Mergecap (Wireshark) 4.2.2"), section("OS-X", "x")];
    const c = facts([], sections);
    expect(interfaceOs(c, iface({ section: 0 }))).toBe(LINUX_OS);
    expect(interfaceOs(c, iface({ section: 1 }))).toBe("");
    expect(interfaceOs(c, iface({ section: 1, os: "64-bit Windows 11" }))).toBe("64-bit Windows 11");
    expect(interfaceOs(c, iface({ section: 2 }))).toBe("");
    expect(interfaceOs(c, iface({ section: -1 }))).toBe("");
  });

  it("is a side by the interface's address; then neither TTL nor loopback makes the other side the host", () => {
    const c = facts([iface({ addresses: [v4Address("10.0.0.1")] })], [section(LINUX_OS)]);
    const f = flowOf("10.0.0.1", "10.0.0.2", [64, 52]);
    expect(host(f, 0, c)).toEqual({ stack: "linux", os: LINUX_OS, how: "address" });
    expect(host(f, 1, c)).toBeNull();
    // The host's address on packets that left with less than its initial TTL: forwarded through it (NAT), not its own.
    expect(host(flowOf("10.0.0.1", "10.0.0.2", [63, 52]), 0, c)).toBeNull();
    // IPv6: the address alone (a hop limit says nothing of the stack).
    const c6 = facts([iface({ addresses: [{ version: 6, words: [0x20010db8, 0, 0, 1] }] })], [section(LINUX_OS)]);
    expect(host(flowOf("2001:db8::1", "::1", [255, 64], ["", ""], 6), 0, c6)?.how).toBe("address");
    // Addresses known, neither side's: the capture was taken elsewhere (a router, a mirror port).
    expect(host(flowOf("10.0.0.7", "10.0.0.2", [64, 52]), 0, c)).toBeNull();
  });

  it("is both sides on loopback", () => {
    const c = facts([iface({ os: LINUX_OS })]);
    const f = flowOf("127.0.0.1", "127.0.0.1", [64, 64]);
    expect([host(f, 0, c)?.how, host(f, 1, c)?.how]).toEqual(["loopback", "loopback"]);
    const f6 = flowOf("::1", "::1", [64, 64], ["", ""], 6);
    expect(host(f6, 1, c)?.stack).toBe("linux");
  });

  it("is the one side whose TTL is the named OS's full initial TTL, only when the other's is not (IPv4)", () => {
    const linux = facts([iface({ os: LINUX_OS })]);
    const windows = facts([iface({ os: "64-bit Windows 10 (22H2), build 19045" })]);
    expect(host(flowOf("10.0.0.1", "93.184.216.34", [64, 52]), 0, linux)?.how).toBe("ttl");
    expect(host(flowOf("10.0.0.1", "93.184.216.34", [64, 52]), 1, linux)).toBeNull();
    // ldap-issue-32: the Linux host at 64, a Windows peer on the same LAN at 128.
    expect(host(flowOf("192.168.10.152", "192.168.10.186", [64, 128]), 0, linux)?.how).toBe("ttl");
    expect(host(flowOf("192.168.1.5", "192.168.1.9", [64, 64]), 0, linux)).toBeNull(); // either may be the host
    expect(host(flowOf("10.0.0.1", "10.0.0.2", [128, 116]), 0, windows)?.stack).toBe("windows");
    expect(host(flowOf("10.0.0.1", "10.0.0.2", [64, 52]), 0, windows)).toBeNull();
    expect(host(flowOf("2001:db8::1", "2001:db8::2", [64, 52], ["", ""], 6), 0, linux)).toBeNull();
  });

  it("says nothing by TTL or loopback when the interfaces name different stacks, or none", () => {
    const merged = facts(
      [iface({ os: "Linux 6.8.0-90-generic" }), iface({ os: "64-bit Windows 11 (25H2), build 26200" })],
      [section("Linux 6.8.0-90-generic", "Mergecap (Wireshark) 4.2.2")],
    );
    expect(host(flowOf("10.0.0.1", "1.1.1.1", [128, 57]), 0, merged)).toBeNull();
    expect(host(flowOf("127.0.0.1", "127.0.0.1", [64, 64]), 0, merged)).toBeNull();
    const unknown = facts([iface({ os: "Novell NetWare 4.11" })]);
    expect(host(flowOf("10.0.0.1", "1.1.1.1", [64, 57]), 0, unknown)).toBeNull();
  });
});

describe("the capture file's OS as stack evidence", () => {
  const linuxLoopback = facts([iface({ os: LINUX_OS })]);
  const MACOS_SYN = "MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL";

  it("narrows a TTL of 64 without a SYN (Linux, macOS or FreeBSD) to the OS the file names", () => {
    const id = identifyStack(flowOf("127.0.0.1", "127.0.0.1", [64, 64]), 0, linuxLoopback);
    expect(id?.profile.id).toBe("linux");
    expect(id?.fromFile?.how).toBe("loopback");
    expect(identifyStack(flowOf("127.0.0.1", "127.0.0.1", [64, 64]), 0, facts([]))).toBeNull();
  });

  it("lets the packets win over the file, and says what they overruled; on loopback the file wins", () => {
    // On loopback both sides are the host the file names; TTL and SYN options are settings there.
    const mac = identifyStack(flowOf("127.0.0.1", "127.0.0.1", [64, 64], [MACOS_SYN, ""]), 0, linuxLoopback);
    expect([mac?.profile.id, mac?.fromFile?.how, mac?.looksLike?.id]).toEqual(["linux", "loopback", "macos"]);
    const win = identifyStack(flowOf("127.0.0.1", "127.0.0.1", [128, 128]), 0, linuxLoopback);
    expect([win?.profile.id, win?.looksLike?.id]).toEqual(["linux", "windows"]);
    // Off loopback, a TTL of 128 is Windows' alone: a file naming Linux for this address does not make it Linux
    // (a TTL below Linux's 64 is no packet of that host's own: forwarded through it).
    const l = facts([iface({ os: LINUX_OS, addresses: [v4Address("10.0.0.1")] })]);
    const off = identifyStack(flowOf("10.0.0.1", "10.0.0.2", [128, 60]), 0, l);
    expect([off?.profile.id, off?.overruled]).toEqual(["windows", null]);
    // A Windows file over a TTL-64 side: not one of the stacks the packets allow, so nothing is named.
    const w = facts([iface({ os: "64-bit Windows 10 (22H2), build 19045", addresses: [v4Address("10.0.0.1")] })]);
    expect(identifyStack(flowOf("10.0.0.1", "10.0.0.2", [64, 60]), 0, w)).toBeNull();
  });
});

describe("findings that name the stack because of the capture file (fixtures recorded with dumpcap)", () => {
  const midstream = join(FIXTURES, "time-wait", "midstream-recorded-on-linux.pcapng");

  it("a midstream loopback capture written on Linux: TIME_WAIT is Linux's 60 s, and the words say why", async () => {
    const [tw] = (await analyzeFile(midstream)).findings.filter((f) => f.kind === "time-wait");
    expect(tw?.summary).toMatch(
      /a Linux host keeps it 60 s \(TCP_TIMEWAIT_LEN; the capture file says it was recorded on Linux \S+, and on loopback both sides are that host\)/,
    );
  });

  it("the same packets as classic pcap (no word on the host): the range over the stacks", async () => {
    const records: PcapRecord[] = [];
    await readCapture(midstream, (r) =>
      records.push({ tsSec: r.tsSec, tsFrac: Math.floor(r.tsNsec / 1000), data: r.bytes.slice() }),
    );
    const engine = new Engine();
    await readSource(new MemorySource(pcapFile(records)), engine.onPacket);
    engine.finish();
    const [tw] = engine.findings.filter((f) => f.kind === "time-wait");
    expect(tw?.summary).toMatch(/the closing side's TCP keeps it for 2·MSL \(60 s on Linux and FreeBSD, 30 s on macOS/);
    expect(tw?.summary).not.toMatch(/a Linux host/);
  });

  it("a capture on the client, its server one router away, handshake cut: the client is the host by its TTL", async () => {
    const report = await analyzeFile(join(FIXTURES, "time-wait", "routed-midstream-recorded-on-linux.pcapng"));
    const [tw] = report.findings.filter((f) => f.kind === "time-wait");
    expect(tw?.side).toBe("client");
    expect(tw?.summary).toMatch(
      /a Linux host keeps it 60 s \(TCP_TIMEWAIT_LEN; the capture file says it was recorded on Linux \S+, and only this side's packets leave with that OS's full initial TTL of 64\)/,
    );
  });

  it("a Linux stack dressed as Windows XP on loopback (TTL 128, XP's SYN options): on loopback the file wins, the words say what the packets looked like", async () => {
    const report = await analyzeFile(join(FIXTURES, "time-wait", "windows-like-recorded-on-linux.pcapng"));
    const [tw] = report.findings.filter((f) => f.kind === "time-wait");
    expect(tw?.summary).toMatch(
      /a Linux host keeps it 60 s \(TCP_TIMEWAIT_LEN; the capture file says it was recorded on Linux \S+, and on loopback both sides are that host, though its TTL and SYN options look like Windows's\)/,
    );
  });
});

describe("the JSON report's capture section", () => {
  it("shows a pcapng file's sections and interfaces as written, and nothing for a classic pcap", async () => {
    const merged = await analyzeFile(join(captures, "zeek--pcapng-multi-interface.pcapng"));
    expect(merged.capture.pcapng).toEqual({
      sections: [
        {
          application: "Mergecap (Wireshark) 4.2.2 (Git v4.2.2 packaged as 4.2.2-1.1build3)",
          os: "Linux 6.8.0-90-generic",
          hardware: "",
        },
      ],
      interfaces: [
        { name: "eth0", description: "", os: "Linux 6.8.0-90-generic", addresses: [] },
        {
          name: "\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}",
          description: "Ethernet 2",
          os: "64-bit Windows 11 (25H2), build 26200",
          addresses: [],
        },
      ],
    });
    const testgen = await analyzeFile(join(captures, "pcapng-testgen--be-test008-idb-options-tsresol9.pcapng"));
    expect(testgen.capture.pcapng?.interfaces[0]?.addresses).toEqual(["10.1.2.3", "2100:db8::1a2b"]);
    const pcap = await analyzeFile(join(FIXTURES, "time-wait", "client-closes-first.pcap"));
    expect("pcapng" in pcap.capture).toBe(false);
  });
});
