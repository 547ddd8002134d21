/**
 * Hand-written TCP conversations for trace tests: one segment per call, each at an exact
 * time, built as real packets (Ethernet/IPv4/TCP in a classic pcap, with build.ts) and run
 * through the real engine. The script keeps each side's next sequence number the way a
 * sender would, so a test names what happens (data, a bare ACK, a re-send, a probe)
 * rather than sequence arithmetic; `segment` writes any header by hand.
 *
 * Times are seconds, kept as whole microseconds (the pcap's resolution), so a test can
 * put a segment exactly at an analyzer's threshold, or one microsecond either side.
 * UDP exchanges: udp-script.ts.
 */
import { readSource } from "../../src/capture/reader.js";
import { Engine, type EngineOptions } from "../../src/run/packet-loop.js";
import type { AnalyzerDescriptor } from "../../src/analyze/analyzer.js";
import type { Finding } from "../../src/analyze/finding.js";
import type { Flow } from "../../src/decode/flow/record.js";
import type { TcpSegment } from "../../src/decode/flow/tcp-tracker.js";
import type { DecodedPacket } from "../../src/decode/wire/packet.js";
import { ETH_IPV4, ethernet, ipv4, MemorySource, pcapFile, tcp, type PcapRecord, type TcpOptions } from "./build.js";

export const FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10;

export type Side = "client" | "server";
const CLIENT_ADDR = 0x0a000001,
  SERVER_ADDR = 0x0a000002,
  CLIENT_PORT = 40000,
  SERVER_PORT = 8080;

export interface SegmentSpec {
  seq: number;
  ack: number;
  flags: number;
  win?: number;
  /** Payload bytes (zeros). */
  len?: number;
  options?: TcpOptions;
  /** IPv4 TTL (default 64). */
  ttl?: number;
  /** IPv4 identification (default 0: none, as Linux sends for packets of no socket). */
  ipId?: number;
}

const other = (s: Side): Side => (s === "client" ? "server" : "client");

export class TcpScript {
  readonly records: PcapRecord[] = [];
  /** Each side's next new sequence number (raw uint32), as its sender would keep it. */
  readonly next: Record<Side, number>;
  /** The window each side advertises unless a call says otherwise. */
  readonly win: Record<Side, number> = { client: 65535, server: 65535 };

  constructor(
    readonly isn: Record<Side, number> = { client: 1000, server: 5000 },
    private readonly port = CLIENT_PORT,
  ) {
    this.next = { ...isn };
  }

  /** Frames written so far: the frame number of the last segment. */
  get frames(): number {
    return this.records.length;
  }

