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
 * - the capture file's word on the host it was recorded on (pcapng if_os, shb_os), for the
 *   side that is that host (recording-host.ts says when; side-stack.ts weighs it): it narrows what the packets
 *   allow (a TTL of 64 from Linux, macOS or FreeBSD) to the stack the file names. The
 *   packets win: a file names the OS of whatever wrote it (a Windows laptop recording a
 *   Linux server's mirror port names Windows, and the server's TTL of 64 says otherwise),
 *   so an OS the side's own TTL and SYN rule out is not taken, and the side is left unnamed;
 *   except on loopback, where both sides are surely the recording host and a TTL is only a
 *   setting: there the file names the stack (side-stack.ts).
 *
 * Not used yet, left for later: the SYN retry schedule itself (it is what the findings measure).
 */
import type { TcpEndpoint } from "../../decode/flow/record.js";

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

const ALL: readonly StackProfile[] = Object.values(STACK_PROFILES);

/** The longest TIME_WAIT any profile keeps: how long a closed connection can still stand in a new one's way. */
export const LONGEST_TIME_WAIT_SEC = Math.max(...ALL.map((p) => p.timeWaitMaxSec));

/** The TTL a host started from: the smallest common initial TTL at or above the one seen. */
export function initialTtl(observed: number): number {
  return observed <= 64 ? 64 : observed <= 128 ? 128 : 255;
}

/** The profiles a side may be, whether its evidence agrees, and if not, why not (for the words). */
export interface StackEvidence {
  profiles: readonly StackProfile[];
  agree: boolean;
  why: string;
}

/**
 * The profiles a side's evidence allows, and whether its pieces agree. The TTL is the
 * firmer piece (routers only lower it): a layout no profile with that initial TTL writes
 * (Windows' layout from TTL 64, an unlisted one) leaves the profiles of that TTL, none of
 * them named; a TTL no profile starts from (255) leaves all of them.
 */
export function stackCandidates(ep: TcpEndpoint, ipVersion: number): StackEvidence {
  let byTtl = ALL;
  if (ipVersion === 4 && ep.ttl > 0) {
    const ttl = initialTtl(ep.ttl);
    byTtl = ALL.filter((p) => p.initialTtl === ttl);
    if (byTtl.length === 0) return { profiles: ALL, agree: false, why: `no stack known here starts from TTL ${ttl}` };
  }
  const layout = ep.synOptionLayout;
  // No options, or MSS alone, is what every stack sends to a peer that offered nothing.
  if (layout === "" || layout === "MSS") return { profiles: byTtl, agree: true, why: "" };
  const fits = LAYOUTS.get(layout) ?? [];
  const both = byTtl.filter((p) => fits.includes(p.id));
  return both.length === 0
    ? { profiles: byTtl, agree: false, why: "its TTL and its SYN options point at different stacks" }
    : { profiles: both, agree: true, why: "" };
}

/** A side's stack, or null when the evidence is missing, disagrees, or allows more than one profile. */
export function guessStack(ep: TcpEndpoint, ipVersion: number): StackProfile | null {
  const { profiles, agree } = stackCandidates(ep, ipVersion);
  return agree && profiles.length === 1 ? profiles[0]! : null;
}

/**
 * The side's packets name a stack, and it is not Linux: a Linux-only mechanism (a sysctl,
 * TCP_DEFER_ACCEPT) is ruled out only by proof of another stack, never by its absence.
 */
export function packetsNameOtherThanLinux(ep: TcpEndpoint, ipVersion: number): boolean {
  const stack = guessStack(ep, ipVersion);
  return stack !== null && stack.id !== "linux";
}

/**
 * Why a client re-sent a SYN, with its ISN, after a RST refused it: Windows retries a
 * refused connect() (twice, 0.5 s after each RST); Linux, macOS and FreeBSD fail it at the
 * first valid RST, so from them the re-send says the RST never reached the socket (lost
 * after the capture point, or dropped there) and the SYN timer fired (audit5: the Linux
 * client of connection-refused/late-listener, whose RST an nftables rule dropped).
 */
export function refusedSynRetryCause(stack: StackProfile | null): string {
  if (stack?.id === "windows")
    return "its stack retries a refused connect() before failing it (Windows does, twice, 0.5 s apart)";
  if (stack !== null)
    return (
      `${stack.name} does not retry a refused connect(): the RST did not reach the client's socket (lost after the ` +
      "capture point, or dropped there) and its SYN timer re-sent the SYN"
    );
  return (
    "either its stack retries a refused connect() (Windows does, twice, 0.5 s apart) or the RST never reached its " +
    "socket and its SYN timer re-sent the SYN (Linux and macOS fail connect() at the first RST); the capture does not " +
    "tell which stack the client runs"
  );
}

/**
 * What connect() does with an error for its SYN that it did not re-send after: Linux
 * aborts the attempt (tcp_v4_err in SYN-SENT); a BSD-derived stack (macOS, FreeBSD) keeps
 * a host or network unreachable as a soft error and goes on re-sending its SYN (tcp_notify
 * gives up only after several retries and a second error), so a SYN not re-sent there was
 * abandoned by its program (audit4: a macOS client in suricata ipv6-kill-router6, whose
 * other connection kept re-sending through the same error).
 */
/** A capture that goes on this long after a BSD client's SYN would show its timer's re-send (1 s, then 1 s …). */
const BSD_SYN_RESEND_SEEN_SEC = 3;

export function connectOutcome(errno: string, stack: StackProfile | null, watchedAfterSec = 0): string {
  if (stack?.id === "linux")
    return `connect() fails with ${errno} (Linux aborts a connection attempt in SYN-SENT on this error)`;
  if (stack?.id === "macos" || stack?.id === "freebsd")
    return (
      `the client is a ${stack.name} host, whose BSD-derived TCP keeps a connection attempt through this error and ` +
      `goes on re-sending its SYN, failing connect() with ${errno} only after several retries or when its timer runs ` +
      // Its SYN timer re-sends within a second or two: a capture that went on longer would show it.
      (watchedAfterSec >= BSD_SYN_RESEND_SEEN_SEC
        ? `out; this SYN was not re-sent though the capture went on ${Math.floor(watchedAfterSec)} s, so the program ` +
          "gave up on the attempt and closed the socket (to connect again, or to try another address at once, as " +
          "Happy Eyeballs does)"
        : "out; this SYN was not re-sent in the capture, so the program abandoned the attempt (another address tried " +
          "at once, as Happy Eyeballs does) or the capture ended first")
    );
  return (
    `if the client runs Linux, connect() fails with ${errno} at once (Linux aborts a connection attempt in SYN-SENT ` +
    "on this error); a BSD-derived stack (macOS) would go on re-sending its SYN, and this one was not re-sent in the " +
    "capture; the capture does not tell which stack the client runs"
  );
}
