/**
 * udp-fixed-retry: the same request datagram sent again and again on a UDP flow at a
 * near-constant interval, with no reply in between: a retransmission timer with a fixed
 * period. The FAQ (000 §5.7) asks for an adaptive timeout with exponential backoff, so a
 * failing path or an overloaded server is not hammered. Silent when the gaps grow
 * (backoff) and when the other side answers (heartbeats, RTP, DNS with answers).
 */
import { defineAnalyzer } from "../analyzer.js";
import type { DecodedPacket } from "../../decode/packet.js";
import { ms, roleOf } from "../measure.js";

/** Sends of one request (first + retries) before it counts: 4 = three retries. */
export const MIN_SENDS = 4;
/**
 * Gaps within ±25% of their mean count as "constant": timers jitter by scheduling, and
 * a doubling backoff (the remedy) moves every gap by 100%, far outside this band.
 */
export const CONSTANT_INTERVAL_TOLERANCE = 0.25;
/** Gaps longer than this are not retries of one request but separate uses of the flow. */
export const MAX_RETRY_INTERVAL_SEC = 30;
/** Payload bytes compared to call two datagrams "the same request". */
const PREFIX_BYTES = 32;

/** A cheap fingerprint of a datagram: length and a hash of its first bytes. */
function fingerprint(p: DecodedPacket): number {
  const b = p.bytes, end = Math.min(p.payloadOffset + PREFIX_BYTES, p.payloadOffset + p.payloadCaptured);
  let h = 0x811c9dc5 ^ p.payloadLen;
  for (let i = p.payloadOffset; i < end; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

class Run {
  frames: number[] = [];
  times: number[] = [];
  constructor(readonly fp: number, readonly len: number) {}
}

class Direction {
  run: Run | null = null;
  /** Runs that qualified: [frames, intervals] */
  readonly found: Run[] = [];
}

class State {
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
}

function intervals(r: Run): number[] {
  const out: number[] = [];
  for (let i = 1; i < r.times.length; i++) out.push(r.times[i]! - r.times[i - 1]!);
  return out;
}

function isFixedRetry(r: Run): boolean {
  if (r.frames.length < MIN_SENDS) return false;
  const gaps = intervals(r);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  if (mean <= 0) return false;
  return gaps.every((g) => Math.abs(g - mean) <= CONSTANT_INTERVAL_TOLERANCE * mean);
}

function closeRun(d: Direction): void {
  if (d.run !== null && isFixedRetry(d.run)) d.found.push(d.run);
  d.run = null;
}

const analyzer = defineAnalyzer<State>({
  id: "udp-fixed-retry",
  title: "A UDP request was retransmitted on a fixed timer, with no backoff",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "The same request datagram re-sent at a constant interval with no reply in between.",
  explanation:
    "The program sends a request over UDP and, when no answer comes, sends it again after the same fixed timeout, " +
    "again and again. UDP gives no delivery guarantee, so retrying is right, but a fixed period is the wrong timer: " +
    "when the reason for silence is congestion or an overloaded server, constant retries add load exactly when the path " +
    "can least take it, and many clients doing the same synchronise into bursts. Meanwhile recvfrom() just times out " +
    "each round (or, on a connected socket, may fail with ECONNREFUSED if an ICMP port unreachable came back). Start from " +
    "a timeout derived from measured round-trip times, double it on every retry up to a cap, add random jitter, and give " +
    "up after a bounded number of tries, reporting the failure to the caller.",
  references: ["000 §5.5", "000 §5.7"],
  createState: () => new State(),
  onUdpDatagram(s, _flow, dir, frame, time, p, _out) {
    // Any datagram from the other side is a reply: it ends that side's retry run.
    closeRun(s.dirs[1 - dir]!);
    const d = s.dirs[dir]!;
    const fp = fingerprint(p);
    const r = d.run;
    if (r !== null && r.fp === fp && r.len === p.payloadLen && time - r.times[r.times.length - 1]! <= MAX_RETRY_INTERVAL_SEC) {
      r.frames.push(frame);
      r.times.push(time);
      return;
    }
    closeRun(d);
    const run = new Run(fp, p.payloadLen);
    run.frames.push(frame);
    run.times.push(time);
    d.run = run;
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) {
      const d = s.dirs[dir]!;
      closeRun(d);
      if (d.found.length === 0) continue;
      const gaps = d.found.flatMap(intervals);
      const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
      const sends = d.found.reduce((n, r) => n + r.frames.length, 0);
      const first = d.found[0]!;
      out.report(analyzer, {
        flow, dir, frames: d.found.flatMap((r) => r.frames), count: d.found.length, time: first.times[0]!,
        summary: `the ${roleOf(dir)} sent the same ${first.len}-byte request ${first.frames.length} times every ` +
          `${ms(mean)} ms (±${Math.round(CONSTANT_INTERVAL_TOLERANCE * 100)}%) with no reply` +
          (d.found.length > 1 ? `; ${d.found.length} such runs, ${sends} sends in all` : ""),
        measure: {
          runs: d.found.length, sends, meanIntervalMs: ms(mean),
          minIntervalMs: ms(Math.min(...gaps)), maxIntervalMs: ms(Math.max(...gaps)),
        },
      });
    }
  },
});
export default analyzer;
