/**
 * The request recognisers (src/analyze/lib/udp-requests.ts): each request built by its
 * RFC's layout is named, the same protocol's answers and one-way messages are not, no
 * input (arbitrary bytes, requests with bytes changed, cut short by a snap length) throws,
 * and on the corpus the verdicts are tshark's dissectors' (skipped without tshark).
 */
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { requestProtocol } from "../src/analyze/lib/udp-requests.js";
import { CORPUS } from "./helpers/paths.js";
import { tsharkAvailable, tsharkFields } from "./helpers/tshark.js";

const bytes = (...parts: (number[] | string | Uint8Array)[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : [...p])));
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const of = (d: Uint8Array): string | null => requestProtocol(d, d.length);

/** RFC 1035 §4.1: header (id, flags, counts), the name's labels, QTYPE, QCLASS. */
function dns(flags: number, counts = [1, 0, 0, 0], name = "api.example.test", qtype = 1, tail: number[] = []) {
  const labels = name.split(".").flatMap((l) => [l.length, ...[...l].map((c) => c.charCodeAt(0))]);
  return bytes(u16(0x1234), u16(flags), ...counts.map(u16), labels, [0], u16(qtype), u16(1), tail);
}
/** An EDNS OPT record (RFC 6891 §6.1.2): root name, type 41, UDP size 1232, no options. */
const OPT = [0, ...u16(41), ...u16(1232), 0, 0, 0, 0, ...u16(0)];

/** RFC 5905 §7.3: 48 bytes, LI/VN/mode in the first. */
const ntp = (first: number, stratum = 0) => bytes([first, stratum], new Array(46).fill(0));

/** RFC 8489 §5: type, length, magic cookie, transaction id, attributes. */
const stun = (type: number, attrs: number[] = []) =>
  bytes(u16(type), u16(attrs.length), [0x21, 0x12, 0xa4, 0x42], new Array(12).fill(7), attrs);

/** RFC 2865 §3: code, id, length, authenticator, attributes (User-Name "bob"). */
const radius = (code: number, attrs = [1, 5, 0x62, 0x6f, 0x62]) =>
  bytes([code, 9], u16(20 + attrs.length), new Array(16).fill(3), attrs);

/** SNMP v1/v2c: SEQUENCE { version, community "public", PDU { request-id, error-status, error-index, varbinds } }. */
function snmp(version: number, pduTag: number): Uint8Array {
  const varbind = [0x30, 0x0c, 0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 1, 0, 0x05, 0x00];
  const varbinds = [0x30, varbind.length, ...varbind];
  const pduBody = [0x02, 0x01, 0x2a, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, ...varbinds];
  const body = [
    0x02,
    0x01,
    version,
    0x04,
    0x06,
    ...[..."public"].map((c) => c.charCodeAt(0)),
    pduTag,
    pduBody.length,
    ...pduBody,
  ];
  return bytes([0x30, body.length], body);
}
/** SNMPv3 (RFC 3412 §6): version 3, msgGlobalData { msgID, msgMaxSize, msgFlags, model 3 }, then opaque. */
function snmpV3(flags: number): Uint8Array {
  const global = [0x02, 0x01, 0x11, 0x02, 0x02, 0x05, 0xdc, 0x04, 0x01, flags, 0x02, 0x01, 0x03];
  const body = [0x02, 0x01, 0x03, 0x30, global.length, ...global, 0x04, 0x02, 0x00, 0x00];
  return bytes([0x30, body.length], body);
}

