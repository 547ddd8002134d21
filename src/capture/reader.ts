/**
 * The streaming capture reader: reads large chunks into one buffer, lets the format's
 * framer hand out every complete record as a view into that buffer, and carries only the
 * record cut by the chunk boundary over to the next read. Async per chunk, synchronous
 * per packet: the callback runs for every packet of a chunk before the next read.
 */
import { CaptureError, atOffset } from "./errors.js";
import type { Framer, FramerContext, PacketSink } from "./framer.js";
import { PcapFramer, isPcapMagic } from "./pcap.js";
import { PCAPNG_SHB, PcapngFramer } from "./pcapng.js";
import { PacketRecord, type CaptureInfo } from "./record.js";
import { openSource, type ByteSource } from "./source.js";

export interface ReadOptions {
  /** Bytes per read; records larger than this grow the buffer. */
  chunkSize?: number;
  /** Called after every chunk with bytes and packets read so far. */
  onProgress?: (bytesRead: number, packets: number, totalBytes: number | null) => void;
}

export const DEFAULT_CHUNK = 4 * 1024 * 1024;

export function newCaptureInfo(file: string): CaptureInfo {
  return { file, format: "unknown", variant: "unknown", interfaces: [], packets: 0, bytesRead: 0, warnings: [], error: null };
}

/**
 * Reads a capture file (or "-" for stdin), calling `onPacket` for every record in order.
 * Never throws for damage found after the file was opened and recognised: the error goes
 * into `info.error` and the packets before it have been delivered. Throws CaptureError
 * only when the input cannot be read as a capture at all (missing, empty, not a capture).
 */
export async function readCapture(path: string, onPacket: PacketSink, opts: ReadOptions = {}): Promise<CaptureInfo> {
  const source = await openSource(path);
  try {
    return await readSource(source, onPacket, opts);
  } finally {
    await source.close();
  }
}

export async function readSource(source: ByteSource, onPacket: PacketSink, opts: ReadOptions = {}): Promise<CaptureInfo> {
  const file = source.name;
  const info = newCaptureInfo(file);
  const ctx: FramerContext = {
    file, info, rec: new PacketRecord(), sink: onPacket,
    warn: (offset, problem) => info.warnings.push(atOffset(file, offset, problem)),
  };
  let buf = Buffer.allocUnsafeSlow(opts.chunkSize ?? DEFAULT_CHUNK);
  let dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // Records are handed out as subarrays of a plain Uint8Array view: Buffer#subarray
  // builds a Buffer each time and costs several times more per packet.
  let u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let framer: Framer | null = null;
  let end = 0; // bytes held in buf
  let base = 0; // file offset of buf[0]
  for (;;) {
    if (end === buf.length) {
      // Full without a complete record (tiny chunk sizes, or the 4-byte magic): grow.
      const bigger = Buffer.allocUnsafeSlow(buf.length * 2 + 16);
      bigger.set(buf.subarray(0, end), 0);
      buf = bigger;
      dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const n = await source.read(buf, end, buf.length - end);
    if (n === 0) break;
    end += n;
    info.bytesRead += n;
    if (framer === null) {
      if (end < 4) continue;
      framer = chooseFramer(dv, ctx);
    }
    let pos: number;
    try {
      pos = framer.parse(u8, dv, 0, end, base);
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      info.error = e.message;
      return info;
    }
    const left = end - pos;
    if (framer.pending > buf.length) {
      // One record larger than a chunk: grow, carrying the partial record over.
      const bigger = Buffer.allocUnsafeSlow(Math.max(framer.pending, buf.length * 2));
      bigger.set(buf.subarray(pos, end), 0);
      buf = bigger;
      dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      u8 = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } else if (left > 0 && pos > 0) {
      buf.copyWithin(0, pos, end);
    }
    base += pos;
    end = left;
    opts.onProgress?.(info.bytesRead, info.packets, source.size);
  }
  if (framer === null) {
    if (end === 0) throw new CaptureError(file, 0, "empty input (0 bytes): not a capture");
    throw new CaptureError(file, 0, `only ${end} bytes: too short to be a capture file`);
  }
  if (end > 0) {
    const msg = atOffset(file, base, framer.describeTail(end));
    if (info.format === "unknown") info.error = msg;
    else info.warnings.push(msg);
  } else if (info.format === "unknown") {
    info.error = atOffset(file, 0, "file ends inside the capture file header");
  }
  return info;
}

function chooseFramer(dv: DataView, ctx: FramerContext): Framer {
  const magic = dv.getUint32(0, false);
  if (isPcapMagic(magic)) return new PcapFramer(ctx);
  if (magic === PCAPNG_SHB) return new PcapngFramer(ctx);
  throw new CaptureError(ctx.file, 0, `not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, "0")})${describeMagic(dv)}`);
}

/** A hint for the common look-alikes users feed in by mistake. */
function describeMagic(dv: DataView): string {
  const b0 = dv.getUint8(0), b1 = dv.getUint8(1);
  if (b0 === 0x1f && b1 === 0x8b) return ": it is gzip-compressed; gunzip it first";
  if (dv.getUint32(0, false) === 0x0a0d0d0a) return "";
  let printable = true;
  for (let i = 0; i < 4; i++) {
    const c = dv.getUint8(i);
    if (c < 9 || c > 126) printable = false;
  }
  return printable ? ": it looks like text" : "";
}
