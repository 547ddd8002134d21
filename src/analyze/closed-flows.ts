/**
 * Flows whose analysis is over, kept as what their report needs and no more: one row of
 * typed columns per flow (140 bytes) instead of a Flow with its two TcpEndpoints,
 * per-segment facts and analyzer slots (about 1.2 KB). A file's every connection stays
 * in the report, so a capture of a million short connections would otherwise hold a
 * million Flows to its end. The table hands a flow over when it has left the table and
 * will see no more packets (FlowLifecycle: EndedFlowStore); the FlowReport is written
 * from the row when the report is made, the same object `flowReport` gives (it goes
 * through a row too, so the two cannot differ).
 */
import { DIR_CLIENT, DIR_SERVER, type Flow } from "../decode/flow/record.js";
import type { EndedFlowStore } from "../decode/flow/lifecycle.js";
import { L4_TCP } from "../decode/wire/packet.js";
import { endpointToString } from "../decode/wire/address.js";
import { sendersOf } from "../decode/flow/senders.js";
import { rawTime, type ClockJump } from "./clock.js";
import { sideNotCaptured } from "./lib/capture-view.js";
import { processesFromSenders, type FlowProcesses } from "./side-process.js";

/** Values past 32 bits (frames, packets and bytes of a huge capture, times): float64, one row after another. */
const F_FIRST_FRAME = 0,
  F_LAST_FRAME = 1,
  F_FIRST_TIME = 2,
  F_LAST_TIME = 3,
  F_PACKETS_C = 4,
  F_PACKETS_S = 5,
  F_BYTES_C = 6,
  F_BYTES_S = 7,
  F_CLOSE_FRAME = 8,
  F_STRIDE = 9;
/** Unsigned 32-bit values: id, previous flow's id (0: none), ISNs (as the wire has them). */
const U_ID = 0,
  U_PREVIOUS = 1,
  U_ISN_C = 2,
  U_ISN_S = 3,
  U_STRIDE = 4;
/** Signed 32-bit values: VLAN and ports. */
const I_VLAN = 0,
  I_CLIENT_PORT = 1,
  I_SERVER_PORT = 2,
  I_STRIDE = 3;
/** Address words: the client's four, then the server's (decode/wire/address.ts). */
const A_STRIDE = 8;
/** One byte each: protocol, IP version, flag bits, who closed first, how, each side's state, which side was not captured. */
const B_TCP = 0,
  B_IP_VERSION = 1,
  B_FLAGS = 2,
  B_CLOSE_FIRST = 3,
  B_CLOSE_HOW = 4,
  B_STATE_C = 5,
  B_STATE_S = 6,
  B_NOT_CAPTURED = 7,
  B_STRIDE = 8;
const FLAG_ROLES_GUESSED = 1,
  FLAG_ISN_C = 2,
  FLAG_ISN_S = 4;
/** Who closed first (B_CLOSE_FIRST) and which side was not captured (B_NOT_CAPTURED): 0 is none. */
const ROLES = [null, "client", "server"] as const;
const CLOSE_HOW = ["none", "FIN", "RST"] as const;

/**
 * One flow as the analysis leaves it: the analysis's product rather than a rendering
 * (workers send these, the merge renumbers them, `check` and the JSON report read them
 * as they are), so it is built here, from the Flow, while its analysis times can still be
 * mapped back to real times.
 */
export interface FlowReport {
  id: number;
  proto: "tcp" | "udp";
  client: string;
  server: string;
  /** Roles were guessed from ports (the SYN was not captured). */
  rolesGuessed: boolean;
  vlan: number | null;
  firstFrame: number;
  lastFrame: number;
  start: number;
  /** Between its first and last packet, leaving out clock jumps. */
  durationSec: number;
  packets: { client: number; server: number };
  bytes: { client: number; server: number };
  /** TCP only: who closed first and how; each side's socket state at the end of the capture. */
  close: { first: "client" | "server" | null; how: "FIN" | "RST" | "none"; frame: number | null } | null;
  state: { client: string; server: string } | null;
  /** Id of the earlier connection on the same 4-tuple, if this one reused it. */
  previous: number | null;
  /** TCP only: each side's initial sequence number (absolute), null when its SYN was not captured. */
  isn: { client: number | null; server: number | null } | null;
  /** Id of the flow this one repeats: the same connection recorded twice (mirrored-flows.ts); its findings are that flow's. */
  copyOf: number | null;
  /** TCP: a side the capture holds no packet of though its peer acknowledged it (lib/capture-view.ts), else null. */
  notCaptured: "client" | "server" | null;
  /**
   * The program behind each side, when known: live capture's attribution, or the
   * processes a pcapng names per packet. Absent when nothing is known of either side.
   */
  process?: FlowProcesses;
}

