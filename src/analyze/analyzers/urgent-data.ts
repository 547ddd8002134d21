/**
 * urgent-data: segments with the URG flag and an urgent pointer (RFC 9293 §3.8.5): the
 * sender marked a point in the stream as "urgent". From a program that is
 * send(fd, buf, len, MSG_OOB); Linux, like BSD, points the urgent pointer one past the
 * urgent byte and sets URG on every segment sent until that point has gone out. Measured:
 * segments with URG, distinct urgent marks (one per MSG_OOB send, as far as the wire
 * tells), and where the urgent byte sits in the stream.
 *
 * Frames tagged: every segment with the URG flag, as tshark's `tcp.flags.urg`. No
 * deliberate difference (a segment with every flag set is tagged too: it shows URG).
 *
 * Severity: warning. Urgent data still works between two ordinary kernels, and Telnet and
 * FTP use it by design, but it is a trap for new code: only the last byte is out of band,
 * a receiver without SO_OOBINLINE silently loses that byte from its stream unless it
 * reads it with MSG_OOB, several marks overwrite each other, and middleboxes may clear
 * the flag so the byte arrives inline. RFC 6093 asks new applications not to use it.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_SYN, TH_URG } from "../../decode/wire/packet.js";

class Sender {
  segments = 0;
  marks = 0;
  /** Raw sequence number of the last urgent mark (seq + urgent pointer), for counting distinct marks. */
  lastMark = -1;
  /** Relative sequence number of the first urgent byte (BSD interpretation: pointer − 1). */
  firstByteRel = -1;
  firstUrgPtr = 0;
  firstFrame = 0;
  firstTime = 0;
  /** URG set with a zero pointer or on a SYN: malformed or crafted. */
  odd = 0;
  frames: readonly number[] = NO_FRAMES;
}

class State {
  readonly senders: [Sender | null, Sender | null] = [null, null];
}

const analyzer = defineAnalyzer<State>({
  id: "urgent-data",
  title: "Urgent (out-of-band) data: send() with MSG_OOB",
  severity: "warning",
  family: "tcp-transfer",
  wire: "Segments with the URG flag and an urgent pointer marking a byte in the stream.",
  explanation:
    "The sending program called send() with MSG_OOB (Telnet's interrupt and FTP's ABOR do this by design). TCP has no " +
    "real out-of-band channel: the byte travels in the normal stream, and the urgent pointer only tells the receiver " +
    "where it is. The receiving process gets SIGURG (if it claimed the socket with fcntl(F_SETOWN)) and select()/poll() " +
    "report an exceptional condition (POLLPRI); it must read the byte with recv(..., MSG_OOB), check SIOCATMARK to " +
    "know where the mark is, or set SO_OOBINLINE to leave the byte in the stream. A receiver that does none of this " +
    "never sees that byte at all — it is taken out of the stream — and only one urgent byte can be pending: a second " +
    "MSG_OOB send overwrites the first. Middleboxes may clear the URG flag, so the byte then arrives inline. For new " +
    "protocols, signal urgency in the data itself or on a second connection (RFC 6093 advises against urgent data).",
  references: ["000 §2.23", "000 §2.11", "004 带外数据"],
  createState: () => new State(),
  // Nothing to do until an urgent pointer.
  wakeOn: TH_URG,
  onTcpSegment(s, _flow, seg, p, out) {
    if ((seg.flags & TH_URG) === 0) return;
    let d = s.senders[seg.dir] ?? null;
    if (d === null) d = s.senders[seg.dir] = new Sender();
    if (d.segments === 0) {
      d.firstFrame = seg.frame;
      d.firstTime = seg.time;
      d.firstUrgPtr = p.urgPtr;
    }
    d.segments++;
    d.frames = keepFrame(d.frames, seg.frame, out.frameCap);
    if (p.urgPtr === 0 || (seg.flags & TH_SYN) !== 0) {
      d.odd++;
      return;
    }
    const mark = (seg.seq + p.urgPtr) >>> 0;
    if (mark !== d.lastMark) {
      d.marks++;
      d.lastMark = mark;
      if (d.firstByteRel < 0) d.firstByteRel = (seg.relSeq + p.urgPtr - 1) >>> 0;
    }
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) {
      const d = s.senders[dir] ?? null;
      if (d !== null) reportSender(flow, dir, d, out);
    }
  },
});

function reportSender(flow: Flow, dir: number, d: Sender, out: FindingSink): void {
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  let summary: string;
  if (d.marks === 0) {
    summary =
      `the ${who} sent ${d.segments} segment(s) with URG set but no usable urgent pointer (from frame ${d.firstFrame}): ` +
      `not what MSG_OOB produces; a crafted or malformed packet`;
  } else {
    summary =
      `the ${who} sent urgent data: ${d.marks} urgent mark(s) in ${d.segments} segment(s), the first at frame ` +
      `${d.firstFrame} (urgent pointer ${d.firstUrgPtr}: the byte at relative sequence ${d.firstByteRel}); the ${who}'s ` +
      `program used send(..., MSG_OOB), and the ${peer} got SIGURG / an exceptional condition in select() and must read ` +
      `the byte with MSG_OOB or lose it from the stream` +
      (d.odd > 0 ? `; ${d.odd} more segment(s) with URG but a zero pointer` : "");
  }
  const measure: Record<string, number> = { urgentSegments: d.segments, urgentMarks: d.marks };
  if (d.marks > 0) {
    measure.urgentPointer = d.firstUrgPtr;
    measure.urgentByteRelSeq = d.firstByteRel;
  }
  out.report(analyzer, { flow, dir, frames: d.frames, count: d.segments, time: d.firstTime, summary, measure });
}
export default analyzer;
