/**
 * The flow table: finds the flow of each TCP or UDP packet (creating it, or a new
 * incarnation of a reused 4-tuple), joins directions tagged with different VLANs, and
 * bounds what it holds (lifecycle.ts retires, evicts and expires). The TCP state of each
 * flow is the tracker's (tcp-tracker.ts). Stateful.
 */
import { DecodedPacket, L4_TCP, L4_UDP, TH_ACK, TH_RST, TH_SYN } from "../wire/packet.js";
import { flowHash, isFromClient, sameEndpoints } from "./key.js";
import {
  type EndedFlowStore,
  type ExpireOptions,
  type FlowEndReason,
  FlowLifecycle,
  type FlowListener,
  type FlowStore,
} from "./lifecycle.js";
import { DIR_CLIENT, DIR_SERVER, Flow } from "./record.js";
import { computeSegmentFacts, FactsPool } from "./segment-facts.js";
import { continuesAcrossGap, isNewIncarnation, type TcpSegment, TcpTracker } from "./tcp-tracker.js";

/** Flow-table bounds (attacker-controlled input: a flood of SYNs is a flood of flows). */
export interface FlowLimits {
  maxFlows: number;
  /**
   * A closed TCP flow (both FINs acknowledged, or a reset) quiet this long is retired:
   * its owner is told (FlowListener.flowRetired) and may free its state, and later
   * packets on its 4-tuple are only tracked and counted. Infinity: never (flows then end with the capture).
   */
  retireAfterSec?: number;
}
/**
 * Flows tracked at once by default: what keeps a flood under 1 GB. An open TCP flow costs
 * about 9 KB of memory at its peak today (its state, its analyzers', its share of the
 * report), so peak RSS of `analyze -F json` (bench/flood.mjs, bench/flood-kinds.mjs) was
 * at 200 000: 1 213 MB for 1 M unanswered SYNs, 1 516 MB for 200 k connections open at
 * once; at 100 000: 651 and 914 MB (too near the bound); at 75 000: 497 and 712 MB. Past
 * it, idle flows make room and the rest are counted in a warning; --max-flows raises it.
 */
export const DEFAULT_MAX_FLOWS = 75_000;

/**
 * A 4-tuple quiet this long, whose next packet does not continue its numbers, holds another
 * flow (`lookup`): the capture was spliced from excerpts, or the port was reused long
 * after. No TCP timer leaves a live connection with something outstanding this quiet: the
 * retransmission backoff caps at 120 s (Linux TCP_RTO_MAX, so do the persist probes), the
 * retransmissions give up after about 924.6 s (tcp_retries2 = 15; Windows sooner, after 5),
 * a SYN's after 127 s (tcp_syn_retries = 6), and TIME_WAIT lasts at most 240 s (2·MSL, MSL
 * 120 s). Only an idle connection stays quiet longer (keep-alive probes start after 2 h
 * on Linux and Windows, or never): it sends nothing that moves its numbers, so its next
 * segment continues them (`continuesAcrossGap`) and it stays one flow however long the gap.
 * UDP has no numbers: any datagram after such a quiet starts a new flow (Zeek ends a UDP
 * "connection" after 1 min, but a socket pair's own rhythm can be slower: NTP polls up to
 * every 1024 s by default, and one conversation should stay one flow).
 */
export const SPLIT_AFTER_QUIET_SEC = 1200;

const WELL_KNOWN_PORT_LIMIT = 1024;
/**
 * Joining a reply direction across VLANs tries every VLAN seen: a trunk or SPAN port has a
 * handful. Past this many (a QinQ flood) the join is not tried, keeping lookups O(1).
 */
const MAX_VLANS_JOINED = 16;

export class FlowTable<A = unknown> implements FlowStore<A> {
  /**
   * Active flows by endpoint hash; flows whose hashes collide chain through
   * `nextInBucket`. Numbers, not strings, as keys: building a key string per packet cost
   * a quarter of the whole analysis in profiles.
   */
  private readonly buckets = new Map<number, Flow<A>>();
  private active = 0;
  /**
   * Every flow in order of first packet, but those handed to the EndedFlowStore (reading a
   * file) or dropped (a live capture, `expire`) once they ended; ids keep counting.
   */
  readonly all: Flow<A>[] = [];
  /** The per-segment facts memory of the TCP flows in the table (segment-facts.ts). */
  readonly facts = new FactsPool();
  /** Flows created so far: the last id given. */
  private created = 0;
  private readonly tracker = new TcpTracker();
  private readonly lifecycle: FlowLifecycle<A>;
  /** Packets of connections that found the table full with no flow idle enough to evict: not analysed. */
  untrackedPackets = 0;
  /** The flow of the last lookup while it is active (a one-entry cache). */
  private lastFlow: Flow<A> | null = null;
  /** Direction of the packet last looked up: DIR_CLIENT or DIR_SERVER. */
  dir = 0;
  private readonly scratch = new DecodedPacket();
  /** Flows whose reply direction carries another VLAN, by the hash under that VLAN. */
  private readonly replyVlans = new Map<number, Flow<A>>();
  private readonly vlansSeen = new Set<number>();
  /** Connections whose two directions carried different VLAN tags. */
  vlanJoined = 0;

