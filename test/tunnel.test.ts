/**
 * Tunnels: IP-in-IP, 6in4, GRE (with key and sequence number), GRE carrying Ethernet,
 * ERSPAN types I-III and GTP-U (with and without its optional fields and extension headers). The flow must be made of the inner packet, whatever wraps it, and
 * cut or nonsense tunnel headers must decode as far as they go without throwing.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { PacketDecoder } from "../src/decode/wire/decoder.js";
import { PacketRecord } from "../src/capture/record.js";
import { L4_TCP, L4_UDP } from "../src/decode/wire/packet.js";
import { concat, ethernet, ipv4, ipv6, tcp, udp } from "./helpers/build.js";

const inner4 = ipv4({
  src: 0x0a000001,
  dst: 0x0a000002,
  proto: 6,
  payload: tcp({ srcPort: 40000, dstPort: 80, seq: 1000, ack: 0, flags: 0x02, win: 64240, options: { mss: 1460 } }),
});
const inner6 = ipv6({
  src: [0x20010db8, 0, 0, 1],
  dst: [0x20010db8, 0, 0, 2],
  nextHeader: 6,
  payload: tcp({ srcPort: 40001, dstPort: 443, seq: 5, ack: 0, flags: 0x02, win: 1000 }),
});

function u16(n: number): number[] {
  return [n >>> 8, n & 255];
}
/** GRE header: flags byte (0x20 key, 0x10 sequence), protocol type, optional words. */
function gre(flags: number, proto: number, payload: Uint8Array): Uint8Array {
  const extra: number[] = [];
  if (flags & 0x20) extra.push(0, 0, 0, 42);
  if (flags & 0x10) extra.push(0, 0, 0, 7);
  return concat([new Uint8Array([flags, 0, ...u16(proto), ...extra]), payload]);
}
function outer(proto: number, payload: Uint8Array): Uint8Array {
  return ethernet(0x0800, ipv4({ src: 0xc0000201, dst: 0xc0000202, proto, payload }));
}
/** GTPv1-U G-PDU on UDP 2152: flags 0x30 (version 1, GTP), 0x32 with a sequence number, 0x34 with extensions. */
function gtpu(flags: number, payload: Uint8Array, extensions: number[][] = [], type = 0xff): Uint8Array {
  const opt: number[] = [];
  if (flags & 0x07) {
    opt.push(0, 1, 0, extensions.length > 0 ? 0x85 : 0);
    extensions.forEach((e, i) => {
      opt.push((e.length + 2) / 4, ...e, i + 1 < extensions.length ? 0x85 : 0);
    });
  }
  const body = concat([new Uint8Array(opt), payload]);
  return udp(2152, 2152, concat([new Uint8Array([flags, type, ...u16(body.length), 0, 0, 0, 1]), body]));
}
function decode(frame: Uint8Array) {
  const rec = new PacketRecord();
  rec.frame = 1;
  rec.linkType = 1;
  rec.bytes = frame;
  rec.capLen = frame.length;
  rec.origLen = frame.length;
  return new PacketDecoder().decode(rec);
}

const cases: [string, Uint8Array, number][] = [
  ["IPv4 in IPv4", outer(4, inner4), 4],
  ["6in4", outer(41, inner6), 6],
  ["GRE → IPv4", outer(47, gre(0, 0x0800, inner4)), 4],
  ["GRE with key and sequence → IPv6", outer(47, gre(0x30, 0x86dd, inner6)), 6],
  ["GRE → Ethernet (transparent bridging)", outer(47, gre(0x20, 0x6558, ethernet(0x0800, inner4, [10]))), 4],
  ["ERSPAN type I", outer(47, gre(0, 0x88be, ethernet(0x0800, inner4))), 4],
  ["ERSPAN type II", outer(47, gre(0x10, 0x88be, concat([new Uint8Array(8), ethernet(0x86dd, inner6)]))), 6],
  ["ERSPAN type III", outer(47, gre(0x10, 0x22eb, concat([new Uint8Array(12), ethernet(0x0800, inner4)]))), 4],
  ["GTP-U → IPv4", outer(17, gtpu(0x30, inner4)), 4],
  [
    "GTP-U with sequence number and two extension headers → IPv6",
    outer(
      17,
      gtpu(0x36, inner6, [
        [0x09, 0x10],
        [1, 2, 3, 4, 5, 6],
      ]),
    ),
    6,
  ],
  ["GRE in GRE", outer(47, gre(0, 0x0800, ipv4({ src: 1, dst: 2, proto: 47, payload: gre(0, 0x0800, inner4) }))), 4],
];

describe("tunnels decode to the inner packet", () => {
  for (const [name, frame, version] of cases) {
    it(name, () => {
      const p = decode(frame);
      expect(p.issues.map((i) => i.text)).toEqual([]);
      expect(p.tunnelDepth).toBeGreaterThan(0);
      expect(p.ipVersion).toBe(version);
      expect(p.l4).toBe(L4_TCP);
      expect(version === 4 ? [p.src0, p.dst0, p.srcPort, p.dstPort] : [p.src3, p.dst3, p.srcPort, p.dstPort]).toEqual(
        version === 4 ? [0x0a000001, 0x0a000002, 40000, 80] : [1, 2, 40001, 443],
      );
      expect(p.optMss).toBe(version === 4 ? 1460 : -1);
    });
  }
  it("GRE version 1 (PPTP) is left as the outer packet", () => {
    const frame = outer(47, new Uint8Array([0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0]));
    const p = decode(frame);
    expect(p.tunnelDepth).toBe(0);
    expect(p.ipProto).toBe(47);
  });
  it("UDP port 2152 that is not a G-PDU carrying IP (GTP echo request) stays a UDP datagram", () => {
    const p = decode(outer(17, gtpu(0x30, inner4, [], 0x01)));
    expect(p.issues).toEqual([]);
    expect(p.tunnelDepth).toBe(0);
    expect([p.l4, p.srcPort, p.dstPort]).toEqual([L4_UDP, 2152, 2152]);
  });
  it("every cut of every tunnel decodes without throwing and never invents a transport layer", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: cases.length - 1 }), fc.nat(), (i, n) => {
        const frame = cases[i]![1];
        const cut = frame.subarray(0, n % (frame.length + 1));
        const p = decode(cut);
        if (p.l4 === L4_TCP) expect(p.tcpHeaderLen).toBeGreaterThanOrEqual(20);
        return true;
      }),
      { numRuns: 500 },
    );
  });
});
