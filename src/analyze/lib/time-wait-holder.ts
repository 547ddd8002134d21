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
 * TIME-WAIT of a flow whose FIN exchange completed without a reset before it, else null.
 * A reset ends the connection without TIME-WAIT; one FIN alone leaves FIN-WAIT-2 /
 * CLOSE-WAIT, not TIME-WAIT.
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
  // A reset before the close ends the connection without TIME-WAIT. One sent before the
  // server's SYN-ACK belongs to the opening (the client rejecting a TIME-WAIT's bare ACK,
  // see time-wait-reuse), not to this connection's close.
  const opened = s.synFrame;
  const resetBefore = (r: number): boolean => r !== 0 && r <= closedAt && r > opened;
  if (resetBefore(c.rstFrame) || resetBefore(s.rstFrame)) return null;
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
