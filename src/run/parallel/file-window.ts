/**
 * A `--jobs` worker's view of the capture file: the bytes of the records its ring names
 * (record-ring.ts), read from the file in large pieces. The records come in file order,
 * so one window, moved forward, serves them all; the main thread has just read the same
 * bytes, so they come from the page cache.
 */
import { closeSync, openSync, readSync } from "node:fs";

const WINDOW_BYTES = 4 * 1024 * 1024;

export class FileWindow {
  private readonly fd: number;
  private buf = Buffer.allocUnsafeSlow(WINDOW_BYTES);
  /** The plain view records point into (PacketRecord.setSpan), as the reader's chunks are. */
  u8 = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  /** The file offsets held: [from, to). */
  private from = 0;
  private to = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, "r");
  }

  /** Where in `u8` the file's bytes [at, at + len) are, reading them first if they are not held. */
  locate(at: number, len: number): number {
    if (at >= this.from && at + len <= this.to) return at - this.from;
    if (len > this.buf.length) {
      this.buf = Buffer.allocUnsafeSlow(len);
      this.u8 = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    let n = 0;
    while (n < this.buf.length) {
      const got = readSync(this.fd, this.buf, n, this.buf.length - n, at + n);
      if (got === 0) break;
      n += got;
    }
    this.from = at;
    this.to = at + n;
    // The main thread framed these bytes a moment ago: a file cut shorter since is not the capture it read.
    if (n < len)
      throw new Error(`${this.path}: the file changed while it was read (${len} bytes at offset ${at} are gone)`);
    return 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}
