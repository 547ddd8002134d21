/**
 * Capture filter expressions ("tcp port 5020", tcpdump's syntax) compiled by libpcap
 * itself, never by a grammar of our own: tcpdump is asked for the classic BPF program
 * (`tcpdump -r - -ddd EXPR`, reading a capture header with the link type from standard
 * input, which is pcap_open_dead()'s job and needs no network device, root or packets).
 * A program depends on the link type (where the IP header starts), so one is compiled
 * per link type met, when it is first met: a pcapng file may mix Ethernet and raw IP.
 */
import { execFileSync } from "node:child_process";
import { findTcpdump } from "../programs.js";
import { parseBpfDump, runBpf, validateBpf, type BpfProgram } from "./bpf.js";
import type { PacketRecord } from "../record.js";

/** The expression cannot be used: no compiler, or libpcap refused it. The message is one line for the user. */
export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FilterError";
  }
}

/** A classic pcap file header (24 bytes, little-endian) announcing `linkType`: all tcpdump -r needs to compile for it. */
function pcapHeader(linkType: number): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16); // snap length: only the value "accept" returns
  h.writeUInt32LE(linkType, 20);
  return h;
}

/** Compiles `expression` for `linkType` with tcpdump; throws FilterError with libpcap's own words if it cannot. */
export function compileWithTcpdump(tcpdump: string, expression: string, linkType: number): BpfProgram {
  let out: string;
  try {
    out = execFileSync(tcpdump, ["-r", "-", "-ddd", "--", expression], {
      input: pcapHeader(linkType),
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 20_000,
      encoding: "utf8",
    });
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    // tcpdump's last stderr line is libpcap's verdict ("tcpdump: can't parse filter expression: syntax error").
    const said = (err.stderr ?? "")
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("tcpdump: "))
      .pop()
      ?.slice("tcpdump: ".length);
    throw new FilterError(
      `capture filter "${expression}"${linkType === 1 ? "" : ` (link type ${linkType})`}: ${said ?? `${tcpdump} failed: ${err.code ?? err.message.split("\n")[0]}`}`,
    );
  }
  const program = parseBpfDump(out);
  if (program === null) throw new FilterError(`capture filter "${expression}": ${tcpdump} -ddd printed no BPF program`);
  const invalid = validateBpf(program);
  if (invalid !== null)
    throw new FilterError(`capture filter "${expression}": libpcap's program is not valid BPF: ${invalid}`);
  return program;
}

export type Compiler = (expression: string, linkType: number) => BpfProgram;

/** A compiled capture filter: keeps the packet records the expression matches, as tcpdump would. */
export class CaptureFilter {
  private readonly programs = new Map<number, BpfProgram>();

  /**
   * Checks the expression now (compiled for Ethernet), so a typo is reported before any
   * reading. Throws FilterError when no compiler is available or libpcap refuses it.
   */
  constructor(
    readonly expression: string,
    private readonly compile: Compiler = defaultCompiler(),
  ) {
    this.programFor(1);
  }

  programFor(linkType: number): BpfProgram {
    let p = this.programs.get(linkType);
    if (p === undefined) {
      p = this.compile(this.expression, linkType);
      this.programs.set(linkType, p);
    }
    return p;
  }

  /** True when the program for the record's link type accepts its captured bytes (BPF sees capLen bytes, wire length origLen). */
  matches(rec: PacketRecord): boolean {
    return runBpf(this.programFor(rec.linkType), rec.buf, rec.start, rec.end, rec.origLen) !== 0;
  }
}

function defaultCompiler(): Compiler {
  const tcpdump = findTcpdump();
  if (tcpdump === null) {
    throw new FilterError(
      "a capture filter needs libpcap's compiler, which sockscope runs through tcpdump: tcpdump was not found (install it, or set SOCKSCOPE_TCPDUMP to its path)",
    );
  }
  return (expression, linkType) => compileWithTcpdump(tcpdump, expression, linkType);
}
