/**
 * Traceroutes, as the ICMP answers show them. A traceroute sends probes (UDP to ports
 * 33434 and up, or TCP SYNs, one flow per probe) to one target with a hop limit rising
 * from 1; the router where the hop limit runs out answers Time Exceeded, and the target
 * itself, once reached, answers port unreachable (or the SYN-ACK/RST of TCP). So Time
 * Exceeded for probes from one host to one target, sent by two or more different routers,
 * is a path being traced: the program asked for these answers and reads them (from a raw
 * ICMP socket or its socket's error queue, IP_RECVERR). A single router answering every
 * packet (a hop limit set too low, a routing loop) is not: that stays an ICMP error.
 *
 * icmp-unreachable (to leave these answers out) and traceroute (to report the path once)
 * each keep one of these per capture, fed the same ICMP errors.
 */
import type { CaptureScope } from "../analyzer.js";
import { L4_ICMPV6, type DecodedPacket } from "../../decode/wire/packet.js";
import { endpointToString } from "../../decode/wire/address.js";

/** Paths followed per capture; past it, further source/target pairs are not tracked (their answers stay ICMP errors). */
const MAX_PATHS = 1000;
/** Routers kept per path: a hop limit is 8 bits, so a real path has fewer. */
const MAX_HOPS = 255;
/** Answer frames kept per path, as evidence. */
const MAX_PATH_FRAMES = 64;
/** Routers named in a path's summary; the rest are counted. */
export const MAX_NAMED_HOPS = 8;

/** Time Exceeded in transit: the hop limit ran out at a router (not reassembly time exceeded). */
export function isHopLimitExceeded(p: DecodedPacket): boolean {
  return p.icmpCode === 0 && (p.l4 === L4_ICMPV6 ? p.icmpType === 3 : p.icmpType === 11);
}

/** Port unreachable sent by the probe's own destination: the target was reached. */
function isTargetRefusal(p: DecodedPacket): boolean {
  const q = p.quoted;
  const portUnreachable =
    p.l4 === L4_ICMPV6 ? p.icmpType === 1 && p.icmpCode === 4 : p.icmpType === 3 && p.icmpCode === 3;
  return portUnreachable && p.src0 === q.dst0 && p.src1 === q.dst1 && p.src2 === q.dst2 && p.src3 === q.dst3;
}

/** Probes from one host to one target and the answers they drew. */
export class TracePath {
  /** Routers that answered Time Exceeded, in order of first answer (at most MAX_HOPS). */
  readonly hops = new Set<string>();
  timeExceeded = 0;
  /** Port unreachable from the target itself. */
  targetRefusals = 0;
  minPort = Infinity;
  maxPort = -1;
  /** The probes' transport protocol number (the last one seen). */
  proto = 0;
  firstTime = -1;
  /** The answers' frames (up to MAX_PATH_FRAMES). */
  readonly frames: number[] = [];
  constructor(
    readonly source: string,
    readonly target: string,
  ) {}

  /** Two routers answered (the hop limit rose past the first), or a router and then the target. */
  get isTraceroute(): boolean {
    return this.hops.size >= 2 || (this.hops.size >= 1 && this.targetRefusals > 0);
  }
}

export class TracePaths {
  readonly paths = new Map<string, TracePath>();

  /**
   * Notes the ICMP error `p` (one quoting a TCP/UDP packet) if it is an answer a
   * traceroute draws; returns its path, or null for an error of another kind.
   */
  note(p: DecodedPacket, frame: number, time: number): TracePath | null {
    const hop = isHopLimitExceeded(p);
    if (!hop && !isTargetRefusal(p)) return null;
    const q = p.quoted,
      v = q.ipVersion;
    const key = `${p.vlan}|${v}|${q.src0}|${q.src1}|${q.src2}|${q.src3}|${q.dst0}|${q.dst1}|${q.dst2}|${q.dst3}`;
    let path = this.paths.get(key);
    if (path === undefined) {
      // A target refusal alone starts nothing: it is a traceroute's end only after hops.
      if (!hop || this.paths.size >= MAX_PATHS) return null;
      path = new TracePath(
        endpointToString(v, q.src0, q.src1, q.src2, q.src3, -1),
        endpointToString(v, q.dst0, q.dst1, q.dst2, q.dst3, -1),
      );
      this.paths.set(key, path);
    }
    if (hop) {
      path.timeExceeded++;
      const router = endpointToString(p.ipVersion, p.src0, p.src1, p.src2, p.src3, -1);
      if (path.hops.size < MAX_HOPS) path.hops.add(router);
    } else {
      path.targetRefusals++;
    }
    if (q.dstPort < path.minPort) path.minPort = q.dstPort;
    if (q.dstPort > path.maxPort) path.maxPort = q.dstPort;
    path.proto = q.proto;
    if (path.firstTime < 0) path.firstTime = time;
    if (path.frames.length < MAX_PATH_FRAMES) path.frames.push(frame);
    return path;
  }
}

/**
 * The capture scope of an analyzer whose state is the capture's trace paths. Time Exceeded
 * keeps a capture on one thread (run/parallel/router.ts), so shards never split a path:
 * a merge only gathers them.
 */
export const TRACE_PATHS_SCOPE: CaptureScope<TracePaths> = {
  create: () => new TracePaths(),
  merge(into, from) {
    for (const [key, path] of from.paths) if (!into.paths.has(key)) into.paths.set(key, path);
  },
  resolve() {},
};
