/**
 * DecodedPacket: one reusable, fixed-shape object that the stateless decoders fill in
 * place for every packet (gopacket's DecodingLayerParser idea). Every field is set in
 * the constructor with its final type; "absent" is a sentinel (-1 or 0), never
 * undefined, so V8 keeps one hidden class for it.
 *
 * Addresses are numbers: an IPv4 address is one uint32 in `src0`/`dst0`; an IPv6 address
 * is four uint32 words `src0..src3`. They become strings only when printed.
 */

export const L4_NONE = 0;
export const L4_ICMP = 1;
export const L4_TCP = 6;
export const L4_UDP = 17;
export const L4_ICMPV6 = 58;

/** TCP flag bits, tested against `tcpFlags` (RFC 9293 §3.1; ECE/CWR from RFC 3168). */
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;
export const TH_ECE = 0x40;
export const TH_CWR = 0x80;

/** Where decoding stopped and why (tier 2 of the bad-input policy: never thrown). */
import type { FragmentedDatagram } from "../datagram.js";

export type IssueLayer = "link" | "ip" | "ipv4" | "ipv6" | "tcp" | "udp" | "icmp" | "icmpv6";
export class DecodeIssue {
  constructor(
    readonly layer: IssueLayer,
    /** stable code: "truncated" (cut by the snap length: normal) or a malformation code */
    readonly code: string,
    /** offset of the layer within the packet */
    readonly offset: number,
    readonly required: number,
    readonly available: number,
  ) {}
  get text(): string {
    return this.code === "truncated"
      ? `${this.layer} header cut by the snap length (${this.available} of ${this.required} bytes)`
      : `${this.layer}: ${this.code} (needs ${this.required}, has ${this.available})`;
  }
}

/** Quoted packet inside an ICMP error: enough to find the flow it concerns. */
export class QuotedPacket {
  ipVersion = 0;
  proto = 0;
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  srcPort = -1;
  dstPort = -1;
  reset(): void {
    this.ipVersion = 0;
    this.proto = 0;
    this.src0 = this.src1 = this.src2 = this.src3 = 0;
    this.dst0 = this.dst1 = this.dst2 = this.dst3 = 0;
    this.srcPort = -1;
    this.dstPort = -1;
  }
}

export class DecodedPacket {
  // --- link layer
  /** Outer VLAN id in the low 12 bits, inner (QinQ) shifted by 12; 0 without tags. */
  vlan = 0;
  l3Offset = -1;
  // --- IP
  ipVersion = 0;
  ipHeaderLen = 0;
  /** IP packet length on the wire (header + payload) per the IP header. */
  ipTotalLen = 0;
  ttl = 0;
  /** IPv4 identification; -1 for IPv6 (whose fragment header's id is `fragId`). */
  ipId = -1;
  /** Transport protocol number (after IPv6 extension headers). */
  ipProto = -1;
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  /** Fragment facts: `isFragment` when MF set or offset non-zero (v4) / Fragment header (v6). */
  isFragment = false;
  fragId = 0;
  fragOffsetBytes = 0;
  moreFragments = false;
  /** Tunnels (IP-in-IP, GRE, ERSPAN) the packet was found inside; fields describe the innermost packet. */
  tunnelDepth = 0;
  /** Offset of the fragmentable part (v4: after the header; v6: after the Fragment header). */
  fragDataOffset = -1;
  /** End of the fragment's data present in `bytes` (the IP packet's end, or the snap length's). */
  fragDataEnd = -1;
  /** Set on the packet that completed a reassembly: L4 fields describe the whole datagram. */
  reassembled = false;
  fragmentCount = 0;
  /** The datagram this packet completed (only when `reassembled`). */
  datagram: FragmentedDatagram | null = null;
  // --- transport
  l4 = L4_NONE;
  l4Offset = -1;
  srcPort = -1;
  dstPort = -1;
  // TCP
  seq = 0;
  ack = 0;
  tcpFlags = 0;
  win = 0;
  tcpHeaderLen = 0;
  /** The data offset was out of range: only the fixed header was read, and a receiver would drop the segment. */
  tcpHeaderRejected = false;
  urgPtr = 0;
  optMss = -1;
  optWscale = -1;
  optSackPermitted = false;
  optTsVal = -1;
  optTsEcr = -1;
  /**
   * On a SYN only: the option kinds in the order sent ("MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL"),
   * which tells TCP stacks apart (analyze/lib/stack-profile.ts); "" on other segments.
   */
  synOptionLayout = "";
  /** SACK blocks as [left, right) pairs; `sackCount` pairs are valid. */
  sackCount = 0;
  readonly sack = new Float64Array(8);
  // UDP
  udpLen = 0;
  udpChecksum = -1;
  // ICMP / ICMPv6
  icmpType = -1;
  icmpCode = -1;
  /** Next-hop MTU of "fragmentation needed" / "packet too big", else -1. */
  icmpMtu = -1;
  readonly quoted = new QuotedPacket();
  // --- payload
  payloadOffset = -1;
  /** Payload length on the wire (from the headers), whatever the snap length kept. */
  payloadLen = 0;
  /** Payload bytes actually present in the capture. */
  payloadCaptured = 0;
  /** The capture's snap length cut this packet short (some layer is incomplete). */
  truncated = false;
  /** The record's captured length is below its original length. */
  snapCut = false;
  /**
   * Bytes the decoders looked at: the reader's chunk holding the record (which starts at
   * `base`), or the reassembled datagram (base 0). Every offset above is a position in it,
   * except on a reassembled packet `l3Offset`, `fragDataOffset` and `fragDataEnd`: those still locate the
   * completing fragment in the read chunk.
   */
  bytes: Uint8Array = new Uint8Array(0);
  base = 0;
  issues: DecodeIssue[] = [];

