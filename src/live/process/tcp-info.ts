/**
 * TCP_INFO of one socket as `ss -ti` prints it (netlink sock_diag: what /proc/net/tcp does
 * not carry): smoothed RTT, retransmission timeout, congestion window, retransmissions.
 * Asked only when a condition that needs it is reported (rarely), by running `ss` in the
 * socket's network namespace (`nsenter -t PID -n` for another one). Null when `ss` is
 * missing, fails, or no longer finds the socket.
 */
import { spawnSync } from "node:child_process";
import { hostOf, portOf } from "../../decode/wire/address.js";

export interface TcpInfo {
  /** Smoothed round-trip time, ms. */
  rttMs: number | null;
  /** Retransmission timeout, ms. */
  rtoMs: number | null;
  /** Congestion window, segments. */
  cwnd: number | null;
  /** "retrans:A/B": A unacknowledged retransmitted now, B in all. */
  retransNow: number | null;
  retransTotal: number | null;
}

/** Parses the detail line of `ss -tinH` ("rto:204 rtt:0.035/0.019 … cwnd:11 … retrans:1/3"). */
export function parseSsInfo(text: string): TcpInfo {
  const num = (re: RegExp): number | null => {
    const m = re.exec(text);
    return m === null ? null : Number(m[1]);
  };
  const retrans = /\bretrans:(\d+)\/(\d+)/.exec(text);
  return {
    rttMs: num(/\brtt:([\d.]+)\//),
    rtoMs: num(/\brto:([\d.]+)/),
    cwnd: num(/\bcwnd:(\d+)/),
    retransNow: retrans === null ? null : Number(retrans[1]),
    retransTotal: retrans === null ? null : Number(retrans[2]),
  };
}

/** `ss` endpoint syntax: IPv6 in brackets, as flows name them already. */
const ssEndpoint = (e: string): string => (e.startsWith("[") ? `[${hostOf(e)}]:${portOf(e)}` : e);

/** The socket `local` → `remote` (TCP) in the namespace of `netnsPid` (null: sockscope's own). */
export function tcpInfo(local: string, remote: string, netnsPid: number | null): TcpInfo | null {
  const ss = ["ss", "-tinH", "src", ssEndpoint(local), "dst", ssEndpoint(remote)];
  const cmd = netnsPid === null ? ss : ["nsenter", "-t", String(netnsPid), "-n", ...ss];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", timeout: 2000 });
  if (r.status !== 0 || r.stdout.trim() === "") return null;
  return parseSsInfo(r.stdout);
}
