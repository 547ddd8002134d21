/**
 * A framer splits a capture format's byte stream into packet records. The reader feeds it
 * whatever bytes it has; the framer consumes whole records only and says how many bytes
 * the record at the cut needs (`pending`), so the reader can carry that one record over
 * to the next chunk (the only bytes ever copied).
 */
import type { CaptureInfo, PacketRecord } from "./record.js";

export type PacketSink = (rec: PacketRecord) => void;

export interface Framer {
  /**
   * Frames every complete record in buf[pos, end) and returns the offset of the first
   * byte not consumed. `base` is the file offset of buf[0]. Throws CaptureError when the
   * structure is broken beyond recovery.
   */
  parse(buf: Uint8Array, dv: DataView, pos: number, end: number, base: number): number;
  /** Total bytes the record (or header) starting at the last returned offset needs. */
  pending: number;
  /** Describes the incomplete tail at end of input, for the truncation warning. */
  describeTail(available: number): string;
}

/**
 * A record larger than this is damage, not data. libpcap and Wireshark refuse packets over
 * 262144 bytes (their maximum snapshot length) unless the file's snap length is larger.
 */
export const MAX_SNAPLEN = 262144;
/** Hard ceiling whatever the header says, so a hostile length cannot make us allocate GBs. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export interface FramerContext {
  file: string;
  info: CaptureInfo;
  rec: PacketRecord;
  sink: PacketSink;
  warn(offset: number, problem: string): void;
}
