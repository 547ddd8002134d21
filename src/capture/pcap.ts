/**
 * Classic libpcap format: a 24-byte file header, then records of a 16-byte header and
 * the packet bytes. Both byte orders, microsecond (a1b2c3d4) and nanosecond (a1b23c4d)
 * magic. Layout: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html
 */
import { CaptureError } from "./errors.js";
import { MAX_RECORD_BYTES, MAX_SNAPLEN, type Framer, type FramerContext } from "./framer.js";
import { classicInterface } from "./record.js";

export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
const FILE_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

/** True when the first four bytes (read big-endian) are a classic pcap magic in either order. */
export function isPcapMagic(be32: number): boolean {
  return be32 === PCAP_MAGIC_US || be32 === PCAP_MAGIC_NS || be32 === 0xd4c3b2a1 || be32 === 0x4d3cb2a1;
}

export class PcapFramer implements Framer {
  pending = FILE_HEADER_LEN;
  private headerDone = false;
  private le = true;
  private nanos = false;
  private snapLen = 0;
  private maxRecord = MAX_SNAPLEN;
  private linkType = 0;
  private warnedOverSnap = false;
  private warnedBadFraction = false;
  private frame = 0;

  constructor(private readonly ctx: FramerContext) {}

  parse(buf: Uint8Array, dv: DataView, pos: number, end: number, base: number): number {
    if (!this.headerDone) {
      if (end - pos < FILE_HEADER_LEN) {
        this.pending = FILE_HEADER_LEN;
        return pos;
      }
      this.parseFileHeader(dv, pos, base);
      pos += FILE_HEADER_LEN;
    }
    const ctx = this.ctx;
    const rec = ctx.rec;
    const le = this.le;
    const nsPerUnit = this.nanos ? 1 : 1000;
    const unitsPerSec = this.nanos ? 1e9 : 1e6;
    while (end - pos >= RECORD_HEADER_LEN) {
      const capLen = dv.getUint32(pos + 8, le);
      if (capLen > this.maxRecord) {
        throw new CaptureError(
          ctx.file,
          base + pos,
          `record ${this.frame + 1} claims ${capLen} captured bytes, more than the maximum of ${this.maxRecord}: the file is damaged here`,
        );
      }
      const total = RECORD_HEADER_LEN + capLen;
      if (end - pos < total) {
        this.pending = total;
        return pos;
      }
      const origLen = dv.getUint32(pos + 12, le);
      if (capLen > this.snapLen && !this.warnedOverSnap) {
        this.warnedOverSnap = true;
        ctx.warn(
          base + pos,
          `record ${this.frame + 1} has ${capLen} captured bytes, more than the file's snap length ${this.snapLen}`,
        );
      }
      const frac = dv.getUint32(pos + 4, le);
      if (frac >= unitsPerSec) {
        if (!this.warnedBadFraction) {
          this.warnedBadFraction = true;
          ctx.warn(
            base + pos,
            `record ${this.frame + 1} has a sub-second timestamp field of ${frac}, not below ${unitsPerSec}; carried into the seconds`,
          );
        }
      }
      rec.frame = ++this.frame;
      rec.tsSec = dv.getUint32(pos, le) + Math.floor(frac / unitsPerSec);
      rec.tsNsec = (frac % unitsPerSec) * nsPerUnit;
      rec.capLen = capLen;
      rec.origLen = origLen;
      rec.linkType = this.linkType;
      rec.iface = 0;
      rec.fileOffset = base + pos;
      rec.setSpan(buf, pos + RECORD_HEADER_LEN, pos + total);
      ctx.info.packets++;
      ctx.sink(rec);
      pos += total;
    }
    this.pending = RECORD_HEADER_LEN;
    return pos;
  }

  describeTail(available: number): string {
    if (!this.headerDone) return `file ends inside the 24-byte pcap file header (${available} bytes)`;
    if (available < RECORD_HEADER_LEN) {
      return `truncated final record: file ends inside a record header (${available} of 16 bytes)`;
    }
    return `truncated final record: it needs ${this.pending} bytes, the file has ${available}`;
  }

  private parseFileHeader(dv: DataView, pos: number, base: number): void {
    const ctx = this.ctx;
    const magic = dv.getUint32(pos, false);
    this.le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
    this.nanos = magic === PCAP_MAGIC_NS || magic === 0x4d3cb2a1;
    const le = this.le;
    const major = dv.getUint16(pos + 4, le);
    const minor = dv.getUint16(pos + 6, le);
    if (major !== 2 || minor !== 4) {
      // libpcap itself writes 2.4 only; Wireshark refuses major 1 but reads 2.x. We read
      // on (the record layout has not changed since 2.0) and say so.
      ctx.warn(base + pos + 4, `pcap header version ${major}.${minor}, expected 2.4; reading on as 2.4`);
    }
    this.snapLen = dv.getUint32(pos + 16, le);
    this.maxRecord = Math.min(Math.max(this.snapLen, MAX_SNAPLEN), MAX_RECORD_BYTES);
    const linkField = dv.getUint32(pos + 20, le);
    // Low 16 bits: link type. Bits 26-31: FCS length present/length. Bits 16-25: reserved.
    this.linkType = linkField & 0xffff;
    if ((linkField & 0x03ff0000) !== 0) {
      ctx.warn(
        base + pos + 20,
        `pcap link-type field 0x${linkField.toString(16).padStart(8, "0")} has reserved bits set; using link type ${this.linkType}`,
      );
    }
    ctx.info.format = "pcap";
    ctx.info.variant = `pcap-${this.nanos ? "ns" : "us"}-${le ? "le" : "be"}`;
    ctx.info.interfaces.push(classicInterface(this.linkType, this.snapLen));
    this.headerDone = true;
  }
}
