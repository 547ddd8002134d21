/**
 * Which UDP endpoints answered in the capture: udp-fixed-retry's evidence that a peer
 * nobody heard from on one flow is a server that is up and answers requests on that
 * address and port, so a datagram sent to it again and again was asking something. An
 * endpoint answers when it sends on a flow after the other side has sent to it there.
 *
 * One engine decides when the flow ends, from the answers seen so far (reading a file,
 * that is the whole capture: its flows end with it). A `--jobs` shard sees only its own
 * flows, so it reports the finding anyway and keeps it pending; after the merge the
 * finding stays when any shard saw the peer answer before the flow ended, and is
 * withdrawn otherwise (CaptureScope.withdrawn), so both give the same report.
 */
import type { Finding } from "../finding.js";
import type { Flow } from "../../decode/flow/record.js";
import { DIR_CLIENT } from "../../decode/flow/record.js";

/** A finding that stands only if its peer answered some flow before `endFrame`. */
export interface PendingFinding {
  finding: Finding;
  peer: string;
  /** The frame at which its flow ended; Infinity at the end of the capture. */
  endFrame: number;
}

export class AnsweringPeers {
  /** Endpoint (VLAN, address and port) -> the frame of its first answer. */
  readonly firstAnswer = new Map<string, number>();
  /** Sharded: the shard's findings waiting for `resolve`; null for one engine. */
  readonly pending: PendingFinding[] | null;

  constructor(sharded: boolean) {
    this.pending = sharded ? [] : null;
  }

  answered(endpoint: string, frame: number): void {
    if (!this.firstAnswer.has(endpoint)) this.firstAnswer.set(endpoint, frame);
  }
}

/** The endpoint that side `dir` of the flow sends from, with its VLAN: the key of `firstAnswer`. */
export function endpointKey(flow: Flow, dir: number): string {
  return `${flow.vlan} ${flow.endpointName(dir === DIR_CLIENT ? "client" : "server")}`;
}

/*
 * Functions, not methods: a worker's state comes back as a structured clone, plain data
 * without its class.
 */

export function mergePeers(into: AnsweringPeers, from: AnsweringPeers): void {
  for (const [endpoint, frame] of from.firstAnswer) {
    const mine = into.firstAnswer.get(endpoint);
    if (mine === undefined || frame < mine) into.firstAnswer.set(endpoint, frame);
  }
  into.pending!.push(...from.pending!);
}

/** After the merge: the pending findings whose peer answered no flow before theirs ended, to withdraw. */
export function unconfirmedFindings(peers: AnsweringPeers): Finding[] {
  return peers
    .pending!.filter((p) => !((peers.firstAnswer.get(p.peer) ?? Infinity) < p.endFrame))
    .map((p) => p.finding);
}
