/**
 * The flow table: bidirectional flows keyed by VLAN, protocol and both endpoints, with
 * per-direction TCP endpoint state (after Zeek's TCP_Endpoint). Stateful.
 *
 * Direction 0 is client → server, 1 is server → client. The client is the side that sent
 * the first SYN without ACK; when the handshake was not captured, a heuristic decides
 * (the side on a well-known or lower port is the server) and the flow says so.
 *
 * Sequence numbers are kept raw (uint32) and compared with wrap-aware deltas
 * (`seqDiff`, as gopacket's Sequence.Difference); relative numbers are only computed
 * for output. A pure SYN with a new ISN on a 4-tuple whose connection has ended starts a
 * new flow (an incarnation) linked to the old one through `previous`.
 */
import { DecodedPacket, L4_TCP, L4_UDP, TH_ACK, TH_FIN, TH_RST, TH_SYN } from "./packet.js";
import { endpointToString } from "./address.js";

/** Signed distance a - b in 32-bit sequence space. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Which side of a flow a packet came from. */
export const DIR_CLIENT = 0;
export const DIR_SERVER = 1;

export class TcpEndpoint {
  /** Has this side sent anything yet. */
  seen = false;
  /**
   * Base for relative sequence numbers: the SYN's sequence; mid-stream, the first seq − 1
   * this side sent, or the peer's first ack − 1 if that came first (as Wireshark does).
   */
  isn = 0;
  baseKnown = false;
  synSeen = false;
  synFrame = 0;
  synCount = 0;
  synTime = 0;
  /** Highest sequence number sent + length (raw uint32): the next new byte. */
  nextSeq = 0;
  /** The last acknowledgement number this side sent (acks the peer's data), raw. */
  lastAck = 0;
  ackSeen = false;
  /** Advertised window as sent (raw 16 bits) and after scaling (bytes). */
  win = 0;
  winScaled = 0;
  /** Window scale shift from this side's SYN, or -1; and 2^shift, fixed at the handshake. */
  wscale = -1;
  winMultiplier = 1;
  mss = -1;
  sackPermitted = false;
  timestamps = false;
  finFrame = 0;
  finTime = 0;
  /** Raw sequence number of this side's FIN. */
  finSeq = 0;
  /** Frame (and its time) in which the peer acknowledged this side's FIN, or 0. */
  finAckedFrame = 0;
  finAckedTime = 0;
  rstFrame = 0;
  rstTime = 0;
  /** Packets and IP bytes this side sent (counted for UDP flows too, by the flow lookup). */
  packets = 0;
  wireBytes = 0;
  /** TCP payload bytes sent (including retransmitted bytes). */
  payloadBytes = 0;
  lastTime = 0;
  lastFrame = 0;
  /** Time of the last segment carrying new data from this side. */
  lastDataTime = 0;
}

export type CloseKind = "FIN" | "RST" | "none";
export type Role = "client" | "server";

export class Flow {
  readonly ep: [TcpEndpoint, TcpEndpoint] = [new TcpEndpoint(), new TcpEndpoint()];
  firstFrame = 0;
  lastFrame = 0;
  firstTime = 0;
  lastTime = 0;
  /** The client/server roles were guessed (no SYN seen), not observed. */
  rolesGuessed = false;
  /** Window scaling in force: both SYNs carried the option (RFC 7323 §2.2). */
  wscaleKnown = false;
  /** The flow's first packet was not a SYN: the handshake was not captured. */
  midstream = false;
  /** The connection this one replaced on the same 4-tuple, and when that one ended. */
  previous: Flow | null = null;
  /** Set once the flow was closed by FIN both ways (acknowledged) or RST. */
  endedFrame = 0;
  endedTime = 0;
  /** Per-analyzer state, indexed by analyzer number: no map lookup per packet. */
  readonly slots: unknown[] = [];
  /** Its analyzers have concluded (retired, or ended): later packets only count. */
  retired = false;
  /** ICMP errors that quoted this flow's packets. */
  icmpErrors = 0;
  /** Next active flow with the same hash. */
  nextInBucket: Flow | null = null;
  /** VLAN of the server → client direction when it differs from `vlan`, else -1. */
  replyVlan = -1;
  /** Live capture only: the `FlowTable.expire` sweep that last found this flow active. */
  expireMark = 0;

