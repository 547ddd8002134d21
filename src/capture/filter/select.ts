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

/** What a report says of its selection (`capture.selection` in the JSON). */
export interface SelectionSummary {
  /** The capture filter's expression; null without one. */
  filter: string | null;
  /** -c N; null without it. */
  count: number | null;
  packetsKept: number;
  /** Captured bytes (record lengths, not headers) of the packets kept. */
  bytesKept: number;
  /** Packets read and offered to the filter: up to the last one kept when -c was reached. */
  packetsRead: number;
}

/** Passes the selected records on to `sink`; one per pass over the capture. */
export class SelectingSink {
  /** Records offered (up to the moment `done` became true). */
  seen = 0;
  kept = 0;
  bytesKept = 0;
  /** The count is reached: the reader may stop. */
  done = false;

  constructor(
    private readonly selection: PacketSelection,
    private readonly sink: PacketSink,
  ) {}

  readonly onPacket = (rec: PacketRecord): void => {
    if (this.done) return;
    this.seen++;
    if (this.selection.filter !== null && !this.selection.filter.matches(rec)) return;
    this.kept++;
    this.bytesKept += rec.capLen;
    if (this.selection.count !== null && this.kept >= this.selection.count) this.done = true;
    this.sink(rec);
  };

  summary(): SelectionSummary {
    return {
      filter: this.selection.filter?.expression ?? null,
      count: this.selection.count,
      packetsKept: this.kept,
      bytesKept: this.bytesKept,
      packetsRead: this.seen,
    };
  }
}
