/**
 * `-w file.pcap` for live captures: a classic pcap file (microsecond timestamps, little
 * endian, version 2.4) written as packets arrive, with the times and lengths the packets
 * were stamped with; pcapng-writer.ts writes the same through this class's buffering,
 * with the process that sent each packet. Records are collected in memory and written with one write() per
 * flush (every tick and every 1 MiB), so the file is complete up to the last flush if
 * the process is killed, and complete when `close()` returns.
 *
 * A write that fails (disk full, ENOSPC; quota; I/O error) does not throw into the
 * capture: the writer stops, cuts the file back to the last whole flush so that it stays
 * a valid capture, and keeps the error in `failure` for the caller to stop and say so.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, writeSync } from "node:fs";
import type { PacketProcess, PacketRecord } from "../record.js";

const FLUSH_BYTES = 1 << 20;

export class PcapWriter {
  /** What the summary calls the file's format. */
  readonly format: string = "classic pcap";
  private fd: number;
  private buf = Buffer.allocUnsafe(FLUSH_BYTES + 65536 + 16);
  private len = 0;
  private headerWritten = false;
  packets = 0;
  bytes = 0;
  /** Packets in the file for certain: written by a flush that completed. */
  savedPackets = 0;
  /** Why writing stopped (ENOSPC...), or null. */
  failure: NodeJS.ErrnoException | null = null;
  private fileBytes = 0;
  private pendingPackets = 0;

  /** Opens (creates or truncates) the file now, so a bad path fails before capturing. */
  constructor(
    readonly path: string,
    protected readonly snapLen: number,
  ) {
    this.fd = openSync(path, "w");
  }

  /** The file header; written before the first record (or at close, for none). */
  header(linkType: number): void {
    if (this.headerWritten) return;
    this.put(this.fileHeader(linkType));
    this.headerWritten = true;
  }

  /** The 24-byte classic pcap header. */
  protected fileHeader(linkType: number): Uint8Array {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeInt32LE(0, 8); // thiszone
    h.writeUInt32LE(0, 12); // sigfigs
    h.writeUInt32LE(this.snapLen, 16);
    h.writeUInt32LE(linkType, 20);
    return h;
  }

  /** Appends one packet; `sender`, the process that sent it, is kept where the format can (pcapng). */
  write(rec: PacketRecord, sender: PacketProcess | null = null): void {
    if (this.failure !== null) return;
    if (!this.headerWritten) this.header(rec.linkType);
    const most = this.recordBytes(rec, sender);
    if (this.len + most > this.buf.length) {
      this.flush();
      if (most > this.buf.length) this.buf = Buffer.allocUnsafe(most);
    }
    const n = this.writeRecord(this.buf, this.len, rec, sender);
    this.len += n;
    this.packets++;
    this.pendingPackets++;
    this.bytes += n;
    if (this.len >= FLUSH_BYTES) this.flush();
  }

  /** At most how many bytes `writeRecord` takes for this packet. */
  protected recordBytes(rec: PacketRecord, _sender: PacketProcess | null): number {
    return 16 + rec.bytes.length;
  }

  /** Writes the packet's record at `b[at…]`; returns its length. */
  protected writeRecord(b: Buffer, at: number, rec: PacketRecord, _sender: PacketProcess | null): number {
    const n = rec.bytes.length;
    b.writeUInt32LE(rec.tsSec >>> 0, at);
    b.writeUInt32LE(Math.floor(rec.tsNsec / 1000), at + 4);
    b.writeUInt32LE(n, at + 8);
    b.writeUInt32LE(Math.max(rec.origLen, n), at + 12);
    b.set(rec.bytes, at + 16);
    return 16 + n;
  }

  private put(data: Uint8Array): void {
    if (this.len + data.length > this.buf.length) this.flush();
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  flush(): void {
    if (this.failure !== null || this.fd < 0) {
      this.len = 0;
      return;
    }
    let off = 0;
    try {
      while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    } catch (e) {
      this.failure = e as NodeJS.ErrnoException;
      // A record cut in the middle would make the rest of the file unreadable.
      try {
        ftruncateSync(this.fd, this.fileBytes);
      } catch {
        /* a device (/dev/full) has no length to cut */
      }
      this.len = 0;
      return;
    }
    this.fileBytes += this.len;
    this.savedPackets += this.pendingPackets;
    this.pendingPackets = 0;
    this.len = 0;
  }

  /** Writes what is left (the header alone when no packet came) and closes the file. */
  close(linkType: number): void {
    if (this.fd < 0) return;
    if (this.failure === null) this.header(linkType);
    this.flush();
    try {
      fsyncSync(this.fd);
    } catch (e) {
      if (this.failure === null && (e as NodeJS.ErrnoException).code !== "EINVAL")
        this.failure = e as NodeJS.ErrnoException;
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
