/**
 * Whether a reset is a stateless one from a TCP that forgot the connection (a rebooted
 * host): reset-by-peer-reboot reports it, abortive-close leaves it alone, and both ask
 * this one predicate so a reset belongs to exactly one of them. Reads the host's
 * SideHistory of the flow (what each side sent before the reset).
 */
import { seqDiff, type TcpSegment } from "../../decode/flow/tcp-tracker.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_ACK, TH_RST } from "../../decode/wire/packet.js";
import type { SideHistory } from "./side-history.js";

/**
 * Shortest silence from the resetting side before its stateless reset for this kind.
 * The reset itself proves the resetting TCP had no connection left; the silence rules
 * out the one ordinary way to get there: its program aborted the connection (RST+ACK)
 * an instant earlier and that reset crossed the peer's segment or escaped the capture,
 * which plays out within a round trip or two, not a second. A whole-host reboot takes
 * tens of seconds, but a container or VM restart, a failover, or a middlebox that drops
 * its state forgets connections within seconds, so the bar stays at 1 s and the summary
 * gives the measured silence. Shorter silences are reported as abortive-close.
 */
export const REBOOT_MIN_SILENCE_SEC = 1;

export interface RebootEvidence {
  /** Seconds from the resetting side's last segment to its RST. */
  silenceSec: number;
  /** The segment the RST answers, and the first new data the other side sent into the silence (0: none, a probe). */
  answeredFrame: number;
  firstDataFrame: number;
  /** The resetting side's last segment before the silence. */
  lastBeforeFrame: number;
}

/**
 * Whether the capture missed segments that side `dir` sent: the other side acknowledged
 * sequence space it was never seen to send. What it sent before a reset (data, a FIN)
 * then cannot be told, nor how long it was silent.
 */
export function sentUnseen(flow: Flow, dir: number): boolean {
  const other = flow.ep[1 - dir]!;
  return other.ackSeen && seqDiff(other.lastAck, flow.ep[dir]!.nextSeq) > 0;
}

/**
 * Whether a RST (already counted in the tracker) is a forgotten connection's answer
 * after a silence of at least REBOOT_MIN_SILENCE_SEC: no ACK bit, seq = the ack of the
 * other side's segment, that segment carried data or was a probe, and the resetting side
 * had been seen before and never sent FIN.
 */
export function rebootEvidence(flow: Flow, seg: TcpSegment, h: SideHistory): RebootEvidence | null {
  if ((seg.flags & (TH_RST | TH_ACK)) !== TH_RST || !h.established) return null;
  const p = seg.dir,
    o = 1 - p;
  const me = flow.ep[p]!,
    other = flow.ep[o]!;
  const mine = h.sides[p]!,
    theirs = h.sides[o]!;
  if (me.finFrame !== 0 || mine.lastFrame === 0 || theirs.lastFrame <= mine.lastFrame || !theirs.lastWantsAnswer)
    return null;
  // Its FIN (aerospike: the peer's ACKs cover 83 bytes and a FIN never captured) may have gone unseen.
  if (sentUnseen(flow, p)) return null;
  if (!other.ackSeen || seqDiff(seg.seq, other.lastAck) !== 0) return null;
  const silence = seg.time - mine.lastTime;
  if (silence < REBOOT_MIN_SILENCE_SEC) return null;
  return {
    silenceSec: silence,
    answeredFrame: theirs.lastFrame,
    firstDataFrame: theirs.firstDataSinceOther,
    lastBeforeFrame: mine.lastFrame,
  };
}