  reset(bytes: Uint8Array, base: number): void {
    this.vlan = 0;
    this.l3Offset = -1;
    this.ipVersion = 0;
    this.ipHeaderLen = 0;
    this.ipTotalLen = 0;
    this.ttl = 0;
    this.ipId = -1;
    this.ipProto = -1;
    this.src0 = this.src1 = this.src2 = this.src3 = 0;
    this.dst0 = this.dst1 = this.dst2 = this.dst3 = 0;
    this.isFragment = false;
    this.fragId = 0;
    this.fragOffsetBytes = 0;
    this.moreFragments = false;
    this.tunnelDepth = 0;
    this.fragDataOffset = -1;
    this.fragDataEnd = -1;
    this.reassembled = false;
    this.fragmentCount = 0;
    this.datagram = null;
    this.resetTransport();
    this.truncated = false;
    this.snapCut = false;
    this.bytes = bytes;
    this.base = base;
    if (this.issues.length > 0) this.issues = [];
  }

  resetTransport(): void {
    this.l4 = L4_NONE;
    this.l4Offset = -1;
    this.srcPort = -1;
    this.dstPort = -1;
    this.seq = 0;
    this.ack = 0;
    this.tcpFlags = 0;
    this.win = 0;
    this.tcpHeaderLen = 0;
    this.tcpHeaderRejected = false;
    this.urgPtr = 0;
    this.optMss = -1;
    this.optWscale = -1;
    this.optSackPermitted = false;
    this.optTsVal = -1;
    this.optTsEcr = -1;
    this.synOptionLayout = "";
    this.sackCount = 0;
    this.udpLen = 0;
    this.udpChecksum = -1;
    // Only ICMP sets these (and the quote): most packets need not clear them.
    if (this.icmpType !== -1) {
      this.icmpType = -1;
      this.icmpCode = -1;
      this.icmpMtu = -1;
      this.quoted.reset();
    }
    this.payloadOffset = -1;
    this.payloadLen = 0;
    this.payloadCaptured = 0;
  }

  /**
   * A header that does not fit in the bytes at hand: cut by the snap length (normal) when
   * the record was cut, otherwise a packet shorter than its own headers (malformed).
   */
  short(layer: IssueLayer, offset: number, required: number, available: number): void {
    this.issue(layer, this.snapCut ? "truncated" : "packet ends inside the header", offset, required, available);
  }

  issue(layer: IssueLayer, code: string, offset: number, required: number, available: number): void {
    // Issues give offsets within the packet, as a user counts them.
    this.issues.push(new DecodeIssue(layer, code, offset - this.base, required, available));
    if (code === "truncated") this.truncated = true;
  }
}