describe("requestProtocol names requests by their own header", () => {
  it("DNS: a query, with or without EDNS, NOTIFY and UPDATE; never a response", () => {
    expect(of(dns(0x0100))).toBe("DNS query");
    expect(of(dns(0x0120, [1, 0, 0, 1], "example.com", 28, OPT))).toBe("DNS query");
    expect(of(dns(0x2000, [1, 1, 0, 0], "example.com", 6, OPT))).toBe("DNS NOTIFY");
    expect(of(dns(0x2800, [1, 0, 1, 0], "example.com", 6, OPT))).toBe("DNS UPDATE");
    expect(of(dns(0x8180))).toBeNull(); // QR: a response
    expect(of(dns(0x0103))).toBeNull(); // an RCODE in a query
    expect(of(dns(0x0100, [2, 0, 0, 0]))).toBeNull(); // two questions
    expect(of(dns(0x0100, [1, 1, 0, 0]))).toBeNull(); // an answer in a plain query
    expect(of(bytes(dns(0x0100), [0]))).toBeNull(); // a byte past the question
    expect(of(dns(0x0100, [1, 0, 0, 1]))).toBeNull(); // an additional record announced, none there
    expect(of(bytes("xxxxxxxxxx"))).toBeNull(); // opcode 15 (fixtures/parallel's filler)
  });
  it("NetBIOS name service, DNS's format with a 32-byte encoded name: a query and a registration", () => {
    const name = "EMEEEKFCDJDCACACACACACACACACACAA"; // RFC 1001 §14.1's half-bytes as 'A'-'P'
    expect(of(dns(0x0100, [1, 0, 0, 0], name, 0x20))).toBe("NetBIOS name query");
    expect(
      of(dns(0x2910, [1, 0, 0, 1], name, 0x20, [0xc0, 12, 0, 0x20, 0, 1, 0, 0, 0, 0, 0, 6, 0, 0, 10, 0, 0, 1])),
    ).toBe("NetBIOS name registration");
    expect(of(dns(0xa910, [1, 0, 0, 1], name, 0x20))).toBeNull(); // a response
  });
  it("NTP: client mode 3 of version 1-4, 48 bytes or more in words; not a server's mode 4", () => {
    expect(of(ntp(0xe3))).toBe("NTP client request"); // LI 3 (unsynchronised), v4, mode 3: ntpdate
    expect(of(ntp(0x1b))).toBe("NTP client request"); // v3
    expect(of(ntp(0x24, 2))).toBeNull(); // mode 4, a server's answer
    expect(of(ntp(0x3b))).toBeNull(); // version 7
    expect(of(bytes(ntp(0x23), [0, 0]))).toBeNull(); // 50 bytes: no whole words after the header
  });
  it("CoAP: a confirmable GET with options and payload, a ping; not non-confirmable, not an ACK", () => {
    // CON GET, token 0xab, Uri-Path "temp" (option 11: delta 11, length 4), payload marker, "x".
    expect(of(bytes([0x41, 0x01, 0x12, 0x34, 0xab, 0xb4], "temp", [0xff], "x"))).toBe("CoAP confirmable request");
    expect(of(bytes([0x40, 0x00, 0x12, 0x34]))).toBe("CoAP ping");
    expect(of(bytes([0x51, 0x01, 0x12, 0x34, 0xab, 0xb4], "temp"))).toBeNull(); // NON
    expect(of(bytes([0x61, 0x45, 0x12, 0x34, 0xab]))).toBeNull(); // ACK 2.05 Content
    expect(of(bytes([0x41, 0x01, 0x12, 0x34, 0xab, 0xff]))).toBeNull(); // payload marker with no payload
    expect(of(bytes([0x41, 0x01, 0x12, 0x34, 0xab, 0xf4], "temp"))).toBeNull(); // delta 15 is reserved
  });
  it("SNMP: Get/GetNext/Set/GetBulk, v3 with the reportable flag; not a Response, not a v1 GetBulk", () => {
    expect(of(snmp(1, 0xa0))).toBe("SNMP GetRequest");
    expect(of(snmp(0, 0xa1))).toBe("SNMP GetNextRequest");
    expect(of(snmp(1, 0xa5))).toBe("SNMP GetBulkRequest");
    expect(of(snmp(1, 0xa2))).toBeNull(); // Response-PDU
    expect(of(snmp(1, 0xa7))).toBeNull(); // SNMPv2-Trap-PDU
    expect(of(snmp(0, 0xa5))).toBeNull();
    expect(of(bytes(snmp(1, 0xa0), [0]))).toBeNull(); // the SEQUENCE must fill the datagram
    expect(of(snmpV3(0x04))).toBe("SNMPv3 request");
    expect(of(snmpV3(0x03))).toBeNull(); // authPriv, not reportable: a response or trap
  });
  it("TFTP: RRQ and WRQ with a known mode and options; not DATA, not an unknown mode", () => {
    expect(of(bytes([0, 1], "boot.img", [0], "octet", [0]))).toBe("TFTP read request");
    expect(of(bytes([0, 2], "log.txt", [0], "NetASCII", [0], "blksize", [0], "1428", [0]))).toBe("TFTP write request");
    expect(of(bytes([0, 3, 0, 1], "data"))).toBeNull();
    expect(of(bytes([0, 1], "boot.img", [0], "binary", [0]))).toBeNull();
    expect(of(bytes([0, 1], "boot.img", [0], "octet"))).toBeNull(); // no NUL after the mode
  });
  it("STUN: requests with the magic cookie; not a success response, not a Binding Indication", () => {
    expect(of(stun(0x0001))).toBe("STUN Binding request");
    expect(of(stun(0x0003, [0, 0x19, 0, 4, 17, 0, 0, 0]))).toBe("STUN request"); // TURN Allocate, REQUESTED-TRANSPORT
    expect(of(stun(0x0003, [0, 0x06, 0, 1, 0x61]))).toBe("STUN request"); // a USERNAME left unpadded (arkime--stun.pcap)
    expect(of(stun(0x0101))).toBeNull();
    expect(of(stun(0x0011))).toBeNull();
    const noCookie = stun(0x0001);
    noCookie[4] = 0; // RFC 3489's transaction id where the cookie is
    expect(of(noCookie)).toBeNull();
    expect(requestProtocol(stun(0x0001), 24)).toBeNull(); // the length field is not the rest of the datagram
  });
  it("RADIUS: Access- and Accounting-Request whose attributes end at Length; not an Access-Accept", () => {
    expect(of(radius(1))).toBe("RADIUS Access-Request");
    expect(of(radius(4))).toBe("RADIUS Accounting-Request");
    expect(of(radius(2))).toBeNull();
    expect(of(radius(1, [1, 9, 0x62]))).toBeNull(); // an attribute running past Length
    expect(of(radius(1, []))).toBeNull(); // no attribute at all
  });
  it("SIP: a request line (an OPTIONS ping wants its 200); not ACK, not a response", () => {
    expect(of(bytes("OPTIONS sip:pbx.example.test SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n"))).toBe("SIP OPTIONS request");
    expect(of(bytes("REGISTER sip:example.test SIP/2.0\r\n\r\n"))).toBe("SIP REGISTER request");
    expect(of(bytes("ACK sip:bob@example.test SIP/2.0\r\n\r\n"))).toBeNull();
    expect(of(bytes("SIP/2.0 200 OK\r\n\r\n"))).toBeNull();
    expect(of(bytes("GET /status id=42\n"))).toBeNull();
  });
  it("keep-alives and plain text are no requests", () => {
    for (const k of ["\r\n\r\n", "\r\n", "\xff", "\0", "HEARTBEAT node-7\n", "GET /status id=42\n"])
      expect(of(bytes(k)), JSON.stringify(k)).toBeNull();
  });
  it("a header cut short by the snap length is not recognised; a cut query body still is", () => {
    const q = dns(0x0100);
    expect(requestProtocol(q.subarray(0, 10), q.length)).toBeNull();
    const n = ntp(0xe3);
    expect(requestProtocol(n.subarray(0, 20), n.length)).toBe("NTP client request");
  });
});

