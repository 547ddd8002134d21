/**
 * `-w file.pcapng` for live captures: one section (little endian), one interface (the
 * capture's link type and snap length, if_name the interface), one Enhanced Packet Block
 * per packet with microsecond timestamps, as PcapWriter buffers and flushes them. A
 * packet whose sending process is known carries it twice: the pcapng draft's
 * epb_processid_threadid option (code 8: pid and tid, 32 bits each, 0 for unknown), and a
 * comment in the form process-aware capture tools write (ptcpdump: "PID: 4242\nCmd:
 * python3\nArgs: python3 server.py"), which Wireshark and tshark show as frame.comment.
 */
import type { PacketProcess, PacketRecord } from "../record.js";
import { PcapWriter } from "./pcap-writer.js";

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 1;
const BLOCK_EPB = 6;
const OPT_COMMENT = 1;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_EPB_PROCESSID_THREADID = 8;

const pad4 = (n: number): number => (n + 3) & ~3;

/** The packet comment for a process, in the "PID: … Cmd: … Args: …" form. */
export function processComment(p: PacketProcess): string {
  return `PID: ${p.pid}\nCmd: ${p.command}\nArgs: ${p.args}`;
}

/** A block: type, total length, body, options (each padded), end of options, total length again. */
function block(type: number, body: Uint8Array, options: [number, Uint8Array][]): Buffer {
  const optBytes = options.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + (options.length > 0 ? 4 : 0);
  const len = 8 + pad4(body.length) + optBytes + 4;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  b.set(body, 8);
  let at = 8 + pad4(body.length);
  for (const [code, v] of options) {
    b.writeUInt16LE(code, at);
    b.writeUInt16LE(v.length, at + 2);
    b.set(v, at + 4);
    at += 4 + pad4(v.length);
  }
  b.writeUInt32LE(len, len - 4);
  return b;
}

export class PcapngWriter extends PcapWriter {
  override readonly format = "pcapng";
  /** Packets written with their process. */
  withProcess = 0;
  private lastSender: PacketProcess | null = null;
  private lastComment = Buffer.alloc(0);

  constructor(
    path: string,
    snapLen: number,
    private readonly ifaceName: string,
  ) {
    super(path, snapLen);
  }

  protected override fileHeader(linkType: number): Uint8Array {
    const shb = Buffer.alloc(16);
    shb.writeUInt32LE(0x1a2b3c4d, 0);
    shb.writeUInt16LE(1, 4);
    shb.writeUInt16LE(0, 6);
    shb.writeInt32LE(-1, 8); // section length: not given
    shb.writeInt32LE(-1, 12);
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(linkType, 0);
    idb.writeUInt32LE(this.snapLen, 4);
    return Buffer.concat([
      block(BLOCK_SHB, shb, [[OPT_SHB_USERAPPL, Buffer.from("sockscope")]]),
      block(BLOCK_IDB, idb, this.ifaceName === "" ? [] : [[OPT_IF_NAME, Buffer.from(this.ifaceName)]]),
    ]);
  }

  private comment(p: PacketProcess): Buffer {
    // Consecutive packets mostly come from one process: the comment is made once for it.
    if (p !== this.lastSender) {
      this.lastSender = p;
      this.lastComment = Buffer.from(processComment(p));
    }
    return this.lastComment;
  }

  protected override recordBytes(rec: PacketRecord, sender: PacketProcess | null): number {
    const opts = sender === null ? 0 : 4 + pad4(this.comment(sender).length) + 12 + 4;
    return 32 + pad4(rec.bytes.length) + opts;
  }

  protected override writeRecord(b: Buffer, at: number, rec: PacketRecord, sender: PacketProcess | null): number {
    const n = rec.bytes.length;
    const len = this.recordBytes(rec, sender);
    b.writeUInt32LE(BLOCK_EPB, at);
    b.writeUInt32LE(len, at + 4);
    b.writeUInt32LE(0, at + 8); // interface 0
    // Microseconds since the epoch: below 2^53, so exact in a double.
    const us = rec.tsSec * 1e6 + Math.floor(rec.tsNsec / 1000);
    b.writeUInt32LE(Math.floor(us / 4294967296), at + 12);
    b.writeUInt32LE(us % 4294967296, at + 16);
    b.writeUInt32LE(n, at + 20);
    b.writeUInt32LE(Math.max(rec.origLen, n), at + 24);
    b.set(rec.bytes, at + 28);
    let o = at + 28 + n;
    b.fill(0, o, at + 28 + pad4(n));
    o = at + 28 + pad4(n);
    if (sender !== null) {
      const c = this.comment(sender);
      b.writeUInt16LE(OPT_COMMENT, o);
      b.writeUInt16LE(c.length, o + 2);
      b.set(c, o + 4);
      b.fill(0, o + 4 + c.length, o + 4 + pad4(c.length));
      o += 4 + pad4(c.length);
      b.writeUInt16LE(OPT_EPB_PROCESSID_THREADID, o);
      b.writeUInt16LE(8, o + 2);
      b.writeUInt32LE(sender.pid, o + 4);
      b.writeUInt32LE(sender.tid, o + 8);
      b.writeUInt32LE(0, o + 12); // end of options
      o += 16;
      this.withProcess++;
    }
    b.writeUInt32LE(len, o);
    return len;
  }
}
