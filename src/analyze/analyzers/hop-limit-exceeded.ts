/**
 * hop-limit-exceeded: ICMP Time Exceeded in transit (ICMPv6 Time Exceeded, hop limit)
 * quoting a flow's packets, outside a traceroute's pattern: the packets died on the way
 * at a router, so the destination never saw them. One router answering each time (not
 * successive ones, as a traceroute draws) means the sending program set its hop limit too
 * low, or the path loops. Split from icmp-unreachable (issue 16): the destination was not
 * unreachable, the packet ran out of hops.
 *
 * Left to other kinds: a traceroute's answers (traceroute, from the same lib/trace-paths.ts
 * rule) and reassembly time exceeded (code 1: fragment-loss's evidence).
 */
import { defineAnalyzer } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import { isHopLimitExceeded, TRACE_PATHS_SCOPE, type TracePaths, type TracePath } from "../lib/trace-paths.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { L4_TCP } from "../../decode/wire/packet.js";
import { connectOutcome } from "../lib/stack-profile.js";
import { stackOf } from "../lib/side-stack.js";
import type { CaptureFacts } from "../lib/recording-host.js";
import { endpointToString } from "../../decode/wire/address.js";

/** Routers named in a summary. */
const MAX_ROUTERS = 3;

class State {
  count = 0;
  frames: readonly number[] = NO_FRAMES;
  firstTime = 0;
  quotedDir = 0;
  /** Errors that are a traceroute's answers, and the path they belong to. */
  traced = 0;
  tracePath: TracePath | null = null;
  readonly routers = new Set<string>();
  /** TCP: errors for the client's SYN before any SYN-ACK (connect() still waiting), its SYN count at the first, and whether it re-sent one since. */
  synSentErrors = 0;
  synsAtError = 0;
  resentAfterError = false;
}

const analyzer = defineAnalyzer<State, TracePaths>({
  id: "hop-limit-exceeded",
  title: "Packets ran out of hops on the way (ICMP time exceeded)",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "ICMP / ICMPv6 Time Exceeded in transit quoting a UDP or TCP packet of the flow, from the same router(s) each time rather than hop by hop as a traceroute's.",
  explanation:
    "Every IP packet carries a hop limit (IPv4 TTL, IPv6 hop limit) that each router lowers by one; a router that " +
    "lowers it to zero drops the packet and answers ICMP Time Exceeded, naming itself. The packet never reached its " +
    "destination. When the same router answers every time, the sending program set the limit too low for the path " +
    "(setsockopt IP_TTL, IPV6_UNICAST_HOPS, or IP_MULTICAST_TTL for multicast; a default of 64 reaches any " +
    "destination), or the path loops between routers until the limit runs out (a routing loop: then the routers' " +
    "own logs or a traceroute shows the loop). What the program hears (Linux; RFC 1122 §4.2.3.9 calls the error " +
    "soft): a UDP socket is told only with IP_RECVERR (EHOSTUNREACH on its error queue) and otherwise just sees no " +
    "reply; a TCP connect() still waiting for its SYN-ACK fails with EHOSTUNREACH at once (unless the error arrives " +
    "while the program is inside a call on the socket: then it is kept and the SYN re-sent; BSD and macOS keep " +
    "retrying); an established connection keeps retransmitting and reports EHOSTUNREACH instead of ETIMEDOUT only " +
    "if it finally times out. Remove the IP_TTL setting or raise it, or fix the loop.",
  references: ["000 §5.3"],
  createState: () => new State(),
  capture: TRACE_PATHS_SCOPE,
  onIcmpError(s, flow, quotedDir, frame, time, p, out) {
    if (flow === null || s === null || !isHopLimitExceeded(p)) return;
    const path = out.captureState(analyzer).note(p, frame, time);
    if (path !== null) {
      s.tracePath = path;
      s.traced++;
    }
    if (s.count === 0) {
      s.firstTime = time;
      s.quotedDir = quotedDir;
    }
    s.routers.add(endpointToString(p.ipVersion, p.src0, p.src1, p.src2, p.src3, -1));
    if (quotedDir === DIR_CLIENT && inSynSent(flow)) {
      if (s.synSentErrors === 0) s.synsAtError = flow.ep[DIR_CLIENT].synCount;
      s.synSentErrors++;
    }
    s.count++;
    s.frames = keepFrame(s.frames, frame, out.frameCap);
  },
  onFlowEnd(s, flow, out) {
    if (s.count === 0) return;
    // Every error a traceroute's answer: the traceroute kind has said it, once for the path.
    if (s.traced === s.count && s.tracePath?.isTraceroute) return;
    if (s.synSentErrors > 0 && flow.ep[DIR_CLIENT].synCount > s.synsAtError) s.resentAfterError = true;
    const sender = roleOf(s.quotedDir);
    const dest = flow.endpointName(s.quotedDir === 0 ? "server" : "client");
    const routers = [...s.routers];
    const named = routers.slice(0, MAX_ROUTERS).join(", ") + (routers.length > MAX_ROUTERS ? ", …" : "");
    out.report(analyzer, {
      flow,
      dir: s.quotedDir,
      frames: s.frames,
      count: s.count,
      time: s.firstTime,
      summary:
        `${s.count} ICMP Time Exceeded for the ${sender}'s packets to ${dest}, from ${routers.length === 1 ? "router" : "routers"} ` +
        `${named}: the hop limit ran out before the packets reached ${dest}, and no traceroute pattern explains it ` +
        `(${routers.length === 1 ? "one router answers each time" : "the same few routers answer"}, not successive ones): ` +
        `a hop limit set too low (IP_TTL, IPV6_UNICAST_HOPS, IP_MULTICAST_TTL) or a routing loop; ${heard(s, flow, out.capture)}`,
      measure: { timeExceeded: s.count, routers: routers.length },
    });
  },
});

/** Whether the client is still in SYN-SENT as far as the wire shows: it sent a SYN, no SYN-ACK came. */
function inSynSent(flow: Flow): boolean {
  return flow.proto === L4_TCP && flow.ep[DIR_CLIENT].synSeen && !flow.ep[DIR_SERVER].synSeen;
}

/** What the sending program hears of a soft error, by transport and state (Linux). */
function heard(s: State, flow: Flow, capture: CaptureFacts): string {
  if (flow.proto !== L4_TCP)
    return "a soft error for UDP: Linux tells the socket only with IP_RECVERR (EHOSTUNREACH on its error queue), so the program normally just sees no reply";
  if (s.synSentErrors > 0)
    return s.resentAfterError
      ? "the client re-sent its SYN after the error: its stack kept the attempt going, and connect() fails with EHOSTUNREACH only if no SYN gets through before its timer runs out"
      : connectOutcome("EHOSTUNREACH", stackOf(flow, DIR_CLIENT, capture));
  return "a soft error for TCP: the connection keeps retransmitting, and the program sees EHOSTUNREACH only if it finally times out (instead of ETIMEDOUT)";
}
export default analyzer;