  /** Any segment, header as given; the sender's next sequence number moves past it (wrap-aware). */
  segment(t: number, from: Side, s: SegmentSpec): this {
    const len = s.len ?? 0;
    const fromClient = from === "client";
    const us = Math.round(t * 1e6);
    const payload = tcp({
      srcPort: fromClient ? this.port : SERVER_PORT,
      dstPort: fromClient ? SERVER_PORT : this.port,
      seq: s.seq >>> 0,
      ack: s.ack >>> 0,
      flags: s.flags,
      win: s.win ?? this.win[from],
      options: s.options,
      payload: new Uint8Array(len),
    });
    const [src, dst] = fromClient ? [CLIENT_ADDR, SERVER_ADDR] : [SERVER_ADDR, CLIENT_ADDR];
    this.records.push({
      tsSec: Math.floor(us / 1e6),
      tsFrac: us % 1e6,
      data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 6, payload, ttl: s.ttl, id: s.ipId })),
    });
    const end = (s.seq + len + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0)) >>> 0;
    if ((s.flags & RST) === 0 && ((end - this.next[from]) | 0) > 0) this.next[from] = end;
    return this;
  }

  /** The three-way handshake at t, t + rtt, t + 2·rtt. */
  handshake(t: number, rtt = 0.001, opts: { client?: TcpOptions; server?: TcpOptions } = {}): this {
    this.segment(t, "client", { seq: this.isn.client, ack: 0, flags: SYN, options: opts.client });
    this.segment(t + rtt, "server", {
      seq: this.isn.server,
      ack: this.next.client,
      flags: SYN | ACK,
      options: opts.server,
    });
    return this.ack(t + 2 * rtt, "client");
  }

  /** New data from `from`, acknowledging everything the other side sent. */
  data(t: number, from: Side, len: number, o: { win?: number; flags?: number } = {}): this {
    return this.segment(t, from, {
      seq: this.next[from],
      ack: this.next[other(from)],
      flags: o.flags ?? PSH | ACK,
      win: o.win,
      len,
    });
  }

  /** A bare ACK of everything the other side sent (or of `ack`). */
  ack(t: number, from: Side, o: { win?: number; ack?: number } = {}): this {
    return this.segment(t, from, {
      seq: this.next[from],
      ack: o.ack ?? this.next[other(from)],
      flags: ACK,
      win: o.win,
    });
  }

  /** `len` bytes re-sent from the raw sequence number `seq` (old data). */
  resend(t: number, from: Side, seq: number, len: number): this {
    return this.segment(t, from, { seq, ack: this.next[other(from)], flags: PSH | ACK, len });
  }

  /** A segment one below the next byte, 0 or 1 byte long: a keep-alive or a Linux zero-window probe. */
  probe(t: number, from: Side, len = 0): this {
    return this.segment(t, from, {
      seq: (this.next[from] - 1) >>> 0,
      ack: this.next[other(from)],
      flags: ACK,
      len,
    });
  }

  fin(t: number, from: Side): this {
    return this.segment(t, from, { seq: this.next[from], ack: this.next[other(from)], flags: FIN | ACK });
  }

  rst(t: number, from: Side): this {
    return this.segment(t, from, { seq: this.next[from], ack: 0, flags: RST, win: 0 });
  }

  pcap(): Uint8Array {
    return pcapFile(this.records);
  }
}

/** One segment as the engine's observer saw it: the segment facts and the flow after it. */
export interface Step {
  frame: number;
  seg: TcpSegment;
  flow: Flow;
  p: DecodedPacket;
}

export interface RunOptions extends EngineOptions {
  /** Called after each TCP segment went through the flow table and the analyzers. */
  onSegment?(step: Step): void;
  /** Called after the last packet, before the capture ends (flows still open): to poll ongoing conditions. */
  beforeFinish?(engine: Engine): void;
}

/** Anything that writes itself as a pcap: a TcpScript, a UdpScript. */
export interface Script {
  pcap(): Uint8Array;
}

/** Runs a script through a real engine (only `analyzers`, default none) to the capture's end. */
export async function runScript(
  script: Script,
  opts: RunOptions = {},
): Promise<{ engine: Engine; findings: Finding[] }> {
  const engine = new Engine({ analyzers: [], ...opts });
  const onSegment = opts.onSegment;
  if (onSegment !== undefined) {
    engine.observer = (rec, p, flow, _dir, seg) => {
      if (flow !== null && seg !== null) onSegment({ frame: rec.frame, seg, flow, p });
    };
  }
  await readSource(new MemorySource(script.pcap()), engine.onPacket);
  opts.beforeFinish?.(engine);
  engine.finish();
  if (engine.stats.internalErrors > 0) throw new Error(engine.stats.firstInternalError);
  return { engine, findings: engine.findings };
}

/** The findings of one analyzer alone on a script. */
export async function findingsOf(analyzer: AnalyzerDescriptor<unknown>, script: Script): Promise<Finding[]> {
  const { findings } = await runScript(script, { analyzers: [analyzer] });
  return findings.filter((f) => f.kind === analyzer.id);
}

/** The time the engine sees for a script time `t`: the pcap's seconds plus its fraction, as the reader adds them. */
export function captureTime(t: number): number {
  const us = Math.round(t * 1e6);
  return Math.floor(us / 1e6) + ((us % 1e6) * 1000) / 1e9;
}

/** The gap the engine measures between script times `a` and `b` (floating point, as the analyzers subtract). */
export function gap(a: number, b: number): number {
  return captureTime(b) - captureTime(a);
}
