/**
 * Per-segment facts, computed once by the tracker for every TCP segment and read by the
 * analyzers (issue 15): is it a copy of a packet the capture already holds, a re-send and
 * of what kind, a keep-alive or zero-window probe, a duplicate ACK, a window update. An
 * analyzer is then a small rule over these facts and keeps no copy of its own of a side's
 * sequence bookkeeping.
 *
 * The memory behind the facts is one Float64Array for all TCP flows of a table (FactsPool),
 * a run of plain numbers at fixed offsets per flow (Flow.factsAt): no allocation per
 * segment, no boxed number per field, and no typed array (with its buffer and backing
 * store, about 400 bytes beside the numbers) per flow.
 *
 * Capture copies. The same packet recorded twice (two capture points, `-i any`, a mirror
 * port, a routed copy one hop later) has the same IPv4 identification, sequence and
 * acknowledgement numbers, flags, length, window and timestamp value. A sender re-sending
 * the bytes takes a new IP identification (a per-socket or global counter; Linux, BSD,
 * Windows) and, with timestamps, a new TSval, so a match on all of them within
 * COPY_SAME_ID_MAX_SEC is the capture, not TCP. Without an identification (IPv6, or the
 * IPv4 id 0 Linux uses for packets of no socket) only an identical segment within
 * COPY_NO_ID_MAX_SEC with nothing from the peer between counts: no timer is that fast, and
 * a fast retransmit needs the peer's duplicate ACKs first.
 *
 * Re-sends follow Wireshark's `tcp_analyze_sequence_number` (packet-tcp.c), so the frames
 * called re-sends are the ones tshark flags `tcp.analysis.retransmission`, with a finer
 * type (see RESEND_*), and two deliberate differences: a capture copy is no re-send, and
 * neither is a FIN that a BSD stack repeats on each ACK it sends while its FIN is
 * unacknowledged (RESEND_FIN_REPEAT): that segment answers the peer's data, no timer sent it.
 */
import type { Flow } from "./record.js";
import type { DecodedPacket } from "../wire/packet.js";
import { TH_ACK, TH_FIN, TH_RST, TH_SYN } from "../wire/packet.js";
import { seqDiff, type TcpSegment } from "./tcp-tracker.js";

/** Not a re-send. */
export const RESEND_NONE = 0;
/** Re-sent after a silence a timer must have ended (RTO, Linux's tail-loss probe). */
export const RESEND_TIMEOUT = 1;
/** Re-sent right after the receiver's duplicate ACKs or SACK blocks (RFC 5681 §3.2, RFC 6675). */
export const RESEND_FAST = 2;
/** Re-sent although the receiver had already acknowledged all of it. */
export const RESEND_SPURIOUS = 3;
/** Old data with neither a timeout nor a loss signal before it (ICMP, or not in the capture). */
export const RESEND_OTHER = 4;
/**
 * A segment stamped earlier than one already seen in the flow: the file merges or replays
 * traffic, and its timing says nothing about a re-send (tshark still flags it).
 */
export const RESEND_OUT_OF_TIME_ORDER = 5;
/**
 * A bare FIN re-sent on an ACK of new data (or the FIN) from the peer: BSD's tcp_output sets
 * FIN on every segment it sends in FIN_WAIT_1, CLOSING and LAST_ACK (its FIN unacknowledged).
 */
export const RESEND_FIN_REPEAT = 6;

/** tshark's window for a fast retransmission after the receiver's last (duplicate) ACK. */
export const FAST_RETRANSMIT_WINDOW_SEC = 0.02;
/** tshark's duplicate-ACK count for a fast retransmission (RFC 5681 uses 3; tshark 2). */
export const FAST_RETRANSMIT_DUP_ACKS = 2;
/** tshark's out-of-order window when the handshake (and so the first RTT) is unknown. */
export const OUT_OF_ORDER_DEFAULT_SEC = 0.003;
/**
 * A re-send after at least this much silence from both sides' useful traffic (no new data
 * sent, no ACK moving forward) was a timer's: Linux's shortest, the tail-loss probe, waits
 * at least 10 ms (its RTO at least 200 ms); half of that allows for where the capture sits.
 * Re-sends in quick succession after one continue the same recovery and keep its type.
 */
