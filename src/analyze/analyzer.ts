/**
 * The analyzer contract. An analyzer is one module in `analyzers/` that default-exports
 * a descriptor: its kind id, catalogue text, and only the hooks it needs. Hooks receive
 * the analyzer's per-flow state (created with the flow, kept by the analyzer host on the flow), the flow,
 * and a `FindingSink` to report to. Analyzers never parse bytes: they read the decoded
 * packet and the tracker's per-segment facts.
 */
import type { FragmentFailure } from "../decode/reassembly.js";
import type { FragmentedDatagram } from "../decode/datagram.js";
import type { Flow } from "../decode/flow/record.js";
import type { TcpSegment } from "../decode/flow/tcp-tracker.js";
import type { DecodedPacket } from "../decode/wire/packet.js";
import type { Finding, FindingFacts, FindingWords, Severity } from "./finding.js";
import type { SideHistory } from "./lib/side-history.js";
import type { CaptureFacts } from "./lib/recording-host.js";

/** Thresholds a user may change from the command line. */
export interface AnalyzerOptions {
  /**
   * Maximum segment lifetime in seconds (`--msl`); TIME_WAIT lasts 2·MSL. null (the
   * default): each closer's own stack's TIME_WAIT, as far as the capture tells it
   * (analyze/lib/stack-profile.ts).
   */
  mslSec: number | null;
}
export const DEFAULT_ANALYZER_OPTIONS: AnalyzerOptions = { mslSec: null };

export interface FindingInput {
  flow: Flow | null;
  dir: number | null;
  frames: readonly number[];
  count?: number;
  time: number;
  /** The words; or, for kinds with `describe`, `facts` to write them from when the report is written. */
  summary?: string;
  measure?: Record<string, number>;
  /** For kinds with `describe`: what the words are written from, with `measure` (instead of `summary`). */
  facts?: FindingFacts;
  /** Overrides the descriptor's severity (e.g. keepalive answered = info, unanswered = error). */
  severity?: Severity;
  /** Extra sentences for this case, put before the catalogue explanation. */
  detail?: string;
}

export interface FindingSink {
  report(kind: AnalyzerDescriptor<unknown>, input: FindingInput): Finding;
  /**
   * More evidence for a finding already reported (one finding that keeps counting, such
   * as fragment-loss per address pair): the frames are tagged and shown like the first.
   */
  addEvidence(f: Finding, frames: readonly number[]): void;
  /** A finding's measure or facts changed after it was reported: its words are written again (kinds with `describe`). */
  revise(kind: AnalyzerDescriptor<unknown>, f: Finding): void;
  /** The flow's SideHistory; only for analyzers that set usesSideHistory, on TCP flows. */
  sideHistory(flow: Flow): SideHistory;
  /**
   * Where the stretch of the capture holding analysis time `t` ends, when a clock jump
   * follows it (files joined from recordings taken at different times): its last moment
   * and the first frame after the jump; null when no jump follows `t`. A state seen to
   * last "until the capture ended" lasted only until then as far as the capture shows.
   */
  stretchAfter(t: number): { end: number; nextFrame: number } | null;
  /** The analyzer's capture-wide state (see AnalyzerDescriptor.capture), created on first use. */
  captureState<C>(kind: AnalyzerDescriptor<any, C>): C;
  readonly options: AnalyzerOptions;
  /**
   * What the capture file says of where it was recorded (pcapng sections and interfaces,
   * as read so far: a section's header comes before its packets); empty for classic pcap
   * and live captures. The evidence of the capturing host's stack (lib/side-stack.ts).
   */
  readonly capture: CaptureFacts;
  /** Capture time of the latest packet: at capture end, the end of the capture. */
  readonly time: number;
  /** Frame number of the packet being analysed; Infinity once the capture has ended. */
  readonly frame: number;
  /**
   * How many frames per finding an analyzer should keep: all of them (up to
   * MAX_TAGGED_FRAMES) when per-frame tags are wanted, else the few a finding shows.
   */
  readonly frameCap: number;
  /**
   * Something began on `flow` that this analyzer's `ongoing` hook may report: a live
   * capture polls only such flows (until they end), not every open connection. A no-op
   * when reading files.
   */
  watch(flow: Flow): void;
}

/**
 * Facts across flows, one object per capture, for the rare analyzer whose evidence spans
 * flows (other connections waiting on the same listener). With `--jobs` every worker
 * sees only its shard of the flows, so the state must merge: each worker's copy comes
 * back as a structured clone (plain data, no methods, object identity kept within it,
 * so references to the worker's findings stay valid) and is folded into one, and
 * `resolve` then rewrites the findings that depended on flows of other shards.
 */
export interface CaptureScope<C> {
  /** `sharded`: this engine sees one shard of the flows; keep what `resolve` will need. */
  create(sharded: boolean): C;
  merge(into: C, from: C): void;
  resolve(state: C): void;
  /**
   * After `resolve`: findings a shard reported on evidence only the merged state can
   * confirm, and that it did not (the report leaves them out).
   */
  withdrawn?(state: C): readonly Finding[];
}

/**
 * TCP events an analyzer can sleep until (AnalyzerDescriptor.wakeOn). The low byte is the
 * segment's TCP flags (TH_FIN, TH_SYN, TH_RST, TH_URG, …); above it, facts of the segment.
 */
export const WAKE_ZERO_WINDOW = 0x100;
/** The segment's SYN started a new connection on a 4-tuple whose previous one had ended. */
export const WAKE_NEW_INCARNATION = 0x200;
/** The segment is a SYN no TCP stack writes (TcpSegment.craftedSyn). */
export const WAKE_CRAFTED_SYN = 0x400;

