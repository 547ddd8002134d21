/**
 * Packet records copied into batches that move to a worker thread by transfer (no copy
 * on the way). A batch is one ArrayBuffer: a 4-byte record count, then records of a
 * fixed 48-byte header and the packet bytes, each padded to 8 bytes.
 */
import { PacketRecord } from "../capture/record.js";

/** A batch is sent once it holds this much (big enough that messages cost nothing). */
export const BATCH_BYTES = 1 << 20;
const HEADER = 48;

/** The fields of a record that travel; PacketRecord fits, and so does a held copy. */
export interface RecordFields {
  frame: number;
  tsSec: number;
  tsNsec: number;
  capLen: number;
  origLen: number;
  linkType: number;
  iface: number;
  fileOffset: number;
  bytes: Uint8Array;
}

export class BatchWriter {
  private buf = new ArrayBuffer(BATCH_BYTES);
  private view = new DataView(this.buf);
  private u8 = new Uint8Array(this.buf);
  private pos = 4;
  private count = 0;

  get bytes(): number {
    return this.pos;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  /** Whether a record of `len` packet bytes still fits in the open batch. */
  fits(len: number): boolean {
    return this.pos + HEADER + len <= this.buf.byteLength;
  }

  add(r: RecordFields): void {
    const len = r.bytes.length;
    if (!this.fits(len)) {
      // Only an empty batch can be too small (callers take full ones): one record of its own.
      this.buf = new ArrayBuffer(4 + HEADER + pad8(len));
      this.view = new DataView(this.buf);
      this.u8 = new Uint8Array(this.buf);
    }
    const v = this.view, at = this.pos;
    v.setFloat64(at, r.frame, true);
    v.setFloat64(at + 8, r.tsSec, true);
    v.setFloat64(at + 16, r.fileOffset, true);
    v.setUint32(at + 24, r.tsNsec, true);
    v.setUint32(at + 28, r.capLen, true);
    v.setUint32(at + 32, r.origLen, true);
    v.setUint32(at + 36, r.linkType, true);
    v.setUint32(at + 40, r.iface, true);
    v.setUint32(at + 44, len, true);
    this.u8.set(r.bytes, at + HEADER);
    this.pos = at + HEADER + pad8(len);
    this.count++;
  }

  /** Closes the batch and returns its buffer (to transfer); the writer starts a new one. */
  take(): ArrayBuffer {
    const out = this.buf;
    new DataView(out).setUint32(0, this.count, true);
    this.buf = new ArrayBuffer(BATCH_BYTES);
    this.view = new DataView(this.buf);
    this.u8 = new Uint8Array(this.buf);
    this.pos = 4;
    this.count = 0;
    return out;
  }
}

/** Hands every record of a batch to `sink`, through one reused PacketRecord (bytes are views). */
export function readBatch(buf: ArrayBuffer, rec: PacketRecord, sink: (rec: PacketRecord) => void): void {
  const v = new DataView(buf), u8 = new Uint8Array(buf);
  const count = v.getUint32(0, true);
  let at = 4;
  for (let i = 0; i < count; i++) {
    rec.frame = v.getFloat64(at, true);
    rec.tsSec = v.getFloat64(at + 8, true);
    rec.fileOffset = v.getFloat64(at + 16, true);
    rec.tsNsec = v.getUint32(at + 24, true);
    rec.capLen = v.getUint32(at + 28, true);
    rec.origLen = v.getUint32(at + 32, true);
    rec.linkType = v.getUint32(at + 36, true);
    rec.iface = v.getUint32(at + 40, true);
    const len = v.getUint32(at + 44, true);
    rec.bytes = u8.subarray(at + HEADER, at + HEADER + len);
    sink(rec);
    at += HEADER + pad8(len);
  }
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}
