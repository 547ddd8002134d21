/**
 * small-segments: one side sends a stream of tiny data segments back to back — each far
 * below the MSS, each right after the previous one, with no data from the peer in
 * between — where one segment could have carried them all. That is many small write()s
 * on a socket with TCP_NODELAY (or Nagle never had anything in flight to wait for):
 * every write becomes its own packet with 40–60 bytes of headers (RFC 1122 §4.2.3.4
 * discussion: aggregating tiny writes is the application's job when PUSH is not exposed).
 *
 * Counted per sending side, new data only (no retransmissions):
 * - small: payload ≤ SMALL_SEGMENT_MAX_BYTES;
 * - back to back: a small segment following the same side's previous data segment within
 *   SMALL_SEGMENT_BATCH_SEC with no data from the peer in between — a message the program
 *   could have batched without making anyone wait.
 * A finding needs SMALL_SEGMENTS_MIN_COUNT back-to-back segments making up at least
 * SMALL_SEGMENTS_MIN_FRACTION of the side's data segments. Benign look-alikes kept out: a
 * request/response protocol with one write per small message (the peer's answer sits
 * between two requests), interactive typing that is echoed, a few small segments in a
 * bulk transfer, periodic small reports spaced further apart than the batch window.
 * No Wireshark equivalent.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";

/**
 * A payload this small is dominated by its headers: IPv4 + TCP with timestamps is 52
 * bytes, so at 100 bytes a third of every packet, and more on the link, is overhead.
 */
export const SMALL_SEGMENT_MAX_BYTES = 100;
/**
 * Writes closer together than this could have gone out as one segment without anyone
 * noticing the wait: a fraction of the 200 ms that Nagle-style batching was designed
 * around (000 §2.11), below human reaction time.
 */
export const SMALL_SEGMENT_BATCH_SEC = 0.05;
/** Back-to-back small segments needed: a handful is a protocol's greeting, not a pattern. */
export const SMALL_SEGMENTS_MIN_COUNT = 20;
/** ... and their share of the side's data segments: the stream is mostly tiny pieces. */
export const SMALL_SEGMENTS_MIN_FRACTION = 0.5;

class Sender {
  dataSegments = 0;
  dataBytes = 0;
  smallSegments = 0;
  smallBytes = 0;
  /** Header bytes (IP + TCP) of the small segments, for the overhead share. */
  smallHeaderBytes = 0;
  backToBack = 0;
  backToBackBytes = 0;
  firstTime = 0;
  frames: readonly number[] = NO_FRAMES;
}

class State {
  readonly senders: [Sender, Sender] = [new Sender(), new Sender()];
}

const analyzer = defineAnalyzer<State>({
  id: "small-segments",
  title: "Many tiny segments: each small write sent on its own",
  severity: "warning",
  family: "tcp-transfer",
  wire: "A stream of data segments far below the MSS, each sent immediately after the previous one, with nothing from the peer in between.",
  explanation:
    "The program makes many small write()/send() calls, and each one leaves as its own packet — typical with " +
    "TCP_NODELAY set (Nagle's algorithm off), or when each write happens once the previous one was already " +
    "acknowledged. Every call returns at once with its full length, so nothing looks wrong at the API, but each " +
    "packet carries 40-60 bytes of IP/TCP headers for a few bytes of data, and every one costs a system call, an " +
    "interrupt and usually an ACK: bandwidth and CPU go to overhead, and on slow or busy links the queue of tiny " +
    "packets adds latency. Collect the pieces in a user-space buffer and write once per message or per batch, use " +
    "writev()/sendmsg() for scattered pieces, or on Linux MSG_MORE / TCP_CORK and uncork when the message is " +
    "complete. Keep TCP_NODELAY only for traffic that must go out at once, and still write each message in one call.",
  references: ["000 §2.11", "000 §2.16"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg, p, out) {
    if (!seg.newData) return;
    const me = s.senders[seg.dir]!;
    me.dataSegments++;
    me.dataBytes += seg.len;
    if (seg.len <= SMALL_SEGMENT_MAX_BYTES) {
      me.smallSegments++;
      me.smallBytes += seg.len;
      me.smallHeaderBytes += p.ipTotalLen > seg.len ? p.ipTotalLen - seg.len : 0;
      // Back to back: soon after this side's previous new data (the tracker already holds this
      // segment as its latest), with no new data from the peer since (frames are in capture order).
      const prev = seg.prevDataTime;
      const peerDataSince = flow.ep[1 - seg.dir]!.lastDataFrame > seg.prevDataFrame;
      if (!peerDataSince && prev >= 0 && seg.time - prev <= SMALL_SEGMENT_BATCH_SEC) {
        if (me.backToBack === 0) me.firstTime = seg.time;
        me.backToBack++;
        me.backToBackBytes += seg.len;
        me.frames = keepFrame(me.frames, seg.frame, out.frameCap);
      }
    }
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) reportSender(flow, dir, s.senders[dir]!, out);
  },
});

function reportSender(flow: Flow, dir: number, d: Sender, out: FindingSink): void {
  if (d.backToBack < SMALL_SEGMENTS_MIN_COUNT || d.backToBack < SMALL_SEGMENTS_MIN_FRACTION * d.dataSegments) return;
  const who = roleOf(dir);
  const avg = Math.round((d.smallBytes / d.smallSegments) * 10) / 10;
  const overheadPct = Math.round((d.smallHeaderBytes / (d.smallHeaderBytes + d.smallBytes)) * 100);
  const summary =
    `the ${who} sent ${d.smallSegments} of its ${d.dataSegments} data segments with ≤ ${SMALL_SEGMENT_MAX_BYTES} ` +
    `bytes (${avg} bytes on average), ${d.backToBack} of them back to back with no reply in between: IP/TCP headers are ` +
    `${overheadPct}% of those packets; its program writes tiny pieces that go out one packet each`;
  out.report(analyzer, {
    flow,
    dir,
    frames: d.frames,
    count: d.backToBack,
    time: d.firstTime,
    summary,
    measure: {
      dataSegments: d.dataSegments,
      smallSegments: d.smallSegments,
      backToBack: d.backToBack,
      avgPayloadBytes: avg,
      smallBytes: d.smallBytes,
      headerOverheadPct: overheadPct,
    },
  });
}
export default analyzer;
