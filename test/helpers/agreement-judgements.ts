/**
 * Every frame where sockscope and tshark disagreed on a compared kind in the corpus, judged
 * from the packets (docs/agreement.md is the readable record). Two outcomes:
 * - "fixed": tshark was right and sockscope missed it; it now tags the frame with `tag`.
 * - "tshark-wrong" / "deliberate": the frame is left out of tshark's side of the
 *   comparison, but only while its `premise` holds on the packets (checked with tshark by
 *   test/agreement-judgements.test.ts), so an exclusion cannot outlive its reason.
 */
export type ComparedKind = "retransmission" | "time-wait-reuse" | "icmp-unreachable";

/** Per judged kind: tshark's oracle columns and our kinds whose tags stand for it (test/agreement.test.ts). */
export const COMPARED: Record<ComparedKind, { columns: string[]; ours: string[] }> = {
  retransmission: {
    columns: ["retransmission", "fast_retransmission", "spurious_retransmission"],
    ours: ["retransmission", "syn-retransmit", "connect-timeout"],
  },
  "time-wait-reuse": { columns: ["reused_ports"], ours: ["time-wait-reuse"] },
  // A traceroute's final port unreachable is tagged traceroute (an answer the tool asked for);
  // fragmentation needed, a destination unreachable code too, is path-mtu's.
  "icmp-unreachable": { columns: ["icmp_unreach"], ours: ["icmp-unreachable", "traceroute", "path-mtu"] },
};

/** The packet facts an exclusion rests on (see PREMISES for each one's test). */
export type Premise =
  /** A SYN or SYN-ACK repeating the same side's previous one (same 4-tuple, VLAN, ISN) under 200 ms later, not answering a re-sent SYN. */
  | "syn-copy"
  /** The same segment seen earlier on another VLAN; on its own VLAN this is its first transmission. */
  | "vlan-copy"
  /** An 802.11 frame with the Retry bit set and the sequence number of an earlier frame from the same transmitter. */
  | "wifi-retry"
  /** SYN and FIN in one segment: no TCP stack sends that; a crafted probe. */
  | "syn-fin-probe"
  /** A SYN-ACK acknowledging the only SYN seen on its 4-tuple: the same connection, no new one. */
  | "synack-of-first-syn"
  /**
   * A SYN on a 4-tuple where nothing had been answered or ended yet, amid hand-made SYNs (an
   * acknowledgement number without the ACK flag): itself hand-made, the first other SYN after
   * one, or a re-send of an earlier SYN's ISN. No connection had ended: no reuse.
   */
  | "syn-among-crafted"
  /** A SYN no stack writes: SACK blocks in it, or an acknowledgement number without the ACK flag. */
  | "crafted-syn"
  /** A bare FIN repeating the same side's earlier FIN, acknowledging more than that side's previous segment did. */
  | "fin-repeat"
  /**
   * Data whose bytes no earlier segment of its side carried, already acknowledged by a
   * segment of the peer's recorded a moment (under 1 ms) before it: the capture recorded
   * the ACK first, so no copy of these bytes was ever sent before.
   */
  | "acked-before-captured"
  /** A FIN without the ACK flag: every receiver past LISTEN drops it (RFC 9293 §3.10.7.4). */
  | "fin-without-ack";

export type Verdict = "fixed" | "tshark-wrong" | "deliberate";

export interface Judgement {
  file: string;
  frames: number[];
  kind: ComparedKind;
  /** tshark's flag on the frames. */
  tshark: string;
  /** What sockscope says now (for "fixed": the kind it tags them with). */
  ours: string;
  verdict: Verdict;
  /** For "fixed": the tag sockscope must put on every frame. */
  tag?: string;
  premise?: Premise;
  reason: string;
}

const RETRANS = "tcp.analysis.retransmission";
const REUSED = "tcp.analysis.reused_ports";
const UNREACH = "icmp.type 3 / icmpv6.type 1";

const SYN_COPY =
  "the same packet recorded twice (same ISN, same IP ID where it is not zero, under 200 ms apart, nothing from the " +
  "peer that it could answer): no SYN or SYN-ACK timer fires that soon (RFC 6298 starts at 1 s, Linux never goes " +
  "below 200 ms), so it is a capture copy, not a re-send; syn-retransmit and connect-timeout treat it so";
