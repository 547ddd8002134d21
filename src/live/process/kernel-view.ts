/**
 * The kernel's view of a socket a live condition is about, in words that name its
 * program: what /proc/net/tcp says of its queues, state and retransmit timer when the
 * condition is reported. Only said when the socket was found and its program is known;
 * otherwise the condition's own words stand alone (nothing is guessed).
 */
import type { KernelSocket } from "./proc-net.js";
import { nameProcess, type SideProcess } from "../../analyze/side-process.js";
import type { TcpInfo } from "./tcp-info.js";

const n = (x: number): string => x.toLocaleString("en-US").replace(/,/g, " ");

/**
 * `kind`: the ongoing condition's analyzer id; `side`: the side it names (zero-window: the
 * receiver; close-wait: the side not closing; connect-timeout: the client; peer-unresponsive: the sender).
 */
export function kernelView(
  kind: string,
  p: SideProcess | null,
  s: KernelSocket | null,
  sinceSec: number,
  /** TCP_INFO of the socket, asked only by the kinds that say it (tcp-info.ts). */
  info?: () => TcpInfo | null,
): string | null {
  if (p === null || p.pid === null || s === null) return null;
  const who = nameProcess(p);
  switch (kind) {
    case "zero-window":
      if (s.rxQueue === 0) return `${who}: its socket's receive queue is empty now (it read since)`;
      return `${who} holds ${n(s.rxQueue)} unread bytes in its receive queue: it is not calling recv()`;
    case "close-wait":
      if (s.state !== "CLOSE-WAIT") return `${who}: its socket is in ${s.state} now`;
      return `${who} holds the socket in CLOSE-WAIT (the kernel's state) for ${sinceSec.toFixed(1)} s: it has read the end of the stream and not called close()`;
    case "connect-timeout":
      if (s.state !== "SYN-SENT") return `${who}: its socket is in ${s.state} now`;
      return `${who} is still blocked in connect(): its socket is in SYN-SENT, the SYN re-sent ${s.retransmits} time(s) by the kernel's timer`;
    case "peer-unresponsive": {
      const t = info?.() ?? null;
      const timer =
        t === null || t.rtoMs === null
          ? ""
          : ` (TCP_INFO: RTO ${n(t.rtoMs)} ms${t.rttMs !== null ? `, smoothed RTT ${t.rttMs} ms` : ""}${t.cwnd !== null ? `, cwnd ${t.cwnd}` : ""}${t.retransTotal !== null ? `, ${t.retransTotal} retransmission(s) in all` : ""})`;
      return (
        `${who} has ${n(s.txQueue)} bytes in its send queue not yet acknowledged; ` +
        `the kernel's retransmit timer has fired ${s.retransmits} time(s) since the last acknowledgement${timer}`
      );
    }
    default:
      return null;
  }
}