export const TIMER_MIN_SILENCE_SEC = 0.005;
/**
 * Copies without an IP identification to tell them by arrive µs to a few hundred µs apart;
 * no retransmission timer fires within 2 ms (Linux: RTO ≥ 200 ms, tail-loss probe ≥ 10 ms).
 */
export const COPY_NO_ID_MAX_SEC = 0.002;
/**
 * Copies with the same IP identification: seen up to 50 ms apart (a mirror port's queue,
 * arkime--wireshark-retrans). A sender gives each packet a new identification, but some
 * (crafted traffic, odd stacks) keep one: below Linux's shortest retransmission timeout
 * (200 ms) no timer can have re-sent it, and a fast retransmit is told apart by the peer's
 * duplicate ACKs before it.
 */
export const COPY_SAME_ID_MAX_SEC = 0.1;

/** Segments of each side remembered for the copy test (the newest first). */
const RECENT = 4;
// One remembered segment: its fields at these offsets.
const R_SEQ = 0,
  R_ACK = 1,
  R_TSVAL = 2,
  /** (IP id + 1) + 2^17 · (flags + 2^8 · raw window) */
  R_ID_FLAGS_WIN = 3,
  /** payload length + 2^32 · SACK block count */
  R_LEN_SACK = 4,
  R_TIME = 5,
  R_SIZE = 6;
// Per side, after its remembered segments.
const S_COUNT = RECENT * R_SIZE, // segments remembered (at most RECENT)
  S_DUP_ACKS = S_COUNT + 1, // consecutive duplicate ACKs sent
  S_BITS = S_COUNT + 2, // B_* below
  S_LAST_RESEND = S_COUNT + 3, // RESEND_* of the previous segment (a recovery burst continues it)
  S_ACK_ADVANCE_TIME = S_COUNT + 4, // when this side's ACK last moved forward (-1: never)
  S_NEXT_SEQ_TIME = S_COUNT + 5, // when this side last sent new sequence space (tshark's nextseqtime)
  S_NEWEST = S_COUNT + 6, // slot of the newest remembered segment
  S_LAST_ACK = S_COUNT + 7, // the last ACK number of an accepted segment with ACK set (-1: none): ackChanged
  SIDE_SIZE = S_COUNT + 8;
const B_PEER_SINCE = 1, // the peer sent something since this side's last segment
  B_KEEPALIVE_SHAPED = 2, // the last segment was keep-alive shaped (its answer is no duplicate ACK)
  B_SIGNALLED_LOSS = 4; // the last segment was a duplicate ACK or carried SACK blocks
// Per flow, after both sides.
const F_SYN_TIME = 2 * SIDE_SIZE, // the latest pure SYN (-1: none)
  F_FIRST_RTT = F_SYN_TIME + 1, // SYN to the first ACK after it, as tshark (-1: unknown)
  F_MAX_TIME = F_SYN_TIME + 2, // the latest capture time seen
  FLOW_SIZE = F_SYN_TIME + 3;

/**
 * The facts' memory of a flow table's TCP flows: FLOW_SIZE numbers per flow in the layout
 * above, from the flow's `factsAt`. Grows by doubling. A flow that has ended (out of the
 * table: it sees no more packets) gives its run back (Flow.releaseFacts), and a new flow
 * takes it again, so the pool follows the flows in the table, not every flow the capture
 * held: a file of a million short connections, or a live capture running for days.
 */
export class FactsPool {
  memory = new Float64Array(0);
  private used = 0;
  /** Runs given back, to be taken again before the pool grows. */
  private readonly free: number[] = [];

