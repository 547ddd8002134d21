/**
 * fragment-loss: fragmented datagrams the receiver can never have delivered: fragments
 * missing at the reassembly timeout or at the end of the capture, overlapping fragments
 * with different data (RFC 5722 forbids them for IPv6), more fragments than a receiver
 * keeps, or a datagram that would exceed 65535 bytes. Reported per flow when the flow is
 * known, otherwise once per source, destination and reason for the capture: a flood of
 * first fragments that never complete (500 000 datagrams) made one finding each and
 * 1.3 GB of them; now it makes a finding per address pair, at most MAX_ORPHAN_GROUPS.
 */
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import type { Finding, FindingWords } from "../finding.js";
import type { Flow } from "../../decode/flow/record.js";
import type { FragmentFailure } from "../../decode/reassembly.js";
import type { FragmentedDatagram } from "../../decode/datagram.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import { endpointToString } from "../../decode/wire/address.js";
import { isReassemblyTimeExceeded } from "../lib/icmp-meaning.js";

const REASON_TEXT: Record<FragmentFailure, string> = {
  timeout: "fragments missing when the reassembly timeout expired",
  "capture-end": "fragments still missing when the capture ended",
  "overlap-conflict": "overlapping fragments carried different data",
  "too-many-fragments": "more fragments than a receiver keeps for one datagram",
  "too-long": "fragments would make a datagram longer than 65535 bytes",
  evicted: "reassembly buffers were full (too many incomplete datagrams at once)",
  "after-discard":
    "they are the rest of a datagram the receiver had already discarded for overlapping fragments with different " +
    "data, so they could only wait for the reassembly timeout",
};

/**
 * Address pairs (with a reason) that get a finding of their own; datagrams of further
 * pairs are counted in one last finding, so that memory stays bounded whatever the
 * capture holds (a flood with a new source address per datagram).
 */
const MAX_ORPHAN_GROUPS = 1000;

/** What an orphan group's words are written from (describe), besides its counts in measure. */
interface OrphanFacts {
  [key: string]: string | number | boolean | null;
  /** "from A to B", or null for the datagrams of pairs past MAX_ORPHAN_GROUPS. */
  pair: string | null;
  /** The first datagram: its pair, IP id and ports, and why it failed. */
  firstPair: string;
  firstId: string;
  reason: FragmentFailure;
}

/**
 * The capture's orphan groups: datagrams with no flow (the first fragment, with the ports,
 * may be missing) that failed between one address pair for one reason, by "source >
 * destination reason" (or OTHER_PAIRS past the bound). Each is one finding, whose measure counts its datagrams and fragments and whose
 * facts (OrphanFacts) say whose they are.
 */
class Orphans {
  readonly groups = new Map<string, Finding>();
}
const OTHER_PAIRS = "*";

class State {
  readonly reasons = new Map<FragmentFailure, number>();
  frames: readonly number[] = NO_FRAMES;
  readonly lost: [number, number] = [0, 0];
  firstTime = -1;
  /** ICMP "fragment reassembly time exceeded" from the receiver, per direction of the datagrams it gave up on. */
  readonly receiverGaveUp: [number, number] = [0, 0];
}

