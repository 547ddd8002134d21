/**
 * What the capture holds of each side of a flow. A side with no packet at all whose peer
 * nonetheless acknowledged it (the peer's segments carry ACK: it had heard from that side)
 * was not captured: a one-way mirror port, a capture filtered by source, a capture point
 * that sees one direction of an asymmetric route (issue 21). Its silence in the capture is
 * no silence on the wire, so no finding may rest on it: no timeout, no unanswered probe,
 * no re-send read as caused by its ACKs or their absence.
 */
import type { Flow } from "../../decode/flow/record.js";

/** Side `dir` sent packets the capture does not hold: none of its own, yet its peer acknowledged it. */
export function sideNotCaptured(flow: Flow, dir: number): boolean {
  return flow.ep[dir]!.packets === 0 && flow.ep[1 - dir]!.ackSeen;
}
