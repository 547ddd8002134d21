/**
 * rst-after-fin: side A sent FIN (it called close()), side B kept sending data, and A's
 * kernel answered that data with RST: a closed socket cannot take data (RFC 9293
 * §3.10.7.4; RFC 1122 §4.2.2.13). B's first write "succeeded" (the bytes went out), its
 * next write gets EPIPE and SIGPIPE: an error. When B had sent its own FIN too, it had
 * closed and no write of its follows: a close race, a warning. When B's late bytes were a
 * protocol's goodbye answering the FIN (lib/goodbye.ts: a TLS alert, a WebSocket close
 * frame: info; a QUIT, which waits for its reply: a warning), B was closing too and no
 * EPIPE is promised (issue 15: severity follows what the program saw).
 */
import { defineAnalyzer } from "../analyzer.js";
import { roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_RST, TH_FIN } from "../../decode/wire/packet.js";
import { goodbyeIn, QUIT } from "../lib/goodbye.js";
import type { FindingSink } from "../analyzer.js";

/** Data frames kept as evidence per direction. */
const MAX_DATA_FRAMES = 5;

/** A reset of data sent after the closer's FIN: who closed, the RST, and the data it answered. */
interface Reset {
  closer: number;
  frame: number;
  time: number;
  data: number[];
  bytes: number;
  /** What the writer's first bytes after the FIN were, when they are a protocol's goodbye (`goodbyeIn`), else "". */
  goodbye: string;
}

class State {
  /** Per direction: frames of data sent after the other side's FIN. */
  readonly dataAfterPeerFin: [number[], number[]] = [[], []];
  readonly bytesAfterPeerFin: [number, number] = [0, 0];
  /** Per direction: the goodbye its first data after the other side's FIN was, if any. */
  readonly goodbye: [string, string] = ["", ""];
  /**
   * The reset, until it is known whether the writer had closed too: at once if its FIN came
   * first, when its FIN arrives after the reset, else at the flow's end.
   */
  rst: Reset | null = null;
  reported = false;
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
  onTcpSegment(s, flow, seg, p, out) {
    const dir = seg.dir,
      peer = 1 - dir;
    const peerEp = flow.ep[peer]!;
    // The writer's FIN after the reset on the wire: it left before the reset arrived.
    if (s.rst !== null) {
      if (seg.flags & TH_FIN && dir !== s.rst.closer) settle(s, flow, out);
      return;
    }
    if (seg.len > 0 && peerEp.finFrame !== 0 && peerEp.finFrame < seg.frame && peerEp.rstFrame === 0) {
      const frames = s.dataAfterPeerFin[dir]!;
      if (frames.length === 0 && s.bytesAfterPeerFin[dir] === 0) s.goodbye[dir] = goodbyeIn(p);
      if (frames.length < MAX_DATA_FRAMES) frames.push(seg.frame);
      s.bytesAfterPeerFin[dir] = s.bytesAfterPeerFin[dir]! + seg.len;
    }
    if (!(seg.flags & TH_RST) || s.reported) return;
    const me = flow.ep[dir]!;
    if (me.finFrame === 0 || me.rstFrame !== seg.frame) return;
    const data = s.dataAfterPeerFin[peer]!;
    if (data.length === 0) return;
    s.rst = {
      closer: dir,
      frame: seg.frame,
      time: seg.time,
      data,
      bytes: s.bytesAfterPeerFin[peer]!,
      goodbye: s.goodbye[peer]!,
    };
    // Known at once when the writer had closed first; else its FIN may still be on its way.
    if (peerEp.finFrame !== 0) settle(s, flow, out);
  },
  onFlowEnd(s, flow, out) {
    if (s.rst !== null) settle(s, flow, out);
  },
});

/** Reports the reset found, once. */
function settle(s: State, flow: Flow, out: FindingSink): void {
  const r = s.rst!;
  s.rst = null;
  s.reported = true;
  report(flow, r, out);
}

/**
 * The writer's own FIN decides what it saw. A writer that had not closed gets EPIPE on its
 * next write(): an error. One that sent FIN too, before the reset or after it on the wire
 * (a socket that accepted the reset can send nothing more, so that FIN left before the
 * reset arrived), had closed: the reset only discarded its last words, the close race of
 * TLS close_notify, WebSocket close or SMTP QUIT/221, and no call of its fails.
 */
function report(flow: Flow, { closer, frame: rstFrame, time, data, bytes, goodbye }: Reset, out: FindingSink): void {
  const a = roleOf(closer),
    b = roleOf(1 - closer);
  const finFrame = flow.ep[closer]!.finFrame;
  const writerFin = flow.ep[1 - closer]!.finFrame;
  const drew = `the ${b}'s ${bytes} bytes (from frame ${data[0]}) drew RST (frame ${rstFrame})`;
  if (writerFin !== 0) {
    out.report(analyzer, {
      flow,
      dir: closer,
      frames: [finFrame, ...data, rstFrame],
      time,
      // Its goodbye discarded costs nothing (info, as when the writer had not closed yet); other last bytes may have been wanted.
      severity: goodbye !== "" && goodbye !== QUIT ? "info" : "warning",
      summary:
        `${a} closed (FIN, frame ${finFrame}) and ${drew}, but the ${b} had closed too (its FIN, frame ${writerFin}, ` +
        `left before the reset reached it): a close race, its last bytes${goodbye === "" ? "" : ` (${goodbye})`} were ` +
        `discarded and no write() of the ${b}'s followed, so it gets no EPIPE`,
      measure: { bytesAfterFin: bytes, writerClosed: 1 },
      detail:
        "Both programs had closed: the writer's last bytes were its goodbye (such as a TLS close_notify, a WebSocket " +
        "close frame or an SMTP 221 reply) sent as the other side closed without waiting for it. The reset cost nothing unless " +
        "the closing side needed those bytes; a program that called close() sees no error.",
    });
    return;
  }
  if (goodbye !== "") {
    // Its answer to the FIN was the protocol's own goodbye: the writer was closing, no write of its follows.
    out.report(analyzer, {
      flow,
      dir: closer,
      frames: [finFrame, ...data, rstFrame],
      time,
      // A QUIT waits for its reply, which the reset replaces with ECONNRESET: seen, though harmless.
      severity: goodbye === QUIT ? "warning" : "info",
      summary:
        `${a} closed (FIN, frame ${finFrame}) and ${drew}; those bytes begin with ${goodbye}: the ${b}'s goodbye in ` +
        `answer to the FIN, sent as it closed too, so no write() of its follows and it gets no EPIPE`,
      measure: { bytesAfterFin: bytes, writerClosed: 0 },
      detail:
        "A protocol's closing handshake (TLS close_notify, a WebSocket close frame, an SMTP or FTP QUIT) answers " +
        "the peer's close with a last message; a side that closes without waiting for it resets that message. " +
        "Nothing is lost unless the closing side needed the reply.",
    });
    return;
  }
  out.report(analyzer, {
    flow,
    dir: closer,
    frames: [finFrame, ...data, rstFrame],
    time,
    summary:
      `${a} closed (FIN, frame ${finFrame}) while the ${b} kept writing: ${drew}; ` +
      `the ${b}'s next write() gets EPIPE/SIGPIPE`,
    measure: { bytesAfterFin: bytes, writerClosed: 0 },
  });
}
export default analyzer;