  constructor(
    private readonly listener: FlowListener<A>,
    private readonly limits: FlowLimits = { maxFlows: DEFAULT_MAX_FLOWS },
    /** Where ended flows go (reading a file): `all` then holds only those not ended yet. */
    endedStore: EndedFlowStore<A> | null = null,
  ) {
    this.lifecycle = new FlowLifecycle(this, listener, limits.maxFlows, limits.retireAfterSec ?? Infinity, endedStore);
  }

  /**
   * Analysis time where the capture's latest clock jump landed (-Infinity: none): a re-send
   * whose earlier copy lies before it repeats bytes of another recording (segment-facts.ts).
   */
  clockJumpAt = -Infinity;

  /**
   * After a record of the capture (any, even one another worker analyses): the analysis
   * clock's confirmed time, and where its latest jump landed.
   */
  advanceClock(confirmed: number, jumpAt = -Infinity): void {
    this.lifecycle.advanceClock(confirmed);
    this.clockJumpAt = jumpAt;
  }

  /** Flows evicted to make room before their analysis was over. */
  get evicted(): number {
    return this.lifecycle.evicted;
  }

  get activeCount(): number {
    return this.active;
  }

  /**
   * Finds (or creates) the flow of a TCP or UDP packet and returns it with the packet's
   * direction in `this.dir`. Returns null for packets without ports.
   */
  lookup(p: DecodedPacket, frame: number, time: number): Flow<A> | null {
    if (p.srcPort < 0 || (p.l4 !== L4_TCP && p.l4 !== L4_UDP)) return null;
    // Packets come in runs of one flow: try the last flow before hashing.
    const last = this.lastFlow;
    let hash: number, flow: Flow<A> | null;
    if (last !== null && sameEndpoints(last, p)) {
      hash = last.hash;
      flow = last;
    } else {
      hash = flowHash(p);
      flow = this.findActive(p, hash);
    }
    this.tracker.segment.newIncarnation = false;
    if (flow !== null) {
      this.lifecycle.retireIfDue(flow);
      // A quiet no TCP timer explains, or a clock jump (a splice) since the flow's last
      // packet: measured across it, every duration would be the splice's. The old flow's
      // analysis ends at its own last packet ("gap").
      const quiet = time - flow.lastTime > SPLIT_AFTER_QUIET_SEC;
      const afterGap = quiet || flow.lastTime < this.clockJumpAt;
      if (p.l4 === L4_UDP) {
        // No numbers to tell one conversation from the next: the quiet alone decides. Not a
        // clock jump: the analysis clock already measures nothing across it, and a record
        // without a timestamp (a pcapng Simple Packet Block, time 0) makes jumps of its own.
        if (quiet) flow = this.replace(flow, hash, p, frame, time, "gap", false);
      } else if ((p.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN && isNewIncarnation(flow, p)) {
        flow = this.replace(flow, hash, p, frame, time, afterGap ? "gap" : "replaced", true);
        this.tracker.segment.newIncarnation = true;
      } else if (afterGap && !continuesAcrossGap(flow, p)) {
        // Another connection on the 4-tuple, or the same one after the capture missed all it
        // sent: either way a new flow, begun mid-stream, not a proven reuse (no `previous`).
        flow = this.replace(flow, hash, p, frame, time, "gap", false);
      }
    }
    if (
      flow === null &&
      this.vlansSeen.size <= MAX_VLANS_JOINED &&
      (this.vlansSeen.size > 1 || (this.vlansSeen.size === 1 && !this.vlansSeen.has(p.vlan)))
    )
      flow = this.joinAcrossVlans(p);
    if (flow === null && this.lifecycle.remembersAny) flow = this.reincarnate(hash, p, frame, time);
    if (flow === null) flow = this.create(hash, p, frame, time);
    if (flow === null) {
      this.untrackedPackets++;
      return null;
    }
    this.dir = isFromClient(flow, p) ? DIR_CLIENT : DIR_SERVER;
    flow.lastFrame = frame;
    // Captures from several interfaces can be out of time order: keep the latest time.
    if (time > flow.lastTime) flow.lastTime = time;
    const sender = flow.ep[this.dir]!;
    sender.packets++;
    sender.wireBytes += p.ipTotalLen;
    this.lastFlow = flow;
    return flow;
  }

  /** Updates TCP endpoint state for a segment of `flow` and returns its facts (TcpTracker, then segment-facts.ts). */
  trackTcp(flow: Flow<A>, dir: number, p: DecodedPacket, frame: number, time: number): TcpSegment {
    const seg = this.tracker.track(flow, dir, p, frame, time);
    computeSegmentFacts(flow, dir, p, seg, this.facts, this.clockJumpAt);
    if (flow.endedFrame === frame) this.lifecycle.flowClosed(flow); // this segment closed it
    return seg;
  }

  /**
   * The flow of the packet an ICMP error quotes, created from the quote when the capture
   * holds none of its packets.
   */
  lookupQuoted(icmp: DecodedPacket, frame: number, time: number): Flow<A> | null {
    const q = icmp.quoted;
    const s = this.fill(
      icmp.vlan,
      q.proto,
      q.ipVersion,
      q.src0,
      q.src1,
      q.src2,
      q.src3,
      q.srcPort,
      q.dst0,
      q.dst1,
      q.dst2,
      q.dst3,
      q.dstPort,
    );
    const hash = flowHash(s);
    const found = this.findActive(s, hash);
    if (found !== null) {
      this.lifecycle.retireIfDue(found);
      return found;
    }
    const flow = this.create(hash, s, frame, time);
    if (flow === null) this.untrackedPackets++;
    return flow;
  }

  /** The active flow with these endpoints (either order), without creating one. */
  find(
    vlan: number,
    proto: number,
    version: number,
    src: readonly number[],
    sport: number,
    dst: readonly number[],
    dport: number,
  ): Flow<A> | null {
    const s = this.fill(
      vlan,
      proto,
      version,
      src[0]!,
      src[1]!,
      src[2]!,
      src[3]!,
      sport,
      dst[0]!,
      dst[1]!,
      dst[2]!,
      dst[3]!,
      dport,
    );
    const flow = this.findActive(s, flowHash(s));
    if (flow !== null) this.lifecycle.retireIfDue(flow);
    return flow;
  }

  /** Ends every flow still active (capture over); with an EndedFlowStore, `all` is then empty. */
  finish(): void {
    this.lifecycle.finish();
    for (const flow of this.activeFlows()) this.lifecycle.end(flow, "capture-end");
    this.lifecycle.allEnded();
    this.lastFlow = null;
    this.buckets.clear();
    this.replyVlans.clear();
    this.active = 0;
  }

  /** Live capture: ends the flows that are finished (FlowLifecycle.expire). Returns how many. */
  expire(now: number, o: ExpireOptions): number {
    return this.lifecycle.expire(now, o);
  }

  /** Ends `old` (`why`) and starts the 4-tuple's next flow with this packet, linked to `old` when `reuse` is proven. */
  private replace(
    old: Flow<A>,
    hash: number,
    p: DecodedPacket,
    frame: number,
    time: number,
    why: FlowEndReason,
    reuse: boolean,
  ): Flow<A> {
    this.remove(old);
    this.lifecycle.end(old, why);
    // The old flow's place is free: creating the new one cannot fail.
    return this.create(hash, p, frame, time, reuse ? old : null)!;
  }

  /** A pure SYN with a new ISN on the 4-tuple of a flow `expire` ended recently: its new incarnation. */
  private reincarnate(hash: number, p: DecodedPacket, frame: number, time: number): Flow<A> | null {
    const old = this.lifecycle.remembered(hash);
    if (old === undefined || p.l4 !== L4_TCP || (p.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) !== TH_SYN) return null;
    if (!sameEndpoints(old, p) || !isNewIncarnation(old, p)) return null;
    this.lifecycle.forget(hash);
    const flow = this.create(hash, p, frame, time, old);
    this.tracker.segment.newIncarnation = true;
    return flow;
  }

  /** A scratch packet with just the fields flow lookup reads (roles guessed: no SYN). */
  private fill(
    vlan: number,
    proto: number,
    version: number,
    s0: number,
    s1: number,
    s2: number,
    s3: number,
    sport: number,
    d0: number,
    d1: number,
    d2: number,
    d3: number,
    dport: number,
  ): DecodedPacket {
    const s = this.scratch;
    s.reset(s.bytes, 0);
    s.vlan = vlan;
    s.l4 = proto;
    s.ipProto = proto;
    s.ipVersion = version;
    s.src0 = s0;
    s.src1 = s1;
    s.src2 = s2;
    s.src3 = s3;
    s.srcPort = sport;
    s.dst0 = d0;
    s.dst1 = d1;
    s.dst2 = d2;
    s.dst3 = d3;
    s.dstPort = dport;
    return s;
  }

  private findActive(p: DecodedPacket, hash: number): Flow<A> | null {
    for (let f = this.buckets.get(hash) ?? null; f !== null; f = f.nextInBucket) {
      if (sameEndpoints(f, p)) return f;
    }
    if (this.replyVlans.size > 0) {
      const f = this.replyVlans.get(hash);
      if (f !== undefined && f.replyVlan === p.vlan && sameEndpoints(f, p, f.replyVlan)) return f;
    }
    return null;
  }

  /**
   * Captures from a trunk or SPAN port can tag only one direction (or tag the two with
   * different VLANs), which would split one connection into two one-way flows. The first
   * packet of the reply direction joins a flow on the same endpoints whose replies have
   * not been seen yet, when it comes from that flow's server; the reply VLAN is then
   * remembered for the flow. Same addresses on different VLANs in both directions
   * (Zeek's vlan-collisions) stay apart: each already has its replies.
   */
  private joinAcrossVlans(p: DecodedPacket): Flow<A> | null {
    const v = p.vlan;
    const candidates = this.vlansSeen;
    for (const other of candidates) {
      if (other === v) continue;
      p.vlan = other;
      const f = this.findActive(p, flowHash(p));
      p.vlan = v;
      if (f === null || f.replyVlan >= 0 || f.ep[DIR_SERVER].packets !== 0 || isFromClient(f, p)) continue;
      f.replyVlan = v;
      this.replyVlans.set(flowHash(p), f);
      this.vlanJoined++;
      return f;
    }
    return null;
  }

  activeFlows(): Flow<A>[] {
    const out: Flow<A>[] = [];
    for (const head of this.buckets.values())
      for (let f: Flow<A> | null = head; f !== null; f = f.nextInBucket) out.push(f);
    return out;
  }

  remove(flow: Flow<A>): void {
    if (this.lastFlow === flow) this.lastFlow = null;
    if (flow.replyVlan >= 0) {
      for (const [h, f] of this.replyVlans) if (f === flow) this.replyVlans.delete(h);
    }
    const head = this.buckets.get(flow.hash);
    if (head === undefined) return;
    if (head === flow) {
      if (flow.nextInBucket === null) this.buckets.delete(flow.hash);
      else this.buckets.set(flow.hash, flow.nextInBucket);
    } else {
      let prev = head;
      while (prev.nextInBucket !== null && prev.nextInBucket !== flow) prev = prev.nextInBucket;
      if (prev.nextInBucket !== flow) return;
      prev.nextInBucket = flow.nextInBucket;
    }
    flow.nextInBucket = null;
    this.active--;
  }

  /** Creates a flow; null when the table is full and no flow is idle enough to make room. */
  private create(
    hash: number,
    p: DecodedPacket,
    frame: number,
    time: number,
    previous: Flow<A> | null = null,
  ): Flow<A> | null {
    if (this.active >= this.limits.maxFlows && !this.lifecycle.makeRoom(time)) return null;
    const src = [p.src0, p.src1, p.src2, p.src3],
      dst = [p.dst0, p.dst1, p.dst2, p.dst3];
    let srcIsClient: boolean;
    let guessed = false;
    if (p.l4 === L4_TCP && p.tcpFlags & TH_SYN) {
      srcIsClient = (p.tcpFlags & TH_ACK) === 0;
    } else {
      guessed = true;
      srcIsClient = guessSrcIsClient(p);
    }
    const id = ++this.created;
    const flow = srcIsClient
      ? new Flow<A>(id, hash, p.l4, p.ipVersion, p.vlan, src, p.srcPort, dst, p.dstPort)
      : new Flow<A>(id, hash, p.l4, p.ipVersion, p.vlan, dst, p.dstPort, src, p.srcPort);
    flow.rolesGuessed = guessed;
    flow.midstream = p.l4 === L4_TCP && (p.tcpFlags & TH_SYN) === 0;
    flow.firstFrame = frame;
    flow.firstTime = time;
    // Its first frame is its last until another comes (a flow made from an ICMP error's
    // quote may see none): never a last frame 0 or a negative duration.
    flow.lastFrame = frame;
    flow.lastTime = time;
    flow.previous = previous;
    this.vlansSeen.add(p.vlan);
    this.all.push(flow);
    flow.nextInBucket = this.buckets.get(hash) ?? null;
    this.buckets.set(hash, flow);
    this.active++;
    this.listener.flowStarted(flow);
    return flow;
  }
}

/**
 * Without a SYN, the server is the side on a well-known port, else the lower port
 * (ephemeral ports are high on every common OS). For UDP and ties: the sender of the
 * first packet is the client, as Zeek assumes.
 */
function guessSrcIsClient(p: DecodedPacket): boolean {
  const s = p.srcPort,
    d = p.dstPort;
  if (s < WELL_KNOWN_PORT_LIMIT && d >= WELL_KNOWN_PORT_LIMIT) return false;
  if (d < WELL_KNOWN_PORT_LIMIT && s >= WELL_KNOWN_PORT_LIMIT) return true;
  if (p.l4 === L4_UDP) return true;
  return s >= d;
}