/** Valid requests of every protocol, to change bytes of. */
const REQUESTS = [
  dns(0x0100),
  dns(0x0120, [1, 0, 0, 1], "example.com", 28, OPT),
  ntp(0xe3),
  bytes([0x41, 0x01, 0x12, 0x34, 0xab, 0xb4], "temp", [0xff], "x"),
  snmp(1, 0xa0),
  snmpV3(0x04),
  bytes([0, 1], "boot.img", [0], "octet", [0]),
  stun(0x0001),
  radius(1),
  bytes("OPTIONS sip:pbx.example.test SIP/2.0\r\n\r\n"),
];

describe("requestProtocol never throws", () => {
  it("on arbitrary bytes, with any wire length at least the captured one", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(2000), (d, extra) => {
        const r = requestProtocol(d, d.length + extra);
        expect(r === null || typeof r === "string").toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
  it("on requests with bytes changed, cut short or lengthened", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...REQUESTS),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.nat(),
        fc.nat(64),
        (base, edits, cut, extra) => {
          const d = base.slice();
          for (const [at, v] of edits) d[at % d.length] = v;
          const captured = d.subarray(0, d.length - (cut % (d.length + 1)));
          requestProtocol(captured, d.length + extra);
          requestProtocol(d, d.length);
        },
      ),
      { numRuns: 5000 },
    );
  });
  it("a DNS query with QR set is never a request", () => {
    fc.assert(
      fc.property(fc.constantFrom(REQUESTS[0]!, REQUESTS[1]!), fc.integer({ min: 0, max: 0x7fff }), (q, flags) => {
        const d = q.slice();
        d[2] = 0x80 | (flags >> 8);
        d[3] = flags & 0xff;
        expect(String(requestProtocol(d, d.length))).not.toMatch(/^DNS/);
      }),
    );
  });
});

