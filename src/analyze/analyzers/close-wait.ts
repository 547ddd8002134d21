/**
 * close-wait: one side's FIN was acknowledged (the other side's kernel delivered the EOF
 * and its socket entered CLOSE-WAIT, RFC 9293 §3.6), but that other side sent no FIN of
 * its own for a long time, or not before the capture ended. A socket leaves CLOSE-WAIT
 * only when its program calls close() (or shutdown(SHUT_WR)) — the kernel never does it
 * on its own — so a long CLOSE-WAIT is a program that saw EOF and did not close, or a
 * descriptor still open in another process.
 *
 * Measured: from the later of this side's ACK of the peer's FIN and the last new data it
 * sent after the FIN (a side that keeps sending after the peer's FIN is using a
 * half-closed connection, not stuck) until its own FIN, a reset, or the end of the capture.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { captureNow, ms, roleOf, sec } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_FIN, TH_RST } from "../../decode/wire/packet.js";

/**
 * Shortest CLOSE-WAIT reported. A program that handles EOF closes within one turn of its
 * event loop: microseconds to a few milliseconds, and the FIN often leaves with the ACK
 * of the peer's FIN (or right after Linux's 40 ms delayed ACK). A second is far beyond
 * any scheduling or delayed-ACK effect, yet short enough to catch a leak in a capture of
 * a few seconds.
 */
export const CLOSE_WAIT_MIN_SEC = 1;
/**
 * A side that sent data after the peer's FIN is using the half-closed connection (a
 * server streaming its answer to `shutdown(SHUT_WR)`): a live capture reports its
 * CLOSE-WAIT as ongoing only after this long without data, not at every pause longer
 * than CLOSE_WAIT_MIN_SEC in a slow stream.
 */
export const HALF_CLOSE_ONGOING_SEC = 10;
/**
 * What programs do, short of a leak. A client that pools connections (a browser, an
 * HTTP or database pool) does not read an idle pooled socket, so it finds the server's
 * idle-timeout FIN only on its cleanup timer or at its next request: Chromium sweeps
 * idle sockets every 10 s (kCleanupInterval in net/socket/client_socket_pool_base.cc).
 * So a client that closes within this long of the server's FIN is a lazy close, and a
 * capture that ends sooner than this after a FIN cannot tell a late close from a leak:
 * both are info, not a warning. A server reads the connection it serves, so its late
 * close stays a warning from CLOSE_WAIT_MIN_SEC on.
 */
export const LAZY_CLOSE_SEC = 10;

class State {
  reported = false;
}

const analyzer = defineAnalyzer<State>({
  id: "close-wait",
  title: "Connection left in CLOSE_WAIT: EOF received, socket not closed",
  severity: "warning",
  family: "tcp-closing",
  wire: "One side's FIN is acknowledged, but the other side sends no FIN of its own for a long time, or never before the capture ends.",
  explanation:
    "The peer closed its end; this side's kernel acknowledged the FIN, so the program's next read() returned 0 " +
    "(end of file). From then on the socket sits in CLOSE_WAIT until the program calls close(): the kernel never " +
    "finishes the close by itself. So a long CLOSE_WAIT means the program either did not notice the EOF (it was not " +
    'reading this socket, or it treated read() returning 0 as "no data yet"), noticed it and forgot to close the ' +
    "descriptor (a leak on an error path), or closed it while another process still held a copy: a child created with " +
    "fork() (or a subprocess that inherited the descriptor) keeps the socket open, and the FIN goes out only when the " +
    "last copy is closed. Nothing fails at once, but every such socket keeps a descriptor and kernel memory, and a " +
    'server that leaks them eventually hits EMFILE ("too many open files") in accept(). The capture cannot tell a ' +
    "late close() from a descriptor held by another process: `ss -tanp state close-wait` (or lsof) on that host shows " +
    "which processes hold the socket, and strace shows when close() is called. Close the socket as soon as read() " +
    "returns 0; mark descriptors close-on-exec (SOCK_CLOEXEC, O_CLOEXEC) so children do not inherit them; when " +
    "another process must keep the connection, use shutdown(SHUT_WR) to send the FIN regardless of other copies.",
  references: ["002 CLOSE_WAIT", "000 §2.6", "002 shutdown"],
  createState: () => new State(),
  // CLOSE-WAIT begins with a FIN.
  wakeOn: TH_FIN,
  onTcpSegment(s, flow, seg, _p, out) {
    if (s.reported || (seg.flags & (TH_FIN | TH_RST)) === 0) return;
    out.watch(flow); // the FIN may start a CLOSE-WAIT (once acknowledged)
    const me = flow.ep[seg.dir]!;
    if (seg.flags & TH_FIN) {
      // This side's own FIN after the peer's acknowledged FIN: CLOSE-WAIT ends here.
      if (me.finFrame !== seg.frame) return;
      const peer = flow.ep[1 - seg.dir]!;
      if (peer.finFrame === 0 || peer.finFrame >= seg.frame || peer.finAckedFrame === 0) return;
      s.reported = true;
      check(flow, seg.dir, seg.frame, seg.time, "fin", out);
      return;
    }
    // A reset by either side ends the connection, and CLOSE-WAIT with it.
    for (let dir = 0; dir < 2; dir++) {
      if (waitingSide(flow, dir, seg.frame)) {
        s.reported = true;
        check(flow, dir, seg.frame, seg.time, "rst", out);
        return;
      }
    }
  },
  onFlowEnd(s, flow, out) {
    if (s.reported) return;
    for (let dir = 0; dir < 2; dir++) {
      if (!waitingSide(flow, dir, Number.MAX_SAFE_INTEGER)) continue;
      // A capture joined from recordings of different times shows the wait only until its stretch ends.
      const stretch = out.stretchAfter(waitStart(flow, dir));
      if (stretch === null) check(flow, dir, 0, captureNow(out, flow), "capture-end", out);
      else check(flow, dir, stretch.nextFrame, stretch.end, "stretch-end", out);
    }
  },
  // Ongoing from the threshold the finding itself uses: the finding is certain to follow.
  ongoing(s, flow, dir, now) {
    if (s.reported || !waitingSide(flow, dir, Number.MAX_SAFE_INTEGER)) return null;
    const me = flow.ep[dir]!,
      peer = flow.ep[1 - dir]!;
    const start = waitStart(flow, dir);
    const sentData = me.lastDataTime > peer.finTime;
    const who = roleOf(dir);
    // Not before the finding would be a warning: a client's wait is a lazy close until LAZY_CLOSE_SEC.
    const threshold = sentData ? HALF_CLOSE_ONGOING_SEC : who === "client" ? LAZY_CLOSE_SEC : CLOSE_WAIT_MIN_SEC;
    if (now - start < threshold) return null;
    const other = roleOf(1 - dir);
    const from = sentData
      ? `its last data after the ${other}'s FIN (frame ${peer.finFrame})`
      : `the ${other}'s FIN (frame ${peer.finFrame}, acknowledged in frame ${peer.finAckedFrame})`;
    return {
      since: start,
      frame: peer.finFrame,
      summary: `the ${who} ${flow.endpointName(who)} has sat in CLOSE_WAIT since ${from}: its program has the EOF but has not called close()`,
    };
  },
});

