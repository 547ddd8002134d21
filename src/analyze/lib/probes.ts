/**
 * Zero-length-ish segments that re-send the byte before the next one: keep-alive probes
 * and zero-window probes look alike on the wire; what tells them apart is the receiver's
 * last advertised window. Linux probes a zero window with a zero-length segment whose
 * sequence number is one below the next byte — exactly a keep-alive by RFC 1122
 * §4.2.3.6, which is why tshark calls Linux zero-window probes keep-alives. BSD and
 * Windows probe with one byte of new data instead (RFC 9293 §3.8.6.1).
 */
import type { TcpSegment } from "../../decode/flow/tcp-tracker.js";
import { TH_FIN, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/** seq = next byte − 1, carrying 0 or 1 bytes, no SYN/FIN/RST. */
function isOneBelowNext(seg: TcpSegment): boolean {
  return (seg.flags & (TH_SYN | TH_FIN | TH_RST)) === 0 && seg.len <= 1 && seg.seqVsNext === -1;
}

/** A probe of a window the receiver advertised as zero. */
export function isZeroWindowProbe(seg: TcpSegment): boolean {
  if (seg.peerWin !== 0 || (seg.flags & (TH_SYN | TH_FIN | TH_RST)) !== 0) return false;
  return isOneBelowNext(seg) || (seg.len === 1 && seg.seqVsNext === 0);
}

/** A keep-alive probe: one below the next byte while the peer's window is open. */
export function isKeepAliveProbe(seg: TcpSegment): boolean {
  return seg.peerWin !== 0 && isOneBelowNext(seg);
}
