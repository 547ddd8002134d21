/**
 * window-full: the sender's data reaches the right edge of the window the receiver last
 * advertised (acknowledged + window), so it must stop until the receiver's next ACK moves
 * the edge (RFC 9293 §3.8.6). Each time, the sender waits on the receiving program's
 * read() pace, not on the network. Measured: how often, how long the sender sat at the
 * edge (from the window-full segment until an ACK opened the window further), and that
 * time as a share of the sender's transfer.
 *
 * Frames tagged: every data segment (no SYN/FIN/RST) ending exactly at that edge, when the
 * window scale is known (the handshake was captured): tshark's `window_full` rule. No
 * deliberate difference. Window-full segments also happen now and then in healthy bulk
 * transfers (the first burst fills the initial window before the receiver's autotuning
 * grows it); those are tagged, but reported as info unless the sender was held back for
 * long enough and often enough (WINDOW_FULL_* below), or was still waiting at the edge
 * when the flow ended (the transfer stalled there).
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf } from "../lib/measure.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/** Fewer window-full events than this is the slow-start burst of a healthy transfer. */
export const WINDOW_FULL_MIN_EVENTS = 5;
/**
 * The receiver limits the throughput when a fifth of the sender's transfer is spent
 * waiting at the edge (first to last data segment), or when a fifth of its data segments
 * end at the edge: the window is then what decides how much the sender may send, round
 * after round, even if each wait is short (a receiver that opens its window a segment at
 * a time).
 */
export const WINDOW_FULL_MIN_FRACTION = 0.2;
/** Waiting time below which nobody notices, whatever its share of a short transfer. */
export const WINDOW_FULL_MIN_STALL_SEC = 0.01;

class Sender {
  frames: readonly number[] = NO_FRAMES;
  count = 0;
  firstTime = 0;
  /** Waiting at the edge since this time (-1: not waiting). */
  edgeSince = -1;
  /** The edge (raw sequence number) the sender reached. */
  edge = 0;
  stallTotal = 0;
  stallMax = 0;
  stalls = 0;
  /** Sender's data segments, first and last data time, for the shares. */
  dataSegments = 0;
  firstDataTime = -1;
  lastDataTime = 0;
  /** Waits that ended with the window closing altogether (a zero window: zero-window's), and the first such frame. */
  zeroWindowEnds = 0;
  firstZeroWindowFrame = 0;
  /** Smallest and largest window the receiver advertised when the sender hit it. */
  minWin = Infinity;
  maxWin = 0;
}

class State {
  readonly dirs: [Sender, Sender] = [new Sender(), new Sender()];
}

const analyzer = defineAnalyzer<State>({
  id: "window-full",
  title: "Sender held back by the receiver's window",
  severity: "warning",
  family: "tcp-transfer",
  wire: "The sender's bytes in flight reach the window the receiver advertised; it then waits for the receiver's ACK to open the window.",
  explanation:
    "The receiving program reads more slowly than the sending program writes (or its socket receive buffer is small " +
    "for the path's bandwidth × round-trip time), so the receiver's kernel can only offer as much window as it has " +
    "free buffer. The sender's kernel sends up to that edge and stops; the sending program sees no error, only " +
    "write()/send() blocking (EAGAIN on a non-blocking socket) once its own send buffer is full, and a throughput " +
    "capped by the reader. If the receiver is slow because it does work between reads, read in a separate thread " +
    "or with larger recv() buffers; if SO_RCVBUF was set by hand (which also switches off Linux's receive-buffer " +
    "autotuning), make it larger or leave it to the kernel; on long fast paths make sure window scaling is not " +
    "disabled. A window that stays full until it reaches zero is reported as zero-window.",
  references: ["000 §2.11"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg, _p, out) {
    const me = s.dirs[seg.dir]!;
    // The segment's sender as a receiver: its ACK may open the window for the other side.
    const other = s.dirs[1 - seg.dir]!;
    const peer = flow.ep[1 - seg.dir]!;
    if (other.edgeSince >= 0 && (seg.flags & (TH_SYN | TH_RST)) === 0) {
      const self = flow.ep[seg.dir]!;
      // The wait ends when the edge moves forward, or when the window closes altogether:
      // from then on it is a zero window, reported (and timed) by zero-window.
      if (seg.winScaled === 0 || seqDiff((self.lastAck + seg.winScaled) >>> 0, other.edge) > 0) {
        if (seg.winScaled === 0 && other.zeroWindowEnds++ === 0) other.firstZeroWindowFrame = seg.frame;
        const wait = seg.time - other.edgeSince;
        other.stallTotal += wait;
        if (wait > other.stallMax) other.stallMax = wait;
        other.stalls++;
        other.edgeSince = -1;
      }
    }
    if (seg.len === 0 || (seg.flags & (TH_SYN | TH_FIN | TH_RST)) !== 0) return;
    me.dataSegments++;
    if (me.firstDataTime < 0) me.firstDataTime = seg.time;
    me.lastDataTime = seg.time;
    if (!flow.wscaleKnown || !peer.ackSeen || seg.peerWin < 0) return;
    const end = (seg.seq + seg.len) >>> 0;
    const edge = (peer.lastAck + seg.peerWin) >>> 0;
    if (end !== edge) return;
    if (me.count === 0) me.firstTime = seg.time;
    me.count++;
    me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
    if (seg.peerWin < me.minWin) me.minWin = seg.peerWin;
    if (seg.peerWin > me.maxWin) me.maxWin = seg.peerWin;
    if (me.edgeSince < 0) {
      me.edgeSince = seg.time;
      me.edge = edge;
    }
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSender(flow, dir, s.dirs[dir]!, out);
  },
});

