/**
 * udp-fixed-retry: the same request datagram sent again and again on a UDP flow at a
 * near-constant interval, with no reply in between: a retransmission timer with a fixed
 * period. The FAQ (000 §5.7) asks for an adaptive timeout with exponential backoff, so a
 * failing path or an overloaded server is not hammered. Silent when the gaps grow
 * (backoff) and when the other side answers (heartbeats, RTP, DNS with answers), and for
 * datagrams to a multicast or broadcast address: discovery (SSDP, SLP, mDNS, WS-Discovery)
 * repeats its searches and announcements on a timer by design and wants no one answer.
 *
 * A datagram repeated on a timer is a retry only if it asked for an answer: periodic
 * announcements, hello protocols, NAT keep-alives and heartbeats nobody answers by design
 * look the same on the wire. So the sender's repeats count only with evidence that they
 * were requests, any of:
 * - the peer answered on this flow at some point (a peer that replies is being asked);
 * - the peer's address and port answered other flows (a server up on that port:
 *   capture-wide, lib/answering-peers.ts);
 * - the payload is a request of a request/response protocol by its own header (DNS query,
 *   NTP client, CoAP confirmable, SNMP get/set, TFTP RRQ/WRQ, STUN, RADIUS, SIP:
 *   lib/udp-requests.ts);
 * - ICMP errors quoted the sends: the network said they were undeliverable.
 * A payload of KEEPALIVE_MAX_BYTES or fewer that is no such request is a keep-alive
 * whatever else holds (a SIP phone's CRLF after a registration that was answered).
 *
 * ICMP errors quoting the retries are no reply from the program but they are an answer
 * from the network: the summary counts them and says what each kind of socket saw (a
 * connected one gets the errno at once, an unconnected one times out), since the wire
 * cannot show whether the program called connect(). icmp-unreachable reports them too.
 */
import { defineAnalyzer } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import { icmpMeaning, udpErrno } from "../lib/icmp-meaning.js";
import type { DecodedPacket } from "../../decode/wire/packet.js";
import { isGroupAddress } from "../../decode/wire/address.js";
import { AnsweringPeers, endpointKey, mergePeers, unconfirmedFindings } from "../lib/answering-peers.js";
import { requestProtocol } from "../lib/udp-requests.js";

/** Sends of one request (first + retries) before it counts: 4 = three retries. */
export const MIN_SENDS = 4;
/**
 * Gaps within ±25% of their mean count as "constant": timers jitter by scheduling, and
 * a doubling backoff (the remedy) moves every gap by 100%, far outside this band.
 */
export const CONSTANT_INTERVAL_TOLERANCE = 0.25;
/**
 * More sends than this is no request being retried but a periodic one-way stream
 * (telemetry, syslog, a heartbeat nobody answers): silent.
 */
export const MAX_SENDS = 100;
/** Gaps longer than this are not retries of one request but separate uses of the flow. */
export const MAX_RETRY_INTERVAL_SEC = 30;
/**
 * Payloads this short are keep-alives, not requests, unless their header says otherwise:
 * a NAT binding refreshed with CRLF CRLF (SIP, RFC 5626 §4.4.1) or the one byte 0xFF of
 * IPsec's NAT-keepalive (RFC 3948 §2.3), P2P pings of a zero byte.
 */
export const KEEPALIVE_MAX_BYTES = 4;
/** Payload bytes compared to call two datagrams "the same request". */
const PREFIX_BYTES = 32;

