/**
 * zero-window: a receiver advertises a window of 0 — its receive buffer is full because
 * the application is not reading. The sender then probes (RFC 9293 §3.8.6.1, RFC 1122
 * §4.2.2.17) until a window update reopens the window. Measured per episode: how long
 * the window stayed shut and how many probes the sender sent.
 *
 * Stalls that matter: on loopback a fast sender fills the receive buffer in microseconds,
 * so a reader that is a little late (a scheduler tick, a wake-up) shows a zero window for
 * well under a millisecond. That is not a problem worth a warning. An episode counts as a
 * stall once the window stays shut for ZERO_WINDOW_BRIEF_SEC; the finding is a warning
 * once the stalls add up to ZERO_WINDOW_STALL_MIN_SEC (one long pause of the reader, or a
 * reader that keeps pausing for tens of milliseconds), else info with the same frames.
 *
 * Frames tagged, and how they line up with Wireshark:
 * - every segment advertising window 0 without SYN/FIN/RST: tshark's `zero_window` rule;
 * - every probe of the shut window: one byte at the next sequence number (BSD, Windows;
 *   tshark's `zero_window_probe`) and the Linux probe, no data with the sequence number
 *   one below the next byte. tshark calls the Linux probe a keep-alive, because it is
 *   shaped like one (RFC 1122 §4.2.3.6); it is sent by the persist timer because the
 *   window is 0, so here it is a zero-window probe and the keepalive analyzer leaves it
 *   alone (deliberate difference; see decode/flow/segment-facts.ts).
 * - The window update that reopens the window is named in the summary but not tagged
 *   (tshark flags it as `window_update`, not as a zero window).
 */
import { defineAnalyzer, type FindingSink, WAKE_ZERO_WINDOW } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/**
 * A zero window shorter than this is a reader lagging momentarily: scheduling delays and
 * wake-ups take tens of µs to a few ms. Longer, the program was doing something else
 * instead of reading.
 */
export const ZERO_WINDOW_BRIEF_SEC = 0.01;
/**
 * Stall time (episodes of at least ZERO_WINDOW_BRIEF_SEC, summed) that makes a warning:
 * 100 ms is half the 200 ms minimum RTO after which Linux sends its first zero-window
 * probe, and about where a person starts to notice latency.
 */
export const ZERO_WINDOW_STALL_MIN_SEC = 0.1;

/**
 * A zero window held this long is reported as ongoing by a live capture: far past any
 * momentary lag, and past Linux's first zero-window probes (0.2, 0.4 s), so the sender
 * is stuck rather than slowed.
 */
export const ZERO_WINDOW_ONGOING_SEC = 1;

/**
 * Per receiving side: the episode in progress and running totals over the closed ones
 * (no list of episodes: a capture that flips the window every segment stays bounded).
 */
class Direction {
  /** Episode in progress: start frame (0 = window open), start time, probes so far. */
  openFrame = 0;
  openTime = 0;
  openProbes = 0;
  episodes = 0;
  firstTime = 0;
  totalSec = 0;
  longestSec = -1;
  longestFrame = 0;
  longestEndFrame = 0;
  /** Episodes of ZERO_WINDOW_BRIEF_SEC or more, their time and probes, and the first one. */
  stalls = 0;
  stallSec = 0;
  stallProbes = 0;
  firstStallFrame = 0;
  firstStallEndFrame = 0;
  firstStallSec = 0;
  firstStallProbes = 0;
  frames: readonly number[] = NO_FRAMES;
  /** Every tagged frame, also beyond the evidence cap. */
  tagged = 0;
  probes = 0;
}

class State {
  /** Indexed by the receiver's direction (the side advertising zero). */
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
}

function tag(d: Direction, frame: number, cap: number): void {
  d.tagged++;
  d.frames = keepFrame(d.frames, frame, cap);
}

/** Closes the episode in progress at `endTime`; `endFrame` 0 when the capture ended first. */
function close(d: Direction, endFrame: number, endTime: number): void {
  const dur = Math.max(0, endTime - d.openTime);
  if (d.episodes === 0) d.firstTime = d.openTime;
  d.episodes++;
  d.totalSec += dur;
  if (dur > d.longestSec) {
    d.longestSec = dur;
    d.longestFrame = d.openFrame;
    d.longestEndFrame = endFrame;
  }
  if (dur >= ZERO_WINDOW_BRIEF_SEC) {
    if (d.stalls === 0) {
      d.firstStallFrame = d.openFrame;
      d.firstStallEndFrame = endFrame;
      d.firstStallSec = dur;
      d.firstStallProbes = d.openProbes;
    }
    d.stalls++;
    d.stallSec += dur;
    d.stallProbes += d.openProbes;
  }
  d.openFrame = 0;
  d.openProbes = 0;
}