  /** A new flow's run, at its initial values; read `memory` after: it may have grown. */
  take(): number {
    let f = this.free.pop();
    if (f !== undefined) this.memory.fill(0, f, f + FLOW_SIZE);
    else {
      if ((this.used + 1) * FLOW_SIZE > this.memory.length) {
        const grown = new Float64Array(Math.max(16, 2 * (this.used + 1)) * FLOW_SIZE);
        grown.set(this.memory);
        this.memory = grown;
      }
      f = this.used++ * FLOW_SIZE;
    }
    const m = this.memory;
    for (let side = 0; side < 2; side++) {
      m[f + side * SIDE_SIZE + S_ACK_ADVANCE_TIME] = -1;
      m[f + side * SIDE_SIZE + S_LAST_ACK] = -1;
      // The first segment goes to slot 0: slots 0 .. count − 1 are the ones filled.
      m[f + side * SIDE_SIZE + S_NEWEST] = RECENT - 1;
    }
    m[f + F_SYN_TIME] = -1;
    m[f + F_FIRST_RTT] = -1;
    m[f + F_MAX_TIME] = -Infinity;
    return f;
  }

  /** A run no flow uses any more. */
  release(at: number): void {
    this.free.push(at);
  }

  /** Runs in use now (taken and not given back). */
  get inUse(): number {
    return this.used - this.free.length;
  }

  /** Runs the memory has room for. */
  get capacity(): number {
    return this.memory.length / FLOW_SIZE;
  }
}

function idFlagsWin(p: DecodedPacket): number {
  return p.ipId + 1 + 131072 * (p.tcpFlags + 256 * p.win);
}

/** Offset of this side's previous segment (side base `s`; one must be remembered). */
function newest(m: Float64Array, s: number): number {
  return s + m[s + S_NEWEST]! * R_SIZE;
}

/** Is `p`, from the side at `s` (peer at `o`), a copy of one of that side's remembered segments. */
function isCopy(m: Float64Array, s: number, o: number, p: DecodedPacket, time: number): boolean {
  const count = m[s + S_COUNT]!;
  const seq = p.seq;
  // Slots in any order: the sequence number alone rules out almost every one at once.
  for (let slot = 0; slot < count; slot++) {
    const r = s + slot * R_SIZE;
    if (
      m[r + R_SEQ] !== seq ||
      m[r + R_ACK] !== p.ack ||
      m[r + R_TSVAL] !== p.optTsVal ||
      m[r + R_ID_FLAGS_WIN] !== idFlagsWin(p) ||
      m[r + R_LEN_SACK] !== p.payloadLen + 4294967296 * p.sackCount
    )
      continue;
    // In whole nanoseconds, the finest a capture stamps: 1.6 − 1.5 is not 0.1 in doubles.
    const apart = Math.round((time - m[r + R_TIME]!) * 1e9) / 1e9;
    if (apart < 0) continue;
    if (p.ipId > 0) return apart <= COPY_SAME_ID_MAX_SEC && (m[o + S_BITS]! & B_SIGNALLED_LOSS) === 0;
    // Without an id: only the side's previous segment, nothing from the peer since.
    return slot === m[s + S_NEWEST] && apart <= COPY_NO_ID_MAX_SEC && (m[s + S_BITS]! & B_PEER_SINCE) === 0;
  }
  return false;
}

/** `p` carries the sequence number and IP id of a segment of its side recorded before the latest clock jump. */
function repeatsAcrossJump(m: Float64Array, s: number, p: DecodedPacket, clockJumpAt: number): boolean {
  if (p.ipId <= 0 || clockJumpAt === -Infinity) return false;
  const count = m[s + S_COUNT]!;
  for (let slot = 0; slot < count; slot++) {
    const r = s + slot * R_SIZE;
    // R_ID_FLAGS_WIN keeps (IP id + 1) in its low 17 bits.
    if (m[r + R_SEQ] === p.seq && m[r + R_TIME]! < clockJumpAt && m[r + R_ID_FLAGS_WIN]! % 131072 === p.ipId + 1)
      return true;
  }
  return false;
}

