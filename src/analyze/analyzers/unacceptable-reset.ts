/**
 * unacceptable-reset: a RST the receiving stack ignored (the tracker's `accepts`,
 * TcpSegment.accepted false), when it looks sent by someone other than the endpoint's
 * own connection. RFC 9293 §3.10.7.3: in SYN-SENT a reset counts only with ACK set and
 * ack = ISN + 1; RFC 5961 §3 (Linux tcp_validate_incoming): later, only in the window.
 *
 * Reported once per flow, when either
 * - the receiver was in SYN-SENT: no stack refuses a SYN that way (a refusal acknowledges
 *   it), so the reset is forged (a middlebox or IDS resetting connections, a sloppy
 *   injector acknowledging the ISN itself) or answers another incarnation; or
 * - the sender's side went on with the connection after it (accepted segments other than
 *   resets): its own stack had not given up, so the reset was not its last word.
 * Out-of-window resets from a side that says nothing more (a stateless answer to a
 * segment that crossed the close, arkime--https2-301-get frames 21–22) are left alone:
 * a race, not an intruder. The TTL of the reset against that of the sender's own
 * segments tells whether it came from another hop.
 */
import { defineAnalyzer } from "../analyzer.js";
import { roleOf } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { inSynSent } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK, TH_RST, TH_SYN } from "../../decode/wire/packet.js";

/** How many ignored resets a finding names by frame. */
const MAX_FRAMES = 8;

/** What the analyzer has seen on one flow. */
class State {
  /** The first ignored reset: its sender, frame, time and numbers; frame 0 until one came. */
  dir = -1;
  frame = 0;
  time = 0;
  seq = 0;
  ack = 0;
  hasAck = false;
  ttl = -1;
  /** The receiver was in SYN-SENT: its ISN then; else its window at the reset (ack, bytes). */
  synSent = false;
  receiverIsn = 0;
  receiverAck = 0;
  receiverWin = 0;
  count = 0;
  frames: number[] = [];
  /** After the first ignored reset: the sender's first accepted segment that is no reset, and its TTL. */
  senderOnFrame = 0;
  senderTtl = -1;
  /** SYN-SENT: the receiver re-sent its SYN; the handshake completed (SYN-ACK from the sender's side). */
  synResentFrame = 0;
  synAckFrame = 0;
}

