/**
 * pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks, each `type, total length, body,
 * total length`. A Section Header Block sets the byte order for the blocks after it, so
 * one file may mix orders. Interface Description Blocks give each interface its link
 * type, snap length, timestamp resolution (if_tsresol) and offset (if_tsoffset).
 * Packets come in Enhanced (6), Simple (3) and the obsolete Packet (2) blocks; every other
 * block type (name resolution, statistics, custom, unknown) is skipped by its length.
 *
 * The file's own word on where it was written is kept too (CaptureInfo.sections and
 * .interfaces): the SHB's shb_hardware, shb_os and shb_userappl, the IDB's if_name,
 * if_description, if_os and its addresses (if_IPv4addr, if_IPv6addr); the analysis takes
 * the capturing host's OS from them (analyze/lib/recording-host.ts). They are text from
 * whoever wrote the file: bounded, made printable, and never a reason to stop reading.
 *
 * An Enhanced Packet Block may name the process that sent its packet: the draft's
 * epb_processid_threadid option, or a comment "PID: 4242\nCmd: …\nArgs: …" as
 * process-aware capture tools (ptcpdump, sockscope live -w) write it. Either becomes the
 * record's `process` (packet-process.ts reads them).
 */
import { CaptureError } from "./errors.js";
import { MAX_RECORD_BYTES, type Framer, type FramerContext } from "./framer.js";
import {
  NO_ADDRESSES,
  type InterfaceAddress,
  type InterfaceInfo,
  type PacketProcess,
  type SectionInfo,
} from "./record.js";
import {
  EPB_FLAGS_INBOUND,
  OPT_COMMENT,
  OPT_EPB_FLAGS,
  OPT_EPB_PROCESSID_THREADID,
  packetProcess,
} from "./packet-process.js";

export const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_IDB = 1;
const BLOCK_PB = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;
/**
 * Blocks that are no packets but that Wireshark lists as frames (tshark 4.0 numbers them:
 * corpus pcapng-testgen test102 and test202), so they take a frame number here too and
 * every frame a finding names is the one Wireshark shows: custom blocks (copiable or not),
 * systemd journal entries, and sysdig events.
 */
const FRAME_ONLY_BLOCKS = new Set([0x00000bad, 0x40000bad, 0x00000009, 0x00000204, 0x00000216, 0x00000221]);
const OPT_END = 0;
const OPT_SHB_HARDWARE = 2;
const OPT_SHB_OS = 3;
const OPT_SHB_USERAPPL = 4;
const OPT_IF_NAME = 2;
const OPT_IF_DESCRIPTION = 3;
const OPT_IF_IPV4ADDR = 4;
const OPT_IF_IPV6ADDR = 5;
const OPT_IF_TSRESOL = 9;
const OPT_IF_OS = 12;
const OPT_IF_TSOFFSET = 14;
/** Longest option string kept, in characters: an OS or interface name is far shorter; the rest is cut. */
export const MAX_OPTION_TEXT = 256;
/** Sections whose header options are kept: a file of empty sections would otherwise grow the list without end. */
export const MAX_SECTIONS = 1024;
/** Addresses kept per interface (if_IPv4addr and if_IPv6addr may repeat): a host has a handful. */
export const MAX_INTERFACE_ADDRESSES = 64;
const TWO_32 = 4294967296;

/** Per-interface timestamp arithmetic, computed once from the IDB's options. */
class PcapngInterface {
  constructor(
    readonly linkType: number,
    readonly snapLen: number,
    /** Timestamp units per second (10^n or 2^n). */
    readonly unitsPerSec: number,
    /** if_tsoffset: seconds added to every timestamp. */
    readonly offsetSec: number,
    /** Global interface index reported on records (sections restart their ids at 0). */
    readonly globalIndex: number,
  ) {}
}

export class PcapngFramer implements Framer {
  pending = 12;
  private le = true;
  private sawLe = false;
  private sawBe = false;
  private sectionIfaces: PcapngInterface[] = [];
  private frame = 0;
  private warnedOverSnap = false;
  /** The process the EPB being read names, for emit() to put on its record. */
  private packetProcess: PacketProcess | null = null;
  private warnedAddressLength = false;
  /** Index in info.sections of the section being read; -1 past MAX_SECTIONS. */
  private sectionIndex = -1;
  private warnedSections = false;

  constructor(private readonly ctx: FramerContext) {}