function remember(m: Float64Array, s: number, p: DecodedPacket, time: number): void {
  // No `%`: on numbers read from a Float64Array it is a floating-point remainder (fmod), slow.
  let slot = m[s + S_NEWEST]! + 1;
  if (slot === RECENT) slot = 0;
  const r = s + slot * R_SIZE;
  m[r + R_SEQ] = p.seq;
  m[r + R_ACK] = p.ack;
  m[r + R_TSVAL] = p.optTsVal;
  m[r + R_ID_FLAGS_WIN] = idFlagsWin(p);
  m[r + R_LEN_SACK] = p.payloadLen + 4294967296 * p.sackCount;
  m[r + R_TIME] = time;
  m[s + S_NEWEST] = slot;
  if (m[s + S_COUNT]! < RECENT) m[s + S_COUNT]!++;
}

/**
 * Fills the facts of `seg` (already tracked: seqVsNext, nextSeqBefore, peerWin are set, the
 * endpoints updated) for the packet `p` that `flow`'s side `dir` sent.
 */
export function computeSegmentFacts(
  flow: Flow,
  dir: number,
  p: DecodedPacket,
  seg: TcpSegment,
  pool: FactsPool,
  clockJumpAt = -Infinity,
): void {
  if (flow.facts === null) {
    flow.factsAt = pool.take();
    flow.facts = pool;
  }
  const m = pool.memory;
  // `f`: the flow's run; `s` and `o`: its sender's and the other side's part of it.
  const f = flow.factsAt,
    s = f + dir * SIDE_SIZE,
    o = f + (1 - dir) * SIDE_SIZE;
  const flags = seg.flags,
    len = seg.len,
    time = seg.time;
  seg.headerRejected = p.tcpHeaderRejected;
  seg.captureCopy = isCopy(m, s, o, p, time);
  seg.resend = RESEND_NONE;
  seg.resendWait = 0;
  seg.keepAliveProbe = false;
  seg.zeroWindowProbe = false;
  seg.dupAck = false;
  seg.windowUpdate = false;
  seg.ackChanged = false;
  const hasPrev = m[s + S_COUNT]! > 0;
  const prev = hasPrev ? newest(m, s) : -1;
  const prevTime = hasPrev ? m[prev + R_TIME]! : -1;
  if (seg.captureCopy) {
    // A copy is no new event: it changes no fact of either side. Its `resend` says what
    // tshark calls it (a retransmission, or nothing when the original was out of order),
    // for the retransmission analyzer to tag it where tshark does.
    seg.resend = classifyResend(flow, m, s, o, seg, isOneBelowNext(seg), prevTime);
    return;
  }
  if (seg.accepted && (flags & TH_ACK) !== 0 && p.ack !== m[s + S_LAST_ACK]) {
    seg.ackChanged = true;
    m[s + S_LAST_ACK] = p.ack;
  }
  const prevAck = hasPrev ? m[prev + R_ACK]! : 0,
    prevWin = hasPrev ? Math.floor(m[prev + R_ID_FLAGS_WIN]! / 33554432) : -1;
  const peerBits = m[o + S_BITS]!;
  const sv = seg.seqVsNext;
  const control = (flags & (TH_SYN | TH_FIN | TH_RST)) !== 0;

  if (flags & TH_SYN) {
    if ((flags & TH_ACK) === 0) m[f + F_SYN_TIME] = time;
  } else if (m[f + F_FIRST_RTT]! < 0 && m[f + F_SYN_TIME]! >= 0 && (flags & TH_ACK) !== 0) {
    m[f + F_FIRST_RTT] = time - m[f + F_SYN_TIME]!;
  }

  const keepAliveShaped = isOneBelowNext(seg);
  seg.zeroWindowProbe = isZeroWindowProbe(seg);
  seg.keepAliveProbe = isKeepAliveProbe(seg);

  // Duplicate ACK (tshark): nothing new, same ACK and window as before, window open; the
  // answer to a keep-alive is no duplicate ACK.
  const bare = len === 0 && !control && sv === 0;
  if (
    bare &&
    prevWin >= 0 &&
    p.win !== 0 &&
    p.win === prevWin &&
    p.ack === prevAck &&
    (peerBits & B_KEEPALIVE_SHAPED) === 0
  ) {
    seg.dupAck = true;
    m[s + S_DUP_ACKS]!++;
  }
  if (p.ack !== prevAck) m[s + S_DUP_ACKS] = 0;
  // Window update (tshark): a bare ACK changing only the window.
  seg.windowUpdate = bare && prevWin >= 0 && p.win !== 0 && p.win !== prevWin && p.ack === prevAck;

  seg.resend = classifyResend(flow, m, s, o, seg, keepAliveShaped, prevTime);
  // Replayed with an older timestamp, or the same packet (sequence number and IP id) as one
  // recorded before a clock jump (captures recorded apart and stitched together:
  // pcpp--Ftp-retransmissions' frames 7-10, 15 years after the packets they repeat): no wait
  // can be measured across the jump, and no re-send is shown. A stack's real re-send
  // carries a new IP id, so one stray timestamp elsewhere does not hide it.
  if (seg.resend !== RESEND_NONE && (time < m[f + F_MAX_TIME]! || repeatsAcrossJump(m, s, p, clockJumpAt)))
    seg.resend = RESEND_OUT_OF_TIME_ORDER;

  if ((flags & TH_RST) === 0) {
    const space = len + (flags & TH_SYN ? 1 : 0) + (flags & TH_FIN ? 1 : 0);
    if (sv + space > 0 || !hasPrev) m[s + S_NEXT_SEQ_TIME] = time;
  }
  if ((flags & TH_ACK) !== 0 && (!hasPrev || seqDiff(p.ack, prevAck) > 0)) m[s + S_ACK_ADVANCE_TIME] = time;
  // A replayed segment or a FIN repeat starts no recovery burst.
  m[s + S_LAST_RESEND] =
    seg.resend === RESEND_OUT_OF_TIME_ORDER || seg.resend === RESEND_FIN_REPEAT ? RESEND_NONE : seg.resend;
  m[s + S_BITS] = (keepAliveShaped ? B_KEEPALIVE_SHAPED : 0) | (seg.dupAck || p.sackCount > 0 ? B_SIGNALLED_LOSS : 0);
  m[o + S_BITS] = peerBits | B_PEER_SINCE;
  remember(m, s, p, time);
  if (time > m[f + F_MAX_TIME]!) m[f + F_MAX_TIME] = time;
}

