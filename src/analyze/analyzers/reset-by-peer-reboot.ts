/**
 * reset-by-peer-reboot: after a long silence from one side, the other side's data (or a
 * keep-alive probe) is answered by a RST that carries no ACK bit and whose sequence
 * number is that segment's acknowledgement number, from a side that never sent FIN.
 * That is the reset a TCP sends for a segment that matches no connection at all (RFC 9293
 * §3.10.7.1, "CLOSED" state): what a host sends after it rebooted — its TCP forgot the
 * connection — as opposed to a socket that is closed while it still exists, which
 * sends RST+ACK (abortive-close) or FIN.
 *
 * `rebootEvidence` (analyze/lib/reboot-evidence.ts) is shared with abortive-close, so one
 * predicate decides which of the two kinds a reset belongs to; both read the host's
 * SideHistory of the flow. Not reported when the other side had already sent its FIN: its
 * program had closed, so the forgotten connection costs nobody anything (a server
 * re-sending its close_notify+FIN to a client that lost the connection).
 *
 * One such reset shows that one connection was forgotten, not why. A restart is claimed
 * only from evidence across connections: the same host (VLAN and address) answered
 * several of its connections this way, silent on all of them at one moment — all of its
 * connections lost at once — found through a per-capture registry of these findings by
 * host, resolved again after a `--jobs` merge. A single one after a silence long enough
 * for a reboot says it may have been one; after a short silence the finding says the
 * capture shows no restart and names the causes that look the same (tcp-empty-sack: 4 s,
 * one connection). The words are written from the facts (describe), since a later
 * connection can change them.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import { DIR_CLIENT, type Flow } from "../../decode/flow/record.js";
import { addressToString } from "../../decode/wire/address.js";
import { seqDiff } from "../../decode/flow/tcp-tracker.js";
import { TH_RST } from "../../decode/wire/packet.js";
import { ms, roleOf, sec } from "../lib/measure.js";
import { rebootEvidence } from "../lib/reboot-evidence.js";

/**
 * A silence after which one forgotten connection alone makes a reboot plausible: a
 * machine takes tens of seconds to come back (firmware, kernel, services); a program or a
 * container restarts, and a middlebox drops its state, within seconds.
 */
export const REBOOT_SCALE_SEC = 30;
/** Other flows named in a summary; the rest are counted. */
const MAX_NAMED_FLOWS = 8;

interface Facts {
  [k: string]: string | number | null;
  who: string;
  peer: string;
  /** The resetting host: its address (and VLAN, when tagged), as the registry groups it. */
  host: string;
  lastBeforeFrame: number;
  answeredFrame: number;
  rstFrame: number;
  /** "idle" or "retransmitting" into the silence, and the first data sent into it (0: none). */
  during: string;
  firstDataFrame: number;
  /** The other side's FIN sent after its unanswered request (0: none, or not awaiting a reply). */
  awaitingFinFrame: number;
  /** Other flows of the same host answered the same way (ids, report numbering), and the span of all of them. */
  hostFlows: string;
  hostSpanSec: number;
  /** 1 when the host had more forgotten connections than were weighed: its count is a lower bound. */
  hostAtLeast: number;
}

/** Per capture: this kind's findings by resetting host, in the order reported. */
class HostResets {
  readonly byHost = new Map<string, Finding[]>();
}

function hostKey(flow: Flow, dir: number): string {
  const a = dir === DIR_CLIENT ? flow.client : flow.server;
  const addr = addressToString(flow.ipVersion, a[0]!, a[1]!, a[2]!, a[3]!);
  return flow.vlan === 0 ? addr : `${addr} (VLAN ${flow.vlan})`;
}

/**
 * A host's findings weighed against each other for a restart: the first HOST_EVIDENCE_CAP
 * of them (in time order) pairwise, later ones against those. Enough to show a restart,
 * and bounded: a server that loses ten thousand connections costs CAP² comparisons, not
 * cubic time (a fresh-eyes review measured 182 s for 2000 before the cap).
 */
export const HOST_EVIDENCE_CAP = 64;

/**
 * Writes into a finding the host's other findings that back a restart: connections whose
 * silences overlap its own, so that the host was silent on all of them at one moment and
 * then answered each as if it had never existed. Resets hours apart with traffic between
 * them are separate events, not one restart.
 */