/**
 * Other people's captures: every datagram tshark's dissectors decode as one of these
 * protocols, our recogniser's verdict against theirs (request or not). tshark picks the
 * dissector by port, we read the header only: they must still agree.
 */
const DISSECTED = [
  "arkime--dns-wiresharkrepo.pcap",
  "arkime--dns-notify.pcap",
  "arkime--dns-update.pcap",
  "pcpp--example2-mixed.pcap",
  "zeek--dns-edns-ecs-frags.pcap",
  "arkime--nbns.pcap",
  "arkime--gre-sample.pcap",
  "arkime--SNMPv2c_get_requests.pcap",
  "arkime--stun-ice-testcall.pcap",
  "arkime--stun.pcap",
  "arkime--tftp_rrq.pcap",
  "arkime--radius.pcap",
];
const FIELDS = [
  "frame.number",
  "udp.payload",
  "udp.length",
  "dns.flags.response",
  "dns.flags.opcode",
  "nbns.flags.response",
  "nbns.flags.opcode",
  "ntp.flags.mode",
  "snmp.data",
  "tftp.opcode",
  "stun.type",
  "radius.code",
] as const;

/** tshark's verdict: [protocol, is a request], or null for a datagram of none of these protocols. */
function dissected(r: Record<string, string>): [string, boolean] | null {
  const inSet = (v: string | undefined, set: number[]) => set.includes(Number(v));
  if (r["nbns.flags.opcode"])
    return ["NBNS", r["nbns.flags.response"] === "0" && inSet(r["nbns.flags.opcode"], [0, 5])];
  if (r["dns.flags.opcode"])
    return ["DNS", r["dns.flags.response"] === "0" && inSet(r["dns.flags.opcode"], [0, 2, 4, 5])];
  if (r["ntp.flags.mode"]) return ["NTP", r["ntp.flags.mode"] === "3"];
  if (r["snmp.data"]) return ["SNMP", inSet(r["snmp.data"], [0, 1, 3, 5, 6])];
  if (r["tftp.opcode"]) return ["TFTP", inSet(r["tftp.opcode"], [1, 2])];
  if (r["stun.type"]) return ["STUN", (Number(r["stun.type"]) & 0x0110) === 0];
  if (r["radius.code"]) return ["RADIUS", inSet(r["radius.code"], [1, 4, 12, 40, 43])];
  return null;
}

describe.skipIf(!tsharkAvailable())("requestProtocol agrees with tshark's dissectors on the corpus", () => {
  it("request or not, datagram by datagram", async () => {
    const seen = new Map<string, [number, number]>();
    const differ: string[] = [];
    for (const name of DISSECTED) {
      for (const r of await tsharkFields(join(CORPUS, "captures", name), FIELDS)) {
        const verdict = dissected(r);
        if (verdict === null || r["udp.payload"] === "") continue;
        const d = Uint8Array.from(Buffer.from(r["udp.payload"]!.replaceAll(":", ""), "hex"));
        const mine = requestProtocol(d, Number(r["udp.length"]) - 8);
        const [proto, request] = verdict;
        const [n, requests] = seen.get(proto) ?? [0, 0];
        seen.set(proto, [n + 1, requests + (request ? 1 : 0)]);
        if ((mine !== null) !== request)
          differ.push(`${name} frame ${r["frame.number"]}: tshark ${proto} ${request}, ours ${mine}`);
      }
    }
    expect(differ).toEqual([]);
    // Each protocol was met, requests and answers both where the capture holds them.
    for (const proto of ["DNS", "NBNS", "NTP", "SNMP", "TFTP", "STUN", "RADIUS"])
      expect(seen.get(proto)?.[1] ?? 0, proto).toBeGreaterThan(0);
    expect(seen.get("DNS")![0]).toBeGreaterThan(seen.get("DNS")![1]);
  }, 60_000);
});