  constructor(
    readonly id: number,
    /** Direction-independent hash of the endpoints (see flowHash); chains in one bucket. */
    readonly hash: number,
    readonly proto: number,
    readonly ipVersion: number,
    readonly vlan: number,
    readonly client: readonly number[],
    readonly clientPort: number,
    readonly server: readonly number[],
    readonly serverPort: number,
  ) {}

  /** Packets each way (client → server, server → client). */
  get packets(): readonly [number, number] {
    return [this.ep[0].packets, this.ep[1].packets];
  }

  /** IP bytes each way. */
  get bytes(): readonly [number, number] {
    return [this.ep[0].wireBytes, this.ep[1].wireBytes];
  }

  /** Whether address + port are this flow's client end (for quotes and fragments). */
  isClient(addr: readonly number[], port: number): boolean {
    const c = this.client;
    return port === this.clientPort && addr[0] === c[0] && addr[1] === c[1] && addr[2] === c[2] && addr[3] === c[3];
  }

  endpointName(role: Role): string {
    const a = role === "client" ? this.client : this.server;
    return endpointToString(
      this.ipVersion,
      a[0]!,
      a[1]!,
      a[2]!,
      a[3]!,
      role === "client" ? this.clientPort : this.serverPort,
    );
  }

  /** Who closed first and how; the answer to "which side will sit in TIME_WAIT". */
  get close(): { first: Role | null; how: CloseKind; frame: number } {
    const [c, s] = this.ep;
    const firstOf = (kind: "fin" | "rst"): { role: Role; frame: number } | null => {
      const cf = kind === "fin" ? c.finFrame : c.rstFrame;
      const sf = kind === "fin" ? s.finFrame : s.rstFrame;
      if (cf === 0 && sf === 0) return null;
      if (sf === 0 || (cf !== 0 && cf < sf)) return { role: "client", frame: cf };
      return { role: "server", frame: sf };
    };
    const fin = firstOf("fin"),
      rst = firstOf("rst");
    if (fin !== null && (rst === null || fin.frame < rst.frame))
      return { first: fin.role, how: "FIN", frame: fin.frame };
    if (rst !== null) return { first: rst.role, how: "RST", frame: rst.frame };
    return { first: null, how: "none", frame: 0 };
  }

  /** RFC 793 state each side was left in when the capture ended (as far as the wire tells). */
  socketState(dir: number): string {
    const me = this.ep[dir]!,
      peer = this.ep[1 - dir]!;
    if (this.proto !== L4_TCP) return "-";
    if (me.rstFrame !== 0 || peer.rstFrame !== 0) return "CLOSED (reset)";
    if (!me.seen && !peer.seen) return "-";
    const iFinned = me.finFrame !== 0,
      peerFinned = peer.finFrame !== 0;
    if (!iFinned && !peerFinned) {
      if (me.synSeen && !peer.synSeen) return dir === DIR_CLIENT ? "SYN-SENT" : "SYN-RECEIVED";
      return "ESTABLISHED";
    }
    if (iFinned && (!peerFinned || me.finFrame < peer.finFrame)) {
      // Active close.
      if (!peerFinned) return me.finAckedFrame ? "FIN-WAIT-2" : "FIN-WAIT-1";
      return me.finAckedFrame ? "TIME-WAIT" : "CLOSING";
    }
    // Passive close (or simultaneous, counted as passive for the later FIN).
    if (!iFinned) return "CLOSE-WAIT";
    return me.finAckedFrame ? "CLOSED" : "LAST-ACK";
  }
}

