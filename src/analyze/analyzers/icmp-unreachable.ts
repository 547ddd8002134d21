/**
 * icmp-unreachable: ICMP / ICMPv6 errors (destination unreachable, parameter problem)
 * that quote a packet of a UDP or TCP flow, attached to that flow, with
 * what the sending socket hears of them: that depends on the transport and the
 * connection's state as much as on the code (lib/icmp-meaning.ts).
 *
 * Left to other kinds: a traceroute's answers (Time Exceeded from successive routers and
 * the target's port unreachable: traceroute reports those, once), any other Time Exceeded
 * in transit (hop-limit-exceeded: the packet ran out of hops, the destination was not
 * unreachable), fragmentation needed / packet too big (path-mtu), and fragment reassembly
 * time exceeded (fragment-loss's evidence). At info rather than warning: a client host's port unreachable for a server's
 * late reply (the client had closed the socket it asked from: the slower of two DNS answers).
 *
 * SYNs re-sent after an error (the same connect() retrying: the client's stack took the
 * error as a soft one) are part of the evidence: in SYN-SENT a client sends nothing but
 * SYNs, so when its SYN count grew since the previous error its latest segment is a
 * re-sent SYN. These are the frames Wireshark flags as retransmissions; no other kind
 * reports them (connect-timeout leaves flows with ICMP errors to this one).
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { captureNow, keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import {
  errnoOn,
  icmpMeaning,
  isPathMtuMessage,
  isReassemblyTimeExceeded,
  type IcmpMeaning,
} from "../lib/icmp-meaning.js";
import { isHopLimitExceeded, TRACE_PATHS_SCOPE, type TracePaths, type TracePath } from "../lib/trace-paths.js";
import { connectOutcome } from "../lib/stack-profile.js";
import { stackOf } from "../lib/side-stack.js";
import type { CaptureFacts } from "../lib/recording-host.js";
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../../decode/flow/record.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP, type DecodedPacket } from "../../decode/wire/packet.js";
import { endpointToString } from "../../decode/wire/address.js";

class State {
  frames: readonly number[] = NO_FRAMES;
  /** What each kind of error said → its meaning and count, in arrival order */
  readonly kinds = new Map<string, { meaning: IcmpMeaning; count: number }>();
  count = 0;
  firstTime = 0;
  quotedDir = 0;
  /** The first error's meaning, and whether any was a hard one (lib/icmp-meaning.ts). */
  first: IcmpMeaning | null = null;
  anyHard = false;
  /** Errors that are not a traceroute's answers; the traceroute path of those that are. */
  untraced = 0;
  tracePath: TracePath | null = null;
  /** TCP: errors for the client's SYN before any SYN-ACK (connect() still waiting), and after. */
  synSentErrors = 0;
  portUnreachable = false;
  /** UDP port unreachable from the client's host for the server's datagrams. */
  refusedReplies = 0;
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

/** Whether the client is still in SYN-SENT as far as the wire shows: it sent a SYN, no SYN-ACK came. */
function inSynSent(flow: Flow): boolean {
  return flow.proto === L4_TCP && flow.ep[DIR_CLIENT].synSeen && !flow.ep[DIR_SERVER].synSeen;
}