const analyzer = defineAnalyzer<State, Orphans>({
  id: "fragment-loss",
  title: "Fragmented datagrams that never completed",
  severity: "error",
  family: "udp-ip-icmp",
  wire: "Fragments of a datagram that never complete: an offset missing until the timeout or the capture's end, or overlapping fragments with different data.",
  explanation:
    "The sender's sendto() was larger than the path MTU, its datagram went out in IP fragments, and at least one fragment " +
    "never arrived (or arrived in a form the receiver must reject), so the receiving kernel threw the whole datagram away " +
    "when its reassembly timer ran out. Neither program is told: the sender's call succeeded, the receiver's recvfrom() " +
    "simply never sees the datagram, which looks like plain UDP loss but is far likelier, since losing any one of n " +
    "fragments loses all of them. Firewalls that drop non-first fragments (no ports to match) cause it systematically. " +
    "Send datagrams that fit the path MTU (548 bytes of payload is always safe), or add your own acknowledgement and " +
    "retransmission with backoff, or use TCP. If the capture was taken on the sender, the missing fragment may simply " +
    "not have been captured: compare with a capture at the receiver.",
  references: ["000 §5.8"],
  createState: () => new State(),
  describe,
  // Datagrams with fragments put a capture on one thread (--jobs), so shards never split a
  // pair; should they, each shard's finding stands for its own datagrams.
  capture: {
    create: () => new Orphans(),
    merge(into, from) {
      for (const [key, g] of from.groups) if (!into.groups.has(key)) into.groups.set(key, g);
    },
    resolve() {},
  },
  onDatagramFailed(s, flow, d, reason, out) {
    if (flow === null || s === null) {
      reportOrphan(d, reason, out);
      return;
    }
    s.reasons.set(reason, (s.reasons.get(reason) ?? 0) + 1);
    s.lost[flow.isClient(d.src, d.srcPort) ? 0 : 1]++;
    for (const f of d.frames) s.frames = keepFrame(s.frames, f, out.frameCap);
    if (s.firstTime < 0) s.firstTime = d.firstTime;
  },
  onIcmpError(s, flow, quotedDir, frame, time, p, out) {
    // The receiver saying it gave up on a datagram: evidence of the loss, even of one
    // whose missing fragments were lost after this capture point.
    if (s === null || flow === null || !isReassemblyTimeExceeded(p)) return;
    s.receiverGaveUp[quotedDir] = s.receiverGaveUp[quotedDir]! + 1;
    s.frames = keepFrame(s.frames, frame, out.frameCap);
    if (s.firstTime < 0) s.firstTime = time;
  },
  onFlowEnd(s, flow, out) {
    const lost = s.lost[0]! + s.lost[1]!,
      gaveUp = s.receiverGaveUp[0]! + s.receiverGaveUp[1]!;
    if (lost + gaveUp === 0) return;
    const dir = s.lost[1]! + s.receiverGaveUp[1]! > s.lost[0]! + s.receiverGaveUp[0]! ? 1 : 0;
    const why = [...s.reasons].map(([r, n]) => `${n} with ${REASON_TEXT[r]}`).join("; ");
    const said = `ICMP "fragment reassembly time exceeded" from the receiver, which gave up reassembling`;
    const summary =
      lost > 0
        ? `${lost} fragmented datagram(s) from the ${roleOf(dir)} never completed: ${why}` +
          (gaveUp > 0 ? `; ${gaveUp}x ${said}` : "")
        : `${gaveUp} fragmented datagram(s) from the ${roleOf(dir)} never completed: ${gaveUp}x ${said} ` +
          "(their missing fragments were lost after this capture point)";
    const measure: Record<string, number> = {
      lostDatagrams: Math.max(lost, gaveUp),
      ...Object.fromEntries([...s.reasons].map(([r, n]) => [r, n])),
    };
    if (gaveUp > 0) measure.reassemblyTimeExceeded = gaveUp;
    out.report(analyzer, {
      flow,
      dir,
      frames: s.frames,
      count: Math.max(lost, gaveUp),
      time: s.firstTime,
      summary,
      measure,
    });
  },
});

function reportOrphan(d: FragmentedDatagram, reason: FragmentFailure, out: FindingSink): void {
  const orphans = out.captureState(analyzer);
  const src = endpointToString(d.ipVersion, d.src[0]!, d.src[1]!, d.src[2]!, d.src[3]!, -1);
  const dst = endpointToString(d.ipVersion, d.dst[0]!, d.dst[1]!, d.dst[2]!, d.dst[3]!, -1);
  let key = `${src} > ${dst} ${reason}`;
  if (!orphans.groups.has(key) && orphans.groups.size >= MAX_ORPHAN_GROUPS) key = OTHER_PAIRS;
  const f = orphans.groups.get(key);
  if (f !== undefined) {
    out.addEvidence(f, d.frames);
    f.count++;
    f.measure.lostDatagrams = f.count;
    f.measure.fragmentsSeen = f.measure.fragmentsSeen! + d.frames.length;
    out.revise(analyzer, f);
    return;
  }
  const facts: OrphanFacts = {
    pair: key === OTHER_PAIRS ? null : `from ${src} to ${dst}`,
    firstPair: `from ${src} to ${dst}`,
    firstId: `IP id 0x${d.id.toString(16)}${d.srcPort >= 0 ? `, ports ${d.srcPort} → ${d.dstPort}` : d.afterDiscard ? "" : ", first fragment not captured"}`,
    reason,
  };
  const flow: Flow | null = null;
  const finding = out.report(analyzer, {
    flow,
    dir: null,
    frames: d.frames,
    time: d.firstTime,
    count: 1,
    facts,
    measure: { lostDatagrams: 1, fragmentsSeen: d.frames.length },
  });
  orphans.groups.set(key, finding);
}

/** An orphan group's words: what its datagrams were and why they failed, with the first one's identity. */
function describe(f: Finding): FindingWords {
  const x = f.facts as OrphanFacts;
  const reason = REASON_TEXT[x.reason];
  if (x.pair === null) {
    return {
      summary:
        `${f.count} datagram(s) between further address pairs (past ${MAX_ORPHAN_GROUPS}) never completed ` +
        `(the first ${x.firstPair}, ${x.firstId}: ${reason})`,
    };
  }
  if (f.count === 1) return { summary: `a datagram ${x.pair} (${x.firstId}) never completed: ${reason}` };
  return { summary: `${f.count} datagrams ${x.pair} never completed: ${reason} (the first: ${x.firstId})` };
}
export default analyzer;