  parse(buf: Uint8Array, dv: DataView, pos: number, end: number, base: number): number {
    const ctx = this.ctx;
    while (end - pos >= 12) {
      let type = dv.getUint32(pos, this.le);
      if (dv.getUint32(pos, false) === PCAPNG_SHB) {
        // The SHB's own byte order comes from its magic, which sits after the length.
        type = PCAPNG_SHB;
        const magic = dv.getUint32(pos + 8, false);
        if (magic === BYTE_ORDER_MAGIC) this.le = false;
        else if (magic === 0x4d3c2b1a) this.le = true;
        else
          throw new CaptureError(
            ctx.file,
            base + pos + 8,
            `section header byte-order magic 0x${magic.toString(16)} is neither 1a2b3c4d nor its swap`,
          );
      }
      const len = dv.getUint32(pos + 4, this.le);
      if (len < 12 || (len & 3) !== 0) {
        throw new CaptureError(
          ctx.file,
          base + pos,
          `pcapng block of type 0x${type.toString(16)} has total length ${len}, which is ${len < 12 ? "below the minimum of 12" : "not a multiple of 4"}`,
        );
      }
      if (len > MAX_RECORD_BYTES) {
        throw new CaptureError(
          ctx.file,
          base + pos,
          `pcapng block of type 0x${type.toString(16)} claims ${len} bytes, more than the ${MAX_RECORD_BYTES}-byte limit: the file is damaged here`,
        );
      }
      if (end - pos < len) {
        this.pending = len;
        return pos;
      }
      const trailer = dv.getUint32(pos + len - 4, this.le);
      if (trailer !== len) {
        // libpcap does not check the trailing copy either; the leading length is what
        // frames the file, so say so and go on (corpus: libpcap shb-option-too-long).
        ctx.warn(
          base + pos + len - 4,
          `pcapng block of type 0x${type.toString(16)} ends with length ${trailer} but starts with ${len}; using ${len}`,
        );
      }
      switch (type) {
        case PCAPNG_SHB:
          this.sectionHeader(dv, pos, len, base);
          break;
        case BLOCK_IDB:
          this.interfaceDescription(buf, dv, pos, len, base);
          break;
        case BLOCK_EPB:
          this.enhancedPacket(buf, dv, pos, len, base);
          break;
        case BLOCK_SPB:
          this.simplePacket(buf, dv, pos, len, base);
          break;
        case BLOCK_PB:
          this.obsoletePacket(buf, dv, pos, len, base);
          break;
        default:
          if (FRAME_ONLY_BLOCKS.has(type)) this.frame++;
          break; // NRB, ISB, DSB, custom and unknown blocks: nothing a flow needs
      }
      pos += len;
    }
    this.pending = 12;
    return pos;
  }

  describeTail(available: number): string {
    if (available < 12) return `truncated final block: file ends inside a block header (${available} of 12 bytes)`;
    return `truncated final block: it needs ${this.pending} bytes, the file has ${available}`;
  }

  private sectionHeader(dv: DataView, pos: number, len: number, base: number): void {
    const ctx = this.ctx;
    if (len < 28)
      throw new CaptureError(
        ctx.file,
        base + pos,
        `section header block of ${len} bytes is shorter than its 28-byte minimum`,
      );
    if (this.le) this.sawLe = true;
    else this.sawBe = true;
    const major = dv.getUint16(pos + 12, this.le);
    const minor = dv.getUint16(pos + 14, this.le);
    if (major !== 1) {
      ctx.warn(base + pos + 12, `pcapng section version ${major}.${minor}, expected 1.0; reading on as 1.0`);
    }
    const section: SectionInfo = { hardware: "", os: "", userAppl: "" };
    this.walkOptions(dv, pos + 24, pos + len - 4, base, "section header", (code, at, optLen) => {
      // A repeated option keeps its first value (the spec allows each of these once).
      if (code === OPT_SHB_HARDWARE && section.hardware === "") section.hardware = optionText(dv, at, optLen);
      else if (code === OPT_SHB_OS && section.os === "") section.os = optionText(dv, at, optLen);
      else if (code === OPT_SHB_USERAPPL && section.userAppl === "") section.userAppl = optionText(dv, at, optLen);
    });
    this.keepSection(section, pos, base);
    this.sectionIfaces = [];
    ctx.info.format = "pcapng";
    ctx.info.variant = this.sawLe && this.sawBe ? "pcapng-mixed" : this.le ? "pcapng-le" : "pcapng-be";
  }

