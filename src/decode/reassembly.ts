/**
 * IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5), stateful.
 *
 * Fragments are keyed by (VLAN, version, source, destination, protocol for IPv4,
 * identification). Their bytes are copied (record bytes are only views valid during the
 * callback). A datagram completes when the last fragment has arrived and the pieces
 * cover every byte from 0 to its end; the reassembled datagram is then decoded as if it
 * had arrived whole in the frame that completed it, as Wireshark shows it.
 *
 * Everything an attacker controls is bounded: datagrams pending, bytes buffered, and
 * fragments per datagram. Hitting a bound evicts the oldest datagram, and that is
 * reported like a timeout (the receiver's kernel would have dropped it too).
 *
 * A fragment the capture holds twice (two capture points, `-i any`) is a copy, counted in
 * `copies`, never news: within a pending datagram it adds nothing, and one that arrives
 * after its datagram completed (same key, offset, length and bytes, within the timeout)
 * must not open a new datagram that can only fail. Completed datagrams are remembered by
 * a fingerprint of their pieces for that.
 */
import type { DecodedPacket } from "./wire/packet.js";
import { FragmentedDatagram, Piece } from "./datagram.js";

/** Linux's ipfrag_time: a datagram not complete 30 s after its first fragment is dropped. */
export const DEFAULT_FRAGMENT_TIMEOUT_SEC = 30;
/** Datagrams under reassembly at once before the oldest is evicted. */
export const DEFAULT_MAX_PENDING_DATAGRAMS = 4096;
/** Bytes of fragment data buffered at once (Linux's ipfrag_high_thresh is 4 MiB). */
export const DEFAULT_MAX_FRAGMENT_BYTES = 16 * 1024 * 1024;
/**
 * Fragments in one datagram: a 65535-byte datagram over the smallest IPv4 MTU (68)
 * needs over 1000, but real paths need under 50; Linux allows 64 (ipfrag_max_dist).
 */
export const DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM = 64;
const MAX_DATAGRAM_BYTES = 65535;

export type FragmentFailure =
  | "timeout"
  | "capture-end"
  | "overlap-conflict"
  | "too-many-fragments"
  | "too-long"
  | "evicted"
  /** The rest of a datagram already discarded for an overlap conflict (FragmentedDatagram.afterDiscard). */
  | "after-discard";

export interface ReassemblyLimits {
  timeoutSec: number;
  maxPending: number;
  maxBytes: number;
  maxFragments: number;
}

/** Told of datagrams that will never complete (completions travel on the packet: `p.datagram`). */
export interface ReassemblyListener {
  datagramFailed(d: FragmentedDatagram, reason: FragmentFailure): void;
}

export class Reassembler {
  private readonly pending = new Map<string, FragmentedDatagram>();
  /** Datagrams completed within the timeout, oldest first: what a late copy is matched against. */
  private readonly recent = new Map<string, CompletedDatagram>();
  /** Keys of datagrams discarded for a conflicting overlap within the timeout, with the time: oldest first. */
  private readonly discarded = new Map<string, number>();
  private bufferedBytes = 0;
  evictions = 0;
  /** Fragments the capture holds more than once (see the module comment). */
  copies = 0;
  /** The datagram the last `add` completed (PacketDecoder.decodeReassembled puts it on the packet), else null. */
  completed: FragmentedDatagram | null = null;
  constructor(
    readonly listener: ReassemblyListener,
    private readonly limits: ReassemblyLimits,
  ) {}