/**
 * A condition an analyzer sees holding on a flow right now, past its threshold: a live
 * capture reports it while it lasts, before the finding (which waits for the flow to end).
 */
export interface OngoingCondition {
  /** Capture time (and frame) it began: it has lasted `now - since`. */
  since: number;
  frame: number;
  /** What is happening, present tense, without the elapsed time (the caller shows it). */
  summary: string;
}

export interface AnalyzerDescriptor<S, C = unknown> {
  /** Kind id from PHENOMENA.md: kebab-case, stable. */
  id: string;
  title: string;
  severity: Severity;
  family: "tcp-opening" | "tcp-transfer" | "tcp-closing" | "udp-ip-icmp";
  /** What it looks like on the wire, in a sentence. */
  wire: string;
  /** The explanation in socket-API terms: what the program did, what it saw, what to change. */
  explanation: string;
  references: string[];
  /** Per-flow state; omitted for analyzers that keep none. */
  createState?(flow: Flow): S;
  onTcpSegment?(state: S, flow: Flow, seg: TcpSegment, p: DecodedPacket, out: FindingSink): void;
  /**
   * For analyzers with nothing to do on a TCP flow until something specific happens (a FIN,
   * an urgent pointer, a zero window): those events (TCP flag bits, WAKE_*). Until the first
   * one the analyzer sleeps on that flow: no state, no onTcpSegment, no onFlowEnd; from that
   * segment on it sees every segment. Only for analyzers that need nothing from before
   * (but the SideHistory, see usesSideHistory).
   */
  wakeOn?: number;
  /**
   * Its state is made by the flow's first ICMP error or fragment event (stateOf, as for an
   * analyzer without a per-packet hook), not when the flow starts: onTcpSegment gets null
   * until then. For analyzers whose per-packet hook only follows up such an event (path-mtu).
   */
  stateOnRareEvent?: boolean;
  /**
   * Reads the flow's SideHistory (out.sideHistory): the analyzer host keeps one per TCP flow for
   * all analyzers that ask, and notes every segment but resets after they ran. A sleeping
   * analyzer woken by a reset still finds what came before it there.
   */
  usesSideHistory?: boolean;
  /**
   * Also sees the TCP segments the receiver's stack would not have accepted
   * (TcpSegment.accepted false: an ignored RST or FIN, a stray SYN). Every other analyzer
   * never sees them: for the sockets they did not happen.
   */
  readsUnaccepted?: boolean;
  /**
   * Is also given capture copies (TcpSegment.captureCopy), to report them; the others never
   * see a copy, so no analyzer counts one packet twice. No analyzer sees a segment whose
   * header the decoder rejected (TcpSegment.headerRejected): the receiver dropped it.
   */
  seesCaptureCopies?: boolean;
  onUdpDatagram?(
    state: S,
    flow: Flow,
    dir: number,
    frame: number,
    time: number,
    p: DecodedPacket,
    out: FindingSink,
  ): void;
  /**
   * An ICMP error that quotes a packet of `flow` (quotedDir: direction of the quoted
   * packet). A flow is created from the quote when the capture holds no packet of it;
   * `flow` and `state` are null when the quote is too short to name one.
   */
  onIcmpError?(
    state: S | null,
    flow: Flow | null,
    quotedDir: number,
    frame: number,
    time: number,
    p: DecodedPacket,
    out: FindingSink,
  ): void;
  /** A fragmented datagram was reassembled (`p` is the whole datagram, already in its flow). */
  onDatagramComplete?(
    state: S,
    flow: Flow,
    dir: number,
    d: FragmentedDatagram,
    p: DecodedPacket,
    out: FindingSink,
  ): void;
  /**
   * A fragmented datagram will never complete. `flow` is its flow when the first fragment
   * (with the ports) was seen, else null (then `state` is null too).
   */
  onDatagramFailed?(
    state: S | null,
    flow: Flow | null,
    d: FragmentedDatagram,
    reason: FragmentFailure,
    out: FindingSink,
  ): void;
  onFlowEnd?(state: S, flow: Flow, out: FindingSink): void;
  /**
   * Live capture only, polled a few times a second on the open connections the analyzer
   * asked for (FindingSink.watch): the condition about side `dir` that it sees holding at
   * capture time `now`, once past the analyzer's threshold, else null. Reads the state
   * only; the finding is still reported from the other hooks when the flow ends.
   */
  ongoing?(state: S, flow: Flow, dir: number, now: number): OngoingCondition | null;
  /** Capture-wide state, for evidence that spans flows (most analyzers need none). */
  capture?: CaptureScope<C>;
  /**
   * Writes a finding's words from its structured fields (measure, facts, frames, side),
   * when the report is written rather than when the analyzer reports. A finding whose
   * facts change later (a `--jobs` merge renumbering flows, capture-wide evidence
   * resolved, more evidence counted) is described again; its text is never edited.
   */
  describe?(f: Finding): FindingWords;
  /**
   * Measure keys that hold the id of another flow: with `--jobs` each shard numbers its
   * own flows, and the merge renumbers these to the report's numbers (then describes the
   * finding again). Only for kinds with `describe`.
   */
  flowMeasures?: readonly string[];
}

/** Typing helper so each module's hooks see its own state type. */
export function defineAnalyzer<S, C = unknown>(d: AnalyzerDescriptor<S, C>): AnalyzerDescriptor<S, C> {
  return d;
}
