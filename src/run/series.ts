/**
 * Per-flow packet series for the HTML report's graphs, collected by a pipeline observer
 * (`runCapture(path, { observer: collector.observe })`) so the text and JSON paths pay
 * nothing for it.
 *
 * One row per TCP segment or UDP datagram of a flow, kept in growable column arrays shared
 * by all flows (no per-flow objects): time, frame, flow id, relative sequence number and
 * acknowledgement (unwrapped past 4 GiB), scaled window, bytes in flight, payload length,
 * TCP flags and a few bits (direction, old data, notable). For UDP the "sequence number" is
 * the direction's byte count before the datagram.
 *
 * Memory is bounded two ways (the collection cap; what is drawn is chosen later, see
 * report/html/downsample.ts):
 * - per flow: past FLOW_COLLECT_CAP rows a flow keeps only every 2nd, then 4th, ... of its
 *   ordinary packets (by its own packet count); notable packets are kept whole: SYN, FIN
 *   and RST until they are half the cap, old data (retransmissions), zero windows and the
 *   window reopening until they are a quarter;
 * - in all: past TOTAL_COLLECT_CAP rows every flow is thinned the same way until the rows
 *   fit in three quarters of it.
 */
import type { PacketRecord } from "../capture/record.js";
import type { Flow } from "../decode/flow/record.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN, type DecodedPacket } from "../decode/wire/packet.js";
import {
  FLOW_COLLECT_CAP,
  META_ACK,
  META_NOTABLE,
  META_OLD,
  TOTAL_COLLECT_CAP,
  type FlowSeriesSet,
} from "../report/html/series-set.js";

/** Bytes of the first payload of each direction kept for the flow list. */
export const FIRST_BYTES = 48;
/** Flows whose first payload bytes are kept. */
const MAX_SNIPPET_FLOWS = 100_000;

const TWO32 = 4294967296;

function grow<T extends Float64Array | Uint32Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a.length > n ? a.subarray(0, n) : a);
  return b;
}

export class SeriesCollector implements FlowSeriesSet {
  rows = 0;
  time = new Float64Array(1024);
  frame = new Uint32Array(1024);
  flow = new Uint32Array(1024);
  seq = new Float64Array(1024);
  ack = new Float64Array(1024);
  win = new Float64Array(1024);
  inFlight = new Float64Array(1024);
  len = new Uint32Array(1024);
  flags = new Uint8Array(1024);
  meta = new Uint8Array(1024);
  /** Per-flow packet ordinal (at the row). */
  private ord = new Uint32Array(1024);

  // Per flow id.
  private packets = new Uint32Array(256);
  private shift = new Uint8Array(256);
  private keptOrdinary = new Uint32Array(256);
  private keptNotable = new Uint32Array(256);
  /** Bit per direction: first payload bytes taken. */
  private snipped = new Uint8Array(256);
  /** 8 per flow: per direction last raw relative seq, seq wraps, last raw relative ack, ack wraps. */
  private wrap = new Float64Array(256 * 8);
  /** 2 per flow: per direction the last advertised window (TCP, -1 none yet) or the bytes so far (UDP). */
  private lastWin = new Float64Array(256 * 2).fill(-1);
  private udpBytes = new Float64Array(256 * 2);
  private globalShift = 0;
  private readonly snippets = new Map<number, [string | null, string | null]>();
  private index: Uint32Array[] | null = null;
  thinned = false;

  constructor(
    private readonly flowCap = FLOW_COLLECT_CAP,
    private readonly totalCap = TOTAL_COLLECT_CAP,
  ) {
    if (totalCap < this.time.length) this.resize(totalCap);
  }

