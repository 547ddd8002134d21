/**
 * icmp-unreachable: ICMP / ICMPv6 errors (destination unreachable, fragmentation needed /
 * packet too big, time exceeded) that quote a packet of a UDP or TCP flow, attached to
 * that flow with the errno the sending socket gets for it (Linux's icmp_err_convert and
 * icmpv6_err_convert tables).
 *
 * SYNs re-sent after an error (the same connect() retrying: the client's stack took the
 * error as a soft one) are part of the evidence: in SYN-SENT a client sends nothing but
 * SYNs, so when its SYN count grew since the previous error its latest segment is a
 * re-sent SYN. These are the frames Wireshark flags as retransmissions; no other kind
 * reports them (connect-timeout leaves flows with ICMP errors to this one).
 */
import { defineAnalyzer } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import { icmpMeaning } from "../lib/icmp-meaning.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { L4_TCP } from "../../decode/wire/packet.js";
import { endpointToString } from "../../decode/wire/address.js";

class State {
  frames: readonly number[] = NO_FRAMES;
  /** "what (errno)" → count, in arrival order */
  readonly kinds = new Map<string, number>();
  count = 0;
  firstTime = 0;
  quotedDir = 0;
  portUnreachable = false;
  mtu = -1;
  /** The client's SYN count at the previous error (-1: no error for its SYN yet), and SYNs re-sent since. */
  synsAtError = -1;
  resentSyns = 0;
  resentFrames: readonly number[] = NO_FRAMES;
}

/** Counts (and keeps the frame of) SYNs the client re-sent since the previous error for them. */
function noteResentSyns(s: State, flow: Flow, cap: number): void {
  if (flow.proto !== L4_TCP) return;
  const client = flow.ep[DIR_CLIENT];
  if (!client.synSeen || flow.ep[DIR_SERVER].synSeen) return;
  if (s.synsAtError >= 0 && client.synCount > s.synsAtError) {
    s.resentSyns += client.synCount - s.synsAtError;
    s.resentFrames = keepFrame(s.resentFrames, client.lastFrame, cap);
  }
  s.synsAtError = client.synCount;
}

const analyzer = defineAnalyzer<State>({
  id: "icmp-unreachable",
  title: "An ICMP error came back for this flow's packets",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "ICMP / ICMPv6 destination unreachable (or fragmentation needed / packet too big / time exceeded) quoting a UDP or TCP packet of the flow.",
  explanation:
    "A router or the destination host could not deliver a packet this program sent and said so with an ICMP error. " +
    "For UDP, port unreachable means no socket was bound to the destination port: a connected UDP socket (one that " +
    "called connect()) gets ECONNREFUSED on its next send() or recv() — only if the ICMP message arrives, and only once; " +
    "an unconnected socket using sendto() is normally not told at all, so the program just waits for a reply that never " +
    "comes. Host/network unreachable make a TCP connect() fail with EHOSTUNREACH/ENETUNREACH (on an established " +
    "connection Linux keeps retrying and reports it only if the connection finally times out). Fragmentation needed / " +
    "packet too big lowers the path MTU; a datagram socket with path-MTU discovery on sees EMSGSIZE for sends larger " +
    'than that. Connect UDP sockets to learn about refusals (or enable IP_RECVERR), treat ECONNREFUSED as "nobody there" ' +
    "and back off, and check the server address and port.",
  references: ["000 §5.3", "000 §5.4", "003 connect()"],
  createState: () => new State(),
  onIcmpError(s, flow, quotedDir, frame, _time, p, out) {
    const m = icmpMeaning(p);
    if (flow === null || s === null) {
      // No flow to attach it to: say what we can about it, once per ICMP message.
      const v = p.ipVersion;
      out.report(analyzer, {
        flow: null,
        dir: null,
        frames: [frame],
        time: _time,
        summary:
          `${endpointToString(v, p.src0, p.src1, p.src2, p.src3, -1)} reported ${m.what} (${m.errno} for the sender) ` +
          `to ${endpointToString(v, p.dst0, p.dst1, p.dst2, p.dst3, -1)}; the quoted packet is too short to name its flow`,
        measure: { icmpType: p.icmpType, icmpCode: p.icmpCode },
      });
      return;
    }
    const key = `${m.what} (${m.errno})`;
    s.kinds.set(key, (s.kinds.get(key) ?? 0) + 1);
    if (s.count === 0) {
      s.firstTime = _time;
      s.quotedDir = quotedDir;
    }
    if (quotedDir === DIR_CLIENT) noteResentSyns(s, flow, out.frameCap);
    s.count++;
    s.frames = keepFrame(s.frames, frame, out.frameCap);
    if (m.errno === "ECONNREFUSED") s.portUnreachable = true;
    if (p.icmpMtu >= 0) s.mtu = p.icmpMtu;
  },
  onFlowEnd(s, flow, out) {
    if (s.count === 0) return;
    if (s.quotedDir === DIR_CLIENT) noteResentSyns(s, flow, out.frameCap); // SYNs re-sent after the last error
    const sender = roleOf(s.quotedDir);
    const dest = flow.endpointName(s.quotedDir === 0 ? "server" : "client");
    const kinds = [...s.kinds].map(([k, n]) => (n > 1 ? `${n}x ${k}` : k)).join(", ");
    const tcp = flow.proto === L4_TCP;
    const consequence =
      s.portUnreachable && !tcp
        ? `; a connected UDP socket gets ECONNREFUSED on its next call, an unconnected one waits in vain`
        : "";
    const resent =
      s.resentSyns > 0
        ? `; the client re-sent its SYN ${s.resentSyns} time(s) after an error (frame${s.resentFrames.length > 1 ? "s" : ""} ` +
          `${s.resentFrames.join(", ")}): its kernel took the error as a soft one and kept trying (Linux does when the ICMP ` +
          "arrives while the program is inside a call on the socket, as on loopback; BSD and macOS through the first few " +
          "retries), so connect() failed only at a later error or when the SYN timer ran out, with that errno"
        : "";
    const measure: Record<string, number> = { icmpErrors: s.count };
    if (s.mtu >= 0) measure.pathMtu = s.mtu;
    if (s.resentSyns > 0) measure.resentSyns = s.resentSyns;
    out.report(analyzer, {
      flow,
      dir: s.quotedDir,
      frames: [...s.frames, ...s.resentFrames],
      count: s.count,
      time: s.firstTime,
      summary: `${s.count} ICMP error(s) for the ${sender}'s packets to ${dest}: ${kinds}${consequence}${resent}`,
      measure,
    });
  },
});
export default analyzer;