/*
 * Probes. Keep-alive probes and zero-window probes look alike on the wire; what tells them
 * apart is the receiver's last advertised window. Linux probes a zero window with a
 * zero-length segment whose sequence number is one below the next byte — exactly a
 * keep-alive by RFC 1122 §4.2.3.6, which is why tshark calls Linux zero-window probes
 * keep-alives. BSD and Windows probe with one byte of new data instead (RFC 9293 §3.8.6.1).
 */

/** seq = next byte − 1, carrying 0 or 1 bytes, no SYN/FIN/RST: keep-alive shaped. */
function isOneBelowNext(seg: TcpSegment): boolean {
  return (seg.flags & (TH_SYN | TH_FIN | TH_RST)) === 0 && seg.len <= 1 && seg.seqVsNext === -1;
}

/**
 * The handshake's round trip as the capture saw it: the client's SYN to its ACK of the
 * SYN-ACK (tshark's initial RTT), in seconds; -1 when the handshake was not captured.
 */
export function handshakeRtt(flow: Flow): number {
  return flow.facts === null ? -1 : flow.facts.memory[flow.factsAt + F_FIRST_RTT]!;
}

/** A probe of a window the receiver advertised as zero. */
export function isZeroWindowProbe(seg: TcpSegment): boolean {
  if (seg.peerWin !== 0 || (seg.flags & (TH_SYN | TH_FIN | TH_RST)) !== 0) return false;
  return isOneBelowNext(seg) || (seg.len === 1 && seg.seqVsNext === 0);
}