  /** The pipeline observer: pass as `observer` to runCapture. */
  readonly observe = (
    rec: PacketRecord,
    p: DecodedPacket,
    flow: Flow | null,
    dir: number,
    seg: TcpSegment | null,
  ): void => {
    if (flow === null) return;
    const id = flow.id;
    if (id >= this.packets.length) this.growFlows(id);
    const ord = this.packets[id]!++;
    const d2 = id * 2 + dir;
    let seqV: number,
      ackV = 0,
      winV = 0,
      inFlightV = 0,
      flagsV = 0,
      lenV: number,
      meta = dir;
    if (seg !== null) {
      flagsV = seg.flags;
      lenV = seg.len;
      const w = id * 8 + dir * 4;
      seqV = this.unwrap(w, seg.relSeq);
      if (flagsV & TH_ACK) {
        ackV = this.unwrap(w + 2, seg.relAck);
        meta |= META_ACK;
      }
      winV = seg.winScaled;
      inFlightV = seg.inFlight;
      const old = seg.seqVsNext < 0 && (flagsV & TH_RST) === 0 && (lenV > 0 || (flagsV & (TH_SYN | TH_FIN)) !== 0);
      if (old) meta |= META_OLD;
      // SYN, FIN and RST may fill half the flow's cap, old data and window events a quarter.
      let limit = (flagsV & (TH_SYN | TH_FIN | TH_RST)) !== 0 ? this.flowCap >>> 1 : old ? this.flowCap >>> 2 : 0;
      if ((flagsV & (TH_RST | TH_SYN)) === 0) {
        const prev = this.lastWin[d2]!;
        if ((winV === 0 || (prev === 0 && winV !== 0)) && limit === 0) limit = this.flowCap >>> 2;
        this.lastWin[d2] = winV;
      }
      if (this.keptNotable[id]! < limit) meta |= META_NOTABLE;
      if (lenV > 0 && (this.snipped[id]! & (1 << dir)) === 0 && p.payloadCaptured > 0) this.snippet(id, dir, p);
    } else {
      lenV = p.payloadLen;
      seqV = this.udpBytes[d2]!;
      this.udpBytes[d2] = seqV + lenV;
      if (lenV > 0 && (this.snipped[id]! & (1 << dir)) === 0 && p.payloadCaptured > 0) this.snippet(id, dir, p);
    }
    if ((meta & META_NOTABLE) === 0) {
      const fs = this.shift[id]!,
        sh = Math.max(fs, this.globalShift);
      if (sh > 0 && ord % 2 ** sh !== 0) return;
      this.keptOrdinary[id] = this.keptOrdinary[id]! + 1;
    } else {
      this.keptNotable[id] = this.keptNotable[id]! + 1;
    }
    if (this.rows === this.time.length) this.makeRoom();
    const i = this.rows++;
    this.time[i] = rec.tsSec + rec.tsNsec / 1e9;
    this.frame[i] = rec.frame;
    this.flow[i] = id;
    this.seq[i] = seqV;
    this.ack[i] = ackV;
    this.win[i] = winV;
    this.inFlight[i] = inFlightV;
    this.len[i] = lenV;
    this.flags[i] = flagsV;
    this.meta[i] = meta;
    this.ord[i] = ord;
    if (this.keptOrdinary[id]! + this.keptNotable[id]! >= this.flowCap) {
      // Thin this flow: from now on (and at the next compaction) every 2^shift-th ordinary packet.
      this.shift[id] = this.shift[id]! + 1;
      this.keptOrdinary[id] = Math.ceil(this.keptOrdinary[id]! / 2);
      this.thinned = true;
    }
  };

  /** Relative seq/ack (uint32) to a number that keeps counting past 4 GiB. */
  private unwrap(w: number, rel: number): number {
    const wr = this.wrap;
    const last = wr[w]!;
    let wraps = wr[w + 1]!;
    if (rel < last && last - rel > 0x80000000) {
      wraps++;
      wr[w + 1] = wraps;
      wr[w] = rel;
    } else if (rel > last && rel - last > 0x80000000) {
      return rel + (wraps - 1) * TWO32;
    } // old, before the wrap
    else if (rel > last) wr[w] = rel;
    return rel + wraps * TWO32;
  }

  private snippet(id: number, dir: number, p: DecodedPacket): void {
    this.snipped[id] = this.snipped[id]! | (1 << dir);
    let s = this.snippets.get(id);
    if (s === undefined) {
      if (this.snippets.size >= MAX_SNIPPET_FLOWS) return;
      s = [null, null];
      this.snippets.set(id, s);
    }
    if (s[dir] !== null) return;
    const n = Math.min(p.payloadCaptured, FIRST_BYTES);
    const b = p.bytes;
    let out = "";
    for (let i = 0; i < n; i++) {
      const c = b[p.payloadOffset + i]!;
      out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".";
    }
    s[dir] = out;
  }

