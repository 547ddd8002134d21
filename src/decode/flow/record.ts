/**
 * The flow record: one bidirectional conversation, its two endpoints (after Zeek's
 * TCP_Endpoint) and what the wire shows of how it closed. The tracker (tcp-tracker.ts)
 * and the table (table.ts) fill it in; analyzers and reports read it.
 *
 * Direction 0 is client → server, 1 is server → client. The client is the side that sent
 * the first SYN without ACK; when the handshake was not captured, a heuristic decides
 * (table.ts) and the flow says so (`rolesGuessed`).
 */
import { endpointToString } from "../wire/address.js";
import { L4_TCP } from "../wire/packet.js";

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
  /**
   * What tells this side's TCP stack apart (analyze/lib/stack-profile.ts): the IPv4 TTL or
   * IPv6 hop limit of its SYN, else of the first segment it sent (0: none); the option
   * layout and raw window of its SYN ("" and -1 without one).
   */
  ttl = 0;
  synOptionLayout = "";
  synWindow = -1;
  finFrame = 0;
  finTime = 0;
  /** Raw sequence number of this side's FIN. */
  finSeq = 0;
  /** Frame (and its time) in which the peer acknowledged this side's FIN, or 0. */
  finAckedFrame = 0;
  finAckedTime = 0;
  rstFrame = 0;
  rstTime = 0;
  /**
   * The first RST (and FIN) from this side the peer's stack would have ignored (tcp-tracker.ts,
   * `accepts`): it changed no state, but it was on the wire. 0 if none.
   */
  ignoredRstFrame = 0;
  ignoredFinFrame = 0;
  /** Segments from this side the peer's stack would not have accepted (ignored RST/FIN, stray SYNs). */
  ignoredCount = 0;
  /**
   * The SYN this side's ISN comes from was written by hand, not by a TCP stack: an ack
   * field set without the ACK flag, or SACK blocks in a SYN (see `isCraftedSyn`).
   */
  synCrafted = false;
  /** Hand-made SYNs this side sent (accepted as the flow's SYN or ignored): see `isCraftedSyn`. */
  craftedSynCount = 0;
  /** Packets and IP bytes this side sent (counted for UDP flows too, by the flow lookup). */
  packets = 0;
  wireBytes = 0;
  /** TCP payload bytes sent (including retransmitted bytes). */
  payloadBytes = 0;
  lastTime = 0;
  lastFrame = 0;
  /**
   * This side's last segment carrying new data (tcp-tracker.ts, `carriesNewData`): payload
   * from the next byte on, no SYN or RST. Time -1 and frame 0: none yet.
   */
  lastDataTime = -1;
  lastDataFrame = 0;
  /**
   * The IP TTL (hop limit) of that segment: what this side's own socket sends with, to tell
   * a reset sent in its name by a device on the path (0: no data yet).
   */
  lastDataTtl = 0;
}

export type CloseKind = "FIN" | "RST" | "none";
export type Role = "client" | "server";

/**
 * What a flow holds of the per-segment facts' pool (segment-facts.ts: FactsPool): its
 * memory, and the way to give a run back. Declared here, not imported, so that this
 * record does not depend on the module that computes the facts from it.
 */
export interface FactsMemory {
  readonly memory: Float64Array;
  release(at: number): void;
}

/**
 * `A`: what the table's owner attaches to each flow (the analyzers' per-flow state, for
 * the analyzer host), opaque here. A field, not a map keyed by flow: no lookup per packet.
 */
export class Flow<A = unknown> {
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
  previous: Flow<A> | null = null;
  /** Set once the flow was closed by FIN both ways (acknowledged) or RST. */
  endedFrame = 0;
  endedTime = 0;
  /** The owner's per-flow state: set by its FlowListener.flowStarted, before any packet. */
  attachment = undefined as A;
  /**
   * The table is done telling its owner about this flow: retired (closed and quiet for
   * FlowLimits.retireAfterSec) or ended (FlowListener.flowEnded). Later packets that still
   * reach it are tracked and counted, not handed to the owner's analysis.
   */
  retired = false;
  /**
   * The memory behind the per-segment facts (segment-facts.ts: FactsPool) and where this
   * flow's run starts in it; TCP flows only, from their first segment.
   */
  facts: FactsMemory | null = null;
  factsAt = -1;
  /** The flow has ended and sees no more packets: its facts' run goes back to the pool. */
  releaseFacts(): void {
    if (this.facts === null) return;
    this.facts.release(this.factsAt);
    this.facts = null;
    this.factsAt = -1;
  }
  /** ICMP errors that quoted this flow's packets. */
  icmpErrors = 0;
  /** Next active flow with the same hash. */
  nextInBucket: Flow<A> | null = null;
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