  private interfaceDescription(buf: Uint8Array, dv: DataView, pos: number, len: number, base: number): void {
    const ctx = this.ctx;
    if (len < 20)
      throw new CaptureError(
        ctx.file,
        base + pos,
        `interface description block of ${len} bytes is shorter than its 20-byte minimum`,
      );
    const linkType = dv.getUint16(pos + 8, this.le);
    const snapLen = dv.getUint32(pos + 12, this.le);
    const opts = { unitsPerSec: 1e6, offsetSec: 0 };
    const iface: InterfaceInfo = {
      linkType,
      snapLen,
      name: "",
      description: "",
      os: "",
      addresses: NO_ADDRESSES,
      section: this.sectionIndex,
    };
    this.walkOptions(dv, pos + 16, pos + len - 4, base, "interface description", (code, at, optLen) => {
      if (code === OPT_IF_TSRESOL && optLen >= 1) {
        const v = buf[at]!;
        // MSB clear: 10^-v seconds; MSB set: 2^-(v & 0x7f) seconds.
        opts.unitsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
      } else if (code === OPT_IF_TSOFFSET && optLen >= 8) {
        const hi = dv.getInt32(this.le ? at + 4 : at, this.le);
        const lo = dv.getUint32(this.le ? at : at + 4, this.le);
        opts.offsetSec = hi * TWO_32 + lo;
      } else if (code === OPT_IF_NAME && iface.name === "") {
        iface.name = optionText(dv, at, optLen);
      } else if (code === OPT_IF_DESCRIPTION && iface.description === "") {
        iface.description = optionText(dv, at, optLen);
      } else if (code === OPT_IF_OS && iface.os === "") {
        iface.os = optionText(dv, at, optLen);
      } else if (code === OPT_IF_IPV4ADDR || code === OPT_IF_IPV6ADDR) {
        this.interfaceAddress(dv, code, at, optLen, base, iface);
      }
    });
    const globalIndex = ctx.info.interfaces.length;
    ctx.info.interfaces.push(iface);
    this.sectionIfaces.push(new PcapngInterface(linkType, snapLen, opts.unitsPerSec, opts.offsetSec, globalIndex));
  }

  /** Keeps a section's words: as the previous section's when they are the same, none past MAX_SECTIONS (said once). */
  private keepSection(section: SectionInfo, pos: number, base: number): void {
    const sections = this.ctx.info.sections;
    const last = sections[sections.length - 1];
    if (
      last !== undefined &&
      last.hardware === section.hardware &&
      last.os === section.os &&
      last.userAppl === section.userAppl
    ) {
      this.sectionIndex = sections.length - 1;
    } else if (sections.length < MAX_SECTIONS) {
      this.sectionIndex = sections.push(section) - 1;
    } else {
      if (!this.warnedSections) {
        this.warnedSections = true;
        this.ctx.warn(
          base + pos,
          `more than ${MAX_SECTIONS} pcapng sections with different header options: those of the rest are not kept`,
        );
      }
      this.sectionIndex = -1;
    }
  }

  /**
   * if_IPv4addr is the address and its netmask (8 bytes), if_IPv6addr the address and its
   * prefix length (17 bytes); the address is what tells a side of a flow to be this host.
   * A wrong length is said once per file and the option left out.
   */
  private interfaceAddress(
    dv: DataView,
    code: number,
    at: number,
    optLen: number,
    base: number,
    iface: InterfaceInfo,
  ): void {
    const v4 = code === OPT_IF_IPV4ADDR;
    const want = v4 ? 8 : 17;
    if (optLen !== want) {
      if (!this.warnedAddressLength) {
        this.warnedAddressLength = true;
        this.ctx.warn(
          base + at - 4,
          `interface description option ${v4 ? "if_IPv4addr" : "if_IPv6addr"} has length ${optLen}, not ${want}; left out`,
        );
      }
      return;
    }
    const list = iface.addresses;
    if (list.length >= MAX_INTERFACE_ADDRESSES) return;
    // Addresses are in network byte order whatever the section's byte order.
    const word = (i: number) => (v4 && i > 0 ? 0 : dv.getUint32(at + 4 * i, false));
    const a: InterfaceAddress = { version: v4 ? 4 : 6, words: [word(0), word(1), word(2), word(3)] };
    if (list.some((b) => b.version === a.version && b.words.every((w, i) => w === a.words[i]))) return;
    iface.addresses = [...list, a];
  }

