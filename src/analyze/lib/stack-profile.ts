/**
 * Whose TCP stack is speaking: a small table of stack profiles (the defaults that differ
 * between operating systems and that findings quote), and a guess at each side's stack
 * from what the capture shows of it. Findings name a stack, and quote its numbers, only
 * when the evidence agrees on one; otherwise they say "the sender's TCP" and give the
 * range over the stacks below.
 *
 * Evidence, per side of a connection (set by the tracker on the TcpEndpoint):
 * - the initial TTL: the observed IPv4 TTL rounded up to 64, 128 or 255 (routers only
 *   lower it). Linux, macOS/iOS and FreeBSD start at 64, Windows at 128. The IPv6 hop limit
 *   is left out: hosts take it from the router advertisement (an iPhone on a cellular
 *   network sends 255), so it says nothing about the stack;
 * - the SYN's option layout: each stack writes its options in its own fixed order (as p0f
 *   fingerprints them). The layouts below were checked against the SYNs of the corpus with
 *   tshark (test/corpus: Linux, macOS/iOS and Windows hosts), not only copied from lists.
 *   A SYN with no option or only MSS (crafted, or a SYN-ACK to such a SYN) carries none.
 *
 * Not used yet, left for later: the pcapng section header's shb_os and the interface's
 * if_os (the capture reader does not keep them: they name the capturing host's OS, which
 * is one side at most), and the SYN retry schedule itself (it is what the findings measure).
 */
import { DIR_CLIENT, type Flow, type TcpEndpoint } from "../../decode/flow/record.js";

export type StackId = "linux" | "macos" | "windows" | "freebsd";

export interface StackProfile {
  id: StackId;
  /** As findings name it: "Linux", "macOS/iOS", "Windows", "FreeBSD". */
  name: string;
  initialTtl: number;
  /**
   * How long the active closer keeps TIME_WAIT, in seconds: the default, and the longest
   * a default install of this stack may use (they differ only for Windows).
   */
  timeWaitSec: number;
  timeWaitMaxSec: number;
  /** Why, in a few words: "MSL 15 s" (the source is in the table's comments). */
  timeWaitWhy: string;
  /** The first SYN retransmission timeout of a default install, seconds (Windows: by version). */
  synInitialRtoSec: readonly number[];
}

/**
 * Sources:
 * - Linux: TIME_WAIT is TCP_TIMEWAIT_LEN, 60 s, fixed at compile time (include/net/tcp.h);
 *   the SYN timer starts at TCP_TIMEOUT_INIT, 1 s (RFC 6298 §2), gives up after
 *   net.ipv4.tcp_syn_retries (default 6, about 127 s), and since Linux 6.5 retries at a
 *   fixed interval net.ipv4.tcp_syn_linear_timeouts times (default 4) before doubling
 *   (commit ccce324dabfe, "tcp: make the first N SYN RTO backoffs linear").
 * - macOS/iOS: net.inet.tcp.msl = 15000 ms, so 2·MSL = 30 s (sysctl on any Mac); SYN
 *   retries 1, 1, 1, 1, 1, 2, 4, 8 … s (the same Linux commit cites that schedule as
 *   macOS's and iOS's), up to net.inet.tcp.keepinit (75 s).
 * - Windows: TcpTimedWaitDelay (HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters),
 *   default 120 s since Windows Server 2003, 240 s documented for Windows 2000 (Microsoft
 *   TechNet, "TcpTimedWaitDelay"); SYN retries: TcpMaxConnectRetransmissions /
 *   MaxSynRetransmissions (2 on current Windows) from an initial RTO of 3 s on older
 *   versions, 1 s on newer ones (Get-NetTCPSetting InitialRto), doubling: 3, 6 … s.
 * - FreeBSD: net.inet.tcp.msl = 30000 ms, so 2·MSL = 60 s; net.inet.tcp.rexmit_initial 1 s.
 */
export const STACK_PROFILES: Readonly<Record<StackId, StackProfile>> = {
  linux: {
    id: "linux",
    name: "Linux",
    initialTtl: 64,
    timeWaitSec: 60,
    timeWaitMaxSec: 60,
    timeWaitWhy: "TCP_TIMEWAIT_LEN",
    synInitialRtoSec: [1],
  },
  macos: {
    id: "macos",
    name: "macOS/iOS",
    initialTtl: 64,
    timeWaitSec: 30,
    timeWaitMaxSec: 30,
    timeWaitWhy: "MSL 15 s",
    synInitialRtoSec: [1],
  },
  windows: {
    id: "windows",
    name: "Windows",
    initialTtl: 128,
    timeWaitSec: 120,
    timeWaitMaxSec: 240,
    timeWaitWhy: "TcpTimedWaitDelay",
    synInitialRtoSec: [3, 1],
  },
  freebsd: {
    id: "freebsd",
    name: "FreeBSD",
    initialTtl: 64,
    timeWaitSec: 60,
    timeWaitMaxSec: 60,
    timeWaitWhy: "MSL 30 s",
    synInitialRtoSec: [1],
  },
};

