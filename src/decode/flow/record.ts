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
import {
  EP_ACK_SEEN,
  EP_BASE_KNOWN,
  EP_SACK_PERMITTED,
  EP_SEEN,
  EP_SYN_CRAFTED,
  EP_SYN_SEEN,
  EP_TIMESTAMPS,
  EndpointColumns,
  EndpointStore,
} from "./columns.js";

/** Which side of a flow a packet came from. */
export const DIR_CLIENT = 0;
export const DIR_SERVER = 1;

/**
 * One side of a TCP connection (after Zeek's TCP_Endpoint): a view over its slot in the
 * flow table's EndpointColumns (columns.ts), a getter and setter per field, so code reads
 * `flow.ep[0].finFrame` as it would a plain field.
 */
export class TcpEndpoint {
  constructor(
    private readonly c: EndpointColumns = new EndpointColumns(1),
    /** This endpoint's slot in the columns (a chunk of its own when made alone). */
    readonly slot: number = c.take(),
  ) {}
  /** Has this side sent anything yet. */
  get seen(): boolean {
    return (this.c.flags[this.slot]! & EP_SEEN) !== 0;
  }
  set seen(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_SEEN;
    else this.c.flags[this.slot]! &= ~EP_SEEN;
  }
  get baseKnown(): boolean {
    return (this.c.flags[this.slot]! & EP_BASE_KNOWN) !== 0;
  }
  set baseKnown(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_BASE_KNOWN;
    else this.c.flags[this.slot]! &= ~EP_BASE_KNOWN;
  }
  get synSeen(): boolean {
    return (this.c.flags[this.slot]! & EP_SYN_SEEN) !== 0;
  }
  set synSeen(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_SYN_SEEN;
    else this.c.flags[this.slot]! &= ~EP_SYN_SEEN;
  }
  get ackSeen(): boolean {
    return (this.c.flags[this.slot]! & EP_ACK_SEEN) !== 0;
  }
  set ackSeen(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_ACK_SEEN;
    else this.c.flags[this.slot]! &= ~EP_ACK_SEEN;
  }
  get sackPermitted(): boolean {
    return (this.c.flags[this.slot]! & EP_SACK_PERMITTED) !== 0;
  }
  set sackPermitted(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_SACK_PERMITTED;
    else this.c.flags[this.slot]! &= ~EP_SACK_PERMITTED;
  }
  get timestamps(): boolean {
    return (this.c.flags[this.slot]! & EP_TIMESTAMPS) !== 0;
  }
  set timestamps(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_TIMESTAMPS;
    else this.c.flags[this.slot]! &= ~EP_TIMESTAMPS;
  }
  /**
   * The SYN this side's ISN comes from was written by hand, not by a TCP stack: an ack
   * field set without the ACK flag, or SACK blocks in a SYN (see `isCraftedSyn`).
   */
  get synCrafted(): boolean {
    return (this.c.flags[this.slot]! & EP_SYN_CRAFTED) !== 0;
  }
  set synCrafted(v: boolean) {
    if (v) this.c.flags[this.slot]! |= EP_SYN_CRAFTED;
    else this.c.flags[this.slot]! &= ~EP_SYN_CRAFTED;
  }
  /**
   * Base for relative sequence numbers: the SYN's sequence; mid-stream, the first seq − 1
   * this side sent, or the peer's first ack − 1 if that came first (as Wireshark does).
   */
  get isn(): number {
    return this.c.isn[this.slot]!;
  }
  set isn(v: number) {
    this.c.isn[this.slot] = v;
  }
  get synFrame(): number {
    return this.c.synFrame[this.slot]!;
  }
  set synFrame(v: number) {
    this.c.synFrame[this.slot] = v;
  }
  get synCount(): number {
    return this.c.synCount[this.slot]!;
  }
  set synCount(v: number) {
    this.c.synCount[this.slot] = v;
  }
  get synTime(): number {
    return this.c.synTime[this.slot]!;
  }
  set synTime(v: number) {
    this.c.synTime[this.slot] = v;
  }
  /** Highest sequence number sent + length (raw uint32): the next new byte. */
  get nextSeq(): number {
    return this.c.nextSeq[this.slot]!;
  }
  set nextSeq(v: number) {
    this.c.nextSeq[this.slot] = v;
  }
  /** The last acknowledgement number this side sent (acks the peer's data), raw. */
  get lastAck(): number {
    return this.c.lastAck[this.slot]!;
  }
  set lastAck(v: number) {
    this.c.lastAck[this.slot] = v;
  }
  /** Advertised window as sent (raw 16 bits) and after scaling (bytes). */
  get win(): number {
    return this.c.win[this.slot]!;
  }
  set win(v: number) {
    this.c.win[this.slot] = v;
  }
  get winScaled(): number {
    return this.c.winScaled[this.slot]!;
  }
  set winScaled(v: number) {
    this.c.winScaled[this.slot] = v;
  }
  /** Window scale shift from this side's SYN, or -1; and 2^shift, fixed at the handshake. */
  get wscale(): number {
    return this.c.wscale[this.slot]!;
  }
  set wscale(v: number) {
    this.c.wscale[this.slot] = v;
  }
  get winMultiplier(): number {
    return this.c.winMultiplier[this.slot]!;
  }
  set winMultiplier(v: number) {
    this.c.winMultiplier[this.slot] = v;
  }
  get mss(): number {
    return this.c.mss[this.slot]!;
  }
  set mss(v: number) {
    this.c.mss[this.slot] = v;
  }
  /**
   * What tells this side's TCP stack apart (analyze/lib/stack-profile.ts): the IPv4 TTL or
   * IPv6 hop limit of its SYN, else of the first segment it sent (0: none); the option
   * layout and raw window of its SYN ("" and -1 without one).
   */
  get ttl(): number {
    return this.c.ttl[this.slot]!;
  }
  set ttl(v: number) {
    this.c.ttl[this.slot] = v;
  }
  get synOptionLayout(): string {
    return this.c.synOptionLayout[this.slot]!;
  }
  set synOptionLayout(v: string) {
    this.c.synOptionLayout[this.slot] = v;
  }
  get synWindow(): number {
    return this.c.synWindow[this.slot]!;
  }
  set synWindow(v: number) {
    this.c.synWindow[this.slot] = v;
  }
  get finFrame(): number {
    return this.c.finFrame[this.slot]!;
  }
  set finFrame(v: number) {
    this.c.finFrame[this.slot] = v;
  }
  get finTime(): number {
    return this.c.finTime[this.slot]!;
  }
  set finTime(v: number) {
    this.c.finTime[this.slot] = v;
  }
  /** Raw sequence number of this side's FIN. */
  get finSeq(): number {
    return this.c.finSeq[this.slot]!;
  }
  set finSeq(v: number) {
    this.c.finSeq[this.slot] = v;
  }
  /** Frame (and its time) in which the peer acknowledged this side's FIN, or 0. */
  get finAckedFrame(): number {
    return this.c.finAckedFrame[this.slot]!;
  }
  set finAckedFrame(v: number) {
    this.c.finAckedFrame[this.slot] = v;
  }
  get finAckedTime(): number {
    return this.c.finAckedTime[this.slot]!;
  }
  set finAckedTime(v: number) {
    this.c.finAckedTime[this.slot] = v;
  }
  get rstFrame(): number {
    return this.c.rstFrame[this.slot]!;
  }
  set rstFrame(v: number) {
    this.c.rstFrame[this.slot] = v;
  }
  get rstTime(): number {
    return this.c.rstTime[this.slot]!;
  }
  set rstTime(v: number) {
    this.c.rstTime[this.slot] = v;
  }
  /**
   * The first RST (and FIN) from this side the peer's stack would have ignored (tcp-tracker.ts,
   * `accepts`): it changed no state, but it was on the wire. 0 if none.
   */
  get ignoredRstFrame(): number {
    return this.c.ignoredRstFrame[this.slot]!;
  }
  set ignoredRstFrame(v: number) {
    this.c.ignoredRstFrame[this.slot] = v;
  }
  get ignoredFinFrame(): number {
    return this.c.ignoredFinFrame[this.slot]!;
  }
  set ignoredFinFrame(v: number) {
    this.c.ignoredFinFrame[this.slot] = v;
  }
  /** Segments from this side the peer's stack would not have accepted (ignored RST/FIN, stray SYNs). */
  get ignoredCount(): number {
    return this.c.ignoredCount[this.slot]!;
  }
  set ignoredCount(v: number) {
    this.c.ignoredCount[this.slot] = v;
  }
  /** Hand-made SYNs this side sent (accepted as the flow's SYN or ignored): see `isCraftedSyn`. */
  get craftedSynCount(): number {
    return this.c.craftedSynCount[this.slot]!;
  }
  set craftedSynCount(v: number) {
    this.c.craftedSynCount[this.slot] = v;
  }
  /** Packets and IP bytes this side sent (counted for UDP flows too, by the flow lookup). */
  get packets(): number {
    return this.c.packets[this.slot]!;
  }
  set packets(v: number) {
    this.c.packets[this.slot] = v;
  }
  get wireBytes(): number {
    return this.c.wireBytes[this.slot]!;
  }
  set wireBytes(v: number) {
    this.c.wireBytes[this.slot] = v;
  }
  /** TCP payload bytes sent (including retransmitted bytes). */
  get payloadBytes(): number {
    return this.c.payloadBytes[this.slot]!;
  }
  set payloadBytes(v: number) {
    this.c.payloadBytes[this.slot] = v;
  }
  get lastTime(): number {
    return this.c.lastTime[this.slot]!;
  }
  set lastTime(v: number) {
    this.c.lastTime[this.slot] = v;
  }
  get lastFrame(): number {
    return this.c.lastFrame[this.slot]!;
  }
  set lastFrame(v: number) {
    this.c.lastFrame[this.slot] = v;
  }
  /**
   * This side's last segment carrying new data (tcp-tracker.ts, `carriesNewData`): payload
   * from the next byte on, no SYN or RST. Time -1 and frame 0: none yet.
   */
  get lastDataTime(): number {
    return this.c.lastDataTime[this.slot]!;
  }
  set lastDataTime(v: number) {
    this.c.lastDataTime[this.slot] = v;
  }
  get lastDataFrame(): number {
    return this.c.lastDataFrame[this.slot]!;
  }
  set lastDataFrame(v: number) {
    this.c.lastDataFrame[this.slot] = v;
  }
  /**
   * The IP TTL (hop limit) of that segment: what this side's own socket sends with, to tell
   * a reset sent in its name by a device on the path (0: no data yet).
   */
  get lastDataTtl(): number {
    return this.c.lastDataTtl[this.slot]!;
  }
  set lastDataTtl(v: number) {
    this.c.lastDataTtl[this.slot] = v;
  }
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
  /** Client's and server's endpoint, in `endpoints`' slots. */
  readonly ep: [TcpEndpoint, TcpEndpoint];
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
    /** The flow table's endpoint store (a flow made alone gets one of its own). */
    endpoints: EndpointStore = new EndpointStore(),
  ) {
    const c = endpoints.withRoom(2);
    this.ep = [new TcpEndpoint(c, c.take()), new TcpEndpoint(c, c.take())];
  }

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
