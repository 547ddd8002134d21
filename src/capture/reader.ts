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
import { InterruptibleSource, openSource, type ByteSource } from "./source.js";

/**
 * Ending a reading before the end of its input. Two kinds, told apart because only one is
 * news to the user:
 *  - requested: the caller has what it asked for. `stop()` says so after a chunk (-c N),
 *    or the next record is past `lastFrame` (the second pass of `packets`). Nothing is noted.
 *  - interrupted: `signal` aborts (Ctrl-C), or the sink throws StopReading (--jobs threads
 *    stopping at one frame). `info.interrupted`, also among the warnings, says after which
 *    frame; a record the interruption cut is not damage.
 * A reading whose signal had aborted before it began (a pass after the interruption: the
 * spooled copy of standard input that Ctrl-C ended, the --jobs fallback) reads its input to
 * the end or to `lastFrame`, and where it ends is the interruption.
 * Either way, a read still waiting on a pipe is abandoned, not awaited: closing the source
 * ends it, so `-c 10` on a quiet link reports without waiting for an 11th packet.
 */
export interface ReadOptions {
  /** Bytes per read; records larger than this grow the buffer. */
  chunkSize?: number;
  /** Called after every chunk with bytes and packets read so far. */
  onProgress?: (bytesRead: number, packets: number, totalBytes: number | null) => void;
  /** Asked after every chunk: true stops reading, as requested (the packets wanted have all been seen, e.g. -c N). */
  stop?: () => boolean;
  /** Called before the records of every chunk are framed: `buf` is what records point into (PacketRecord.buf), `fileOffset` the file offset of buf[0]. */
  onChunk?: (buf: Uint8Array, fileOffset: number) => void;
  /** Awaited after every chunk (the --jobs reader waits here for its workers to make room); what it throws ends the reading. */
  afterChunk?: () => Promise<void>;
  /** Reads no further than this frame, as requested (or as interrupted: see above). */
  lastFrame?: number;
  /**
   * Stops the reading at the next chunk boundary, or at once when waiting for a pipe
   * (Ctrl-C on `tcpdump -w - | sockscope analyze -`): what was read is analysed and
   * `info.interrupted` says where it stopped. The abort reason (e.g. "SIGINT") names why.
   */
  signal?: AbortSignal;
  /** The input's name in messages (default: the path; "(stdin)" for a spooled copy of standard input). */
  name?: string;
  /**
   * The account to fill (newCaptureInfo), instead of a new one: its sections and
   * interfaces grow as their blocks are read, before the packets that follow them, so an
   * analysis holding it sees what the file says of where it was recorded as it goes.
   */
  info?: CaptureInfo;
}

/**
 * Thrown by a packet sink to interrupt the reading before the record it was given, which
 * is not counted (`--jobs` threads stopping at the same frame): not damage.
 */
export class StopReading extends Error {
  constructor(readonly reason: string) {
    super(`reading stopped (${reason})`);
  }
}

/** Thrown by the reader's own sink wrapper at `lastFrame`: a requested end, unless the signal had fired already. */
class LastFrameReached extends Error {}

export const DEFAULT_CHUNK = 4 * 1024 * 1024;
/** The least chunk read, whatever the file's size: a file still being written grows past its size at open. */
const MIN_CHUNK = 64 * 1024;

/**
 * A file smaller than a chunk is read in one chunk of about its size: many small captures
 * (a directory of them) each allocating 2 × 4 MiB of buffers kept the garbage collector
 * busy for a third of the run.
 */
function chunkFor(size: number | null): number {
  return size === null ? DEFAULT_CHUNK : Math.min(DEFAULT_CHUNK, Math.max(MIN_CHUNK, size));
}
/** Reserve before each chunk for a record cut by the chunk boundary: libpcap's largest snap length and a header. */
export const DEFAULT_RESERVE = 262144 + 64;

export function newCaptureInfo(file: string): CaptureInfo {
  return {
    file,
    format: "unknown",
    variant: "unknown",
    interfaces: [],
    sections: [],
    packets: 0,
    bytesRead: 0,
    warnings: [],
    error: null,
  };
}

