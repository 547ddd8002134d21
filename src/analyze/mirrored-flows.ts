/**
 * Mirrored flows: one connection recorded twice, through two tunnels, untagged and
 * VLAN-tagged, before and after a NAT or an address anonymiser. The flow table keeps them
 * apart (their VLANs or addresses differ), so each copy was analysed on its own and every
 * finding came twice, one copy's often judged by packets only the other copy holds (a
 * close seen on one capture point and not the other: "still in CLOSE_WAIT"). Here the
 * copies are found and the connection is judged once, on the copy with the most packets:
 * the copies' findings are left out, counted, and the copies name the flow they repeat.
 *
 * Two TCP flows are the same connection when their ports and the client's initial
 * sequence number are the same, their first packets are within a second of each other,
 * and either their addresses are the same (only the VLAN or tunnel differs) or both hold
 * the server's ISN and it is the same too: 32 random bits each (RFC 6528), which no two
 * real connections share by chance. A hand-made flood from many addresses with one fixed
 * ISN is no copy (another address and no server ISN to match, or more flows than a
 * capture records one connection on). A flow without the client's SYN has no ISN to
 * compare and is never taken for a copy. UDP has no such identity and is left alone.
 */
import { portOf } from "../decode/wire/address.js";

/** What the rule reads of a flow report (result.ts's FlowReport, which calls it). */
interface FlowCopy {
  id: number;
  proto: string;
  client: string;
  server: string;
  start: number;
  durationSec: number;
  packets: { client: number; server: number };
  isn: { client: number | null; server: number | null } | null;
  copyOf: number | null;
}

/** What the rule reads and writes of an analysis result. */
interface ResultWithCopies {
  flows: FlowCopy[];
  findings: { flow: number | null }[];
  mirroredFindings: number;
}

/** Copies start this close together: the same SYN seen at two points (with their clock skew). */
const MAX_START_SKEW_SEC = 1;
/** More flows than this on one ISN are no copies of one connection: a capture holds one at most on a few VLANs/paths. */
const MAX_COPIES = 4;

/**
 * Marks each flow that repeats another (`copyOf`) and drops its findings (counted in
 * `mirroredFindings`). The flows stay: the table and filters still show both copies.
 */
export function foldMirroredFlows<R extends ResultWithCopies>(result: R): R {
  const groups = new Map<string, FlowCopy[]>();
  for (const f of result.flows) {
    if (f.proto !== "tcp" || f.isn === null || f.isn.client === null) continue;
    const key = `${portOf(f.client)} ${portOf(f.server)} ${f.isn.client}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [f]);
    else g.push(f);
  }
  const copies = new Set<number>();
  for (const g of groups.values()) {
    if (g.length < 2 || g.length > MAX_COPIES) continue;
    const primary = g.reduce((best, f) => (packetsOf(f) > packetsOf(best) ? f : best));
    for (const f of g) {
      if (f === primary || !sameConnection(primary, f)) continue;
      f.copyOf = primary.id;
      copies.add(f.id);
    }
  }
  if (copies.size === 0) return result;
  const findings = result.findings.filter((x) => x.flow === null || !copies.has(x.flow));
  return { ...result, findings, mirroredFindings: result.findings.length - findings.length };
}

function sameConnection(a: FlowCopy, b: FlowCopy): boolean {
  const sa = a.isn!.server,
    sb = b.isn!.server;
  if (sa !== null && sb !== null && sa !== sb) return false;
  if (Math.abs(a.start - b.start) > MAX_START_SKEW_SEC) return false;
  // Other addresses (NAT, an anonymiser) need the server's ISN to match as well.
  return (a.client === b.client && a.server === b.server) || (sa !== null && sa === sb);
}

function packetsOf(f: FlowCopy): number {
  return f.packets.client + f.packets.server;
}

/** The capture note: which flows repeat which, and what was left out. */
export function mirroredFlowsNote(result: ResultWithCopies): string | null {
  const copies = result.flows.filter((f) => f.copyOf !== null);
  if (copies.length === 0) return null;
  const shown = copies.slice(0, 6).map((f) => `${f.id} (= ${f.copyOf})`);
  const more = copies.length > shown.length ? ` and ${copies.length - shown.length} more` : "";
  const n = result.mirroredFindings;
  return (
    `${copies.length} flow(s) repeat another flow: the same connection recorded twice (same ports and initial ` +
    `sequence numbers, on another VLAN, tunnel or address): ${shown.join(", ")}${more}. Each connection is judged ` +
    `once, on the copy with more packets` +
    (n > 0 ? `; the copies' ${n} finding(s) are left out` : "")
  );
}