  /**
   * Adds the fragment in `p` (IP fields decoded, `p.isFragment` set). Returns the
   * reassembled bytes (the IP payload of the whole datagram) when this fragment
   * completed it, with the datagram in `completed`; else null. `time`: the record's
   * time as the analysis sees it (analyze/clock.ts); timeouts go by it.
   */
  add(p: DecodedPacket, frame: number, time: number): Uint8Array | null {
    this.completed = null;
    this.expire(time);
    const key = fragmentKey(p);
    let d = this.pending.get(key);
    if (d === undefined && this.isLateCopy(key, p)) {
      this.copies++;
      return null;
    }
    if (d === undefined) {
      d = new FragmentedDatagram(
        key,
        p.ipVersion,
        p.vlan,
        [p.src0, p.src1, p.src2, p.src3],
        [p.dst0, p.dst1, p.dst2, p.dst3],
        p.fragId,
      );
      d.firstTime = time;
      if (this.discarded.delete(key)) d.afterDiscard = true;
      this.pending.set(key, d);
    }
    d.lastTime = time;
    d.frames.push(frame);
    d.fragmentSizes.push(p.ipTotalLen);
    const off = p.fragOffsetBytes;
    const data = p.bytes.subarray(p.fragDataOffset, p.fragDataEnd);
    // Ports and protocol come from the first fragment, for tying a lost datagram to its flow.
    if (off === 0) {
      d.proto = p.ipProto;
      if (data.length >= 4) {
        d.srcPort = (data[0]! << 8) | data[1]!;
        d.dstPort = (data[2]! << 8) | data[3]!;
      }
    }
    if (d.proto < 0 && p.ipVersion === 4) d.proto = p.ipProto;
    // Bytes the fragment carries on the wire (the snap length may have cut `data`).
    const wireLen = p.ipTotalLen - (p.fragDataOffset - p.l3Offset);
    const fragEnd = off + wireLen;
    if (!p.moreFragments) {
      // Two different "last fragments", or one that ends before data already held: the
      // receiver cannot know the datagram's length (RFC 5722 treats this like an overlap).
      if ((d.totalLen >= 0 && d.totalLen !== fragEnd) || d.maxEnd > fragEnd) return this.fail(d, "overlap-conflict");
      d.totalLen = fragEnd;
    } else if (d.totalLen >= 0 && fragEnd > d.totalLen) {
      return this.fail(d, "overlap-conflict");
    }
    if (fragEnd > d.maxEnd) d.maxEnd = fragEnd;
    if (off + wireLen > MAX_DATAGRAM_BYTES) return this.fail(d, "too-long");
    if (d.frames.length > this.limits.maxFragments) return this.fail(d, "too-many-fragments");
    // Cut by the snap length: keep counting fragments, but the bytes can't be rebuilt.
    const usable = data.length >= wireLen;
    if (usable && this.insert(d, off, data) && d.overlapConflict) return this.fail(d, "overlap-conflict");
    while (this.bufferedBytes > this.limits.maxBytes || this.pending.size > this.limits.maxPending) {
      const oldest = this.pending.values().next().value as FragmentedDatagram;
      this.evictions++;
      this.fail(oldest, "evicted");
      if (oldest === d) return null;
    }
    return usable ? this.tryComplete(d) : null;
  }

  /** Fails everything still pending: called when the capture ends. */
  finish(): void {
    for (const d of [...this.pending.values()]) this.fail(d, "capture-end");
  }

  /** Drops datagrams whose first fragment is older than the timeout. Map order is age order. */
  expire(now: number): void {
    for (const d of this.pending.values()) {
      if (now - d.firstTime <= this.limits.timeoutSec) break;
      this.fail(d, "timeout");
    }
    for (const [key, c] of this.recent) {
      if (now - c.time <= this.limits.timeoutSec) break;
      this.recent.delete(key);
    }
    for (const [key, t] of this.discarded) {
      if (now - t <= this.limits.timeoutSec) break;
      this.discarded.delete(key);
    }
  }