const analyzer = defineAnalyzer<State, TracePaths>({
  id: "icmp-unreachable",
  title: "An ICMP error came back for this flow's packets",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "ICMP / ICMPv6 destination unreachable (or parameter problem) quoting a UDP or TCP packet of the flow.",
  explanation:
    "A router or the destination host could not deliver a packet this program sent and said so with an ICMP error. " +
    "What the program hears of it depends on the transport (Linux; RFC 1122 §4.2.3.9). UDP: port unreachable means " +
    "no socket was bound to the destination port; it and the other hard errors are queued on a connected socket (one " +
    "that called connect()) and returned once by its next send() or recv() (ECONNREFUSED), while network/host " +
    "unreachable are soft errors a UDP socket hears of only with IP_RECVERR; an unconnected socket " +
    "using sendto() is told nothing without IP_RECVERR and just waits for a reply that never comes. TCP: an error for " +
    "the SYN makes connect() fail with EHOSTUNREACH/ENETUNREACH/ECONNREFUSED; on an established connection it is a " +
    "soft error, the connection keeps retransmitting and the errno replaces ETIMEDOUT only if it finally times out. " +
    "(Time Exceeded is reported as hop-limit-exceeded or traceroute.) Connect " +
    'UDP sockets to learn about refusals (or enable IP_RECVERR), treat ECONNREFUSED as "nobody there" and back off, ' +
    "and check the server address and port.",
  references: ["000 §5.3", "000 §5.4", "003 connect()"],
  createState: () => new State(),
  capture: TRACE_PATHS_SCOPE,
  onIcmpError(s, flow, quotedDir, frame, time, p, out) {
    const m = icmpMeaning(p);
    if (flow === null || s === null) {
      reportUnattached(m, frame, time, p, out);
      return;
    }
    // fragment-loss's evidence, and path-mtu's messages
    if (isReassemblyTimeExceeded(p) || isPathMtuMessage(p)) return;
    const traces = out.captureState(analyzer);
    // hop-limit-exceeded's (or a traceroute's), noted so that a traceroute's final port unreachable is known as such
    if (isHopLimitExceeded(p)) {
      traces.note(p, frame, time);
      return;
    }
    const path = traces.note(p, frame, time);
    if (path === null) s.untraced++;
    else s.tracePath = path;
    const seen = s.kinds.get(m.what);
    if (seen === undefined) s.kinds.set(m.what, { meaning: m, count: 1 });
    else seen.count++;
    if (s.count === 0) {
      s.firstTime = time;
      s.quotedDir = quotedDir;
      s.first = m;
    }
    if (m.hard) s.anyHard = true;
    if (quotedDir === DIR_CLIENT) {
      if (inSynSent(flow)) s.synSentErrors++;
      noteResentSyns(s, flow, out.frameCap);
    }
    if (m.errno === "ECONNREFUSED") {
      s.portUnreachable = true;
      if (quotedDir === DIR_SERVER) s.refusedReplies++;
    }
    s.count++;
    s.frames = keepFrame(s.frames, frame, out.frameCap);
  },
  onFlowEnd(s, flow, out) {
    if (s.count === 0) return;
    // Every error a traceroute's answer: the traceroute kind has said it, once for the path.
    if (s.untraced === 0 && s.tracePath?.isTraceroute) return;
    if (s.quotedDir === DIR_CLIENT) noteResentSyns(s, flow, out.frameCap); // SYNs re-sent after the last error
    const sender = roleOf(s.quotedDir);
    const dest = flow.endpointName(s.quotedDir === 0 ? "server" : "client");
    // Each error with the errno the sender's own stack gives for it.
    const stack = stackOf(flow, s.quotedDir, out.capture)?.id ?? null;
    const kinds = [...s.kinds]
      .map(([what, { meaning, count }]) => `${count > 1 ? `${count}x ` : ""}${what} (${errnoOn(meaning, stack)})`)
      .join(", ");
    const { words, severity } = consequence(s, flow, out.capture, captureNow(out, flow) - flow.lastTime);
    const resent =
      s.resentSyns > 0
        ? `; the client re-sent its SYN ${s.resentSyns} time(s) after an error (frame${s.resentFrames.length > 1 ? "s" : ""} ` +
          `${s.resentFrames.join(", ")}): its kernel took the error as a soft one and kept trying (Linux does when the ICMP ` +
          "arrives while the program is inside a call on the socket, as on loopback; BSD and macOS through the first few " +
          "retries), so connect() failed only at a later error or when the SYN timer ran out, with that errno"
        : "";
    const measure: Record<string, number> = { icmpErrors: s.count };
    if (s.resentSyns > 0) measure.resentSyns = s.resentSyns;
    out.report(analyzer, {
      flow,
      dir: s.quotedDir,
      frames: [...s.frames, ...s.resentFrames],
      count: s.count,
      time: s.firstTime,
      severity,
      summary: `${s.count} ICMP error(s) for the ${sender}'s packets to ${dest}: ${kinds}${words}${resent}`,
      measure,
    });
  },
});

/**
 * An error whose quote names no TCP/UDP flow, once per ICMP message. A quoted ICMP message
 * is a ping's (the pinging program reads the answer itself: for a DHCP server's conflict
 * check it is the hoped-for one): info. A quote too short for the ports (RFC 792 asks for
 * 8 bytes of the datagram) cannot be matched to a socket by the sender's stack either.
 */
