/**
 * The unit the capture layer hands to decoding: one packet record from a file (or a live
 * source). Capture knows formats, link types and timestamps, and nothing of IP.
 *
 * Zero-copy contract (as gopacket's ZeroCopyReadPacketData): `bytes` is a view into the
 * reader's chunk buffer and is valid only until the callback that received it returns.
 * Anyone keeping packet bytes past that point must copy them (`bytes.slice()`). The
 * record object itself is reused for every packet for the same reason.
 */
export const EMPTY_BYTES = new Uint8Array(0);

export class PacketRecord {
  /** 1-based frame number in file order, as Wireshark numbers frames. */
  frame = 0;
  /** Timestamp as whole seconds since the epoch plus nanoseconds: no Date or BigInt per packet. */
  tsSec = 0;
  tsNsec = 0;
  capLen = 0;
  origLen = 0;
  linkType = 0;
  /** Interface index (pcapng interface id; 0 for classic pcap). */
  iface = 0;
  /** Byte offset of this record's header in the file, for error messages. */
  fileOffset = 0;
  /**
   * The packet bytes are `buf[start, end)`: framers point into their chunk instead of
   * making a view per record (a subarray per packet cost a tenth of a whole analysis).
   */
  buf: Uint8Array = EMPTY_BYTES;
  start = 0;
  end = 0;
  private view: Uint8Array | null = EMPTY_BYTES;
  /** The process that sent the packet, as a pcapng file says (epb_processid_threadid, a "PID: … Cmd: …" comment); null when it does not. */
  process: PacketProcess | null = null;

  /** Points the record at `buf[start, end)`. */
  setSpan(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.view = null;
  }

  /** The packet bytes as their own view (made on first use). */
  get bytes(): Uint8Array {
    return (this.view ??= this.buf.subarray(this.start, this.end));
  }

  set bytes(b: Uint8Array) {
    this.buf = b;
    this.start = 0;
    this.end = b.length;
    this.view = b;
  }

  /** Seconds since the epoch as a double (µs-exact for present-day times). */
  get time(): number {
    return this.tsSec + this.tsNsec / 1e9;
  }
}

/**
 * A packet's process as a capture file records it: the pcapng draft's
 * epb_processid_threadid option (pid, tid; 0 = unknown) and the comment process-aware
 * capture tools write ("PID: 4242\nCmd: python3\nArgs: python3 server.py"); "" when not given.
 */
export interface PacketProcess {
  pid: number;
  tid: number;
  command: string;
  args: string;
  /**
   * The packet's epb_flags say it came in: the process is its receiver's (ptcpdump names
   * the local program on inbound packets too), not its sender's as the draft defines it.
   */
  inbound: boolean;
}

/**
 * Facts about an interface, from the pcap file header or a pcapng IDB. The strings are
 * the IDB's options as written ("" when absent, as for every classic pcap interface).
 */
export interface InterfaceInfo {
  linkType: number;
  snapLen: number;
  /** if_name ("eth0", "\\Device\\NPF_{…}"). */
  name: string;
  /** if_description ("Ethernet 2"). */
  description: string;
  /** if_os: the OS of the machine the interface is installed in ("Linux 6.6.9-amd64"). */
  os: string;
  /** if_IPv4addr, if_IPv6addr: the interface's own addresses, without mask or prefix length. */
  addresses: readonly InterfaceAddress[];
  /** Index of its section in CaptureInfo.sections (-1 for classic pcap, and past MAX_SECTIONS). */
  section: number;
}

/**
 * An interface's address as flows hold theirs (Flow.client, .server): four 32-bit words,
 * an IPv4 address in the first; text only for output (decode/wire/address.ts).
 */
export interface InterfaceAddress {
  version: 4 | 6;
  words: readonly [number, number, number, number];
}

/** Shared by every interface without addresses: a file may describe millions of interfaces. */
export const NO_ADDRESSES: readonly InterfaceAddress[] = Object.freeze([]);

/** A classic pcap file's one interface: its header tells only the link type and snap length. */
export function classicInterface(linkType: number, snapLen: number): InterfaceInfo {
  return { linkType, snapLen, name: "", description: "", os: "", addresses: NO_ADDRESSES, section: -1 };
}

/**
 * A pcapng section's own word on what wrote it (Section Header Block options; "" when
 * absent): shb_hardware, shb_os and shb_userappl ("Dumpcap (Wireshark) 4.2.2 …").
 */
export interface SectionInfo {
  hardware: string;
  os: string;
  userAppl: string;
}

export type CaptureFormat = "pcap" | "pcapng";

/** What the reader learned about the file; filled as reading goes on. */
export interface CaptureInfo {
  file: string;
  format: CaptureFormat | "unknown";
  /** e.g. "pcap-us-le", "pcapng-be", "pcapng-mixed" */
  variant: string;
  interfaces: InterfaceInfo[];
  /**
   * pcapng sections in file order (none for classic pcap); a section with the same words
   * as the one before it is that one again, and at most MAX_SECTIONS are kept.
   */
  sections: SectionInfo[];
  packets: number;
  bytesRead: number;
  /** Non-fatal oddities in the file structure, one line each, with offsets. */
  warnings: string[];
  /** The error that stopped reading early, if any (packets before it were delivered). */
  error: string | null;
  /** Set when reading was stopped on request (Ctrl-C): where, in one line (also among the warnings). */
  interrupted?: string;
}
