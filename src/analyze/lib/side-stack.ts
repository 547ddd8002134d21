/**
 * One side's stack, as findings name it: the packets' evidence (stack-profile.ts) and,
 * when they leave more than one stack, the capture file's word on the host it was
 * recorded on, for the side that is that host (recording-host.ts). The packets win, but on
 * loopback (both sides surely that host); the words say which spoke. And what follows from it that findings quote: TIME_WAIT's length.
 */
import { DIR_CLIENT, type Flow } from "../../decode/flow/record.js";
import { recordingHostOf, type CaptureFacts, type RecordingHost } from "./recording-host.js";
import { STACK_PROFILES, stackCandidates, type StackProfile } from "./stack-profile.js";

const ALL: readonly StackProfile[] = Object.values(STACK_PROFILES);

/** A side's stack and, when the packets alone left more than one, the capture file's word that chose it. */
export interface StackIdentity {
  profile: StackProfile;
  /** The capturing host this side is, whose OS the file names; null when the packets alone tell. */
  fromFile: RecordingHost | null;
  /** The capturing host this side is, whose OS (another stack) the packets overruled; else null. */
  overruled: RecordingHost | null;
  /** On loopback, where the file wins: the other stack the packets alone would have named, else null. */
  looksLike?: StackProfile | null;
}

/** The stack of one side of a flow (DIR_CLIENT or DIR_SERVER) from its packets and the capture file, or null. */
export function identifyStack(flow: Flow, dir: number, capture: CaptureFacts): StackIdentity | null {
  const { profiles, agree } = stackCandidates(flow.ep[dir === DIR_CLIENT ? 0 : 1], flow.ipVersion);
  const host = recordingHostOf(flow, dir, capture);
  // On loopback both sides are certainly the host the file names, while its TTL is a setting
  // (net.ipv4.ip_default_ttl) and its SYNs may be anyone's: there the file names the stack.
  if (host !== null && host.how === "loopback") {
    const looksLike = agree && profiles.length === 1 && profiles[0]!.id !== host.stack ? profiles[0]! : null;
    return { profile: STACK_PROFILES[host.stack], fromFile: host, overruled: null, looksLike };
  }
  if (!agree) return null;
  if (profiles.length === 1) {
    // The packets win (see the header), and the words say what they overruled.
    const overruled = host !== null && host.stack !== profiles[0]!.id ? host : null;
    return { profile: profiles[0]!, fromFile: null, overruled, looksLike: null };
  }
  // An OS the packets rule out leaves the side unnamed.
  const named = host === null ? undefined : profiles.find((p) => p.id === host.stack);
  return named === undefined ? null : { profile: named, fromFile: host, overruled: null, looksLike: null };
}

/** The stack of one side of a flow (DIR_CLIENT or DIR_SERVER), or null. */
export function stackOf(flow: Flow, dir: number, capture: CaptureFacts): StackProfile | null {
  return identifyStack(flow, dir, capture)?.profile ?? null;
}

/**
 * Where a side's stack came from, when the capture file had a say, a clause for the words:
 * "the capture file says it was recorded on Linux 6.6.9-amd64, and on loopback both sides
 * are that host"; "" when the packets alone told.
 */
export function stackEvidenceText(id: StackIdentity): string {
  if (id.overruled !== null)
    return `its TTL and SYN options say ${id.profile.name}, although the capture file names ${id.overruled.os} for this host`;
  const host = id.fromFile;
  if (host === null) return "";
  const which =
    host.how === "address"
      ? "an interface of which has this side's address"
      : host.how === "loopback"
        ? "and on loopback both sides are that host"
        : `and only this side's packets leave with that OS's full initial TTL of ${id.profile.initialTtl}`;
  const though = id.looksLike ? `, though its TTL and SYN options look like ${id.looksLike.name}'s` : "";
  return `the capture file says it was recorded on ${host.os}, ${which}${though}`;
}

/** How long a side keeps TIME_WAIT, as findings assume it: the user's `--msl`, the side's stack, or unknown. */
export interface TimeWaitLength {
  /** Seconds it surely lasts, and at most; equal when one number is known. */
  sec: number;
  maxSec: number;
  /** The claim, a clause: "a macOS/iOS host keeps it 30 s (MSL 15 s)". */
  text: string;
  /** Where the length came from: the user's --msl or the side's one stack (else a range over the stacks it may be). */
  known: boolean;
}

/** One side's TIME_WAIT: `--msl` when given, else its stack's, else the range over the stacks it may be. */
export function timeWaitOfSide(flow: Flow, dir: number, mslSec: number | null, capture: CaptureFacts): TimeWaitLength {
  if (mslSec !== null) {
    const s = 2 * mslSec;
    return { sec: s, maxSec: s, text: `it lasts 2·MSL = ${s} s (--msl ${mslSec})`, known: true };
  }
  const ep = flow.ep[dir === DIR_CLIENT ? 0 : 1];
  const { profiles: candidates, agree, why } = stackCandidates(ep, flow.ipVersion);
  const id = identifyStack(flow, dir, capture);
  if (id !== null) {
    const p = id.profile;
    const evidence = stackEvidenceText(id);
    const why = evidence === "" ? p.timeWaitWhy : `${p.timeWaitWhy}; ${evidence}`;
    return {
      sec: p.timeWaitSec,
      maxSec: p.timeWaitMaxSec,
      text: `a ${p.name} host keeps it ${lengthText(p)} (${why})`,
      known: true,
    };
  }
  // Evidence that disagrees may be a stack of none of these profiles: only the shortest
  // TIME_WAIT of all is sure, the longest of the candidates possible.
  const sec = Math.min(...(agree ? candidates : ALL).map((c) => c.timeWaitSec));
  const maxSec = Math.max(...candidates.map((c) => c.timeWaitMaxSec));
  // "60 s on Linux and FreeBSD, 30 s on macOS/iOS, 120–240 s on Windows": no single number as fact.
  const byLength = new Map<string, string[]>();
  for (const c of candidates) {
    const names = byLength.get(lengthText(c));
    if (names === undefined) byLength.set(lengthText(c), [c.name]);
    else names.push(c.name);
  }
  const range = [...byLength].map(([len, names]) => `${len} on ${names.join(" and ")}`).join(", ");
  const unsure = agree ? "the capture does not tell which stack this is" : why;
  return { sec, maxSec, text: `the closing side's TCP keeps it for 2·MSL (${range}; ${unsure})`, known: false };
}

function lengthText(p: StackProfile): string {
  return p.timeWaitSec === p.timeWaitMaxSec ? `${p.timeWaitSec} s` : `${p.timeWaitSec}–${p.timeWaitMaxSec} s`;
}
