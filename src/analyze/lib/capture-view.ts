/**
 * What the capture holds of each side of a flow. A side with no packet at all whose peer
 * acknowledged more and more of it during the capture (the peer's acknowledgement number
 * moved on: the side sent data or a FIN the peer received) was not captured: a one-way
 * mirror port, a capture filtered by source, a capture point that sees one direction of
 * an asymmetric route (issue 21). Its silence in the capture is no silence on the wire, so
 * no finding may rest on it: no timeout, no unanswered probe, no re-send read as caused by
 * its ACKs or their absence. An ACK bit alone proves nothing about the capture's time: a
 * capture that starts after the peer fell silent holds the same acknowledgement number
 * throughout (a fresh-eyes review's midstream cut of a dead-peer capture).
 */
import type { Flow } from "../../decode/flow/record.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";

/** Side `dir` sent packets the capture does not hold: none of its own, yet its peer acknowledged new bytes of it meanwhile. */
export function sideNotCaptured(flow: Flow, dir: number): boolean {
  const me = flow.ep[dir]!,
    peer = flow.ep[1 - dir]!;
  // With no packet of its own, this side's base is the peer's first acknowledgement - 1.
  return me.packets === 0 && peer.ackSeen && seqDiff(peer.lastAck, (me.isn + 1) >>> 0) > 0;
}
