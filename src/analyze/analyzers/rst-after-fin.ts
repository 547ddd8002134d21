/**
 * rst-after-fin: side A sent FIN (it called close()), side B kept sending data, and A's
 * kernel answered that data with RST: a closed socket cannot take data (RFC 9293
 * §3.10.7.4; RFC 1122 §4.2.2.13). B's first write "succeeded" (the bytes went out), its
 * next write gets EPIPE and SIGPIPE.
 */
import { defineAnalyzer } from "../analyzer.js";
import { roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_RST, TH_FIN } from "../../decode/wire/packet.js";
import type { FindingSink } from "../analyzer.js";

/** Data frames kept as evidence per direction. */
const MAX_DATA_FRAMES = 5;

class State {
  /** Per direction: frames of data sent after the other side's FIN. */
  readonly dataAfterPeerFin: [number[], number[]] = [[], []];
  readonly bytesAfterPeerFin: [number, number] = [0, 0];
}

const analyzer = defineAnalyzer<State>({
  id: "rst-after-fin",
  title: "Data sent to a closed socket was answered by a reset",
  severity: "error",
  family: "tcp-closing",
  wire: "Side A sends FIN; side B then sends data; A answers that data with RST.",
  explanation:
    'One program called close() on its socket (its FIN says "I will send no more"), but the other program kept ' +
    "writing instead of reading, so it never noticed the end-of-file. A socket that was close()d cannot receive, " +
    "so its kernel answered the new data with a reset. For the writer: the first write() after the FIN succeeds " +
    "(the data left), the next write() raises SIGPIPE and fails with EPIPE (if SIGPIPE is ignored or MSG_NOSIGNAL is used), " +
    "and a read() returns 0 or ECONNRESET; any response the closing side had sent but the writer had not read yet " +
    "may be discarded by the reset. Fix the protocol so the closing side only closes when the peer is done " +
    "(or uses shutdown(SHUT_WR) and keeps reading until EOF), and make the writer read and handle EOF; handle " +
    "EPIPE instead of dying of SIGPIPE.",
  references: ["000 §2.1", "000 §2.19", "000 §2.22", "002 server termination §3-4"],
  createState: () => new State(),
  // Data after a FIN needs a FIN first.
  wakeOn: TH_FIN,
  onTcpSegment(s, flow, seg, _p, out) {
    const dir = seg.dir,
      peer = 1 - dir;
    const peerEp = flow.ep[peer]!;
    if (seg.len > 0 && peerEp.finFrame !== 0 && peerEp.finFrame < seg.frame && peerEp.rstFrame === 0) {
      const frames = s.dataAfterPeerFin[dir]!;
      if (frames.length < MAX_DATA_FRAMES) frames.push(seg.frame);
      s.bytesAfterPeerFin[dir] = s.bytesAfterPeerFin[dir]! + seg.len;
    }
    if (!(seg.flags & TH_RST)) return;
    const me = flow.ep[dir]!;
    if (me.finFrame === 0 || me.rstFrame !== seg.frame) return;
    const data = s.dataAfterPeerFin[peer]!;
    if (data.length === 0) return;
    report(flow, dir, seg.frame, seg.time, me.finFrame, data, s.bytesAfterPeerFin[peer]!, out);
  },
});

function report(
  flow: Flow,
  closer: number,
  rstFrame: number,
  time: number,
  finFrame: number,
  data: number[],
  bytes: number,
  out: FindingSink,
): void {
  const a = roleOf(closer),
    b = roleOf(1 - closer);
  out.report(analyzer, {
    flow,
    dir: closer,
    frames: [finFrame, ...data, rstFrame],
    time,
    summary:
      `${a} closed (FIN, frame ${finFrame}) while the ${b} kept writing: the ${b}'s ${bytes} bytes ` +
      `(from frame ${data[0]}) drew RST (frame ${rstFrame}); the ${b}'s next write() gets EPIPE/SIGPIPE`,
    measure: { bytesAfterFin: bytes },
  });
}
export default analyzer;