function noteEvidence(f: Finding, weighed: readonly Finding[]): void {
  const from = silenceStart(f);
  const flows = new Set<number | null>();
  let first = f.time,
    last = f.time;
  for (const o of weighed) {
    if (o === f || o.flow === f.flow || !(silenceStart(o) < f.time && from < o.time)) continue;
    flows.add(o.flow);
    first = Math.min(first, o.time);
    last = Math.max(last, o.time);
  }
  const ids = [...flows].sort((a, b) => (a ?? 0) - (b ?? 0));
  const named = ids.slice(0, MAX_NAMED_FLOWS).join(", ");
  f.facts!.hostFlows = ids.length > MAX_NAMED_FLOWS ? `${named} and ${ids.length - MAX_NAMED_FLOWS} more` : named;
  f.facts!.hostSpanSec = sec(last - first);
  f.facts!.hostAtLeast = weighed.length >= HOST_EVIDENCE_CAP ? 1 : 0;
  f.measure.hostConnectionsReset = 1 + ids.length;
}

/** Every finding of one host, in time order, weighed as HOST_EVIDENCE_CAP says. */
function noteHostEvidence(list: Finding[]): void {
  list.sort((a, b) => a.time - b.time || (a.flow ?? 0) - (b.flow ?? 0));
  const weighed = list.slice(0, HOST_EVIDENCE_CAP);
  for (const f of list) noteEvidence(f, weighed);
}

function silenceStart(f: Finding): number {
  return f.time - f.measure.silenceMs! / 1000;
}

/**
 * One engine reports in time order: while the host has fewer than the cap, every finding so
 * far is weighed again (and its words revised); past it, only the new one, against the first.
 */
function record(f: Finding, key: string, out: FindingSink): void {
  const w = out.captureState(analyzer);
  let list = w.byHost.get(key);
  if (list === undefined) w.byHost.set(key, (list = []));
  list.push(f);
  if (list.length <= HOST_EVIDENCE_CAP) {
    noteHostEvidence(list);
    // Its own words were written when it was reported, before its companions were counted.
    for (const x of list) out.revise(analyzer, x);
  } else {
    noteEvidence(f, list.slice(0, HOST_EVIDENCE_CAP));
    out.revise(analyzer, f);
  }
}

const analyzer = defineAnalyzer<null, HostResets>({
  id: "reset-by-peer-reboot",
  title: "Reset by a peer that forgot the connection (rebooted host)",
  severity: "error",
  family: "tcp-closing",
  wire: "After a long silence from one side, the other side's data is answered by a RST without ACK (seq = that data's ack) from the side that never sent FIN.",
  explanation:
    "The resetting host's TCP no longer had this connection at all: it answered the segment as if no socket had ever " +
    "existed, with a bare RST whose sequence number is simply the acknowledgement number it received. A program that " +
    "closes or aborts its socket does not do that (its kernel sends FIN, or RST+ACK, at that moment), and neither does " +
    "a process that crashes — its kernel closes the socket for it. The usual cause is that the host crashed or was " +
    "rebooted while the connection sat idle (or while the other side was retransmitting into the outage): nothing was " +
    "sent when it went down, so the other side's socket stayed ESTABLISHED, a half-open connection, until its next " +
    "write(). That write() itself succeeds, because it only queues data; the reset then makes the next read() or " +
    "write() fail with ECONNRESET (a write() after that raises SIGPIPE / EPIPE), and whatever the program had sent " +
    "since the peer went down is lost. The same signature follows other silent loss of state on that end: the " +
    "connection timed out there (retries or TCP_USER_TIMEOUT ran out while the path was down), a failover moved the " +
    "address to another machine, or a NAT or load balancer in front of it lost its mapping. The capture cannot tell " +
    "these apart; the peer's boot time (uptime, `journalctl --list-boots`), whether all its other connections were " +
    "reset at the same moment, and a capture on the peer's side decide it. Make the program expect this: handle " +
    "ECONNRESET by reconnecting and re-sending what was not confirmed at the application level (idempotent requests), " +
    "and detect dead peers before writing, with SO_KEEPALIVE (tuned with TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT) " +
    "or an application heartbeat. Severity error: unlike a benign close, the program's call fails and data is lost.",
  references: ["002 server termination §6", "000 §2.8", "000 §4.7"],
  capture: {
    create: () => new HostResets(),
    merge(into, from) {
      for (const [key, list] of from.byHost) {
        const mine = into.byHost.get(key);
        if (mine === undefined) into.byHost.set(key, list);
        else mine.push(...list);
      }
    },
    // Runs after the merge renumbered the findings' flows: the words (written next) name the report's flows.
    resolve(w) {
      for (const list of w.byHost.values()) noteHostEvidence(list);
    },
  },
  describe,
  // Nothing to do before a reset; what came before it is in the host's SideHistory (analyze/host.ts).
  wakeOn: TH_RST,
  usesSideHistory: true,
  onTcpSegment(_s, flow, seg, _p, out) {
    if ((seg.flags & TH_RST) === 0) return;
    const h = out.sideHistory(flow);
    const p = seg.dir,
      o = 1 - p;
    if (flow.ep[p]!.rstFrame !== seg.frame) return;
    const ev = rebootEvidence(flow, seg, h);
    if (ev === null) return;
    const other = flow.ep[o]!,
      me = flow.ep[p]!;
    const theirs = h.sides[o]!;
    // The other side had closed (its FIN, often re-sent into the silence): the reset only
    // ends an orphaned close, and no program is left to see ECONNRESET or lose data. But a
    // client whose request is unanswered may still await the reply after shutdown(SHUT_WR).
    const awaitingReply = o === DIR_CLIENT && theirs.dataSinceOtherData > 0;
    if (other.finFrame !== 0 && other.finFrame < seg.frame && !awaitingReply) return;
    // The other side's bytes the forgotten connection never acknowledged (its FIN is no byte of data).
    const unacked = me.ackSeen ? Math.max(0, seqDiff(other.nextSeq, me.lastAck)) : 0;
    const lost = unacked > 0 && other.finFrame !== 0 && seqDiff(other.finSeq, me.lastAck) >= 0 ? unacked - 1 : unacked;
    const resends = theirs.resendsSinceOther;
    const facts: Facts = {
      who: roleOf(p),
      peer: roleOf(o),
      host: hostKey(flow, p),
      lastBeforeFrame: ev.lastBeforeFrame,
      answeredFrame: ev.answeredFrame,
      rstFrame: seg.frame,
      during: resends > 0 ? "retransmitting" : "idle",
      firstDataFrame: ev.firstDataFrame,
      awaitingFinFrame: awaitingReply && other.finFrame !== 0 && other.finFrame < seg.frame ? other.finFrame : 0,
      hostFlows: "",
      hostSpanSec: 0,
      hostAtLeast: 0,
    };
    const f = out.report(analyzer, {
      flow,
      dir: p,
      frames: [ev.lastBeforeFrame, ev.firstDataFrame, ev.answeredFrame, seg.frame].filter((x) => x > 0),
      time: seg.time,
      measure: {
        silenceMs: ms(ev.silenceSec),
        idleBeforeMs: ms(theirs.idleBefore),
        unackedBytes: lost,
        retransmissionsDuringSilence: resends,
        hostConnectionsReset: 1,
      },
      facts,
    });
    record(f, facts.host, out);
  },
});

