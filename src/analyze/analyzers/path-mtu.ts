/**
 * path-mtu: ICMP "fragmentation needed" (IPv4, DF set) or ICMPv6 "packet too big" quoting
 * a packet of the flow: a link on the path carries less than the sender sent, and the
 * message gives its MTU (RFC 1191, RFC 8201). What follows depends on the transport:
 * - TCP: the kernel lowers the MSS and re-sends in packets that fit, telling the program
 *   nothing. Info when the capture shows it did (lib/pmtu-follow-up.ts); a warning when it
 *   went on re-sending packets too large (a black hole), or when the capture cannot tell.
 * - UDP: a connected socket gets EMSGSIZE on its next call, and later sends larger than
 *   the MTU fail (DF) or go out fragmented: a warning.
 * A next-hop MTU below what any link must carry (68, 1280) is forged or broken: said so,
 * never stated as the path MTU.
 */
import { defineAnalyzer } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import { isPathMtuMessage, minimumMtu } from "../lib/icmp-meaning.js";
import { PmtuFollowUp } from "../lib/pmtu-follow-up.js";
import type { Flow } from "../../decode/flow/record.js";
import { L4_ICMPV6, L4_TCP } from "../../decode/wire/packet.js";

class State {
  count = 0;
  firstTime = 0;
  frames: readonly number[] = NO_FRAMES;
  /** What the sender did next (TCP); `dir` and the smallest plausible MTU. */
  readonly followUp = new PmtuFollowUp();
  /** Messages naming an MTU below the minimum, and the smallest such. */
  impossible = 0;
  impossibleMtu = Infinity;
  v6 = false;
}

const analyzer = defineAnalyzer<State | null>({
  id: "path-mtu",
  title: "A router said the path MTU is smaller than the packets sent",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: 'ICMP "fragmentation needed" (DF set) or ICMPv6 "packet too big" quoting a TCP or UDP packet of the flow, with the next-hop MTU.',
  explanation:
    "A link on the path carries smaller packets than this host sent, and the router in front of it dropped the packet " +
    "and said so, naming that link's MTU (path-MTU discovery, RFC 1191 and 8201). A TCP sender's kernel lowers the " +
    "connection's MSS and re-sends the lost data in packets that fit: the program sees nothing, only a short stall. If " +
    "the capture shows the sender going on with packets that are too large, the message never reached it (a firewall " +
    "dropping ICMP): a path-MTU black hole, where the connection hangs until the retransmission timer gives up with " +
    "ETIMEDOUT. A UDP socket with path-MTU discovery on (the Linux default) learns the MTU (getsockopt IP_MTU); a " +
    "connected one gets EMSGSIZE on its next call, and sends larger than the MTU fail with EMSGSIZE when DF is forced " +
    "(IP_PMTUDISC_DO) or are fragmented. Let these ICMP messages through firewalls, clamp the TCP MSS on tunnels, or " +
    "enable net.ipv4.tcp_mtu_probing; keep datagrams within the path MTU.",
  references: ["000 §5.8"],
  createState: () => new State(),
  // Most flows never get a path-MTU message: no state until one comes.
  stateOnRareEvent: true,
  onTcpSegment(s, flow, seg, p) {
    if (s !== null && s.followUp.dir >= 0) s.followUp.segment(seg, p, flow.ep[1 - seg.dir]!.mss);
  },
  onIcmpError(s, flow, quotedDir, frame, time, p, out) {
    if (s === null || flow === null || !isPathMtuMessage(p)) return;
    if (s.count++ === 0) s.firstTime = time;
    s.frames = keepFrame(s.frames, frame, out.frameCap);
    s.v6 = p.l4 === L4_ICMPV6;
    if (p.icmpMtu < minimumMtu(p.ipVersion)) {
      s.impossible++;
      s.impossibleMtu = Math.min(s.impossibleMtu, p.icmpMtu);
      return;
    }
    s.followUp.told(quotedDir, p.icmpMtu);
  },
  onFlowEnd(s, flow, out) {
    if (s === null || s.count === 0) return;
    const f = s.followUp;
    const dir = f.dir >= 0 ? f.dir : 0;
    const message = s.v6 ? "packet too big" : "fragmentation needed";
    const parts: string[] = [];
    let severity: "info" | "warning" = "warning";
    if (s.impossible > 0) {
      parts.push(
        s.impossibleMtu === 0 && !s.v6
          ? `${s.impossible} named no next-hop MTU (0: a router older than RFC 1191), so the sender has to guess one`
          : `${s.impossible} gave a next-hop MTU of ${s.impossibleMtu} bytes, below the ${minimumMtu(flow.ipVersion)} ` +
              "any link must carry: forged or broken; a kernel lowers its path MTU no further than its minimum " +
              "(Linux: 552 for IPv4, 1280 for IPv6)",
      );
    }
    if (f.dir >= 0) parts.push(consequence(f, flow));
    if (flow.proto === L4_TCP && f.dir >= 0 && f.verdict === "adapted" && s.impossible === 0) severity = "info";
    const measure: Record<string, number> = { icmpErrors: s.count };
    if (f.dir >= 0) measure.pathMtu = f.mtu;
    out.report(analyzer, {
      flow,
      dir,
      frames: s.frames,
      count: s.count,
      time: s.firstTime,
      severity,
      summary: `${s.count} ICMP ${message} for the ${roleOf(dir)}'s packets to ${flow.endpointName(dir === 0 ? "server" : "client")}: ${parts.join("; ")}`,
      measure,
    });
  },
});

/** What the sender did after it was told the path MTU, and what its program saw. */
function consequence(f: PmtuFollowUp, flow: Flow): string {
  const sender = roleOf(f.dir);
  if (flow.proto !== L4_TCP) {
    return (
      `the path MTU is ${f.mtu}: a connected UDP socket gets EMSGSIZE on its next call (an unconnected one is not ` +
      "told without IP_RECVERR), and later sends larger than that fail with EMSGSIZE when the socket sets DF " +
      "(IP_PMTUDISC_DO) or go out in fragments"
    );
  }
  switch (f.verdict) {
    case "adapted":
      return (
        `path-MTU discovery worked: the ${sender}'s kernel lowered the path MTU to ${f.mtu} and re-sent its data in ` +
        `packets that fit (from frame ${f.firstFitFrame}), without telling the program: its writes kept succeeding`
      );
    case "black-hole":
      return (
        `the ${sender} went on re-sending packets of up to ${f.largestOversized} bytes after being told the path MTU ` +
        `is ${f.mtu} (last in frame ${f.lastOversizedFrame}) and never smaller ones: its kernel did not get or did ` +
        "not apply the message (ICMP filtered between this capture and the sender): a path-MTU black hole, where " +
        "the connection stalls until the retransmission timer gives up (ETIMEDOUT)"
      );
    default:
      return (
        `the path MTU is ${f.mtu}; the capture shows no data re-sent by the ${sender} after it, so whether its ` +
        "kernel lowered its segments is not visible (Linux does, and re-sends without telling the program)"
      );
  }
}
export default analyzer;