export class ClosedFlows implements EndedFlowStore<unknown> {
  private rows = 0;
  private f64 = new Float64Array(0);
  private u32 = new Uint32Array(0);
  private i32 = new Int32Array(0);
  private addr = new Uint32Array(0);
  private u8 = new Uint8Array(0);
  /** Socket state names (Flow.socketState), each stored once. */
  private readonly states: string[] = [];
  private readonly stateIndex = new Map<string, number>();
  /** The programs behind a flow's sides, by row: only flows a pcapng named processes for. */
  private readonly processes = new Map<number, FlowProcesses>();

  get size(): number {
    return this.rows;
  }

  /** Bytes of the columns (off the JS heap: typed arrays' buffers), room to grow included. */
  get bytes(): number {
    return this.f64.byteLength + this.u32.byteLength + this.i32.byteLength + this.addr.byteLength + this.u8.byteLength;
  }

  /** Keeps what the report needs of `flow`, which will see no more packets. */
  keep(flow: Flow): void {
    if (this.rows === this.u8.length / B_STRIDE) this.grow();
    const r = this.rows++;
    const [c, s] = flow.ep;
    const tcp = flow.proto === L4_TCP;
    const close = flow.close;
    const f = r * F_STRIDE;
    this.f64[f + F_FIRST_FRAME] = flow.firstFrame;
    this.f64[f + F_LAST_FRAME] = flow.lastFrame;
    this.f64[f + F_FIRST_TIME] = flow.firstTime;
    this.f64[f + F_LAST_TIME] = flow.lastTime;
    this.f64[f + F_PACKETS_C] = c.packets;
    this.f64[f + F_PACKETS_S] = s.packets;
    this.f64[f + F_BYTES_C] = c.wireBytes;
    this.f64[f + F_BYTES_S] = s.wireBytes;
    this.f64[f + F_CLOSE_FRAME] = close.frame;
    const u = r * U_STRIDE;
    this.u32[u + U_ID] = flow.id;
    this.u32[u + U_PREVIOUS] = flow.previous === null ? 0 : flow.previous.id;
    const i = r * I_STRIDE;
    this.i32[i + I_VLAN] = flow.vlan;
    this.i32[i + I_CLIENT_PORT] = flow.clientPort;
    this.i32[i + I_SERVER_PORT] = flow.serverPort;
    this.u32[u + U_ISN_C] = c.isn;
    this.u32[u + U_ISN_S] = s.isn;
    const a = r * A_STRIDE;
    for (let w = 0; w < 4; w++) {
      this.addr[a + w] = flow.client[w]!;
      this.addr[a + 4 + w] = flow.server[w]!;
    }
    const b = r * B_STRIDE;
    this.u8[b + B_TCP] = tcp ? 1 : 0;
    this.u8[b + B_IP_VERSION] = flow.ipVersion;
    this.u8[b + B_FLAGS] =
      (flow.rolesGuessed ? FLAG_ROLES_GUESSED : 0) | (c.synSeen ? FLAG_ISN_C : 0) | (s.synSeen ? FLAG_ISN_S : 0);
    this.u8[b + B_CLOSE_FIRST] = close.first === null ? 0 : close.first === "client" ? 1 : 2;
    this.u8[b + B_CLOSE_HOW] = CLOSE_HOW.indexOf(close.how);
    this.u8[b + B_STATE_C] = this.stateId(flow.socketState(DIR_CLIENT));
    this.u8[b + B_STATE_S] = this.stateId(flow.socketState(DIR_SERVER));
    this.u8[b + B_NOT_CAPTURED] = !tcp
      ? 0
      : sideNotCaptured(flow, DIR_CLIENT)
        ? 1
        : sideNotCaptured(flow, DIR_SERVER)
          ? 2
          : 0;
    const senders = sendersOf(flow);
    if (senders !== null) this.processes.set(r, processesFromSenders(senders));
  }