/**
 * Per-segment facts computed once by the tracker and read by every TCP analyzer.
 * One object, reused for every segment.
 */
export class TcpSegment {
  frame = 0;
  time = 0;
  dir = 0;
  flags = 0;
  /** Payload bytes on the wire. */
  len = 0;
  seq = 0;
  ack = 0;
  /** Relative to each side's ISN, for output. */
  relSeq = 0;
  relAck = 0;
  /** seq − the sender's next new byte before this segment: < 0 old data, > 0 a gap. */
  seqVsNext = 0;
  /** Sender's next new byte before this segment (raw). */
  nextSeqBefore = 0;
  /** Advertised window of this segment, scaled when known. */
  winScaled = 0;
  /** Receiver's window as last advertised before this segment (scaled), -1 unknown. */
  peerWin = -1;
  /** Bytes the sender has sent but the receiver has not acknowledged, after this segment. */
  inFlight = 0;
  /** First pure SYN of a new incarnation on a reused 4-tuple. */
  newIncarnation = false;
}

/** Flow-table bounds (attacker-controlled input: a flood of SYNs is a flood of flows). */
export interface FlowLimits {
  maxFlows: number;
  /**
   * A closed TCP flow (both FINs acknowledged, or a reset) quiet this long is retired:
   * its analyzers conclude and free their state, and later packets on its 4-tuple only
   * count. Infinity: never (flows then end with the capture).
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
/** A flow quiet for less than this is never evicted to make room (see FlowTable.makeRoom). */
export const EVICT_MIN_IDLE_SEC = 60;

export interface FlowListener {
  flowStarted(flow: Flow): void;
  /**
   * The flow will see no more packets: replaced by a new incarnation, evicted, capture
   * end, or (live capture, `FlowTable.expire`) closed and quiet, or idle too long.
   */
  flowEnded(flow: Flow, why: FlowEndReason): void;
  /** A closed flow has been quiet for FlowLimits.retireAfterSec: it stays in the table, analysed no more (or until evicted). */
  flowRetired(flow: Flow): void;
}

export type FlowEndReason = "capture-end" | "replaced" | "evicted" | "closed" | "idle";

/** When a live capture ends flows (`FlowTable.expire`); all in seconds. */
export interface ExpireOptions {
  /** A closed flow (both FINs acknowledged, or a reset) quiet this long has ended. */
  lingerSec: number;
  /** An open TCP flow quiet this long is ended. */
  idleSec: number;
  /** A UDP flow quiet this long is ended. */
  udpIdleSec: number;
  /**
   * How long an expired closed flow can still be found by a new SYN on its 4-tuple, so
   * the new connection is linked to it as `previous` (time-wait-reuse): 2·MSL.
   */
  rememberSec: number;
}

const WELL_KNOWN_PORT_LIMIT = 1024;
/**
 * Joining a reply direction across VLANs tries every VLAN seen: a trunk or SPAN port has a
 * handful. Past this many (a QinQ flood) the join is not tried, keeping lookups O(1).
 */
const MAX_VLANS_JOINED = 16;

export class FlowTable {
  /**
   * Active flows by endpoint hash; flows whose hashes collide chain through
   * `nextInBucket`. Numbers, not strings, as keys: building a key string per packet cost
   * a quarter of the whole analysis in profiles.
   */
  private readonly buckets = new Map<number, Flow>();
  private active = 0;
  /**
   * Every flow in order of first packet (ids are 1-based indexes into this list + 1).
   * A live capture drops ended flows from it (`expire`); ids keep counting.
   */
  readonly all: Flow[] = [];
  /** Flows created so far: the last id given. */
  private created = 0;
  readonly segment = new TcpSegment();
  evicted = 0;
  /** Packets of connections that found the table full with no flow idle enough to evict: not analysed. */
  untrackedPackets = 0;
  private noRoomUntil = -Infinity;
  /** The flow of the last lookup while it is active (a one-entry cache). */
  private lastFlow: Flow | null = null;
  /** Direction of the packet last looked up: DIR_CLIENT or DIR_SERVER. */
  dir = 0;
  private readonly scratch = new DecodedPacket();
  /** Flows whose reply direction carries another VLAN, by the hash under that VLAN. */
  private readonly replyVlans = new Map<number, Flow>();
  private readonly vlansSeen = new Set<number>();
  /** Connections whose two directions carried different VLAN tags. */
  vlanJoined = 0;
  /**
   * Live capture only: closed flows `expire` has ended, by hash, oldest first, kept for
   * `rememberSec` so a new SYN on the same 4-tuple still finds its previous connection.
   * Always empty when reading files.
   */
  private readonly recent = new Map<number, Flow>();
  private sweeps = 0;