const analyzer = defineAnalyzer<State>({
  id: "zero-window",
  title: "Receiver stopped reading: its window fell to zero",
  severity: "warning",
  family: "tcp-transfer",
  wire: "A receiver advertises window 0; the sender sends zero-window probes; later a window update reopens the window.",
  explanation:
    "The receiving program stopped calling read()/recv() (busy, blocked on something else, or waiting for the " +
    "sender to stop first), so its socket receive buffer filled and its kernel advertised a window of zero. The " +
    "sender's kernel must then stop and probe at growing intervals; once the sender's own send buffer fills too, " +
    "its write() blocks (or fails with EAGAIN on a non-blocking socket), so the stall travels back into the " +
    "sending program. Nothing is lost and no error is returned: the transfer just waits until the receiver reads " +
    "and a window update reopens the window. Make the receiver read promptly (a dedicated reader, or poll()/select() " +
    "for readability while it also writes), and avoid protocols where both sides write large amounts before reading " +
    "(each waits for the other: a deadlock). A larger SO_RCVBUF only delays the stall. Zero windows that last well " +
    "under a millisecond are normal on fast links and loopback: the reader was a moment late.",
  references: ["000 §2.11"],
  createState: () => new State(),
  // An episode starts with a zero window.
  wakeOn: WAKE_ZERO_WINDOW,
  onTcpSegment(s, flow, seg, _p, out) {
    // The sender of this segment is a receiver for the other direction's data.
    const asReceiver = s.dirs[seg.dir]!;
    if ((seg.flags & (TH_SYN | TH_RST)) === 0) {
      if (seg.winScaled === 0) {
        // A FIN advertising 0 opens no episode: the side is closing (BSD stacks send a zero
        // window on the FIN of a socket closed for reading): no reader is lagging; tshark flags no zero window on a FIN either.
        if (asReceiver.openFrame === 0 && (seg.flags & TH_FIN) === 0) {
          asReceiver.openFrame = seg.frame;
          asReceiver.openTime = seg.time;
          out.watch(flow);
        }
        // tshark does not flag a FIN with window 0; the episode goes on all the same.
        if ((seg.flags & TH_FIN) === 0) tag(asReceiver, seg.frame, out.frameCap);
      } else if (asReceiver.openFrame !== 0) {
        close(asReceiver, seg.frame, seg.time);
      }
    }
    // Probes travel the other way: from the data sender towards the zero window.
    const toward = s.dirs[1 - seg.dir]!;
    if (toward.openFrame !== 0 && seg.zeroWindowProbe) {
      toward.openProbes++;
      toward.probes++;
      tag(toward, seg.frame, out.frameCap);
    }
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportDirection(flow, dir, s.dirs[dir]!, out);
  },
  ongoing(s, flow, dir, now) {
    const d = s.dirs[dir]!;
    if (d.openFrame === 0 || now - d.openTime < ZERO_WINDOW_ONGOING_SEC) return null;
    const who = roleOf(dir),
      sender = roleOf(1 - dir);
    return {
      since: d.openTime,
      frame: d.openFrame,
      summary:
        `the ${who} ${flow.endpointName(who)} has advertised window 0 since frame ${d.openFrame} ` +
        `(${d.openProbes} zero-window probe(s) so far): its program is not reading; the ${sender}'s write()/send() ` +
        "blocks (or returns EAGAIN) once its send buffer is full",
    };
  },
});

/** How an episode never reopened ended: with the connection (a RST, or both FINs) or with the capture. */
function stillZeroAtEnd(flow: Flow): string {
  return flow.endedFrame !== 0
    ? `still zero when the connection ended (frame ${flow.endedFrame})`
    : "still zero when the capture ended";
}

function reportDirection(flow: Flow, dir: number, d: Direction, out: FindingSink): void {
  const stillOpen = d.openFrame !== 0;
  if (stillOpen) close(d, 0, Math.max(flow.lastTime, d.openTime));
  if (d.episodes === 0) return;
  const who = roleOf(dir),
    sender = roleOf(1 - dir);
  const brief = d.episodes - d.stalls;
  const briefText = `${ms(ZERO_WINDOW_BRIEF_SEC)} ms`;
  const matters = d.stallSec >= ZERO_WINDOW_STALL_MIN_SEC;
  const probes = (n: number): string => (n === 0 ? "no zero-window probe" : `${n} zero-window probe(s)`);
  let summary: string;
  if (matters && d.stalls === 1) {
    const reopened =
      d.firstStallEndFrame !== 0
        ? `reopened by a window update at frame ${d.firstStallEndFrame}`
        : stillZeroAtEnd(flow);
    summary =
      `the ${who}'s receive window stayed at zero for ${ms(d.firstStallSec)} ms (from frame ${d.firstStallFrame}, ` +
      `${reopened}): its program stopped reading; the ${sender} sent ${probes(d.firstStallProbes)} meanwhile`;
    if (brief > 0) summary += `; plus ${brief} brief zero window(s) under ${briefText}`;
  } else if (matters) {
    summary =
      `the ${who}'s receive window stayed at zero ${d.stalls} times for ${briefText} or more, ${ms(d.stallSec)} ms ` +
      `in all (longest ${ms(d.longestSec)} ms, from frame ${d.longestFrame}): its program kept pausing its reads; the ` +
      `${sender} sent ${probes(d.stallProbes)}` +
      (stillOpen ? `; ${stillZeroAtEnd(flow)}` : "");
    if (brief > 0) summary += `; plus ${brief} brief zero window(s) under ${briefText}`;
  } else if (d.stalls > 0) {
    summary =
      `the ${who} advertised a zero window ${d.episodes} time(s), ${ms(d.totalSec)} ms in all (longest ` +
      `${ms(d.longestSec)} ms): its reader paused briefly, under the ${ms(ZERO_WINDOW_STALL_MIN_SEC)} ms of stall that would matter`;
  } else {
    summary =
      `the ${who} advertised a zero window ${d.episodes} time(s), each briefly (longest ${ms(d.longestSec)} ms, ` +
      `under ${briefText}): its reader lagged for a moment, no stall that matters`;
  }
  out.report(analyzer, {
    flow,
    dir,
    frames: d.frames,
    count: d.episodes,
    time: d.firstTime,
    summary,
    severity: matters ? "warning" : "info",
    measure: {
      episodes: d.episodes,
      stalls: d.stalls,
      longestMs: ms(d.longestSec),
      stallTotalMs: ms(d.stallSec),
      totalMs: ms(d.totalSec),
      probes: d.probes,
      zeroWindowFrames: d.tagged,
      stillZeroAtEnd: stillOpen ? 1 : 0,
    },
  });
}
export default analyzer;