  private enhancedPacket(buf: Uint8Array, dv: DataView, pos: number, len: number, base: number): void {
    const ctx = this.ctx;
    if (len < 32)
      throw new CaptureError(
        ctx.file,
        base + pos,
        `enhanced packet block of ${len} bytes is shorter than its 32-byte minimum`,
      );
    const ifaceId = dv.getUint32(pos + 8, this.le);
    const capLen = dv.getUint32(pos + 20, this.le);
    if (28 + capLen > len - 4) {
      throw new CaptureError(
        ctx.file,
        base + pos,
        `enhanced packet block says ${capLen} captured bytes, but the block holds only ${len - 32}`,
      );
    }
    const iface = this.ifaceFor(ifaceId, pos, base);
    const optionsAt = pos + 28 + ((capLen + 3) & ~3);
    // Options are rare: walked only when the block has room for one.
    if (pos + len - 4 - optionsAt >= 4)
      this.packetProcess = this.processOption(buf, dv, optionsAt, pos + len - 4, base);
    this.emit(
      iface,
      dv.getUint32(pos + 12, this.le),
      dv.getUint32(pos + 16, this.le),
      capLen,
      dv.getUint32(pos + 24, this.le),
      buf,
      pos + 28,
      pos,
      base,
    );
  }

  /** The sending process an EPB's options name (epb_processid_threadid, or a "PID: …" comment), else null. */
  private processOption(buf: Uint8Array, dv: DataView, at: number, end: number, base: number): PacketProcess | null {
    let pid = 0,
      tid = 0;
    let comment: Uint8Array | null = null;
    let inbound = false;
    this.walkOptions(dv, at, end, base, "enhanced packet", (code, valueAt, optLen) => {
      if (code === OPT_EPB_FLAGS && optLen >= 4) {
        inbound = (dv.getUint32(valueAt, this.le) & 3) === EPB_FLAGS_INBOUND;
      } else if (code === OPT_EPB_PROCESSID_THREADID && optLen >= 8) {
        pid = dv.getUint32(valueAt, this.le);
        tid = dv.getUint32(valueAt + 4, this.le);
      } else if (code === OPT_COMMENT && comment === null) {
        comment = buf.subarray(valueAt, valueAt + optLen);
      }
    });
    return packetProcess(pid, tid, comment, inbound);
  }

  private obsoletePacket(buf: Uint8Array, dv: DataView, pos: number, len: number, base: number): void {
    const ctx = this.ctx;
    if (len < 32)
      throw new CaptureError(ctx.file, base + pos, `packet block of ${len} bytes is shorter than its 32-byte minimum`);
    const ifaceId = dv.getUint16(pos + 8, this.le);
    const capLen = dv.getUint32(pos + 20, this.le);
    if (28 + capLen > len - 4) {
      throw new CaptureError(
        ctx.file,
        base + pos,
        `packet block says ${capLen} captured bytes, but the block holds only ${len - 32}`,
      );
    }
    const iface = this.ifaceFor(ifaceId, pos, base);
    this.emit(
      iface,
      dv.getUint32(pos + 12, this.le),
      dv.getUint32(pos + 16, this.le),
      capLen,
      dv.getUint32(pos + 24, this.le),
      buf,
      pos + 28,
      pos,
      base,
    );
  }

  private simplePacket(buf: Uint8Array, dv: DataView, pos: number, len: number, base: number): void {
    const ctx = this.ctx;
    if (len < 16)
      throw new CaptureError(
        ctx.file,
        base + pos,
        `simple packet block of ${len} bytes is shorter than its 16-byte minimum`,
      );
    const iface = this.ifaceFor(0, pos, base);
    const origLen = dv.getUint32(pos + 8, this.le);
    // An SPB carries no captured length: the smaller of the original length, what the
    // block holds, and the interface's snap length.
    let capLen = Math.min(origLen, len - 16);
    if (iface.snapLen > 0 && capLen > iface.snapLen) capLen = iface.snapLen;
    // No timestamp in an SPB: time 0, as Wireshark shows it.
    this.emit(iface, 0, 0, capLen, origLen, buf, pos + 12, pos, base);
  }

  private ifaceFor(id: number, pos: number, base: number): PcapngInterface {
    const iface = this.sectionIfaces[id];
    if (iface === undefined) {
      throw new CaptureError(
        this.ctx.file,
        base + pos,
        `packet block refers to interface ${id}, but this section describes ${this.sectionIfaces.length} interface(s)`,
      );
    }
    return iface;
  }