  /** Closed flows not yet retired (`sweep`). */
  private closed: Flow[] = [];
  private readonly retireAfterSec: number;
  /**
   * The clock retirement goes by: the capture's time, advanced by every record
   * (`advanceClock`, also for records of other `--jobs` shards, so every worker retires at
   * the same records). It is the analysis clock's confirmed time (AnalysisClock: the lower
   * of a record's time and the previous one's), so it takes two records to move it: one
   * far-future timestamp (a capture merged from several interfaces) cannot retire every
   * closed flow at once.
   */
  private clock = -Infinity;
  private nextSweep = -Infinity;

  constructor(
    private readonly listener: FlowListener,
    private readonly limits: FlowLimits = { maxFlows: DEFAULT_MAX_FLOWS },
  ) {
    this.retireAfterSec = limits.retireAfterSec ?? Infinity;
  }

  /** After a record of the capture (any, even one another worker analyses): the analysis clock's confirmed time. */
  advanceClock(confirmed: number): void {
    if (this.retireAfterSec === Infinity) return;
    if (confirmed <= this.clock) return;
    this.clock = confirmed;
    if (this.clock >= this.nextSweep) {
      this.sweep();
      this.nextSweep = this.clock + 1;
    }
  }

  /**
   * Retires every closed flow quiet for `retireAfterSec` by the clock, so memory follows
   * the connections still open, not every one seen. Only saves memory: whether a flow is
   * retired when something touches it is decided by `retireIfDue` alike.
   */
  private sweep(): void {
    const keep: Flow[] = [];
    for (const f of this.closed) {
      if (f.retired || f.endedFrame === 0) continue; // ended, or re-opened (queued again when it closes)
      if (this.clock - f.lastTime < this.retireAfterSec) keep.push(f);
      else if (retirable(f)) this.retire(f);
    }
    this.closed = keep;
  }

  /** Retires `flow` if it is closed, retirable and quiet for `retireAfterSec` by the clock. */
  private retireIfDue(flow: Flow): void {
    if (!flow.retired && flow.endedFrame !== 0 && this.clock - flow.lastTime >= this.retireAfterSec && retirable(flow))
      this.retire(flow);
  }

  private retire(flow: Flow): void {
    flow.retired = true;
    this.listener.flowRetired(flow);
  }

  get activeCount(): number {
    return this.active;
  }

