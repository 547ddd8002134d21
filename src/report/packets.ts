/**
 * Per-packet lines for `sockscope packets`: tcpdump/tshark style text, or one JSON object
 * per line. Sequence and acknowledgement numbers are relative, as Wireshark shows them.
 */
import type { PacketRecord } from "../capture/record.js";
import { endpointToString } from "../decode/wire/address.js";
import type { Flow } from "../decode/flow/record.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import { linkTypeName } from "../capture/link.js";
import {
  L4_ICMP,
  L4_ICMPV6,
  L4_TCP,
  L4_UDP,
  TH_ACK,
  TH_CWR,
  TH_ECE,
  TH_FIN,
  TH_PSH,
  TH_RST,
  TH_SYN,
  TH_URG,
  type DecodedPacket,
} from "../decode/wire/packet.js";

export interface PacketLine {
  frame: number;
  /** Seconds since the epoch. */
  time: number;
  flow: number | null;
  /** "c2s" client → server, "s2c" server → client, null outside a flow. */
  dir: "c2s" | "s2c" | null;
  proto: string;
  src: string;
  dst: string;
  /** tcpdump-style TCP flags ("S", "S.", "P.", "F.", "R"), null for other protocols. */
  flags: string | null;
  seq: number | null;
  ack: number | null;
  win: number | null;
  /** Payload bytes on the wire. */
  len: number;
  tags: string[];
  /** Decode notes: fragments, truncation, malformations. */
  notes: string[];
}

/** The per-frame tag of a TCP segment the receiver would not have accepted. */
export const NOT_ACCEPTED_TAG = "not-accepted";

export function tcpFlagString(flags: number): string {
  let s = "";
  if (flags & TH_SYN) s += "S";
  if (flags & TH_FIN) s += "F";
  if (flags & TH_RST) s += "R";
  if (flags & TH_PSH) s += "P";
  if (flags & TH_URG) s += "U";
  if (flags & TH_ECE) s += "E";
  if (flags & TH_CWR) s += "W";
  if (flags & TH_ACK) s += ".";
  return s === "" ? "none" : s;
}

function protoName(p: DecodedPacket): string {
  switch (p.l4) {
    case L4_TCP:
      return "TCP";
    case L4_UDP:
      return "UDP";
    case L4_ICMP:
      return "ICMP";
    case L4_ICMPV6:
      return "ICMPv6";
    default:
      return p.ipVersion === 0 ? "non-IP" : `IPv${p.ipVersion} proto ${p.ipProto}`;
  }
}

export function packetLine(
  rec: PacketRecord,
  p: DecodedPacket,
  flow: Flow | null,
  dir: number,
  seg: TcpSegment | null,
  tags: string[],
): PacketLine {
  const v = p.ipVersion;
  const src = v === 0 ? "" : endpointToString(v, p.src0, p.src1, p.src2, p.src3, p.srcPort);
  const dst = v === 0 ? "" : endpointToString(v, p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort);
  const notes: string[] = [];
  if (v === 0) notes.push(`link ${linkTypeName(rec.linkType)}`);
  if (p.isFragment && !p.reassembled) {
    notes.push(
      `IPv${v} fragment id=0x${p.fragId.toString(16)} offset=${p.fragOffsetBytes}${p.moreFragments ? " MF" : ""}`,
    );
  }
  if (p.reassembled) notes.push(`reassembled from ${p.fragmentCount} fragments`);
  if (p.icmpType >= 0)
    notes.push(
      `type ${p.icmpType} code ${p.icmpCode}${p.quoted.srcPort >= 0 ? ` quoting ${endpointToString(p.quoted.ipVersion, p.quoted.src0, p.quoted.src1, p.quoted.src2, p.quoted.src3, p.quoted.srcPort)} → ${endpointToString(p.quoted.ipVersion, p.quoted.dst0, p.quoted.dst1, p.quoted.dst2, p.quoted.dst3, p.quoted.dstPort)}` : ""}`,
    );
  if (p.truncated) notes.push("cut by snap length");
  for (const i of p.issues) if (i.code !== "truncated") notes.push(i.text);
  return {
    frame: rec.frame,
    time: rec.tsSec + rec.tsNsec / 1e9,
    flow: flow === null ? null : flow.id,
    dir: flow === null ? null : dir === 0 ? "c2s" : "s2c",
    proto: protoName(p),
    src,
    dst,
    flags: seg === null ? null : tcpFlagString(seg.flags),
    seq: seg === null ? null : seg.relSeq,
    ack: seg === null || !(seg.flags & TH_ACK) ? null : seg.relAck,
    // A reset's window is no advertisement, and the tracker keeps the previous one: show
    // the field as sent, as tshark does.
    win: seg === null ? null : seg.flags & TH_RST ? p.win : seg.winScaled,
    len: p.l4 === L4_TCP || p.l4 === L4_UDP ? p.payloadLen : Math.max(0, p.ipTotalLen - p.ipHeaderLen),
    // A segment the receiver's stack would have ignored (TcpSegment.accepted) says so, finding or not.
    tags: seg !== null && !seg.accepted ? [...tags, NOT_ACCEPTED_TAG] : tags,
    notes,
  };
}

export function formatPacketText(l: PacketLine, t0: number): string {
  const rel = (l.time - t0).toFixed(6).padStart(11);
  const flow = l.flow === null ? "   -" : String(l.flow).padStart(4);
  const dir = l.dir === null ? "   " : l.dir === "c2s" ? "c→s" : "s→c";
  let s = `${String(l.frame).padStart(6)} ${rel} ${flow} ${dir} ${l.proto}`;
  if (l.src !== "") s += ` ${l.src} → ${l.dst}`;
  if (l.flags !== null)
    s += ` [${l.flags}] seq=${l.seq}${l.ack === null ? "" : ` ack=${l.ack}`} win=${l.win} len=${l.len}`;
  else if (l.proto === "UDP") s += ` len=${l.len}`;
  if (l.notes.length > 0) s += ` (${l.notes.join("; ")})`;
  if (l.tags.length > 0) s += ` [${l.tags.join(",")}]`;
  return s;
}
