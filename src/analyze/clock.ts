/**
 * The capture's clock as the analysis sees it: continuous across clock jumps.
 *
 * A capture's timestamps can jump: files concatenated (`cat a.pcap b.pcap`, mergecap -a)
 * from years apart, a packet stamped before the clock was set, an NTP step, a broken
 * if_tsoffset. Measured across a jump, every duration and timer is nonsense ("CLOSE_WAIT
 * for 1 333 527 294.98 s", a negative close time). So every record's time goes through
 * this clock first: a jump becomes a discontinuity the analysis never sees, by shifting
 * the times after it (an offset) so they continue 1 µs after the latest time before it.
 * An offset rather than, say, ending every flow at the jump: flows that straddle a jump
 * (the one bogus first packet of pcpp--example2-mixed) stay one flow, and analyzers keep
 * their plain subtraction of times. (The flow table still ends a TCP flow at a jump when
 * the next segment's numbers are another connection's: decode/flow/table.ts.) Durations then add up the stretches between jumps.
 *
 * Reports show real timestamps: `rawTime` maps an analysis time back through the jumps.
 */

/**
 * Going back by more than this is a jump. Less is ordinary reordering: a pcapng written
 * from several interfaces interleaves their buffers, which libpcap flushes every second
 * (its default buffer timeout), so packets arrive up to about a second out of order
 * (zeek--rfb-vnc-scanner-small-segments steps back 0.9 s). "Back" is measured from the
 * confirmed time (as FlowTable's retirement clock does): the latest time two records in a
 * row have reached, so that a single record stamped minutes ahead (a merge of interfaces)
 * is not taken for the clock, and the records after it for a jump back.
 */
export const BACKWARD_JUMP_SEC = 2;
/**
 * Going forward by more than this is a jump: far beyond every TCP timer (keepalive starts
 * after 2 h, the longest retransmission schedule gives up after about 15 min, TIME_WAIT
 * lasts 60 s), so nothing the analyzers measure can span it. A capture that really was
 * silent for a day loses that day from its durations, and says so in a warning.
 */
export const FORWARD_JUMP_SEC = 86_400;
/** Where the times after a jump resume: just after the latest before it, so a time names one stretch. */
const JUMP_GAP_SEC = 1e-6;

/** The analysis time of the last record before jump `j`: where the stretch before it ends. */
export function stretchEndBefore(j: ClockJump): number {
  return j.at - JUMP_GAP_SEC;
}

/** One jump, in real (capture) time. */
export interface ClockJump {
  /** The first frame after the jump. */
  frame: number;
  /** The latest time before the jump, and this frame's: seconds since the epoch. */
  fromTime: number;
  toTime: number;
  /** Analysis time `toTime` maps to: where the stretch after the jump starts. */
  at: number;
}

export class AnalysisClock {
  /** Added to real times to give analysis times. */
  private offset = 0;
  /** The latest analysis time so far; -Infinity before the first record. */
  private latest = -Infinity;
  /**
   * The latest analysis time two records in a row reached (the lower of the two); -Infinity
   * until two. One far-future record cannot move it: the flow table retires by it.
   */
  private confirmed = -Infinity;
  private previous = -Infinity;
  /** In order: `at` only grows. */
  readonly jumps: ClockJump[] = [];

  /** Analysis time of a record (frame `frame` at real time `t`), noting a jump if it is one. */
  toAnalysis(frame: number, t: number): number {
    let a = t + this.offset;
    const latest = this.latest;
    const settled = this.confirmed === -Infinity ? latest : this.confirmed;
    if (latest !== -Infinity && (a < settled - BACKWARD_JUMP_SEC || a > latest + FORWARD_JUMP_SEC)) {
      a = latest + JUMP_GAP_SEC;
      this.jumps.push({ frame, fromTime: latest - this.offset, toTime: t, at: a });
      this.offset = a - t;
    }
    const reached = Math.min(a, this.previous);
    if (reached > this.confirmed) this.confirmed = reached;
    this.previous = a;
    if (a > latest) this.latest = a;
    return a;
  }

  /** Analysis time where the latest jump landed (its `at`), -Infinity before any. */
  get lastJumpAt(): number {
    const j = this.jumps.length;
    return j === 0 ? -Infinity : this.jumps[j - 1]!.at;
  }

  /** See `confirmed`: the clock closed flows are retired by. */
  get confirmedTime(): number {
    return this.confirmed;
  }

  /** Analysis time of real time `t` with the offset in force now (no jump noted): for times of the latest record. */
  peek(t: number): number {
    return t + this.offset;
  }
}

/**
 * The real time of analysis time `a`: undoes the offset of the stretch it falls in. (A
 * record reordered to before a jump's `at`, by less than BACKWARD_JUMP_SEC, is taken for
 * one of the stretch before: only its printed time suffers.)
 */
export function rawTime(a: number, jumps: readonly ClockJump[]): number {
  let lo = 0,
    hi = jumps.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (jumps[mid]!.at <= a) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return a;
  const j = jumps[lo - 1]!;
  return j.toTime + (a - j.at);
}
