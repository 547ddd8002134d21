/**
 * crafted-syn: SYNs no TCP stack writes (the tracker's isCraftedSyn): an acknowledgement
 * number without the ACK flag (stacks send 0, RFC 9293 §3.1; hping3 fills it at random) or
 * SACK blocks, which acknowledge data and never ride on a SYN (RFC 2018 §3). A packet
 * crafter sent them, not connect(): a scan, a SYN flood on the 4-tuple, a test tool.
 *
 * Reported once per flow with what the packets show: how many, how many ISNs, over how
 * long, and whether a stack's own SYN went on beside them. The tracker keeps such SYNs
 * from splitting the flow into incarnations (isNewIncarnation) and ignores those with a
 * foreign ISN (not-accepted), so time-wait-reuse, syn-retransmit and connect-timeout say
 * nothing of them; this kind says what they are.
 */
import { defineAnalyzer, WAKE_CRAFTED_SYN } from "../analyzer.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_ACK } from "../../decode/wire/packet.js";

/** How many of the SYNs a finding names by frame. */
const MAX_FRAMES = 8;
/** ISNs remembered to count distinct ones; past this, "at least". */
const MAX_ISNS = 64;

class State {
  dir = -1;
  count = 0;
  withAck = 0;
  withSack = 0;
  firstTime = 0;
  lastTime = 0;
  lastFrame = 0;
  frames: number[] = [];
  isns = new Set<number>();
}

const analyzer = defineAnalyzer<State>({
  id: "crafted-syn",
  title: "Hand-made SYNs: no TCP stack wrote them",
  severity: "info",
  family: "tcp-opening",
  wire:
    "SYNs carrying an acknowledgement number without the ACK flag, or SACK blocks, often with a new random ISN " +
    "each time.",
  explanation:
    "A TCP stack's SYN has an acknowledgement field of 0 (the ACK flag is off, so there is nothing to acknowledge) " +
    "and no SACK blocks (they report received data, and a SYN opens a connection that has none). Packet crafting " +
    "tools do write such SYNs: hping3 fills the acknowledgement field at random, scapy and fuzzers put any option " +
    "anywhere. So these SYNs come from a program writing raw packets, not from connect(): a port scan, a SYN flood " +
    "aimed at this 4-tuple, a test harness, or a middlebox probing. No socket waits on them, so nothing times out " +
    "or is refused for a program, and a new ISN on each is no reuse of the 4-tuple. Where a real connection shares " +
    "the 4-tuple, its own SYN (same ISN on every retry) is what its connect() sent. If the sender is yours, look for " +
    "the tool or test that runs it; if not, it is someone else's traffic towards the server (firewall logs, SYN " +
    "cookies counters in nstat: TcpExtSyncookiesSent).",
  references: ["000 §3.7", "000 §2.7"],
  createState: () => new State(),
  // Most flows never see one: sleep until the tracker flags a crafted SYN.
  wakeOn: WAKE_CRAFTED_SYN,
  readsUnaccepted: true,
  onTcpSegment(s, _flow, seg, p) {
    if (!seg.craftedSyn) return;
    if (s.count++ === 0) {
      s.dir = seg.dir;
      s.firstTime = seg.time;
    }
    s.lastTime = seg.time;
    s.lastFrame = seg.frame;
    if ((seg.flags & TH_ACK) === 0 && seg.ack !== 0) s.withAck++;
    if (p.sackCount > 0) s.withSack++;
    if (s.frames.length < MAX_FRAMES) s.frames.push(seg.frame);
    if (s.isns.size < MAX_ISNS) s.isns.add(seg.seq);
  },
  onFlowEnd(s, flow, out) {
    if (s.count === 0) return;
    const who = roleOf(s.dir);
    const sender = flow.ep[s.dir]!,
      peer = flow.ep[1 - s.dir]!;
    const marks = [
      s.withAck > 0 ? `${s.withAck} with an acknowledgement number but no ACK flag` : "",
      s.withSack > 0 ? `${s.withSack} with SACK blocks` : "",
    ].filter((x) => x !== "");
    const isns =
      s.isns.size === 1 ? "one ISN" : `${s.isns.size >= MAX_ISNS ? "at least " : ""}${s.isns.size} different ISNs`;
    const span = s.count > 1 ? ` over ${sec(s.lastTime - s.firstTime)} s` : "";
    const real = !sender.synCrafted && sender.synSeen;
    const beside = real
      ? `; the ${who}'s own connection went on beside them: its SYN (frame ${sender.synFrame}, the same ISN on ` +
        `every re-send)${peer.synSeen && seqDiff(flow.ep[1 - s.dir]!.lastAck, sender.isn) > 0 ? " was answered" : ""}`
      : peer.synSeen
        ? ""
        : "; nothing answered them";
    out.report(analyzer, {
      flow,
      dir: s.dir,
      frames: s.frames,
      count: s.count,
      time: s.firstTime,
      summary:
        `${s.count} SYN(s) from ${flow.endpointName(who)} that no TCP stack writes (${marks.join(", ")}), with ` +
        `${isns}${span} (frames ${s.frames[0]}–${s.lastFrame}): hand-made packets (a scanner, a flood or a test ` +
        `tool), not a connect()${beside}`,
      measure: { craftedSyns: s.count, distinctIsns: s.isns.size, spanMs: ms(s.lastTime - s.firstTime) },
    });
  },
});
export default analyzer;