/**
 * Reads a capture file (or "-" for stdin), calling `onPacket` for every record in order.
 * Never throws for damage found after the file was opened and recognised: the error goes
 * into `info.error` and the packets before it have been delivered. Throws CaptureError
 * only when the input cannot be read as a capture at all (missing, empty, not a capture).
 */
export async function readCapture(path: string, onPacket: PacketSink, opts: ReadOptions = {}): Promise<CaptureInfo> {
  const opened = await openSource(path, opts.name);
  // A signal that has fired already ends nothing: this pass reads what the interruption left (see ReadOptions).
  const source =
    opts.signal === undefined || opts.signal.aborted ? opened : new InterruptibleSource(opened, opts.signal);
  try {
    return await readSource(source, onPacket, opts);
  } finally {
    await source.close();
  }
}

/** One read buffer with the views the framers use. */
class Chunk {
  readonly buf: Buffer;
  /** Records point into this plain Uint8Array view (PacketRecord.setSpan); a record's own `bytes`, when asked for, is its subarray, which from a Buffer would build a Buffer. */
  readonly u8: Uint8Array;
  readonly dv: DataView;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
    this.u8 = new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
}

/**
 * Two buffers, each a reserve followed by room for one chunk. While the framer walks the
 * records of one buffer, the next chunk is already being read into the other, after its
 * reserve; the record cut by the chunk boundary is then copied into the reserve, just
 * before the new bytes, so it reads on contiguously. That copy is the only one.
 */
export async function readSource(
  source: ByteSource,
  onPacket: PacketSink,
  opts: ReadOptions = {},
): Promise<CaptureInfo> {
  const file = source.name;
  const info = opts.info ?? newCaptureInfo(file);
  info.file = file;
  const signal = opts.signal;
  const interruptedBefore = signal?.aborted === true;
  const last = opts.lastFrame;
  const sink: PacketSink =
    last === undefined
      ? onPacket
      : (rec) => {
          if (rec.frame > last) throw new LastFrameReached();
          onPacket(rec);
        };
  const ctx: FramerContext = {
    file,
    info,
    rec: new PacketRecord(),
    sink,
    warn: (offset, problem) => info.warnings.push(atOffset(file, offset, problem)),
  };
  const chunk = Math.max(1, opts.chunkSize ?? chunkFor(source.size));
  // Room for a cut record; grows when a record is larger (rare: jumbo snap lengths).
  let reserve = Math.min(chunk, DEFAULT_RESERVE);
  let cur = new Chunk(reserve + chunk);
  let nxt = new Chunk(reserve + chunk);
  let start = reserve; // unconsumed bytes are cur[start, end)
  let end = reserve;
  let base = 0; // file offset of cur[start]
  let framer: Framer | null = null;
  let eof = false;
  // readCapture makes the source end its reads when the signal aborts.
  const read = (c: Chunk, at: number, len: number): Promise<number> => source.read(c.buf, at, len);

  // The magic number decides the format: gather its 4 bytes (a pipe may trickle).
  while (end - start < 4) {
    if (end === cur.buf.length) {
      const bigger = new Chunk(cur.buf.length * 2);
      bigger.buf.set(cur.u8.subarray(0, end), 0);
      cur = bigger;
    }
    const n = await read(cur, end, cur.buf.length - end);
    info.bytesRead += n;
    if (n === 0) {
      eof = true;
      break;
    }
    end += n;
  }
  if (end - start >= 4) framer = chooseFramer(cur.dv, start, ctx);

  while (framer !== null) {
    const prefetch = eof ? null : read(nxt, reserve, chunk);
    // Abandoned when the reading ends early: closing the source ends it (a file's close waits for it).
    prefetch?.catch(() => 0);
    let pos: number;
    opts.onChunk?.(cur.u8, base - start);
    try {
      pos = framer.parse(cur.u8, cur.dv, start, end, base - start);
    } catch (e) {
      if (e instanceof StopReading || e instanceof LastFrameReached) {
        info.packets = ctx.rec.frame - 1;
        if (e instanceof StopReading) return noteInterruption(info, ctx.rec.fileOffset, e.reason);
        return interruptedBefore ? noteInterruption(info, ctx.rec.fileOffset, String(signal!.reason)) : info;
      }
      if (!(e instanceof CaptureError)) throw e;
      info.error = e.message;
      return info;
    }
    base += pos - start;
    start = pos;
    opts.onProgress?.(info.bytesRead, info.packets, source.size);
    if (opts.stop?.() === true) return info;
    if (opts.afterChunk !== undefined) await opts.afterChunk();
    const n = prefetch === null ? 0 : await prefetch;
    info.bytesRead += n;
    if (n === 0) break;
    const left = end - pos;
    if (left > reserve) {
      // The cut record does not fit the reserve: make both buffers bigger.
      const grown = Math.max(left, reserve * 2);
      const bigger = new Chunk(grown + chunk);
      bigger.buf.set(cur.u8.subarray(pos, end), grown - left);
      bigger.buf.set(nxt.u8.subarray(reserve, reserve + n), grown);
      reserve = grown;
      cur = bigger;
      nxt = new Chunk(reserve + chunk);
    } else {
      nxt.buf.set(cur.u8.subarray(pos, end), reserve - left);
      const t = cur;
      cur = nxt;
      nxt = t;
    }
    start = reserve - left;
    end = reserve + n;
  }
  if (signal !== undefined && source.size === null) await signalsInFlight();
  if (signal?.aborted) {
    if (framer === null)
      throw new CaptureError(file, 0, `interrupted (${String(signal.reason)}) before the capture file header arrived`);
    // A record cut by the interruption (now, or before this pass began) is not damage: say only where reading stopped.
    return noteInterruption(info, base, String(signal.reason));
  }
  if (framer === null) {
    if (end === start) throw new CaptureError(file, 0, "empty input (0 bytes): not a capture");
    throw new CaptureError(file, 0, `only ${end - start} bytes: too short to be a capture file`);
  }
  if (end > start) {
    const msg = atOffset(file, base, framer.describeTail(end - start));
    if (info.format === "unknown") info.error = msg;
    else info.warnings.push(msg);
  } else if (info.format === "unknown") {
    info.error = atOffset(file, 0, "file ends inside the capture file header");
  }
  return info;
}