/** A keep-alive probe: one below the next byte while the peer's window is open. */
export function isKeepAliveProbe(seg: TcpSegment): boolean {
  return seg.peerWin !== 0 && isOneBelowNext(seg);
}

/** RESEND_* of a segment that is no copy; `prevTime` is this side's previous segment's time (-1: none). */
function classifyResend(
  flow: Flow,
  m: Float64Array,
  s: number,
  o: number,
  seg: TcpSegment,
  keepAliveShaped: boolean,
  prevTime: number,
): number {
  const flags = seg.flags,
    len = seg.len,
    sv = seg.seqVsNext,
    time = seg.time;
  if ((len === 0 && (flags & TH_FIN) === 0) || (flags & (TH_SYN | TH_RST)) !== 0 || keepAliveShaped) return RESEND_NONE;
  const peer = flow.ep[1 - seg.dir]!;
  const seqEnd = (seg.seq + len) >>> 0;
  // Bytes the capture never held before cannot be a re-send, even when the peer had already
  // acknowledged them: the capture recorded the ACK before the data (two capture queues, a
  // replay), as in arkime--smtp-decrypted frames 26-32, microseconds apart.
  if (len > 0 && sv < 0 && peer.ackSeen && seqDiff(seqEnd, peer.lastAck) <= 0) return RESEND_SPURIOUS;
  // One byte below the next is new data after a one-byte zero-window probe (counted as sent).
  if (!(sv < 0 && !(len > 1 && sv === -1))) return RESEND_NONE;
  // A bare FIN that acknowledges more of the peer than this side's previous segment did
  // answers the peer: a timer re-sends with the ACK it already sent. Whether the capture saw
  // the FIN acknowledged does not matter: the ACK may still be on its way to the sender
  // (the crossing FINs of arkime--v6 frames 72-75).
  if ((flags & TH_FIN) !== 0 && len === 0 && m[s + S_COUNT]! > 0 && seqDiff(seg.ack, m[newest(m, s) + R_ACK]!) > 0)
    return RESEND_FIN_REPEAT;
  const sinceReceiver = time - peer.lastTime;
  if (
    m[o + S_DUP_ACKS]! >= FAST_RETRANSMIT_DUP_ACKS &&
    peer.lastAck === seg.seq &&
    sinceReceiver < FAST_RETRANSMIT_WINDOW_SEC
  )
    return RESEND_FAST;
  const firstRtt = m[flow.factsAt + F_FIRST_RTT]!;
  const oooWindow = firstRtt > 0 ? firstRtt : OUT_OF_ORDER_DEFAULT_SEC;
  const endsAtNext = seqDiff((seqEnd + ((flags & TH_FIN) !== 0 ? 1 : 0)) >>> 0, seg.nextSeqBefore) === 0;
  const sinceNew = time - m[s + S_NEXT_SEQ_TIME]!;
  // Old data soon after new data, not ending at the next byte: reordering, not a re-send.
  if (sinceNew >= 0 && sinceNew < oooWindow && !endsAtNext) return RESEND_NONE;
  if ((m[o + S_BITS]! & B_SIGNALLED_LOSS) !== 0 && sinceReceiver < FAST_RETRANSMIT_WINDOW_SEC) return RESEND_FAST;
  const lastResend = m[s + S_LAST_RESEND]!;
  if (lastResend !== RESEND_NONE && time - prevTime < TIMER_MIN_SILENCE_SEC) return lastResend;
  // Quiet since this side's previous segment and the peer's last ACK moving forward.
  const quietSince = Math.max(prevTime, m[o + S_ACK_ADVANCE_TIME]!);
  const silence = quietSince >= 0 ? time - quietSince : 0;
  if (silence < TIMER_MIN_SILENCE_SEC) return RESEND_OTHER;
  seg.resendWait = silence;
  return RESEND_TIMEOUT;
}
