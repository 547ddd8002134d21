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
 * (connect() fails with the ICMP's errno, not ETIMEDOUT), which names the SYNs re-sent
 * after a first error.
 *
 * What counts as an answer is what a socket in SYN-SENT acts on (RFC 9293 §3.10.7.3): a
 * SYN, a RST, or an ACK of the SYN. Any other segment from the server's address (one
 * acknowledging nothing the client sent: injected, a TIME-WAIT's ACK of the previous
 * connection, another connection's rewritten by a middlebox) leaves connect() waiting:
 * the client's kernel answers an unacceptable ACK with a RST and drops the rest.
 *
 * Who dropped the SYNs: when the same listener had completed connections before the
 * first SYN that still waited, unserved, when the client re-sent it, its accept queue
 * was full (Linux drops SYNs then); the summary says so with the listener's counts
 * (lib/listener-queue.ts, shared with syn-retransmit). Otherwise a firewall, a dead host
 * or a black-holing route, or a full queue of clients the capture does not show.
 *
 * Reported frames are the retransmitted SYNs (what Wireshark flags as retransmissions);
 * the first SYN is named in the summary.
 */
import { defineAnalyzer } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import {
  evidenceOf,
  fullQueueWords,
  type ListenerQueues,
  listenerQueueScope,
  QueueWatch,
  queueWasFull,
  reportWithQueue,
} from "../lib/listener-queue.js";
import { captureNow, ms, retriesStopped, sec } from "../lib/measure.js";
import { stackOf } from "../lib/side-stack.js";
import { describeRetries, isDuplicateCopy, SynRetries } from "../lib/syn-retries.js";
import { DIR_CLIENT, DIR_SERVER } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

class State {
  retries: SynRetries | null = null;
  /** The server's side sent a SYN, a RST or an ACK of the client's SYN. */
  answered = false;
  /** Segments from the server's address that were none of those; the first one's frame. */
  strays = 0;
  firstStrayFrame = 0;
  /** Its part in the listener's accept queue: were its SYNs dropped while others waited there? */
  readonly queue = new QueueWatch();
}

const analyzer = defineAnalyzer<State, ListenerQueues>({
  id: "connect-timeout",
  title: "connect() timed out: the SYN was never answered",
  severity: "error",
  family: "tcp-opening",
  wire: "The client's SYN is retransmitted with the same sequence number and nothing at all comes back from the server's address.",
  explanation:
    "The client called connect() and its SYN went out, but nothing came back: no SYN-ACK, and no reset either. Something " +
    "drops the SYNs without a word: a firewall or security group, a host that is down or unplugged, a route that " +
    "black-holes the packets, or the server's own kernel while the listener's accept queue is full (connections that " +
    "completed the handshake and wait for accept() up to the listen() backlog: Linux then drops new SYNs instead of " +
    "refusing them, counted in TcpExtListenOverflows). The capture tells the last apart when other connections to " +
    "the same listener completed and waited unserved meanwhile; the summary says which it shows. " +
    "Compare connection-refused, where the host is up and answers at once with a reset. The client's TCP retransmits " +
    "the SYN on a timer, classically 1, 2, 4, 8 … s apart, and how long it keeps trying depends on its stack: Linux " +
    "retries at a fixed 1 s a few times first (net.ipv4.tcp_syn_linear_timeouts, kernel 6.5 and later) and gives up " +
    "after the time net.ipv4.tcp_syn_retries retries would take with doubling (about 127 s with the default 6; the " +
    "TCP_SYNCNT socket option sets it per socket); macOS and iOS retry at 1 s five times, then double, and give up " +
    "after 75 s (net.inet.tcp.keepinit); Windows retries twice by default (MaxSynRetransmissions), 3 s and then 6 s " +
    "apart on older versions, and gives up about 21 s after the first SYN. A blocking connect() sits in the call all that time and then fails with ETIMEDOUT (EHOSTUNREACH or ENETUNREACH if ICMP errors came " +
    "back instead: see icmp-unreachable). Programs rarely wait that long: a non-blocking connect() with select()/poll() and its own " +
    "deadline (or a language-level timeout) stops earlier and close()s the socket, which sends nothing, so on the wire " +
    "both endings look the same: the SYNs just stop. The program's own log or error message tells which it was. " +
    "Check that the address and port are right and reachable (routes, firewalls on both ends, the server host itself); " +
    "give connect() an explicit, shorter timeout where waiting two minutes is worse than failing, and retry with backoff.",
  references: ["000 §3.5", "000 §6.2", "003 connect()"],
  createState: () => new State(),
  capture: listenerQueueScope,
  describe,
  onTcpSegment(s, flow, seg, _p, out) {
    s.queue.note(out, analyzer, flow, seg);
    const client = flow.ep[DIR_CLIENT];
    if (seg.dir === DIR_SERVER) {
      if (s.answered) return;
      if ((seg.flags & (TH_SYN | TH_RST)) !== 0 || ((seg.flags & TH_ACK) !== 0 && seqDiff(seg.ack, client.isn) > 0))
        s.answered = true;
      else if (s.strays++ === 0) s.firstStrayFrame = seg.frame;
      return;
    }
    // A retransmitted SYN: same ISN, so the tracker kept the first SYN's frame.
    if ((seg.flags & (TH_SYN | TH_ACK)) !== TH_SYN) return;
    if (seg.frame === client.synFrame) return;
    const r = s.retries;
    if (isDuplicateCopy(seg.time, r === null ? client.synTime : r.times[r.times.length - 1]!)) return;
    (s.retries ??= new SynRetries()).add(seg.frame, seg.time);
    out.watch(flow);
  },
  onFlowEnd(s, flow, out) {
    s.queue.end(out, analyzer);
    const client = flow.ep[DIR_CLIENT];
    // ICMP errors answered the SYNs: connect() failed with their errno (icmp-unreachable).
    if (s.retries === null || !client.synSeen || s.answered || flow.icmpErrors > 0) return;
    // Hand-made SYNs (tcp-tracker's isCraftedSyn): no connect() and no kernel timer behind them.
    if (client.synCrafted) return;
    const r = s.retries;
    const times = [client.synTime, ...r.times];
    const sched = describeRetries(times, stackOf(flow, DIR_CLIENT, out.capture));
    const last = times[times.length - 1]!;
    const span = last - client.synTime;
    const after = captureNow(out, flow) - last;
    const lastInterval = sched.intervalsSec[sched.intervalsSec.length - 1]!;
    // The next retry would be due within twice the last interval (the timer doubles at
    // most); a capture that runs past that shows the SYNs had stopped.
    const stopped = retriesStopped(last, lastInterval, captureNow(out, flow));
    const ending = stopped
      ? `then nothing for the last ${sec(after)} s of the capture: connect() had failed (ETIMEDOUT) or the program gave up and closed the socket`
      : `the capture ends ${sec(after)} s after the last SYN: connect() may still have been waiting`;
    const strays =
      s.strays > 0
        ? `; the server's address sent ${s.strays} segment(s) (first frame ${s.firstStrayFrame}) that are no answer: ` +
          "neither SYN nor RST, and acknowledging nothing the client sent, so a socket in SYN-SENT does not take them " +
          "for one (it answers an unacceptable ACK with a RST and drops the rest)"
        : "";
    const measure: Record<string, number> = {
      synCount: times.length,
      retries: r.frames.length,
      spanMs: ms(span),
      firstRetryMs: ms(sched.intervalsSec[0]!),
      lastIntervalMs: ms(lastInterval),
      fixedIntervalRetries: sched.fixedRetries,
    };
    if (s.strays > 0) measure.straySegments = s.strays;
    const facts: Facts = {
      server: flow.endpointName("server"),
      firstSynFrame: client.synFrame,
      lastSynFrame: r.frames[r.frames.length - 1]!,
      spanSec: sec(span),
      attempt:
        `connect() to ${flow.endpointName("server")} got no answer: ${times.length} SYNs over ${sec(span)} s ` +
        `(first SYN frame ${client.synFrame}), ${sched.text}; ${ending}${strays}`,
    };
    reportWithQueue(out, analyzer, flow, s.queue, client.synTime, last, {
      flow,
      dir: DIR_CLIENT,
      frames: r.frames,
      count: times.length,
      time: client.synTime,
      facts,
      measure,
    });
  },
  // Ongoing from the first retransmission (the initial timeout ran out: 1 s on Linux)
  // while the SYNs keep coming; once they stop, connect() has failed or was given up.
  ongoing(s, flow, dir, now) {
    const client = flow.ep[DIR_CLIENT];
    if (dir !== DIR_CLIENT || s.retries === null || !client.synSeen || s.answered || flow.icmpErrors > 0) return null;
    if (client.synCrafted) return null;
    const times = s.retries.times;
    const last = times[times.length - 1]!;
    if (retriesStopped(last, last - (times.length > 1 ? times[times.length - 2]! : client.synTime), now)) return null;
    return {
      since: client.synTime,
      frame: client.synFrame,
      summary:
        `connect() to ${flow.endpointName("server")} unanswered: ${times.length + 1} SYNs since frame ${client.synFrame}, ` +
        "no SYN-ACK and no RST; the client is still waiting in connect() (ETIMEDOUT when its kernel gives up)",
    };
  },
});
/** What the words are written from (describe), besides the measure. */
interface Facts {
  [key: string]: string | number;
  server: string;
  /** The client's first SYN and its last re-send: the window the listener's queue is looked at over. */
  firstSynFrame: number;
  lastSynFrame: number;
  spanSec: number;
  /** The attempt in words: SYNs, their schedule, how they ended. */
  attempt: string;
}

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
  const e = evidenceOf(f);
  const cause =
    e !== null && queueWasFull(e)
      ? fullQueueWords(e, x.server, "syn", x.firstSynFrame, x.lastSynFrame, x.spanSec)
      : `no other connection to ${x.server} in the capture was waiting to be served meanwhile: a firewall, a dead ` +
        "host or a route that black-holes the SYNs (or a full accept queue of clients this capture does not show)";
  return { summary: `${x.attempt}; ${cause}` };
}
export default analyzer;