/** A cheap fingerprint of a datagram: length and a hash of its first bytes. */
function fingerprint(p: DecodedPacket): number {
  const b = p.bytes,
    end = Math.min(p.payloadOffset + PREFIX_BYTES, p.payloadOffset + p.payloadCaptured);
  let h = 0x811c9dc5 ^ p.payloadLen;
  for (let i = p.payloadOffset; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** One request sent again and again: running figures only, so a flood costs no memory. */
class Run {
  sends = 0;
  firstTime = 0;
  lastTime = 0;
  gapSum = 0;
  gapMin = Infinity;
  gapMax = 0;
  frames: readonly number[] = NO_FRAMES;
  /** ICMP errors quoting these sends, and how many of them were port unreachable. */
  icmpErrors = 0;
  icmpRefused = 0;
  /** The request protocol its payload's header names (lib/udp-requests.ts), read once it has MIN_SENDS sends. */
  request: string | null = null;
  constructor(
    readonly fp: number,
    readonly len: number,
  ) {}

  add(frame: number, time: number, cap: number): void {
    if (this.sends === 0) this.firstTime = time;
    else {
      const gap = time - this.lastTime;
      this.gapSum += gap;
      if (gap < this.gapMin) this.gapMin = gap;
      if (gap > this.gapMax) this.gapMax = gap;
    }
    this.sends++;
    this.lastTime = time;
    this.frames = keepFrame(this.frames, frame, cap);
  }

  /** Every gap within the tolerance of the mean gap: the same as checking each one. */
  get isFixedRetry(): boolean {
    if (this.sends < MIN_SENDS || this.sends > MAX_SENDS) return false;
    const mean = this.gapSum / (this.sends - 1);
    if (mean <= 0) return false;
    return (
      this.gapMax - mean <= CONSTANT_INTERVAL_TOLERANCE * mean &&
      mean - this.gapMin <= CONSTANT_INTERVAL_TOLERANCE * mean
    );
  }
}

class Direction {
  run: Run | null = null;
  /** Runs that qualified, summed up; the first one kept for the summary. */
  first: Run | null = null;
  runs = 0;
  sends = 0;
  gaps = 0;
  gapSum = 0;
  gapMin = Infinity;
  gapMax = 0;
  frames: readonly number[] = NO_FRAMES;
  icmpErrors = 0;
  icmpRefused = 0;
  /** What the first ICMP error said, e.g. "host unreachable (EHOSTUNREACH)". */
  icmpWhat = "";
  /** A request protocol some qualifying run's header named (evidence for all of them), else null. */
  request: string | null = null;
}

class State {
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
  /** Datagrams each side sent on the flow. */
  readonly sent: [number, number] = [0, 0];
}

function closeRun(d: Direction, cap: number): void {
  const r = d.run;
  d.run = null;
  if (r === null || !r.isFixedRetry) return;
  if (r.request === null && r.len <= KEEPALIVE_MAX_BYTES) return;
  if (d.first === null) d.first = r;
  d.request ??= r.request;
  d.runs++;
  d.sends += r.sends;
  d.gaps += r.sends - 1;
  d.gapSum += r.gapSum;
  if (r.gapMin < d.gapMin) d.gapMin = r.gapMin;
  if (r.gapMax > d.gapMax) d.gapMax = r.gapMax;
  d.icmpErrors += r.icmpErrors;
  d.icmpRefused += r.icmpRefused;
  for (const f of r.frames) d.frames = keepFrame(d.frames, f, cap);
}

const analyzer = defineAnalyzer<State, AnsweringPeers>({
  id: "udp-fixed-retry",
  title: "A UDP request was retransmitted on a fixed timer, with no backoff",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "The same request datagram, one shown to want an answer, re-sent at a constant interval with no reply in between.",
  explanation:
    "The program sends a request over UDP and, when no answer comes, sends it again after the same fixed timeout, " +
    "again and again. UDP gives no delivery guarantee, so retrying is right, but a fixed period is the wrong timer: " +
    "when the reason for silence is congestion or an overloaded server, constant retries add load exactly when the path " +
    "can least take it, and many clients doing the same synchronise into bursts. When nothing at all comes back, " +
    "recvfrom() times out each round. When each send draws an ICMP port unreachable (nothing listens on the port), a " +
    "connected socket (one that called connect()) gets ECONNREFUSED from its next send() or recv() at once, and retrying " +
    "on a timer ignores that definite answer; an unconnected socket is not told (on Linux, unless IP_RECVERR is set) and " +
    "times out. The wire does not show whether the socket was connected. Start from " +
    "a timeout derived from measured round-trip times, double it on every retry up to a cap, add random jitter, and give " +
    "up after a bounded number of tries, reporting the failure to the caller. (Datagrams to a multicast or broadcast " +
    "address are left alone: discovery protocols such as SSDP, SLP and mDNS repeat on a timer by design. So are " +
    "repeats with no sign they asked for an answer, since keep-alives and heartbeats nobody answers look the same: " +
    "they count when the peer answered on the flow at another time, its address and port answered other flows, the " +
    "payload's header is a request (DNS, NTP, CoAP, SNMP, TFTP, STUN, RADIUS, SIP), or ICMP errors quoted them; " +
    "a payload of four bytes or fewer that is no such request is a keep-alive.)",
  references: ["000 §5.5", "000 §5.7"],
  createState: () => new State(),
  capture: {
    create: (sharded) => new AnsweringPeers(sharded),
    merge: mergePeers,
    resolve() {},
    withdrawn: unconfirmedFindings,
  },
  onUdpDatagram(s, flow, dir, frame, time, p, out) {
    // An endpoint sending after its peer has sent to it answers: evidence for retries to it on other flows.
    if (s.sent[dir] === 0 && s.sent[1 - dir]! > 0) out.captureState(analyzer).answered(endpointKey(flow, dir), frame);
    s.sent[dir] = s.sent[dir]! + 1;
    if (isGroupAddress(flow.ipVersion, (dir === 0 ? flow.server : flow.client)[0]!)) return;
    // Any datagram from the other side is a reply: it ends that side's retry run.
    closeRun(s.dirs[1 - dir]!, out.frameCap);
    const d = s.dirs[dir]!;
    const fp = fingerprint(p);
    const r = d.run;
    if (r !== null && r.fp === fp && r.len === p.payloadLen && time - r.lastTime <= MAX_RETRY_INTERVAL_SEC) {
      r.add(frame, time, out.frameCap);
      // Read once per run that may qualify, not per datagram.
      if (r.sends === MIN_SENDS) r.request = requestProtocol(payloadOf(p), p.payloadLen);
      return;
    }
    closeRun(d, out.frameCap);
    const run = new Run(fp, p.payloadLen);
    run.add(frame, time, out.frameCap);
    d.run = run;
  },
  onIcmpError(s, _flow, quotedDir, frame, _time, p, out) {
    // An ICMP error is the network's answer to the current run's last send, not a reply:
    // the run goes on, and the error becomes part of its evidence.
    const d = s?.dirs[quotedDir],
      r = d?.run;
    if (d === undefined || r === null || r === undefined) return;
    const m = icmpMeaning(p);
    r.icmpErrors++;
    if (m.errno === "ECONNREFUSED") r.icmpRefused++;
    if (d.icmpWhat === "") d.icmpWhat = `${m.what} (${udpErrno(m)})`;
    r.frames = keepFrame(r.frames, frame, out.frameCap);
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) {
      const d = s.dirs[dir]!;
      closeRun(d, out.frameCap);
      const first = d.first;
      if (first === null) continue;
      const peerDatagrams = s.sent[1 - dir]!;
      // Evidence on the flow itself (same in one engine and in a --jobs shard); else the peer's other flows.
      const asked = d.request !== null || peerDatagrams > 0 || d.icmpErrors > 0;
      const peers = asked ? null : out.captureState(analyzer);
      const peer = endpointKey(flow, 1 - dir);
      if (peers !== null && peers.pending === null && !peers.firstAnswer.has(peer)) continue;
      const mean = d.gapSum / d.gaps;
      const f = out.report(analyzer, {
        flow,
        dir,
        frames: d.frames,
        count: d.runs,
        time: first.firstTime,
        summary:
          `the ${roleOf(dir)} sent the same ${first.len}-byte ${first.request ?? "request"} ${first.sends} times every ` +
          `${ms(mean)} ms (±${Math.round(CONSTANT_INTERVAL_TOLERANCE * 100)}%) with no reply` +
          (d.runs > 1 ? `; ${d.runs} such runs, ${d.sends} sends in all` : "") +
          icmpText(d) +
          askedText(dir, peerDatagrams, flow.endpointName(roleOf(1 - dir)), peers !== null),
        measure: {
          runs: d.runs,
          sends: d.sends,
          meanIntervalMs: ms(mean),
          minIntervalMs: ms(d.gapMin),
          maxIntervalMs: ms(d.gapMax),
          icmpErrors: d.icmpErrors,
          icmpPortUnreachable: d.icmpRefused,
        },
      });
      // A shard cannot see the peer's other flows: the merge keeps the finding only if they answered.
      peers?.pending?.push({ finding: f, peer, endFrame: out.frame });
    }
  },
});

/** The datagram's payload as captured. */
function payloadOf(p: DecodedPacket): Uint8Array {
  return p.bytes.subarray(p.payloadOffset, p.payloadOffset + p.payloadCaptured);
}

/** Why the repeats were requests when their header does not say: the peer does answer. */
function askedText(dir: number, peerDatagrams: number, peer: string, byOtherFlows: boolean): string {
  const who = roleOf(1 - dir);
  if (peerDatagrams > 0)
    return (
      `; the ${who} sent ${peerDatagrams} datagram${peerDatagrams === 1 ? "" : "s"} on this flow outside these runs: ` +
      "a peer that answers this program, so these were requests"
    );
  if (byOtherFlows) return `; ${peer} answered other flows in this capture: a server up on that port, taking requests`;
  return "";
}

/**
 * What the ICMP errors that came back mean for the program. A port unreachable reaches a
 * connected socket as ECONNREFUSED on its next send()/recv() (Linux: once per error), so
 * the program was told at once and retried anyway; an unconnected socket hears nothing
 * (without IP_RECVERR) and its recvfrom() times out. The capture cannot show which.
 */
function icmpText(d: Direction): string {
  if (d.icmpErrors === 0) return "";
  const each = d.icmpErrors >= d.sends ? "each send drew" : `${d.icmpErrors} of the ${d.sends} sends drew`;
  if (d.icmpRefused === d.icmpErrors) {
    return (
      ` from the server, but ${each} an ICMP port unreachable (nothing listens on that port): a connected ` +
      "socket gets ECONNREFUSED from its next send() or recv() at once, so the program kept retrying on its timer after " +
      "a definite refusal; an unconnected one (sendto(), no IP_RECVERR) is not told and its recvfrom() times out each " +
      "round; the capture cannot show whether the program called connect() (see icmp-unreachable)"
    );
  }
  return (
    ` from the server, but ${each} an ICMP error (${d.icmpErrors} in all, the first ${d.icmpWhat}): the network ` +
    "answered though the server did not (see icmp-unreachable for what each kind of socket sees)"
  );
}
export default analyzer;