  private growFlows(id: number): void {
    let n = this.packets.length;
    while (n <= id) n *= 2;
    this.packets = grow(this.packets, n);
    this.shift = grow(this.shift, n);
    this.keptOrdinary = grow(this.keptOrdinary, n);
    this.keptNotable = grow(this.keptNotable, n);
    this.snipped = grow(this.snipped, n);
    this.wrap = grow(this.wrap, n * 8);
    const lw = new Float64Array(n * 2).fill(-1);
    lw.set(this.lastWin);
    this.lastWin = lw;
    this.udpBytes = grow(this.udpBytes, n * 2);
  }

  /** Columns full: grow up to the total cap, then drop thinned rows, thinning every flow if needed. */
  private makeRoom(): void {
    const cap = this.time.length;
    if (cap < this.totalCap) {
      this.resize(Math.min(cap * 2, this.totalCap));
      return;
    }
    this.thinned = true;
    this.compact(false);
    let passes = 0;
    while (this.rows > cap * 0.75) {
      this.globalShift++;
      this.compact(++passes > 8);
    }
  }

  private resize(n: number): void {
    this.time = grow(this.time, n);
    this.frame = grow(this.frame, n);
    this.flow = grow(this.flow, n);
    this.seq = grow(this.seq, n);
    this.ack = grow(this.ack, n);
    this.win = grow(this.win, n);
    this.inFlight = grow(this.inFlight, n);
    this.len = grow(this.len, n);
    this.flags = grow(this.flags, n);
    this.meta = grow(this.meta, n);
    this.ord = grow(this.ord, n);
  }

  /** Removes rows whose flow has been thinned past them (also notable ones when `all`). */
  private compact(all: boolean): void {
    let j = 0;
    const gs = this.globalShift;
    this.keptOrdinary.fill(0);
    this.keptNotable.fill(0);
    for (let i = 0; i < this.rows; i++) {
      const id = this.flow[i]!;
      const m = this.meta[i]!;
      const notable = (m & META_NOTABLE) !== 0 && !all;
      const sh = Math.max(this.shift[id]!, gs);
      if (!notable && sh > 0 && this.ord[i]! % 2 ** sh !== 0) continue;
      if (notable) this.keptNotable[id] = this.keptNotable[id]! + 1;
      else this.keptOrdinary[id] = this.keptOrdinary[id]! + 1;
      if (all) this.meta[i] = m & ~META_NOTABLE;
      if (j !== i) {
        this.time[j] = this.time[i]!;
        this.frame[j] = this.frame[i]!;
        this.flow[j] = id;
        this.seq[j] = this.seq[i]!;
        this.ack[j] = this.ack[i]!;
        this.win[j] = this.win[i]!;
        this.inFlight[j] = this.inFlight[i]!;
        this.len[j] = this.len[i]!;
        this.flags[j] = this.flags[i]!;
        this.meta[j] = this.meta[i]!;
        this.ord[j] = this.ord[i]!;
      }
      j++;
    }
    this.rows = j;
  }

  rowsOf(flowId: number): Uint32Array {
    if (this.index === null) this.buildIndex();
    return this.index![flowId] ?? new Uint32Array(0);
  }

  packetsOf(flowId: number): number {
    return flowId < this.packets.length ? this.packets[flowId]! : 0;
  }

  firstBytes(flowId: number): [string | null, string | null] | undefined {
    return this.snippets.get(flowId);
  }

  /** Drops rows thinned since the last compaction and builds the per-flow row lists. */
  private buildIndex(): void {
    if (this.thinned) this.compact(false);
    const counts = new Uint32Array(this.packets.length);
    for (let i = 0; i < this.rows; i++) counts[this.flow[i]!] = counts[this.flow[i]!]! + 1;
    const index: Uint32Array[] = new Array(this.packets.length);
    const fill = new Uint32Array(this.packets.length);
    for (let id = 0; id < counts.length; id++) if (counts[id]! > 0) index[id] = new Uint32Array(counts[id]!);
    for (let i = 0; i < this.rows; i++) {
      const id = this.flow[i]!;
      index[id]![fill[id]!++] = i;
    }
    this.index = index;
  }
}