  /**
   * Whether the fragment in `p` repeats a piece of the datagram `key` that completed
   * within the timeout. A fragment that does not (the IP id reused for a new datagram)
   * forgets the old one, so the new datagram's later fragments are never taken for copies.
   */
  private isLateCopy(key: string, p: DecodedPacket): boolean {
    const c = this.recent.get(key);
    if (c === undefined) return false;
    const data = p.bytes.subarray(p.fragDataOffset, p.fragDataEnd);
    for (const piece of c.pieces) {
      if (piece.offset === p.fragOffsetBytes && piece.length === data.length && piece.hash === fnv1a(data)) return true;
    }
    this.recent.delete(key);
    return false;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Returns false for an exact duplicate (nothing new). Marks conflicting overlaps. */
  private insert(d: FragmentedDatagram, off: number, data: Uint8Array): boolean {
    const end = off + data.length;
    for (const piece of d.pieces) {
      const pEnd = piece.offset + piece.data.length;
      if (end <= piece.offset || off >= pEnd) continue;
      // Overlap: compare the shared bytes. Same data is a duplicate; different data is
      // the ambiguity attackers use to evade IDSs (RFC 5722 forbids it for IPv6).
      const from = Math.max(off, piece.offset),
        to = Math.min(end, pEnd);
      for (let i = from; i < to; i++) {
        if (data[i - off] !== piece.data[i - piece.offset]) {
          d.overlapConflict = true;
          break;
        }
      }
      if (!d.overlapConflict && off >= piece.offset && end <= pEnd) {
        d.duplicates++;
        this.copies++;
        return false;
      }
    }
    const copy = data.slice();
    d.pieces.push(new Piece(off, copy));
    d.bufferedBytes += copy.length;
    this.bufferedBytes += copy.length;
    return true;
  }

  private tryComplete(d: FragmentedDatagram): Uint8Array | null {
    if (d.totalLen < 0) return null;
    d.pieces.sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const piece of d.pieces) {
      if (piece.offset > covered) return null;
      covered = Math.max(covered, piece.offset + piece.data.length);
    }
    if (covered < d.totalLen) return null;
    const out = new Uint8Array(d.totalLen);
    for (const piece of d.pieces) {
      const room = d.totalLen - piece.offset;
      if (room <= 0) continue;
      out.set(room < piece.data.length ? piece.data.subarray(0, room) : piece.data, piece.offset);
    }
    this.remove(d);
    this.remember(d);
    this.completed = d;
    return out;
  }

  /** Keeps the fingerprint of a completed datagram for the timeout (at most maxPending of them). */
  private remember(d: FragmentedDatagram): void {
    this.recent.delete(d.key);
    this.recent.set(d.key, {
      time: d.lastTime,
      pieces: d.pieces.map((piece) => ({ offset: piece.offset, length: piece.data.length, hash: fnv1a(piece.data) })),
    });
    if (this.recent.size > this.limits.maxPending) this.recent.delete(this.recent.keys().next().value as string);
  }

  private fail(d: FragmentedDatagram, reason: FragmentFailure): null {
    this.remove(d);
    if (reason === "overlap-conflict") {
      this.discarded.delete(d.key);
      this.discarded.set(d.key, d.lastTime);
      if (this.discarded.size > this.limits.maxPending)
        this.discarded.delete(this.discarded.keys().next().value as string);
    }
    if (d.afterDiscard && (reason === "timeout" || reason === "capture-end")) reason = "after-discard";
    this.listener.datagramFailed(d, reason);
    return null;
  }

  private remove(d: FragmentedDatagram): void {
    if (this.pending.delete(d.key)) this.bufferedBytes -= d.bufferedBytes;
  }
}

/** A completed datagram as a late copy is matched against: each piece's offset, length and bytes' hash. */
interface CompletedDatagram {
  time: number;
  pieces: { offset: number; length: number; hash: number }[];
}

/** 32-bit FNV-1a: tells a copy from a different fragment without keeping the bytes. */
function fnv1a(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** The datagram a fragment belongs to (also how `--jobs` keeps fragments together). */
export function fragmentKey(p: DecodedPacket): string {
  // IPv4 keys include the protocol (RFC 791); IPv6's Identification is per (src, dst).
  return p.ipVersion === 4
    ? `${p.vlan}|4|${p.src0}|${p.dst0}|${p.ipProto}|${p.fragId}`
    : `${p.vlan}|6|${p.src0}|${p.src1}|${p.src2}|${p.src3}|${p.dst0}|${p.dst1}|${p.dst2}|${p.dst3}|${p.fragId}`;
}