function reportUnattached(m: IcmpMeaning, frame: number, time: number, p: DecodedPacket, out: FindingSink): void {
  const v = p.ipVersion,
    q = p.quoted;
  const from = endpointToString(v, p.src0, p.src1, p.src2, p.src3, -1);
  const to = endpointToString(v, p.dst0, p.dst1, p.dst2, p.dst3, -1);
  const ping = q.proto === L4_ICMP || q.proto === L4_ICMPV6;
  const why = ping
    ? "for the ICMP message it quotes (a ping or another ICMP query): the program that sent it reads this answer " +
      "itself from its raw or ping socket, and a DHCP server's conflict check hopes for exactly it; no TCP or UDP " +
      "socket is involved"
    : q.ipVersion === 0
      ? "but quotes no packet, so no stack can match it to a socket: no program hears of it"
      : "but the quoted packet is too short to name its flow (RFC 792 asks for its first 8 bytes), so the sender's " +
        "stack cannot match it to a socket either: no program hears of it";
  out.report(analyzer, {
    flow: null,
    dir: null,
    frames: [frame],
    time,
    severity: ping ? "info" : "warning",
    summary: `${from} reported ${m.what} to ${to}, ${why}`,
    measure: { icmpType: p.icmpType, icmpCode: p.icmpCode },
  });
}

/**
 * Port unreachable from the client's host for what a request/response service (a
 * well-known server port: DNS, NTP, SNMP…) sent it, never more datagrams than the client
 * had sent: replies to requests the client no longer waited for. A server that streams
 * to a client whose socket is gone (RTP after the call ended) is not one: the warning stays.
 */
function isLateReply(s: State, flow: Flow): boolean {
  if (s.quotedDir !== DIR_SERVER || s.refusedReplies !== s.count || flow.serverPort >= WELL_KNOWN_PORTS) return false;
  const [client, server] = flow.packets;
  return server <= client || client === 0;
}
/** Ports below this are assigned to services (RFC 6335 §6: the System Ports). */
const WELL_KNOWN_PORTS = 1024;

/** What the program that sent the quoted packets heard of the errors, and how much it matters. */
function consequence(
  s: State,
  flow: Flow,
  capture: CaptureFacts,
  watchedAfterSec: number,
): { words: string; severity: "info" | "warning" } {
  const m = s.first!;
  const sender = roleOf(s.quotedDir);
  const parts: string[] = [];
  let severity: "info" | "warning" = "warning";
  if (flow.proto === L4_TCP) {
    if (s.synSentErrors > 0) {
      // With SYNs re-sent after the error, `resent` (below) says how connect() ended.
      if (s.resentSyns === 0) {
        const stack = stackOf(flow, DIR_CLIENT, capture);
        parts.push(connectOutcome(errnoOn(m, stack?.id ?? null), stack, watchedAfterSec));
      }
    } else {
      parts.push(
        `on an established connection this is a soft error: TCP keeps retransmitting, and the program sees ` +
          `${m.errno} only if the connection finally times out (instead of ETIMEDOUT), or at once with IP_RECVERR`,
      );
    }
  } else if (isLateReply(s, flow)) {
    // The client's own host refusing what the server sent it: nobody waits for this error.
    const asked =
      flow.packets[DIR_CLIENT] > 0
        ? "The client had already stopped waiting"
        : "The client's request is not in the capture, but this is what a reply looks like when the client had already stopped waiting";
    parts.push(
      `the client's host refused the server's datagrams: no socket was bound to the client's port any more. ${asked} ` +
        "(it took another answer, such as the faster of two DNS servers it asked, or gave up) and closed its " +
        "socket, so these replies came too late and were dropped: harmless unless the client still wanted them",
    );
    severity = "info";
  } else if (s.anyHard) {
    parts.push(
      `a connected UDP socket gets ${m.hard ? m.errno : "the error"} on its next call, an unconnected one is not ` +
        `told (without IP_RECVERR)${s.portUnreachable ? " and waits in vain" : ""}`,
    );
  } else {
    parts.push(
      `${m.what} is a soft error for UDP: Linux tells the socket only with IP_RECVERR (${m.errno} on its error queue), so the ` +
        "program normally just sees no reply",
    );
  }
  return { words: parts.length === 0 ? "" : `; ${parts.join("; ")}`, severity };
}
export default analyzer;