  /**
   * Finds (or creates) the flow of a TCP or UDP packet and returns it with the packet's
   * direction in `this.dir`. Returns null for packets without ports.
   */
  lookup(p: DecodedPacket, frame: number, time: number): Flow | null {
    if (p.srcPort < 0 || (p.l4 !== L4_TCP && p.l4 !== L4_UDP)) return null;
    // Packets come in runs of one flow: try the last flow before hashing.
    const last = this.lastFlow;
    let hash: number, flow: Flow | null;
    if (last !== null && sameEndpoints(last, p)) {
      hash = last.hash;
      flow = last;
    } else {
      hash = flowHash(p);
      flow = this.findActive(p, hash);
    }
    if (flow !== null) this.retireIfDue(flow);
    if (
      flow !== null &&
      p.l4 === L4_TCP &&
      (p.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN &&
      isNewIncarnation(flow, p)
    ) {
      const old = flow;
      this.remove(old);
      this.listener.flowEnded(old, "replaced");
      // The old flow's place is free: creating the new one cannot fail.
      flow = this.create(hash, p, frame, time, old)!;
      this.segment.newIncarnation = true;
    } else {
      this.segment.newIncarnation = false;
    }
    if (
      flow === null &&
      this.vlansSeen.size <= MAX_VLANS_JOINED &&
      (this.vlansSeen.size > 1 || (this.vlansSeen.size === 1 && !this.vlansSeen.has(p.vlan)))
    )
      flow = this.joinAcrossVlans(p);
    if (flow === null && this.recent.size > 0) flow = this.reincarnate(hash, p, frame, time);
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

  /** Updates TCP endpoint state for a segment of `flow` and fills `this.segment`. */
  trackTcp(flow: Flow, dir: number, p: DecodedPacket, frame: number, time: number): TcpSegment {
    const seg = this.segment;
    const me = flow.ep[dir]!,
      peer = flow.ep[1 - dir]!;
    const flags = p.tcpFlags;
    const seq = p.seq,
      len = p.payloadLen;
    seg.frame = frame;
    seg.time = time;
    seg.dir = dir;
    seg.flags = flags;
    seg.len = len;
    seg.seq = seq;
    seg.ack = p.ack;
    if (flags & TH_SYN) {
      if (!me.synSeen || seqDiff(seq, me.isn) !== 0) {
        me.synSeen = true;
        me.synFrame = frame;
        me.synTime = time;
        me.isn = seq;
        me.baseKnown = true;
        me.nextSeq = seq;
        me.seen = true;
      }
      if (me.rstFrame !== 0 && (flags & TH_ACK) === 0 && !peer.synSeen) {
        // A SYN after this side's own RST, before any SYN-ACK: the RST refused a stray
        // segment (a TIME_WAIT's bare ACK) and the connection attempt goes on. That RST
        // did not end this connection.
        me.rstFrame = 0;
        me.rstTime = 0;
        flow.endedFrame = 0;
        flow.endedTime = 0;
      }
      me.synCount++;
      me.wscale = p.optWscale;
      me.mss = p.optMss;
      me.sackPermitted = p.optSackPermitted;
      me.timestamps = p.optTsVal >= 0;
      if (flags & TH_ACK) {
        // SYN-ACK: scaling is in force only if both SYNs carried the option.
        flow.wscaleKnown = me.wscale >= 0 && peer.wscale >= 0;
        if (!flow.wscaleKnown) {
          me.wscale = 0;
          peer.wscale = 0;
          flow.wscaleKnown = peer.synSeen;
        }
        // RFC 7323 §2.3: a shift above 14 is treated as 14.
        me.winMultiplier = 2 ** Math.min(me.wscale, 14);
        peer.winMultiplier = 2 ** Math.min(peer.wscale, 14);
      }
    }
    if (!me.seen) {
      // First segment from this side without a SYN: the capture began mid-connection.
      me.seen = true;
      if (!me.baseKnown) {
        me.isn = (seq - 1) >>> 0;
        me.baseKnown = true;
      }
      me.nextSeq = seq;
    }
    if (flags & TH_ACK && !peer.baseKnown) {
      // The peer has not sent yet: its first unacknowledged byte is this ack.
      peer.isn = (p.ack - 1) >>> 0;
      peer.baseKnown = true;
    }
    seg.nextSeqBefore = me.nextSeq;
    seg.seqVsNext = seqDiff(seq, me.nextSeq);
    const seqSpace = len + (flags & TH_SYN ? 1 : 0) + (flags & TH_FIN ? 1 : 0);
    const end = (seq + seqSpace) >>> 0;
    // A reset may carry any sequence number (RFC 9293 §3.10.7): it says nothing of data.
    if ((flags & TH_RST) === 0 && seqDiff(end, me.nextSeq) > 0) {
      me.nextSeq = end;
      if (len > 0) me.lastDataTime = time;
    }
    if (flags & TH_ACK) {
      me.lastAck = p.ack;
      me.ackSeen = true;
      if (peer.finFrame !== 0 && peer.finAckedFrame === 0 && seqDiff(p.ack, peer.finSeq) > 0) {
        peer.finAckedFrame = frame;
        peer.finAckedTime = time;
      }
    }
    if (flags & TH_FIN && me.finFrame === 0) {
      me.finFrame = frame;
      me.finTime = time;
      me.finSeq = (seq + len) >>> 0;
    }
    if (flags & TH_RST && me.rstFrame === 0) {
      me.rstFrame = frame;
      me.rstTime = time;
    }
    if ((flags & TH_RST) === 0) {
      // A reset's window (often 0) is no advertisement. Windows in SYN segments are never
      // scaled (RFC 7323 §2.2).
      me.win = p.win;
      me.winScaled = flags & TH_SYN || !flow.wscaleKnown ? p.win : p.win * me.winMultiplier;
    }
    me.payloadBytes += len;
    me.lastTime = time;
    me.lastFrame = frame;
    if (flow.endedFrame === 0 && (me.rstFrame !== 0 || (me.finAckedFrame !== 0 && peer.finAckedFrame !== 0))) {
      if (this.retireAfterSec !== Infinity) this.closed.push(flow);
      flow.endedFrame = frame;
      flow.endedTime = time;
    }
    seg.relSeq = (seq - me.isn) >>> 0;
    seg.relAck = flags & TH_ACK ? (p.ack - peer.isn) >>> 0 : 0;
    seg.winScaled = me.winScaled;
    seg.peerWin = peer.seen ? peer.winScaled : -1;
    seg.inFlight = peer.ackSeen ? Math.max(0, seqDiff(me.nextSeq, peer.lastAck)) : 0;
    return seg;
  }

  /**
   * The flow of the packet an ICMP error quotes, created from the quote when the capture
   * holds none of its packets.
   */
  lookupQuoted(icmp: DecodedPacket, frame: number, time: number): Flow | null {
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
      this.retireIfDue(found);
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
  ): Flow | null {
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
    if (flow !== null) this.retireIfDue(flow);
    return flow;
  }

  /** Ends every flow still active (capture over). */
  finish(): void {
    if (this.retireAfterSec !== Infinity) this.sweep();
    for (const flow of this.activeFlows()) this.listener.flowEnded(flow, "capture-end");
    this.lastFlow = null;
    this.buckets.clear();
    this.replyVlans.clear();
    this.active = 0;
  }

  /**
   * Live capture: ends the flows that are finished, as a file's end would, so their
   * findings can be reported while the capture goes on, and forgets them. A flow ends
   * when it is closed (`endedFrame`: both FINs acknowledged, or a reset) and has been
   * quiet for `lingerSec` (late retransmissions and the final ACK stay in it), or when
   * it has been quiet for the idle timeout. Every flow no longer in the table (ended
   * here, replaced or evicted) leaves `all`, and its `previous` link is cut, so memory
   * holds only the active flows. `now` is in capture time (seconds since the epoch).
   * O(active flows); meant to run a few times a second between packet batches.
   * Returns how many flows it ended.
   */
  expire(now: number, o: ExpireOptions): number {
    const mark = ++this.sweeps;
    const ended: [Flow, FlowEndReason][] = [];
    for (const head of this.buckets.values()) {
      for (let f: Flow | null = head; f !== null; f = f.nextInBucket) {
        const quiet = now - f.lastTime;
        if (f.endedFrame !== 0 ? quiet >= o.lingerSec : quiet >= (f.proto === L4_TCP ? o.idleSec : o.udpIdleSec)) {
          ended.push([f, f.endedFrame !== 0 ? "closed" : "idle"]);
        } else {
          f.expireMark = mark;
        }
      }
    }
    for (const [f, why] of ended) {
      this.remove(f);
      if (why === "closed" && o.rememberSec > 0 && f.proto === L4_TCP) {
        this.recent.delete(f.hash);
        this.recent.set(f.hash, f);
      }
      this.listener.flowEnded(f, why);
    }
    for (const f of this.recent.values()) {
      if (now - f.lastTime < o.rememberSec && this.recent.size <= this.limits.maxFlows) break;
      this.recent.delete(f.hash);
    }
    let keep = 0;
    const all = this.all;
    for (let i = 0; i < all.length; i++) {
      const f = all[i]!;
      if (f.expireMark === mark) all[keep++] = f;
      else f.previous = null;
    }
    all.length = keep;
    return ended.length;
  }

  /** A pure SYN with a new ISN on the 4-tuple of a flow `expire` ended recently: its new incarnation. */
  private reincarnate(hash: number, p: DecodedPacket, frame: number, time: number): Flow | null {
    const old = this.recent.get(hash);
    if (old === undefined || p.l4 !== L4_TCP || (p.tcpFlags & (TH_SYN | TH_ACK | TH_RST)) !== TH_SYN) return null;
    if (!sameEndpoints(old, p) || !isNewIncarnation(old, p)) return null;
    this.recent.delete(hash);
    const flow = this.create(hash, p, frame, time, old);
    this.segment.newIncarnation = true;
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

  private findActive(p: DecodedPacket, hash: number): Flow | null {
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
  private joinAcrossVlans(p: DecodedPacket): Flow | null {
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

  private activeFlows(): Flow[] {
    const out: Flow[] = [];
    for (const head of this.buckets.values())
      for (let f: Flow | null = head; f !== null; f = f.nextInBucket) out.push(f);
    return out;
  }

  private remove(flow: Flow): void {
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
    previous: Flow | null = null,
  ): Flow | null {
    if (this.active >= this.limits.maxFlows && !this.makeRoom(time)) return null;
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
      ? new Flow(id, hash, p.l4, p.ipVersion, p.vlan, src, p.srcPort, dst, p.dstPort)
      : new Flow(id, hash, p.l4, p.ipVersion, p.vlan, dst, p.dstPort, src, p.srcPort);
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

  /**
   * Over the flow limit: drop a tenth of the table, ended flows first, then the longest
   * idle. A sweep is O(flows) but happens once per limit/10 new flows.
   */
  /**
   * The table is full: evict a tenth of it, closed flows first, then those quiet the
   * longest, but never a flow heard from in the last EVICT_MIN_IDLE_SEC (evicting busy
   * flows would bring them straight back as new ones, and the table would churn through
   * them; Suricata's flow memcap behaves alike). Returns whether there is room now. A
   * failed attempt is not retried for a second of capture time: a flood of busy flows
   * must not cost a sort per packet.
   */
  private makeRoom(now: number): boolean {
    if (now < this.noRoomUntil) return false;
    const target = Math.floor(this.limits.maxFlows * 0.9);
    if (this.retireAfterSec !== Infinity) this.sweep();
    // Retired flows first (their analysis is over: dropping them loses nothing but the
    // count of their late packets), then closed ones, then the longest quiet.
    const rank = (f: Flow): number => (f.retired ? 0 : f.endedFrame !== 0 ? 1 : 2);
    const byIdle = this.activeFlows().sort((a, b) => rank(a) - rank(b) || a.lastTime - b.lastTime);
    for (const flow of byIdle) {
      if (this.active <= target) break;
      if (flow.endedFrame === 0 && now - flow.lastTime < EVICT_MIN_IDLE_SEC) break;
      this.remove(flow);
      if (!flow.retired) this.evicted++;
      this.listener.flowEnded(flow, "evicted");
    }
    if (this.active < this.limits.maxFlows) return true;
    this.noRoomUntil = now + 1;
    return false;
  }
}

/**
 * A closed flow may retire unless it is a connection attempt that never got a SYN-ACK:
 * the client's RST there may be undone by its next SYN (trackTcp), and connect-timeout
 * measures such an attempt to the end of the capture.
 */
function retirable(flow: Flow): boolean {
  return !(flow.ep[DIR_CLIENT].synSeen && !flow.ep[DIR_SERVER].synSeen);
}

/**
 * A pure SYN on a known 4-tuple starts a new connection when it carries a different ISN
 * and the old connection was closed (FIN or RST seen) or never got past its handshake
 * with that ISN. A retransmitted SYN carries the same ISN and stays in its flow.
 */
function isNewIncarnation(flow: Flow, p: DecodedPacket): boolean {
  const fromClient = isFromClient(flow, p);
  const sender = flow.ep[fromClient ? DIR_CLIENT : DIR_SERVER]!;
  if (sender.synSeen && seqDiff(p.seq, sender.isn) === 0) return false;
  const [c, s] = flow.ep;
  const closed = c.finFrame !== 0 || s.finFrame !== 0 || c.rstFrame !== 0 || s.rstFrame !== 0;
  return closed || sender.synSeen;
}

function isFromClient(flow: Flow, p: DecodedPacket): boolean {
  // A self-connected socket (same address and port both ways) counts as client → server.
  const c = flow.client;
  return p.srcPort === flow.clientPort && p.src0 === c[0] && p.src1 === c[1] && p.src2 === c[2] && p.src3 === c[3];
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

/**
 * Direction-independent 32-bit hash of VLAN, protocol and both endpoints: each endpoint
 * is mixed on its own, then combined with symmetric operations (sum and xor), so both
 * directions of a conversation hash alike without sorting the endpoints.
 */
export function flowHash(p: DecodedPacket): number {
  const a = mixEndpoint(p.src0, p.src1, p.src2, p.src3, p.srcPort);
  const b = mixEndpoint(p.dst0, p.dst1, p.dst2, p.dst3, p.dstPort);
  let h = Math.imul((a + b) | 0, 0x9e3779b1) ^ (a ^ b) ^ Math.imul(p.vlan + 1, 0x85ebca6b) ^ (p.l4 << 24);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) | 0;
}

function mixEndpoint(w0: number, w1: number, w2: number, w3: number, port: number): number {
  let h = Math.imul(w0 ^ 0x165667b1, 0xcc9e2d51);
  h = Math.imul(h ^ w1, 0x1b873593) ^ (h >>> 13);
  h = Math.imul(h ^ w2, 0xcc9e2d51) ^ (h >>> 16);
  h = Math.imul(h ^ w3, 0x1b873593) ^ (h >>> 13);
  h = Math.imul(h ^ port, 0xcc9e2d51);
  return h ^ (h >>> 16);
}

/** The packet belongs to the flow: same VLAN, protocol and endpoints in either direction. */
function sameEndpoints(f: Flow, p: DecodedPacket, vlan: number = f.vlan): boolean {
  if (f.proto !== p.l4 || vlan !== p.vlan || f.ipVersion !== p.ipVersion) return false;
  const c = f.client,
    s = f.server;
  if (
    p.srcPort === f.clientPort &&
    p.dstPort === f.serverPort &&
    p.src0 === c[0] &&
    p.dst0 === s[0] &&
    p.src1 === c[1] &&
    p.dst1 === s[1] &&
    p.src2 === c[2] &&
    p.dst2 === s[2] &&
    p.src3 === c[3] &&
    p.dst3 === s[3]
  )
    return true;
  return (
    p.srcPort === f.serverPort &&
    p.dstPort === f.clientPort &&
    p.src0 === s[0] &&
    p.dst0 === c[0] &&
    p.src1 === s[1] &&
    p.dst1 === c[1] &&
    p.src2 === s[2] &&
    p.dst2 === c[2] &&
    p.src3 === s[3] &&
    p.dst3 === c[3]
  );
}
