/**
 * zero-window: a receiver advertises a window of 0 — its receive buffer is full because
 * the application is not reading. The sender then probes (RFC 9293 §3.8.6.1, RFC 1122
 * §4.2.2.17) until a window update reopens the window. Measured per episode: how long
 * the window stayed shut and how many probes the sender sent.
 *
 * Stalls that matter: on loopback a fast sender fills the receive buffer in microseconds,
 * so a reader that is a little late (a scheduler tick, a GC pause) shows a zero window for
 * well under a millisecond. That is not a problem worth a warning. An episode counts as a
 * stall once the window stays shut for ZERO_WINDOW_STALL_MIN_SEC; a finding whose
 * episodes are all shorter is info, with the same frames.
 *
 * Frames tagged, and how they line up with Wireshark:
 * - every segment advertising window 0 without SYN/FIN/RST: tshark's `zero_window` rule;
 * - every probe of the shut window: one byte at the next sequence number (BSD, Windows;
 *   tshark's `zero_window_probe`) and the Linux probe, no data with the sequence number
 *   one below the next byte. tshark calls the Linux probe a keep-alive, because it is
 *   shaped like one (RFC 1122 §4.2.3.6); it is sent by the persist timer because the
 *   window is 0, so here it is a zero-window probe and the keepalive analyzer leaves it
 *   alone (deliberate difference; see probes.ts).
 * - The window update that reopens the window is named in the summary but not tagged
 *   (tshark flags it as `window_update`, not as a zero window).
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Flow } from "../../decode/flow.js";
import { TH_FIN, TH_RST, TH_SYN } from "../../decode/packet.js";
import { keepFrame, ms, roleOf } from "../measure.js";
import { isZeroWindowProbe } from "../probes.js";

/**
 * A zero window shorter than this is a reader lagging momentarily, not a stall. 100 ms is
 * far above a scheduling hiccup (tens of µs to a few ms), half the 200 ms minimum RTO
 * after which Linux sends its first zero-window probe, and about where a person starts
 * to notice latency.
 */
export const ZERO_WINDOW_STALL_MIN_SEC = 0.1;

class Episode {
  startFrame = 0;
  startTime = 0;
  /** Frame of the window update that reopened the window; 0 while still shut. */
  endFrame = 0;
  endTime = 0;
  probes = 0;
}

class Direction {
  /** Episode in progress (window is zero), else null. */
  open: Episode | null = null;
  readonly done: Episode[] = [];
  readonly frames: number[] = [];
  /** Every tagged frame, also beyond the evidence cap. */
  tagged = 0;
  probes = 0;
}

class State {
  /** Indexed by the receiver's direction (the side advertising zero). */
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
}

function tag(d: Direction, frame: number): void {
  d.tagged++;
  keepFrame(d.frames, frame);
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
  onTcpSegment(s, _flow, seg, _p, _out) {
    // The sender of this segment is a receiver for the other direction's data.
    const asReceiver = s.dirs[seg.dir]!;
    if ((seg.flags & (TH_SYN | TH_RST)) === 0) {
      if (seg.winScaled === 0) {
        if (asReceiver.open === null) {
          const e = new Episode();
          e.startFrame = seg.frame;
          e.startTime = seg.time;
          asReceiver.open = e;
        }
        // tshark does not flag a FIN with window 0; the episode goes on all the same.
        if ((seg.flags & TH_FIN) === 0) tag(asReceiver, seg.frame);
      } else if (asReceiver.open !== null) {
        const e = asReceiver.open;
        e.endFrame = seg.frame;
        e.endTime = seg.time;
        asReceiver.done.push(e);
        asReceiver.open = null;
      }
    }
    // Probes travel the other way: from the data sender towards the zero window.
    const toward = s.dirs[1 - seg.dir]!;
    if (toward.open !== null && isZeroWindowProbe(seg)) {
      toward.open.probes++;
      toward.probes++;
      tag(toward, seg.frame);
    }
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportDirection(flow, dir, s.dirs[dir]!, out);
  },
});

function reportDirection(flow: Flow, dir: number, d: Direction, out: FindingSink): void {
  const episodes = [...d.done];
  const stillOpen = d.open;
  if (stillOpen !== null) {
    stillOpen.endFrame = 0;
    stillOpen.endTime = Math.max(flow.lastTime, stillOpen.startTime);
    episodes.push(stillOpen);
  }
  if (episodes.length === 0) return;
  let longest: Episode = episodes[0]!, total = 0, stalls = 0, stallTotal = 0, stallProbes = 0;
  let firstStall: Episode | null = null;
  for (const e of episodes) {
    const dur = e.endTime - e.startTime;
    total += dur;
    if (dur > longest.endTime - longest.startTime) longest = e;
    if (dur >= ZERO_WINDOW_STALL_MIN_SEC) {
      stalls++;
      stallTotal += dur;
      stallProbes += e.probes;
      if (firstStall === null) firstStall = e;
    }
  }
  const longestSec = longest.endTime - longest.startTime;
  const who = roleOf(dir), sender = roleOf(1 - dir);
  const brief = episodes.length - stalls;
  const threshold = `${ms(ZERO_WINDOW_STALL_MIN_SEC)} ms`;
  const reopened = (e: Episode): string =>
    e.endFrame !== 0 ? `reopened by a window update at frame ${e.endFrame}` : "still zero when the capture ended";
  let summary: string;
  if (firstStall !== null) {
    summary = stalls === 1
      ? `the ${who}'s receive window stayed at zero for ${ms(longestSec)} ms (from frame ${firstStall.startFrame}, ` +
        `${reopened(firstStall)}): its program stopped reading; the ${sender} sent ${stallProbes} zero-window probe(s) meanwhile`
      : `the ${who}'s receive window stayed at zero ${stalls} times for ${threshold} or more, ${ms(stallTotal)} ms in all ` +
        `(longest ${ms(longestSec)} ms, from frame ${longest.startFrame}): its program stopped reading; the ${sender} ` +
        `sent ${stallProbes} zero-window probe(s)` + (stillOpen !== null ? "; still zero when the capture ended" : "");
    if (brief > 0) summary += `; plus ${brief} brief zero window(s) under ${threshold}`;
  } else {
    summary = `the ${who} advertised a zero window ${episodes.length} time(s), each briefly (longest ${ms(longestSec)} ms, ` +
      `under the ${threshold} that would stall the ${sender}): its reader lagged for a moment, no stall that matters`;
  }
  out.report(analyzer, {
    flow, dir, frames: d.frames, count: episodes.length, time: episodes[0]!.startTime, summary,
    severity: firstStall !== null ? "warning" : "info",
    measure: {
      episodes: episodes.length, stalls, longestMs: ms(longestSec), stallTotalMs: ms(stallTotal), totalMs: ms(total),
      probes: d.probes, zeroWindowFrames: d.tagged, stillZeroAtEnd: stillOpen !== null ? 1 : 0,
      stallThresholdMs: ms(ZERO_WINDOW_STALL_MIN_SEC),
    },
  });
}
export default analyzer;