  private emit(
    iface: PcapngInterface,
    tsHigh: number,
    tsLow: number,
    capLen: number,
    origLen: number,
    buf: Uint8Array,
    dataAt: number,
    pos: number,
    base: number,
  ): void {
    const ctx = this.ctx;
    const rec = ctx.rec;
    rec.process = this.packetProcess;
    this.packetProcess = null;
    if (iface.snapLen > 0 && capLen > iface.snapLen && !this.warnedOverSnap) {
      this.warnedOverSnap = true;
      ctx.warn(
        base + pos,
        `packet ${this.frame + 1} has ${capLen} captured bytes, more than its interface's snap length ${iface.snapLen}`,
      );
    }
    splitTimestamp(tsHigh, tsLow, iface.unitsPerSec, rec);
    rec.tsSec += iface.offsetSec;
    rec.frame = ++this.frame;
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.linkType = iface.linkType;
    rec.iface = iface.globalIndex;
    rec.fileOffset = base + pos;
    rec.setSpan(buf, dataAt, dataAt + capLen);
    ctx.info.packets++;
    ctx.sink(rec);
  }

  /** Walks a block's options, warning (not failing) when one runs past the block. */
  private walkOptions(
    dv: DataView,
    at: number,
    end: number,
    base: number,
    what: string,
    onOption: ((code: number, valueAt: number, len: number) => void) | null,
  ): void {
    while (end - at >= 4) {
      const code = dv.getUint16(at, this.le);
      const optLen = dv.getUint16(at + 2, this.le);
      if (code === OPT_END) return;
      if (at + 4 + optLen > end) {
        this.ctx.warn(
          base + at,
          `${what} block option ${code} of length ${optLen} runs past the end of its block; options ignored from here`,
        );
        return;
      }
      if (onOption !== null) onOption(code, at + 4, optLen);
      at += 4 + ((optLen + 3) & ~3);
    }
  }
}

/**
 * An option's UTF-8 string as shown to the user: bytes that are not UTF-8 become U+FFFD,
 * control characters (a newline, a terminal escape) a space, trailing NULs (some writers
 * terminate their strings) go; at most MAX_OPTION_TEXT characters. Never throws.
 */
export function optionText(dv: DataView, at: number, len: number): string {
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset + at, len);
  const text = new TextDecoder("utf-8").decode(bytes);
  const clean = text
    .replace(/\0+$/, "")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")
    .trim();
  if (clean.length <= MAX_OPTION_TEXT) return clean;
  let cut = MAX_OPTION_TEXT - 1;
  if (/[\ud800-\udbff]/.test(clean[cut - 1]!)) cut--; // not between the halves of a surrogate pair
  return `${clean.slice(0, cut)}…`;
}

/**
 * Splits a 64-bit count of `unitsPerSec` ticks into seconds and nanoseconds exactly, using
 * only doubles: the count itself can exceed 2^53 (nanoseconds since 1970 do), so divide
 * the high word first and carry the remainder through two 16-bit steps.
 */
export function splitTimestamp(
  high: number,
  low: number,
  unitsPerSec: number,
  out: { tsSec: number; tsNsec: number },
): void {
  if (unitsPerSec === 1e6 && high < 0x100000) {
    // Common case (µs): high * 2^32 + low stays below 2^53, plain arithmetic is exact.
    const t = high * TWO_32 + low;
    const sec = Math.floor(t / 1e6);
    out.tsSec = sec;
    out.tsNsec = (t - sec * 1e6) * 1000;
    return;
  }
  if (unitsPerSec > 0x40000000) {
    // Finer than 2^-30 s: beyond nanoseconds anyway; a double is as good as it gets.
    const t = high * TWO_32 + low;
    const sec = Math.floor(t / unitsPerSec);
    out.tsSec = sec;
    out.tsNsec = Math.floor(((t - sec * unitsPerSec) * 1e9) / unitsPerSec);
    return;
  }
  const qh = Math.floor(high / unitsPerSec);
  const rh = high - qh * unitsPerSec;
  const t1 = rh * 65536 + (low >>> 16);
  const q1 = Math.floor(t1 / unitsPerSec);
  const t2 = (t1 - q1 * unitsPerSec) * 65536 + (low & 0xffff);
  const q2 = Math.floor(t2 / unitsPerSec);
  const frac = t2 - q2 * unitsPerSec;
  out.tsSec = qh * TWO_32 + q1 * 65536 + q2;
  // 1e9 / unitsPerSec is exact for 10^n (n <= 9) and 2^n, so no rounding creeps in.
  out.tsNsec = Math.floor(frac * (1e9 / unitsPerSec));
}