const analyzer = defineAnalyzer<State>({
  id: "unacceptable-reset",
  title: "A reset the receiving stack ignored (forged or stray)",
  severity: "warning",
  family: "tcp-closing",
  wire:
    "A RST the receiver's TCP does not act on: in SYN-SENT without ACK or with an ack other than ISN + 1, or later " +
    "with a sequence number outside the window; the connection goes on.",
  explanation:
    "A reset only ends a connection when the receiving TCP accepts it (RFC 9293 §3.10.7; RFC 5961 §3). A socket in " +
    "SYN-SENT (connect() waiting for the SYN-ACK) takes a reset only if it carries ACK and acknowledges exactly its " +
    "SYN (ISN + 1): a closed port's kernel always answers that way, so a bare reset or one with another ack is " +
    "dropped. Once the connection is up, a reset counts only if its sequence number is in the receiver's window; " +
    "outside it the stack drops it (Linux answers at most with a challenge ACK). Such a reset changed nothing for " +
    "the program: connect() goes on waiting and succeeds when the real SYN-ACK comes, reads and writes go on " +
    "(Linux even re-sends its SYN at once after a reset with a wrong ack, in case an earlier answer was lost). The " +
    "endpoint's own stack never sends one like it while its connection is alive, so the reset came from elsewhere: " +
    "a firewall, IDS or censorship box injecting resets to cut connections (a different IP TTL than the real " +
    "sender's packets points to another hop), a load balancer or NAT answering for a connection it lost, or a stack " +
    "answering a segment of an older incarnation of the same 4-tuple. Nothing is wrong in the program; find out " +
    "which box on the path sends them (a capture nearer to the sender, traceroute with the reset's TTL in mind), " +
    "because where the injector's guess is right it does cut connections, with ECONNRESET or ECONNREFUSED.",
  references: ["000 §3.7", "000 §2.7"],
  createState: () => new State(),
  // Nothing to do before a reset; the tracker tells which ones the receiver ignored.
  wakeOn: TH_RST,
  readsUnaccepted: true,
  onTcpSegment(s, flow, seg, p) {
    if (!seg.accepted) {
      if ((seg.flags & TH_RST) === 0) return;
      if (s.count++ === 0) first(s, flow, seg.dir, seg.frame, seg.time, seg.seq, seg.ack, seg.flags, p.ttl);
      if (s.frames.length < MAX_FRAMES) s.frames.push(seg.frame);
      return;
    }
    if (s.count === 0) return;
    if (seg.dir === s.dir) {
      if (s.senderOnFrame === 0 && (seg.flags & TH_RST) === 0) {
        s.senderOnFrame = seg.frame;
        s.senderTtl = p.ttl;
      }
      if (s.synAckFrame === 0 && (seg.flags & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK)) s.synAckFrame = seg.frame;
    } else if (s.synResentFrame === 0 && (seg.flags & (TH_SYN | TH_ACK)) === TH_SYN) s.synResentFrame = seg.frame;
  },
  onFlowEnd(s, flow, out) {
    if (s.count === 0 || (!s.synSent && s.senderOnFrame === 0)) return;
    const who = roleOf(s.dir),
      receiver = roleOf(1 - s.dir);
    const why = s.synSent
      ? s.hasAck
        ? `acknowledging ${s.ack}, not the ${receiver}'s SYN (ISN + 1 = ${(s.receiverIsn + 1) >>> 0}), while the ${receiver} was in SYN-SENT`
        : `without ACK, while the ${receiver} was in SYN-SENT, where a reset counts only if it acknowledges the SYN`
      : `with sequence number ${s.seq}, outside the ${receiver}'s window (it had acknowledged up to ${s.receiverAck} ` +
        `and advertised ${s.receiverWin} bytes)`;
    const more = s.count > 1 ? ` (and ${s.count - 1} more reset(s) like it)` : "";
    const wentOn = s.synSent
      ? s.synAckFrame !== 0
        ? `; connect() went on: ${s.synResentFrame !== 0 ? `the ${receiver} re-sent its SYN (frame ${s.synResentFrame}) and ` : ""}` +
          `the ${who}'s SYN-ACK (frame ${s.synAckFrame}) completed the handshake`
        : `; nothing else answered the ${receiver}'s SYN on this connection`
      : `; the connection went on (the ${who}'s next segment, frame ${s.senderOnFrame})`;
    const source =
      s.senderTtl < 0 || s.ttl < 0
        ? ""
        : s.senderTtl !== s.ttl
          ? `; its IP TTL (${s.ttl}) differs from that of the ${who}'s own segments (${s.senderTtl}, frame ${s.senderOnFrame}): ` +
            "it was sent from another hop, a middlebox injecting resets"
          : `; its IP TTL (${s.ttl}) is that of the ${who}'s own segments (frame ${s.senderOnFrame}): sent from as many ` +
            `hops away as the ${who}, its host or a box beside it`;
    out.report(analyzer, {
      flow,
      dir: s.dir,
      frames: s.frames,
      count: s.count,
      time: s.time,
      summary:
        `a RST (frame ${s.frame}) from the ${who}'s address (${flow.endpointName(who)}) came ${why}: the ${receiver}'s ` +
        `stack ignored it${more}${wentOn}${source}`,
      measure: { ignoredResets: s.count, resetTtl: s.ttl, senderTtl: s.senderTtl },
    });
  },
});

/** Notes the first ignored reset and the receiver's state it was judged against (unchanged by it). */
function first(
  s: State,
  flow: Flow,
  dir: number,
  frame: number,
  time: number,
  seq: number,
  ack: number,
  flags: number,
  ttl: number,
): void {
  const sender = flow.ep[dir]!,
    receiver = flow.ep[1 - dir]!;
  s.dir = dir;
  s.frame = frame;
  s.time = time;
  s.seq = seq;
  s.ack = ack;
  s.hasAck = (flags & TH_ACK) !== 0;
  s.ttl = ttl;
  s.synSent = inSynSent(receiver, sender);
  s.receiverIsn = receiver.isn;
  s.receiverAck = receiver.lastAck;
  s.receiverWin = receiver.winScaled;
}
export default analyzer;
