/**
 * Which packets of a capture are analysed: those a capture filter accepts, and of them
 * the first `count` (tcpdump's `-c`: a count of matching packets). Packets left out
 * still have their frame numbers, so the findings name frames as Wireshark numbers the
 * whole file.
 */
import type { PacketSink } from "../framer.js";
import type { PacketRecord } from "../record.js";
import type { CaptureFilter } from "./compile.js";

export interface PacketSelection {
  filter: CaptureFilter | null;
  /** Packets to keep at most; null for all. */
  count: number | null;
}

/** Passes the selected records on to `sink`; one per pass over the capture. */
export class SelectingSink {
  /** Records offered (up to the moment `done` became true). */
  seen = 0;
  kept = 0;
  /** The count is reached: the reader may stop. */
  done = false;

  constructor(private readonly selection: PacketSelection, private readonly sink: PacketSink) {}

  readonly onPacket = (rec: PacketRecord): void => {
    if (this.done) return;
    this.seen++;
    if (this.selection.filter !== null && !this.selection.filter.matches(rec)) return;
    this.kept++;
    if (this.selection.count !== null && this.kept >= this.selection.count) this.done = true;
    this.sink(rec);
  };
}

/** How the report names the selection, e.g. `filter "tcp port 80": 12 of 40 packets` or `first 3 packets`. */
export function describeSelection(selection: PacketSelection, sink: SelectingSink): string {
  const parts: string[] = [];
  if (selection.filter !== null) parts.push(`filter "${selection.filter.expression}"`);
  if (selection.count !== null && sink.done) parts.push(`first ${sink.kept} ${selection.filter !== null ? "matching " : ""}packets`);
  else if (selection.filter !== null) parts.push(`${sink.kept} of ${sink.seen} packets`);
  else parts.push(`all ${sink.kept} packets (fewer than -c ${selection.count})`);
  return parts.join(": ");
}
