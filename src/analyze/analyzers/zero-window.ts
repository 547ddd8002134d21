/**
 * zero-window: a receiver advertises a window of 0 — its receive buffer is full because
 * the application is not reading. The sender then probes (RFC 9293 §3.8.6.1) until a
 * window update reopens the window. Measured: how long each episode lasted, how many
 * probes the sender sent.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Flow } from "../../decode/flow.js";
import { TH_RST, TH_SYN } from "../../decode/packet.js";
import { ms, roleOf } from "../measure.js";
import { isZeroWindowProbe } from "../probes.js";

const MAX_FRAMES = 60;

class Episode {
  startFrame = 0;
  startTime = 0;
  endFrame = 0;
  endTime = 0;
  probes = 0;
}

class Direction {
  /** Episode in progress (window is zero), else null. */
  open: Episode | null = null;
  readonly done: Episode[] = [];
  readonly frames: number[] = [];
  probes = 0;
}

class State {
  /** Indexed by the receiver's direction (the side advertising zero). */
  readonly dirs: [Direction, Direction] = [new Direction(), new Direction()];
}

function keep(d: Direction, frame: number): void {
  if (d.frames.length < MAX_FRAMES) d.frames.push(frame);
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
    "(each waits for the other: a deadlock). A larger SO_RCVBUF only delays the stall.",
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
        keep(asReceiver, seg.frame);
      } else if (asReceiver.open !== null) {
        const e = asReceiver.open;
        e.endFrame = seg.frame;
        e.endTime = seg.time;
        asReceiver.done.push(e);
        asReceiver.open = null;
        keep(asReceiver, seg.frame);
      }
    }
    // Probes travel the other way: from the data sender towards the zero window.
    const toward = s.dirs[1 - seg.dir]!;
    if (toward.open !== null && isZeroWindowProbe(seg)) {
      toward.open.probes++;
      toward.probes++;
      keep(toward, seg.frame);
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
    stillOpen.endTime = flow.lastTime;
    episodes.push(stillOpen);
  }
  if (episodes.length === 0) return;
  let longest = 0, total = 0;
  for (const e of episodes) {
    const dur = e.endTime - e.startTime;
    total += dur;
    if (dur > longest) longest = dur;
  }
  const who = roleOf(dir), sender = roleOf(1 - dir);
  const first = episodes[0]!;
  const reopened = first.endFrame !== 0 ? `reopened by a window update at frame ${first.endFrame}` : "still zero when the capture ended";
  const summary = episodes.length === 1
    ? `the ${who} advertised a zero window for ${ms(longest)} ms (frame ${first.startFrame}, ${reopened}); ` +
      `the ${sender} sent ${first.probes} zero-window probe(s)`
    : `the ${who} advertised a zero window ${episodes.length} times, ${ms(total)} ms in all (longest ${ms(longest)} ms); ` +
      `the ${sender} sent ${d.probes} zero-window probe(s)` + (stillOpen !== null ? "; still zero when the capture ended" : "");
  out.report(analyzer, {
    flow, dir, frames: d.frames, count: episodes.length, time: first.startTime, summary,
    measure: { episodes: episodes.length, longestMs: ms(longest), totalMs: ms(total), probes: d.probes, stillZeroAtEnd: stillOpen !== null ? 1 : 0 },
  });
}
export default analyzer;
