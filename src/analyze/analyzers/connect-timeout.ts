/**
 * connect-timeout: the client's SYN is retransmitted (same ISN) and nothing ever comes
 * back from the server's side — no SYN-ACK, no RST, no segment at all — until the flow
 * ends. Measured: how many SYNs over how long and the intervals between them, which tell
 * the retransmission timer apart: classic exponential backoff (RFC 6298 §5.5: 1, 2, 4 …
 * s) or recent Linux's fixed 1 s retries (net.ipv4.tcp_syn_linear_timeouts) before it.
 *
 * A single unanswered SYN is not reported: without a retransmission there is no evidence
 * the kernel ever waited out its timer (the capture or the program may simply have
 * stopped first). A SYN answered by RST is connection-refused; a SYN answered only after
 * retransmissions is syn-retransmit; SYNs answered by ICMP errors are icmp-unreachable
 * (connect() fails with the ICMP's errno, not ETIMEDOUT).
 *
 * Reported frames are the retransmitted SYNs (what Wireshark flags as retransmissions);
 * the first SYN is named in the summary.
 */
import { defineAnalyzer } from "../analyzer.js";
import { DIR_CLIENT, DIR_SERVER } from "../../decode/flow.js";
import { TH_ACK, TH_SYN } from "../../decode/packet.js";
import { ms, sec } from "../measure.js";
import { captureNow } from "./close-wait.js";

/** SYN retransmissions kept per flow (a retry schedule longer than this is a loop, not a kernel timer). */
const MAX_RETRIES_KEPT = 64;

/**
 * Two retry intervals count as "the same" within this fraction: a 1 s timer shows up as
 * 1.01–1.03 s on the wire (jiffies rounding, scheduling), never 25 % off.
 */
const SAME_INTERVAL_TOLERANCE = 0.25;
/** An interval counts as "doubled" at 1.5–2.6 times the previous one (same slack as above). */
const DOUBLING_MIN = 1.5;
const DOUBLING_MAX = 2.6;

/**
 * Shortest gap between two transmissions of a SYN (or SYN-ACK) that can be a timer
 * retransmission. RFC 6298 §2.1 starts the retransmission timer at 1 s and Linux never
 * lets any RTO drop below 200 ms (TCP_RTO_MIN). Closer copies are one packet seen twice:
 * captured on several interfaces (an `any` capture, microseconds apart) or duplicated by
 * the network (a mirror port, a load balancer); they delay nothing. A SYN re-sent at once
 * because the peer answered with a bare ACK or RST is told apart by that answer instead.
 */
export const MIN_RETRANSMIT_INTERVAL_SEC = 0.2;

/**
 * Slack on top of twice the last retry interval before the capture's end counts as "the
 * SYNs had stopped": a retry comes at most one doubled interval later, give or take
 * timer and scheduling delay (tens of ms), so half a second past that is decisive.
 */
const NEXT_RETRY_SLACK_SEC = 0.5;

/** Retry times of one flow's SYN (or SYN-ACK) retransmissions, allocated on the first retry. */
export class SynRetries {
  readonly frames: number[] = [];
  readonly times: number[] = [];
  add(frame: number, time: number): void {
    if (this.frames.length >= MAX_RETRIES_KEPT) return;
    this.frames.push(frame);
    this.times.push(time);
  }
}

/** Whether a SYN at `time` is a copy of the previous transmission (at `previous`), not a retransmission. */
export function isDuplicateCopy(time: number, previous: number): boolean {
  return Math.abs(time - previous) < MIN_RETRANSMIT_INTERVAL_SEC;
}

export interface RetrySchedule {
  /** Seconds between consecutive transmissions (first SYN included). */
  intervalsSec: number[];
  /** Leading retries at a fixed interval (≥ 2 for a linear phase, else 0). */
  fixedRetries: number;
  /** "intervals 1.02, 1.02, 1.02 s: …" */
  text: string;
}

/**
 * Names the timer behind a series of transmission times (the first transmission
 * followed by its retransmissions): fixed interval, doubling, fixed then doubling, or
 * irregular.
 */
export function describeRetries(times: readonly number[]): RetrySchedule {
  const iv: number[] = [];
  for (let i = 1; i < times.length; i++) iv.push(times[i]! - times[i - 1]!);
  const n = iv.length;
  const list = `${iv.map((x) => x.toFixed(2)).join(", ")} s`;
  if (n === 0) return { intervalsSec: iv, fixedRetries: 0, text: "no retry" };
  let k = 1;
  while (k < n && Math.abs(iv[k]! - iv[k - 1]!) <= SAME_INTERVAL_TOLERANCE * iv[k - 1]!) k++;
  let d = k;
  while (d < n && iv[d]! >= DOUBLING_MIN * iv[d - 1]! && iv[d]! <= DOUBLING_MAX * iv[d - 1]!) d++;
  const first = iv[0]!;
  const aboutOneSec = first > 0.8 && first < 1.3;
  let pattern: string;
  if (n === 1) {
    pattern = `one retry after ${first.toFixed(2)} s` +
      (aboutOneSec ? " (the initial retransmission timeout: 1 s, RFC 6298 §2)" : "");
  } else if (d < n) {
    pattern = "irregular: not a single kernel timer (SYNs lost before the capture point, or a busy sender)";
  } else if (k === n) {
    pattern = aboutOneSec
      ? "every retry a fixed 1 s apart: Linux's linear SYN retries (net.ipv4.tcp_syn_linear_timeouts, kernel 6.x), not the textbook doubling"
      : `every retry a fixed ${first.toFixed(2)} s apart`;
  } else if (k === 1) {
    pattern = `doubling each time: exponential backoff from an initial timeout of ${first.toFixed(2)} s`;
  } else {
    pattern = `the first ${k} retries a fixed ${first.toFixed(2)} s apart, then doubling` +
      (aboutOneSec ? ": Linux's linear SYN retries (tcp_syn_linear_timeouts) followed by exponential backoff" : "");
  }
  return { intervalsSec: iv, fixedRetries: n >= 2 && k >= 2 ? k : 0, text: `${n === 1 ? "interval" : "intervals"} ${list}: ${pattern}` };
}