function describe(f: Finding): FindingWords {
  const x = f.facts as Facts;
  const m = f.measure;
  const silence = sec(m.silenceMs! / 1000);
  const during =
    x.during === "retransmitting"
      ? `the ${x.peer} had been retransmitting into the silence (${m.retransmissionsDuringSilence} retransmission(s)` +
        `${x.firstDataFrame !== 0 ? ` of the data first sent in frame ${x.firstDataFrame}` : ""})`
      : `the connection had been idle for ${sec(m.idleBeforeMs! / 1000)} s before the ${x.peer}'s segment`;
  const seen =
    x.awaitingFinFrame !== 0
      ? `the ${x.peer} had sent its FIN (frame ${x.awaitingFinFrame}) after its request and still waited for the reply: its next read() fails with ECONNRESET`
      : `the ${x.peer}'s next read()/write() fails with ECONNRESET`;
  return {
    summary:
      `the ${x.who}'s TCP had forgotten the connection: ${silence} s after the ${x.who}'s last segment ` +
      `(frame ${x.lastBeforeFrame}) its answer to the ${x.peer}'s segment (frame ${x.answeredFrame}) was a RST without ACK ` +
      `(frame ${x.rstFrame}) carrying that segment's ack number, and it had never sent FIN; ${why(x, m, silence)}; ` +
      `${during}; ${m.unackedBytes} byte(s) from the ${x.peer} were never acknowledged; ${seen}`,
  };
}

/** What the capture shows of why the connection was forgotten: a restart only from evidence across connections. */
function why(x: Facts, m: Finding["measure"], silence: number): string {
  const n = m.hostConnectionsReset!;
  if (n > 1)
    return (
      `${x.host} answered ${x.hostAtLeast ? "at least " : ""}${n} of its connections this way within ${x.hostSpanSec} s ` +
      `(also flow(s) ${x.hostFlows}), silent on all of them before: it had lost them all at once, so the host (or its ` +
      "TCP stack, VM or container) had restarted, or a load balancer or NAT in front of that address lost their state"
    );
  if (silence >= REBOOT_SCALE_SEC)
    return (
      `after ${silence} s of silence a reboot of ${x.host} is possible, though the capture holds no other connection ` +
      "of it to confirm one; a failover or a NAT or load balancer that lost its state looks the same"
    );
  return (
    `the capture shows no restart (no other connection of ${x.host} was answered this way, and ${silence} s is short ` +
    "for a machine to reboot): a program or container that restarted or aborted the connection with a reset that " +
    "never reached the capture point, a failover, or a NAT or load balancer that lost its state look the same"
  );
}
export default analyzer;