/**
 * Ctrl-C reaches a pipe's writer and this process together, and the end of input that
 * the writer's death causes can come first: Node learns of a signal from another thread
 * through its own pipe, polled in a later turn of the event loop. Some milliseconds'
 * wait at the end of a pipe lets a signal that is already on its way be handled.
 */
export function signalsInFlight(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 20));
}

/** Records that the reading stopped early, at `offset`, and why ("SIGINT"): in `info.interrupted` and among the warnings. */
export function noteInterruption(info: CaptureInfo, offset: number, reason: string): CaptureInfo {
  info.interrupted = atOffset(
    info.file,
    offset,
    `interrupted (${reason}) after frame ${info.packets}: the report covers the ${info.packets} packets read until then`,
  );
  info.warnings.push(info.interrupted);
  return info;
}

function chooseFramer(dv: DataView, at: number, ctx: FramerContext): Framer {
  const magic = dv.getUint32(at, false);
  if (isPcapMagic(magic)) return new PcapFramer(ctx);
  if (magic === PCAPNG_SHB) return new PcapngFramer(ctx);
  throw new CaptureError(
    ctx.file,
    0,
    `not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, "0")})${describeMagic(dv, at)}`,
  );
}

/** A hint for the common look-alikes users feed in by mistake. */
function describeMagic(dv: DataView, at: number): string {
  const b0 = dv.getUint8(at),
    b1 = dv.getUint8(at + 1);
  if (b0 === 0x1f && b1 === 0x8b) return ": it is gzip-compressed; gunzip it first";
  let printable = true;
  for (let i = 0; i < 4; i++) {
    const c = dv.getUint8(at + i);
    if (c < 9 || c > 126) printable = false;
  }
  return printable ? ": it looks like text" : "";
}