/** TIME_WAIT over all stacks above: what can be said when the stack is unknown. */
export const SHORTEST_TIME_WAIT_SEC = 30;
export const LONGEST_TIME_WAIT_SEC = 240;
export const TIME_WAIT_RANGE_TEXT = "60 s on Linux, 30 s on macOS/iOS, 120–240 s on Windows";

/**
 * SYN option layouts and the stacks that write them. Linux (tcp_options_write) writes MSS,
 * then SACK_PERM+TS together, or NOP,NOP,TS, or NOP,NOP,SACK_PERM, then NOP,WS, leaving out
 * what is off (or, in a SYN-ACK, what the peer did not offer). Windows since Vista writes
 * MSS,NOP,WS,NOP,NOP,SACK_PERM (timestamps between WS and SACK_PERM when enabled); Windows
 * XP/2003 MSS,NOP,NOP,SACK_PERM, which is also Linux's with timestamps and scaling off: the
 * TTL decides. macOS/iOS end with SACK_PERM and EOL; FreeBSD puts SACK_PERM before TS.
 */
const LAYOUTS: ReadonlyMap<string, readonly StackId[]> = new Map<string, StackId[]>([
  ["MSS,SACK_PERM,TS,NOP,WS", ["linux"]],
  ["MSS,SACK_PERM,TS", ["linux"]],
  ["MSS,NOP,NOP,TS,NOP,WS", ["linux"]],
  ["MSS,NOP,NOP,SACK_PERM,NOP,WS", ["linux"]],
  ["MSS,NOP,NOP,SACK_PERM", ["linux", "windows"]],
  ["MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL", ["macos"]],
  ["MSS,NOP,WS,NOP,NOP,SACK_PERM", ["windows"]],
  ["MSS,NOP,WS,NOP,NOP,TS,NOP,NOP,SACK_PERM", ["windows"]],
  ["MSS,NOP,WS,SACK_PERM,TS", ["freebsd"]],
]);

const ALL: readonly StackId[] = ["linux", "macos", "windows", "freebsd"];

/** The TTL a host started from: the smallest common initial TTL at or above the one seen. */
export function initialTtl(observed: number): number {
  return observed <= 64 ? 64 : observed <= 128 ? 128 : 255;
}

/** A side's stack, or null when the evidence is missing or points at more (or none) of the profiles. */
export function guessStack(ep: TcpEndpoint, ipVersion: number): StackProfile | null {
  let candidates = ALL;
  if (ipVersion === 4 && ep.ttl > 0) {
    const ttl = initialTtl(ep.ttl);
    candidates = candidates.filter((id) => STACK_PROFILES[id].initialTtl === ttl);
  }
  const layout = ep.synOptionLayout;
  // No options, or MSS alone, is what every stack sends to a peer that offered nothing.
  if (layout !== "" && layout !== "MSS") {
    const fits = LAYOUTS.get(layout) ?? [];
    candidates = candidates.filter((id) => fits.includes(id));
  } else if (candidates === ALL) {
    return null;
  }
  return candidates.length === 1 ? STACK_PROFILES[candidates[0]!] : null;
}

/** The stack of one side of a flow (DIR_CLIENT or DIR_SERVER). */
export function stackOf(flow: Flow, dir: number): StackProfile | null {
  return guessStack(flow.ep[dir === DIR_CLIENT ? 0 : 1], flow.ipVersion);
}

/** How long a side keeps TIME_WAIT, as findings assume it: the user's `--msl`, the side's stack, or unknown. */
export interface TimeWaitLength {
  /** Seconds it surely lasts, and at most; equal when one number is known. */
  sec: number;
  maxSec: number;
  /** The claim, a clause: "a macOS/iOS host keeps it 30 s (MSL 15 s)". */
  text: string;
  /** Where the length came from: the user's --msl, the stack's profile, or neither. */
  known: boolean;
}

export function timeWaitLength(stack: StackProfile | null, mslSec: number | null): TimeWaitLength {
  if (mslSec !== null) {
    const s = 2 * mslSec;
    return { sec: s, maxSec: s, text: `it lasts 2·MSL = ${s} s (--msl ${mslSec})`, known: true };
  }
  if (stack !== null) {
    const { timeWaitSec: sec, timeWaitMaxSec: maxSec } = stack;
    const length = sec === maxSec ? `${sec} s` : `${sec}–${maxSec} s`;
    return { sec, maxSec, text: `a ${stack.name} host keeps it ${length} (${stack.timeWaitWhy})`, known: true };
  }
  return {
    sec: SHORTEST_TIME_WAIT_SEC,
    maxSec: LONGEST_TIME_WAIT_SEC,
    text: `the closing side's TCP keeps it for 2·MSL (${TIME_WAIT_RANGE_TEXT}; the capture does not tell which stack this is)`,
    known: false,
  };
}
