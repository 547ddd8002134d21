/**
 * SYN and SYN-ACK retry schedules, shared by connect-timeout (never answered) and
 * syn-retransmit (answered in the end): collecting the retry times, telling a timer
 * retransmission from a duplicate copy in the capture, and naming the timer behind them.
 */
import type { StackProfile } from "./stack-profile.js";

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
 * irregular. A kernel setting is named only for the sender's stack when the capture tells
 * it (analyze/lib/stack-profile.ts); otherwise the words are about "the sender's TCP" and
 * the schedule measured: macOS/iOS and Linux since 6.5 both retry at a fixed 1 s first.
 */
export function describeRetries(times: readonly number[], stack: StackProfile | null = null): RetrySchedule {
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
  const aboutOneSec = near(first, 1);
  let pattern: string;
  if (n === 1) {
    pattern = `one retry after ${first.toFixed(2)} s${initialTimeout(first, stack)}`;
  } else if (d < n) {
    pattern = "irregular: not a single kernel timer (SYNs lost before the capture point, or a busy sender)";
  } else if (k === n) {
    pattern = aboutOneSec
      ? `every retry a fixed 1 s apart: ${fixedFirst(stack)}, not the textbook doubling`
      : `every retry a fixed ${first.toFixed(2)} s apart`;
  } else if (k === 1) {
    pattern = `doubling each time: exponential backoff from an initial timeout of ${first.toFixed(2)} s${initialTimeout(first, stack)}`;
  } else {
    pattern =
      `the first ${k} retries a fixed ${first.toFixed(2)} s apart, then doubling` +
      (aboutOneSec ? `: ${fixedFirst(stack)}, then exponential backoff` : "");
  }
  return {
    intervalsSec: iv,
    fixedRetries: n >= 2 && k >= 2 ? k : 0,
    text: `${n === 1 ? "interval" : "intervals"} ${list}: ${pattern}`,
  };
}

/** Whether a measured interval is a timer of `sec` seconds (1 s shows up as 0.8–1.3 s). */
function near(x: number, sec: number): boolean {
  return x > 0.8 * sec && x < 1.3 * sec;
}

/** Fixed 1 s retries before any doubling, by whose stack sent them. */
function fixedFirst(stack: StackProfile | null): string {
  if (stack?.id === "linux")
    return "Linux's linear SYN retries (net.ipv4.tcp_syn_linear_timeouts, kernel 6.5 and later)";
  if (stack?.id === "macos") return "the SYN schedule of macOS/iOS (1 s five times, then doubling)";
  return "the sender's TCP retries at a fixed interval first";
}

/** The first retry's timeout, named when it is the RFC's or the sender's stack's default. */
function initialTimeout(first: number, stack: StackProfile | null): string {
  const rto = stack?.synInitialRtoSec.find((r) => r !== 1 && near(first, r));
  if (rto !== undefined) return ` (the initial retransmission timeout of ${stack!.name}: ${rto} s)`;
  if (near(first, 1)) return " (the initial retransmission timeout: 1 s, RFC 6298 §2)";
  return "";
}
