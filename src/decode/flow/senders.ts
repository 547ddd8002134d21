/**
 * Which processes sent each side's packets, as the capture file says (a pcapng's
 * per-packet process option or comment, capture/packet-process.ts; an inbound packet's
 * process is its receiver's, and is noted for the receiving side). The first process
 * seen for a side is its process; others (a forked child writing on the same socket) are
 * kept by pid, up to MAX_OTHER_PIDS.
 */
import type { PacketProcess } from "../../capture/record.js";
import type { Flow } from "./record.js";

const MAX_OTHER_PIDS = 16;

export interface SideSenders {
  first: PacketProcess;
  otherPids: number[];
}

export type FlowSenders = [SideSenders | null, SideSenders | null];

/**
 * Kept beside the flows, not on them: almost no capture names processes, and a field on
 * every Flow is memory every open connection pays (test/flow-table.test.ts).
 */
const sendersByFlow = new WeakMap<Flow, FlowSenders>();

/** The processes the capture named for each side of `flow`, or null when none. */
export function sendersOf(flow: Flow): FlowSenders | null {
  return sendersByFlow.get(flow) ?? null;
}

export function noteSender(flow: Flow, dir: number, p: PacketProcess): void {
  let senders = sendersByFlow.get(flow);
  if (senders === undefined) {
    senders = [null, null];
    sendersByFlow.set(flow, senders);
  }
  const side = senders[dir];
  if (side === null || side === undefined) {
    senders[dir] = { first: p, otherPids: [] };
    return;
  }
  if (p.pid === side.first.pid || side.otherPids.includes(p.pid)) {
    // The comment may come on a later packet than the first option-only one.
    if (p.pid === side.first.pid && side.first.command === "" && p.command !== "") side.first = p;
    return;
  }
  if (side.otherPids.length < MAX_OTHER_PIDS) side.otherPids.push(p.pid);
}