/**
 * When `dir`'s wait in CLOSE-WAIT began, as far as the capture proves it: its ACK of the
 * peer's FIN (the FIN may reach it half a round trip after the capture point saw it, so the
 * FIN's own time would count the path's delay as the program's); data it sent after the
 * FIN is a half-close in use, so the wait starts after it.
 */
function waitStart(flow: Flow, dir: number): number {
  return Math.max(flow.ep[1 - dir]!.finAckedTime, flow.ep[dir]!.lastDataTime);
}

/** Whether `dir` was in CLOSE-WAIT just before `frame`: the peer's FIN acknowledged, its own FIN not sent. */
function waitingSide(flow: Flow, dir: number, frame: number): boolean {
  const me = flow.ep[dir]!,
    peer = flow.ep[1 - dir]!;
  if (peer.finFrame === 0 || peer.finAckedFrame === 0 || peer.finAckedFrame >= frame) return false;
  if (me.finFrame !== 0 && me.finFrame < frame) return false;
  // A reset before this point already ended the connection.
  return !((me.rstFrame !== 0 && me.rstFrame < frame) || (peer.rstFrame !== 0 && peer.rstFrame < frame));
}

function check(
  flow: Flow,
  dir: number,
  endFrame: number,
  endTime: number,
  how: "fin" | "rst" | "capture-end" | "stretch-end",
  out: FindingSink,
): void {
  const me = flow.ep[dir]!,
    peer = flow.ep[1 - dir]!;
  const start = waitStart(flow, dir);
  const waited = endTime - start;
  if (waited < CLOSE_WAIT_MIN_SEC) return;
  const who = roleOf(dir),
    other = roleOf(1 - dir);
  const sentData = me.lastDataTime > peer.finTime;
  const from = sentData
    ? `its last data after the ${other}'s FIN (frame ${peer.finFrame})`
    : `the ${other}'s FIN (frame ${peer.finFrame}, acknowledged in frame ${peer.finAckedFrame})`;
  const end =
    how === "fin"
      ? `before its own FIN (frame ${endFrame})`
      : how === "rst"
        ? `until the connection was reset (frame ${endFrame})`
        : how === "capture-end"
          ? "and was still there when the capture ended"
          : `and was still there when that part of the capture ended (its clock jumps at frame ${endFrame}: recordings of different times joined)`;
  const untilEnd = how === "capture-end" || how === "stretch-end";
  const lazy = waited < LAZY_CLOSE_SEC && (untilEnd || who === "client");
  const meaning = !lazy
    ? "its program had the EOF but had not closed the socket"
    : untilEnd
      ? `the capture ended too soon after the FIN to tell a late close() from a leak`
      : "a lazy close, as connection pools and browsers close an idle connection the server ended";
  out.report(analyzer, {
    flow,
    dir,
    frames: [peer.finFrame, peer.finAckedFrame, how === "stretch-end" ? 0 : endFrame].filter((f) => f > 0),
    time: peer.finTime,
    summary: `the ${who} sat in CLOSE_WAIT for ${untilEnd ? "at least " : ""}${sec(waited)} s after ${from} ${end}: ${meaning}`,
    measure: { closeWaitMs: ms(waited), stillOpenAtEnd: untilEnd ? 1 : 0 },
    ...(lazy ? { severity: "info" as const, detail: lazyDetail(untilEnd) } : {}),
  });
}

/** Why a short CLOSE-WAIT is no leak, or not yet one. */
function lazyDetail(untilEnd: boolean): string {
  return untilEnd
    ? `A program reading the socket closes within milliseconds of the EOF, and a pool within about ${LAZY_CLOSE_SEC} s; ` +
        "the capture stopped before either could be seen, so this is no evidence of a leak."
    : "A client that pools connections does not read an idle pooled socket, so it notices the server's FIN only on its " +
        `cleanup timer (Chromium sweeps idle sockets every ${LAZY_CLOSE_SEC} s) or at its next request, and closes then: ` +
        "normal, as long as it does close.";
}
export default analyzer;
