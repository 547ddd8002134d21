/**
 * Which side holds TIME-WAIT after a completed FIN exchange (RFC 9293 §3.6: the side
 * whose FIN went first; both when the FINs crossed), and since when. time-wait reports
 * it; time-wait-reuse asks it of the connection a new SYN on the same 4-tuple replaces.
 */
import type { Flow } from "../../decode/flow/record.js";

/** Who holds TIME-WAIT after a completed FIN exchange, and since when. */
export interface TimeWait {
  /** Direction of the side that sent the first FIN (the active closer). */
  holder: number;
  /** Both FINs crossed: both sides hold TIME-WAIT. */
  simultaneous: boolean;
  /** Capture time TIME-WAIT began: the final ACK, or the second FIN when that ACK is missing. */
  start: number;
  firstFinFrame: number;
  secondFinFrame: number;
  /** Frame acknowledging the second FIN (the active closer's last ACK), 0 if not captured. */
  lastAckFrame: number;
}

/**
 * TIME-WAIT of a flow whose FIN exchange completed and that no reset ended, else null.
 * A reset ends the connection without TIME-WAIT; one FIN alone leaves FIN-WAIT-2 /
 * CLOSE-WAIT, and a FIN never acknowledged leaves FIN-WAIT-1 / CLOSING / LAST-ACK.
 */
export function timeWaitOf(flow: Flow): TimeWait | null {
  const [c, s] = flow.ep;
  if (c.finFrame === 0 || s.finFrame === 0) return null;
  const holder = c.finFrame < s.finFrame ? 0 : 1;
  const x = flow.ep[holder]!,
    y = flow.ep[1 - holder]!;
  // The first FIN must have been acknowledged: a side whose FIN is never acknowledged
  // stays in CLOSING (or FIN-WAIT-1) retransmitting it.
  if (x.finAckedFrame === 0) return null;
  const lastAck = y.finAckedFrame;
  const closedAt = lastAck !== 0 ? Math.max(lastAck, x.finAckedFrame) : y.finFrame;
  // The holder must have received the second FIN: it acknowledges it at once. Unacknowledged,
  // it counts only when nothing followed it in the capture (the final ACK was not captured);
  // a FIN re-sent, or answered by anything but its ACK, never reached a TIME-WAIT.
  if (lastAck === 0 && Math.max(c.lastFrame, s.lastFrame) > y.finFrame) return null;
  // A reset ends the connection without TIME-WAIT, before the FINs or after them: a side in
  // TIME-WAIT answers segments with an ACK, never a RST (RFC 9293 §3.10.7.4), and one that
  // receives a RST drops its TIME-WAIT (RFC 1337). One sent before the server's SYN-ACK
  // belongs to the opening (the client rejecting a TIME-WAIT's bare ACK, see time-wait-reuse).
  const opened = s.synFrame;
  const resetAfterOpening = (r: number): boolean => r !== 0 && r > opened;
  if (resetAfterOpening(c.rstFrame) || resetAfterOpening(s.rstFrame)) return null;
  const ended = flow.endedFrame !== 0 && flow.endedFrame === closedAt;
  return {
    holder,
    simultaneous: x.finAckedFrame > y.finFrame,
    start: ended ? flow.endedTime : y.finTime,
    firstFinFrame: x.finFrame,
    secondFinFrame: y.finFrame,
    lastAckFrame: lastAck,
  };
}