  /** Row `r`'s flow as the report has it; `jumps`: the capture's clock jumps (its times are analysis times). */
  report(r: number, jumps: readonly ClockJump[]): FlowReport {
    const f = r * F_STRIDE,
      u = r * U_STRIDE,
      i = r * I_STRIDE,
      a = r * A_STRIDE,
      b = r * B_STRIDE;
    const tcp = this.u8[b + B_TCP] === 1;
    const version = this.u8[b + B_IP_VERSION]!;
    const flags = this.u8[b + B_FLAGS]!;
    const firstTime = this.f64[f + F_FIRST_TIME]!;
    const vlan = this.i32[i + I_VLAN]!;
    const previous = this.u32[u + U_PREVIOUS]!;
    const closeFrame = this.f64[f + F_CLOSE_FRAME]!;
    const ad = this.addr;
    const processes = this.processes.get(r);
    // Keys in the order the JSON report has always written them.
    return {
      id: this.u32[u + U_ID]!,
      proto: tcp ? "tcp" : "udp",
      client: endpointToString(version, ad[a]!, ad[a + 1]!, ad[a + 2]!, ad[a + 3]!, this.i32[i + I_CLIENT_PORT]!),
      server: endpointToString(version, ad[a + 4]!, ad[a + 5]!, ad[a + 6]!, ad[a + 7]!, this.i32[i + I_SERVER_PORT]!),
      rolesGuessed: (flags & FLAG_ROLES_GUESSED) !== 0,
      vlan: vlan === 0 ? null : vlan,
      firstFrame: this.f64[f + F_FIRST_FRAME]!,
      lastFrame: this.f64[f + F_LAST_FRAME]!,
      start: round6(rawTime(firstTime, jumps)),
      durationSec: round6(Math.max(0, this.f64[f + F_LAST_TIME]! - firstTime)),
      packets: { client: this.f64[f + F_PACKETS_C]!, server: this.f64[f + F_PACKETS_S]! },
      bytes: { client: this.f64[f + F_BYTES_C]!, server: this.f64[f + F_BYTES_S]! },
      close: tcp
        ? {
            first: ROLES[this.u8[b + B_CLOSE_FIRST]!]!,
            how: CLOSE_HOW[this.u8[b + B_CLOSE_HOW]!]!,
            frame: closeFrame === 0 ? null : closeFrame,
          }
        : null,
      state: tcp
        ? { client: this.states[this.u8[b + B_STATE_C]!]!, server: this.states[this.u8[b + B_STATE_S]!]! }
        : null,
      previous: previous === 0 ? null : previous,
      isn: tcp
        ? {
            client: flags & FLAG_ISN_C ? this.u32[u + U_ISN_C]! : null,
            server: flags & FLAG_ISN_S ? this.u32[u + U_ISN_S]! : null,
          }
        : null,
      copyOf: null,
      notCaptured: tcp ? ROLES[this.u8[b + B_NOT_CAPTURED]!]! : null,
      ...(processes === undefined ? {} : { process: processes }),
    };
  }

  /** Flow id of row `r`. */
  idOf(r: number): number {
    return this.u32[r * U_STRIDE + U_ID]!;
  }

  /** The rows in order of flow id (the order flows ended in is another). */
  rowsById(): Uint32Array {
    const order = new Uint32Array(this.rows);
    let sorted = true;
    for (let r = 0; r < this.rows; r++) {
      order[r] = r;
      if (r > 0 && this.idOf(r) < this.idOf(r - 1)) sorted = false;
    }
    return sorted ? order : order.sort((x, y) => this.idOf(x) - this.idOf(y));
  }

  /** Forgets every row (the scratch store `flowReport` reuses). */
  clear(): void {
    this.rows = 0;
    this.processes.clear();
  }

  private stateId(state: string): number {
    let i = this.stateIndex.get(state);
    if (i === undefined) {
      i = this.states.push(state) - 1;
      this.stateIndex.set(state, i);
    }
    return i;
  }

  /** Doubles every column (from 64 rows). */
  private grow(): void {
    const rows = Math.max(64, this.rows * 2);
    const grown = <T extends Float64Array | Uint32Array | Int32Array | Uint8Array>(old: T, fresh: T): T => {
      fresh.set(old);
      return fresh;
    };
    this.f64 = grown(this.f64, new Float64Array(rows * F_STRIDE));
    this.u32 = grown(this.u32, new Uint32Array(rows * U_STRIDE));
    this.i32 = grown(this.i32, new Int32Array(rows * I_STRIDE));
    this.addr = grown(this.addr, new Uint32Array(rows * A_STRIDE));
    this.u8 = grown(this.u8, new Uint8Array(rows * B_STRIDE));
  }
}

/** Times in reports are to the microsecond. */
export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