function reportSender(flow: Flow, dir: number, d: Sender, out: FindingSink): void {
  if (d.count === 0) return;
  // Still waiting when the flow ended: count the wait up to the flow's last packet. No ACK
  // moved the edge (nor closed the window, which ends a wait), so the transfer stalled there.
  const stalledSince = d.edgeSince;
  const stalledFor = stalledSince >= 0 ? Math.max(0, flow.lastTime - stalledSince) : 0;
  if (stalledSince >= 0) {
    d.stallTotal += stalledFor;
    if (stalledFor > d.stallMax) d.stallMax = stalledFor;
    d.stalls++;
  }
  const active = Math.max(d.lastDataTime - d.firstDataTime, d.stallTotal);
  const share = active > 0 ? d.stallTotal / active : 0;
  const edgeShare = d.dataSegments > 0 ? d.count / d.dataSegments : 0;
  const stalled = stalledSince >= 0 && stalledFor >= WINDOW_FULL_MIN_STALL_SEC;
  const limits =
    d.count >= WINDOW_FULL_MIN_EVENTS &&
    d.stallTotal >= WINDOW_FULL_MIN_STALL_SEC &&
    (share >= WINDOW_FULL_MIN_FRACTION || edgeShare >= WINDOW_FULL_MIN_FRACTION);
  const sender = roleOf(dir),
    receiver = roleOf(1 - dir);
  const win = d.minWin === d.maxWin ? `${d.minWin}` : `${d.minWin}–${d.maxWin}`;
  const pct = Math.round(share * 100),
    edgePct = Math.round(edgeShare * 100);
  const filled = `the ${sender} filled the ${receiver}'s ${win}-byte window ${d.count} time(s) (${edgePct}% of its data segments)`;
  let summary: string;
  if (stalled) {
    summary =
      `${filled} and was still waiting at its edge when the flow ended, ${ms(stalledFor)} ms after reaching it ` +
      `(${ms(d.stallTotal)} ms of waiting in all, ${pct}% of its transfer): the transfer stalled there, no ACK from the ` +
      `${receiver} moving the edge or closing the window (see peer-unresponsive and zero-window for why)`;
  } else if (limits) {
    summary =
      `the ${receiver} read more slowly than the ${sender} wrote: ${d.count} of the ${sender}'s ${d.dataSegments} data ` +
      `segments (${edgePct}%) filled the ${win}-byte window the ${receiver} offered, and the ${sender} waited for it to ` +
      `open ${ms(d.stallTotal)} ms in all (${pct}% of its transfer; longest wait ${ms(d.stallMax)} ms)`;
  } else if (d.zeroWindowEnds > 0 && share < WINDOW_FULL_MIN_FRACTION) {
    // The waits that mattered were zero windows: timed there, not here, so no "too rarely to limit".
    summary =
      `${filled}, waiting ${ms(d.stallTotal)} ms at the edge before the window moved on; ${d.zeroWindowEnds} time(s) ` +
      `the window closed altogether instead (first in frame ${d.firstZeroWindowFrame}): the ${receiver}'s reader fell ` +
      `behind and the ${sender} waited on a zero window (see zero-window, which times those stalls)`;
  } else {
    summary = `${filled}, waiting ${ms(d.stallTotal)} ms in all (${pct}% of its transfer): ${minorWhy(d, share)}`;
  }
  out.report(analyzer, {
    // The side whose socket call explains it is the receiver: it did not read fast enough.
    flow,
    dir: 1 - dir,
    frames: d.frames,
    count: d.count,
    time: d.firstTime,
    summary,
    severity: stalled || limits ? "warning" : "info",
    measure: {
      windowFullSegments: d.count,
      stallTotalMs: ms(d.stallTotal),
      stallMaxMs: ms(d.stallMax),
      stalledPct: pct,
      windowFullPct: edgePct,
      dataSegments: d.dataSegments,
      minWindowBytes: d.minWin,
      maxWindowBytes: d.maxWin,
    },
  });
}

/**
 * Why window-full waits that did not make the receiver the bottleneck are only info. A
 * large share of the transfer is still a limit, said as such: what is missing then is
 * the repetition, or a wait long enough to notice.
 */
function minorWhy(d: Sender, share: number): string {
  if (share < WINDOW_FULL_MIN_FRACTION)
    return `${d.count < WINDOW_FULL_MIN_EVENTS ? "too rarely" : "too little"} to limit the throughput`;
  if (d.stallTotal < WINDOW_FULL_MIN_STALL_SEC)
    return "the window limited the transfer, but for too short a time in all to notice";
  return (
    `the window limited this transfer, but only ${d.count} time(s): too few to tell a reader slower than its ` +
    "writer from a few late window updates"
  );
}
export default analyzer;