const FIN_REPEAT =
  "a BSD-derived stack sets FIN on every segment it sends while its FIN is unacknowledged (tcp_output in " +
  "FIN_WAIT_1, CLOSING, LAST_ACK): this one acknowledges the peer's new data or FIN, so the peer's segment sent it, " +
  "not a retransmission timer, and no byte was lost; retransmission leaves it out (RESEND_FIN_REPEAT)";
const VLAN_COPY =
  "the connection is captured on several VLANs (same IP ID, same segment, shifted in time); sockscope keys flows by " +
  "VLAN, tshark's TCP conversations ignore it and take each later copy for a re-send. On its own VLAN the frame is " +
  "the first transmission";

const ACKED_FIRST =
  "data no earlier segment carried, captured microseconds after the peer's ACK that covers it: the capture recorded " +
  "the ACK before the data (after STARTTLS this file is a replay synthesized by a decryptor, one IP ID counter for " +
  "both hosts), so these bytes were sent once, not re-sent; tshark calls every segment already acknowledged a " +
  "spurious retransmission";

export const JUDGEMENTS: Judgement[] = [
  {
    file: "arkime--smtp-decrypted.pcap",
    frames: [29, 30, 31, 32],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission",
    verdict: "tshark-wrong",
    premise: "acked-before-captured",
    reason: `client data 11777-16731 after the server's ACKs 26-28 of it: ${ACKED_FIRST}`,
  },
  {
    file: "arkime--smtp-decrypted.pcap",
    frames: [86],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission",
    verdict: "tshark-wrong",
    premise: "acked-before-captured",
    reason: `the server's 48 bytes after the client's ACK 85 of them: ${ACKED_FIRST}`,
  },
  {
    file: "zeek--tcp-fin_retransmission.pcap",
    frames: [2],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: not accepted",
    verdict: "tshark-wrong",
    premise: "fin-without-ack",
    reason:
      "a FIN without ACK from the client 290 ms after its SYN, while the SYN was unanswered: no stack sends one, and " +
      "a receiver past LISTEN drops it (RFC 9293 §3.10.7.4: if the ACK bit is off, drop the segment); it re-sends " +
      "nothing (no SYN timer fires at 290 ms, and a FIN is no SYN)",
  },
  {
    file: "zeek--ipv6-http-atomic-frag.pcap",
    frames: [8],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission",
    verdict: "tshark-wrong",
    premise: "acked-before-captured",
    reason:
      "the client's 15-byte request, the only copy of its bytes, recorded after the server's ACK 6 of it and with an " +
      "older timestamp (27 µs before it): the capture wrote the two out of order; sent once, not re-sent",
  },
  // --- sockscope was wrong: fixed
  {
    file: "suricata--bug-5437-02-syn-timeout-reuse.pcap",
    frames: [34, 36, 38, 40],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "connect-timeout (was: nothing)",
    verdict: "fixed",
    tag: "connect-timeout",
    reason:
      "SYN frame 30 re-sent at 1, 2, 4, 8 s, never answered. connect-timeout took two FINs from the server's " +
      "address at 66 s and 116 s (frames 57, 59, acknowledging 3208555173, nothing the client sent) for an answer; a " +
      "socket in SYN-SENT does not take such segments for one (RFC 9293 §3.10.7.3), and now neither does connect-timeout",
  },
  {
    file: "suricata--ipv6-kill-router6.pcap",
    frames: [9, 13, 15],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "icmp-unreachable, as re-sent SYNs (was: nothing)",
    verdict: "fixed",
    tag: "icmp-unreachable",
    reason:
      "SYN frame 3 re-sent 1 s apart through ICMPv6 no-route errors (frames 4, 10, 14, 16): the client's stack " +
      "took them as soft errors. No kind named the re-sent SYNs; icmp-unreachable now does (its tags on SYN frames " +
      "count as retransmission tags)",
  },
  {
    file: "zeek--pop3-refused-retries.pcap",
    frames: [3, 5, 9, 11],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "retransmission, SYN re-sent after a refusal (was: nothing)",
    verdict: "fixed",
    tag: "retransmission",
    reason:
      "a Windows client (TTL 128, window 8192) re-sends its SYN with the same ISN and a new IP ID 0.5 s after " +
      "each RST+ACK, twice per connect(): the same connect() retried by the stack. connection-refused reported the " +
      "first RST only; retransmission now reports the re-sent SYNs",
  },
  {
    file: "arkime--gtp-iphone.pcap",
    frames: [22, 36, 95],
    kind: "time-wait-reuse",
    tshark: REUSED,
    ours: "time-wait-reuse (was: nothing)",
    verdict: "fixed",
    tag: "time-wait-reuse",
    reason:
      "the phone reconnects from port 5060 to [fd01::183]:5060 26-39 s after closing first (iOS keeps TIME_WAIT 30 s: only the reuse of 95 meets it). " +
      "All of it travels in GTP-U (UDP 2152), which sockscope did not decode: now a tunnel like GRE",
  },
  {
    file: "arkime--gtp-iphone.pcap",
    frames: [7, 83, 84, 89],
    kind: "icmp-unreachable",
    tshark: UNREACH,
    ours: "icmp-unreachable (was: nothing)",
    verdict: "fixed",
    tag: "icmp-unreachable",
    reason: "port unreachables for a DNS answer and RTP packets, inside GTP-U (see above)",
  },

  // --- the same packet recorded twice
  {
    file: "pcpp--example2-mixed.pcap",
    frames: [606, 834, 964, 2611],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason:
      `a second SYN-ACK 10-65 ms after the first (frames 600, 824, 961, 2602), from four unrelated servers, after ` +
      `the client had already acknowledged the first: ${SYN_COPY}`,
  },
  {
    file: "tcpdump--pptp.pcap",
    frames: [3],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason: `copy of SYN-ACK frame 2, 0.1 ms later, IP ID 0x4fb4: ${SYN_COPY}`,
  },
  {
    file: "zeek--tcp-ctu-64702-888.pcap",
    frames: [2],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason: `copy of SYN-ACK frame 1 with the same timestamp (every packet is twice in this file): ${SYN_COPY}`,
  },
  {
    file: "arkime--http-post-upload.pcap",
    frames: [2, 4],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason: `SYN and SYN-ACK seen on both sides of a router (TTL 64 then 63, other MACs, same IP ID): ${SYN_COPY}`,
  },
  {
    file: "arkime--smb-smb1-ascii.pcap",
    frames: [2, 4],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason: `copies of frames 1 and 3 under 0.2 ms later, same IP IDs: ${SYN_COPY}`,
  },
  {
    file: "arkime--wireshark-retrans.pcap",
    frames: [2, 3, 5, 11, 12],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: capture copy",
    verdict: "deliberate",
    premise: "syn-copy",
    reason:
      `the SYN (IP ID 0x0df8) is in the file four times within 5.7 ms (frames 1, 2, 3, 10) and the SYN-ACK ` +
      `(0xa341) four times (4, 5, 11, 12): ${SYN_COPY}`,
  },

  // --- a BSD FIN repeated on an ACK
  {
    file: "zeek--tcp-reassembly-half-close.pcap",
    frames: [8, 10, 12],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: FIN repeat",
    verdict: "deliberate",
    premise: "fin-repeat",
    reason: `the server's FIN (frame 6) on its ACKs of the client's data 7, 9, 11, each ~0.2 ms after it: ${FIN_REPEAT}`,
  },
  {
    file: "arkime--v6.pcap",
    frames: [74, 75],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: FIN repeat",
    verdict: "deliberate",
    premise: "fin-repeat",
    reason: `crossing FINs 72 and 73, each side's FIN again on its ACK of the other's: ${FIN_REPEAT}`,
  },
  {
    file: "arkime--smtp-decrypted.pcap",
    frames: [60, 62],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: FIN repeat",
    verdict: "deliberate",
    premise: "fin-repeat",
    reason: `crossing FINs 59 and 61, each side's FIN again on its ACK of the other's within 40 µs: ${FIN_REPEAT}`,
  },
  {
    file: "arkime--http-content-zip.pcap",
    frames: [11],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: FIN repeat",
    verdict: "deliberate",
    premise: "fin-repeat",
    reason: `the client's FIN (frame 9) again on its ACK of the server's FIN 7: ${FIN_REPEAT}`,
  },
  {
    file: "zeek--tcp-fin_retransmission.pcap",
    frames: [4],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: FIN repeat",
    verdict: "deliberate",
    premise: "fin-repeat",
    reason: `the client's FIN (frame 2, sent in SYN-SENT) again on its ACK of the SYN-ACK 3: ${FIN_REPEAT}`,
  },

  // --- one connection on several VLANs
  {
    file: "zeek--vlan-collisions.pcap",
    frames: [2, 6, 7, 9, 18, 20, 22, 23, 24, 25, 28, 32, 33, 34, 35, 38, 39, 41],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission on its VLAN",
    verdict: "tshark-wrong",
    premise: "vlan-copy",
    reason: `untagged, VLAN 42 and QinQ 10/20, each 50 ms after the other: ${VLAN_COPY}`,
  },
  {
    file: "arkime--mongo.pcap",
    frames: [2, 8, 22, 24],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission on its VLAN",
    verdict: "tshark-wrong",
    premise: "vlan-copy",
    reason: `SYNs and a SYN-ACK seen on VLANs 300 and 50 (TTL one lower on the second: routed between them): ${VLAN_COPY}`,
  },
  {
    file: "arkime--oracle.pcap",
    frames: [2],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: first transmission on its VLAN",
    verdict: "tshark-wrong",
    premise: "vlan-copy",
    reason: `the SYN on VLAN 300 (frame 1) and 50 (frame 2), 7 µs apart: ${VLAN_COPY}`,
  },

  // --- not TCP re-sends at all
  {
    file: "arkime--80211http.pcap",
    frames: [14],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged (802.11 radiotap is not decoded)",
    verdict: "tshark-wrong",
    premise: "wifi-retry",
    reason:
      "an 802.11 link-layer retry of frame 13 (Retry bit set, same 802.11 sequence number 2962, same IP ID): " +
      "the radio re-sent the frame 64 ms later, TCP sent it once",
  },
  {
    file: "suricata--urgent11-sll.pcap",
    frames: [6],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged (urgent-data)",
    verdict: "tshark-wrong",
    premise: "syn-fin-probe",
    reason:
      "SYN+FIN+URG with sequence 0, sent by an URGENT/11 scanner after its first probe (SYN frame 3, answered, " +
      "reset): a crafted packet reusing the number, not a re-send of anything",
  },
  {
    file: "zeek--tcp-rst-inject-rae.pcap",
    frames: [3],
    kind: "time-wait-reuse",
    tshark: REUSED,
    ours: "not tagged: same connection",
    verdict: "tshark-wrong",
    premise: "synack-of-first-syn",
    reason:
      "the server's SYN-ACK acknowledges the client's only SYN (frame 1, ack = ISN + 1). tshark saw the injected " +
      "RST in frame 2 (reserved bits set, the SYN's IP ID 0x1555, TTL 46 against the server's 49) end the " +
      "conversation and calls the SYN-ACK a port reuse; no new SYN was sent, nothing was reused",
  },
  {
    file: "suricata--bug-7657-01-port-reuse.pcap",
    frames: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
    kind: "time-wait-reuse",
    tshark: REUSED,
    ours: "not tagged: hand-made SYNs and one connection's SYN re-sent",
    verdict: "tshark-wrong",
    premise: "syn-among-crafted",
    reason:
      "SYNs every 160 ms with random ISNs, no options and an acknowledgement number without the ACK flag (frames 1-12" +
      ", 14-19, 21-23: hand-made, as hping3 writes them) interleaved with one stack's SYN (ISN 4291095205, MSS/SACK/T" +
      "S/WS options, ack 0) sent at frame 13 and re-sent at 20 and 24, which the SYN-ACK in frame 25 answers. No conn" +
      "ection on the 4-tuple had ended or been answered before: nothing was reused. The hand-made SYNs stay in the fl" +
      "ow, ignored (not-accepted), and the stack's re-sends are syn-retransmit's",
  },
  {
    file: "zeek--tcp-option-sack-syn-timeout.pcap",
    frames: [2, 3, 4],
    kind: "retransmission",
    tshark: RETRANS,
    ours: "not tagged: hand-made SYNs, no connect()",
    verdict: "deliberate",
    premise: "crafted-syn",
    reason:
      "the same SYN (seq 0, IP ID 1, scapy's default ports 20 to 80) four times, each with more SACK blocks, 6.4, 2.8" +
      " and 2.8 s apart, never answered: SACK blocks acknowledge data and never ride on a SYN (RFC 2018 §3), so no st" +
      "ack wrote these and no connect() timer re-sent them; connect-timeout leaves hand-made SYNs alone",
  },
];

/** Frames left out of tshark's side for `kind` in `file` (the judged exclusions). */
export function excludedFrames(file: string, kind: ComparedKind): Set<number> {
  const out = new Set<number>();
  for (const j of JUDGEMENTS)
    if (j.file === file && j.kind === kind && j.verdict !== "fixed") for (const f of j.frames) out.add(f);
  return out;
}