class State {
  retries: SynRetries | null = null;
}

const analyzer = defineAnalyzer<State>({
  id: "connect-timeout",
  title: "connect() timed out: the SYN was never answered",
  severity: "error",
  family: "tcp-opening",
  wire: "The client's SYN is retransmitted with the same sequence number and nothing at all comes back from the server's address.",
  explanation:
    "The client called connect() and its SYN went out, but nothing came back: no SYN-ACK, and no reset either. Something " +
    "drops the SYNs without a word: a firewall or security group, a host that is down or unplugged, or a route that " +
    "black-holes the packets. " +
    "Compare connection-refused, where the host is up and answers at once with a reset. The kernel retransmits the " +
    "SYN on a timer — classically 1, 2, 4, 8 … s apart; recent Linux retries at a fixed 1 s a few times first " +
    "(net.ipv4.tcp_syn_linear_timeouts) — and gives up after the time net.ipv4.tcp_syn_retries retries would take with " +
    "doubling (about 127 s with the default 6; the TCP_SYNCNT socket option sets it per socket). A blocking connect() " +
    "sits in the call all that time and then fails with ETIMEDOUT (EHOSTUNREACH or ENETUNREACH if ICMP errors came " +
    "back instead: see icmp-unreachable). Programs rarely wait that long: a non-blocking connect() with select()/poll() and its own " +
    "deadline (or a language-level timeout) stops earlier and close()s the socket, which sends nothing, so on the wire " +
    "both endings look the same: the SYNs just stop. The program's own log or error message tells which it was. " +
    "Check that the address and port are right and reachable (routes, firewalls on both ends, the server host itself); " +
    "give connect() an explicit, shorter timeout where waiting two minutes is worse than failing, and retry with backoff.",
  references: ["000 §3.5", "000 §6.2", "003 connect()"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg) {
    // A retransmitted SYN: same ISN, so the tracker kept the first SYN's frame.
    if (seg.dir !== DIR_CLIENT || (seg.flags & (TH_SYN | TH_ACK)) !== TH_SYN) return;
    const client = flow.ep[DIR_CLIENT];
    if (seg.frame === client.synFrame) return;
    const r = s.retries;
    if (isDuplicateCopy(seg.time, r === null ? client.synTime : r.times[r.times.length - 1]!)) return;
    (s.retries ??= new SynRetries()).add(seg.frame, seg.time);
  },
  onFlowEnd(s, flow, out) {
    const client = flow.ep[DIR_CLIENT], server = flow.ep[DIR_SERVER];
    // ICMP errors answered the SYNs: connect() failed with their errno (icmp-unreachable).
    if (s.retries === null || !client.synSeen || server.seen || flow.icmpErrors > 0) return;
    const r = s.retries;
    const times = [client.synTime, ...r.times];
    const sched = describeRetries(times);
    const last = times[times.length - 1]!;
    const span = last - client.synTime;
    const after = captureNow(out, flow) - last;
    const lastInterval = sched.intervalsSec[sched.intervalsSec.length - 1]!;
    // The next retry would be due within twice the last interval (the timer doubles at
    // most); a capture that runs past that shows the SYNs had stopped.
    const stopped = after > 2 * lastInterval + NEXT_RETRY_SLACK_SEC;
    const ending = stopped
      ? `then nothing for the last ${sec(after)} s of the capture: connect() had failed (ETIMEDOUT) or the program gave up and closed the socket`
      : `the capture ends ${sec(after)} s after the last SYN: connect() may still have been waiting`;
    out.report(analyzer, {
      flow, dir: DIR_CLIENT, frames: r.frames, count: times.length, time: client.synTime,
      summary: `connect() to ${flow.endpointName("server")} got no answer: ${times.length} SYNs over ${sec(span)} s ` +
        `(first SYN frame ${client.synFrame}), ${sched.text}; ${ending}`,
      measure: {
        synCount: times.length,
        retries: r.frames.length,
        spanMs: ms(span),
        firstRetryMs: ms(sched.intervalsSec[0]!),
        lastIntervalMs: ms(lastInterval),
        fixedIntervalRetries: sched.fixedRetries,
      },
    });
  },
});
export default analyzer;
