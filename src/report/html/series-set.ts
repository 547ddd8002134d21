/**
 * The per-packet series the HTML report draws, as the renderer reads them: one row per
 * TCP segment or UDP datagram of a flow, in column arrays (FlowSeriesSet). They are
 * collected during the run by run/series.ts (SeriesCollector), within the caps below.
 */

/** Rows one flow keeps before its ordinary packets are thinned. */
export const FLOW_COLLECT_CAP = 1 << 18;
/** Rows kept in all before every flow is thinned. */
export const TOTAL_COLLECT_CAP = 1 << 22;

/** Bits of FlowSeriesSet.meta: the packet's direction (1: server to client), old data, kept as notable, ACK set. */
export const META_DIR = 1;
export const META_OLD = 2;
export const META_NOTABLE = 4;
export const META_ACK = 8;

/** The collected rows, read by the renderer. Column i of every array is one packet. */
export interface FlowSeriesSet {
  readonly rows: number;
  readonly time: Float64Array;
  readonly frame: Uint32Array;
  readonly flow: Uint32Array;
  readonly seq: Float64Array;
  readonly ack: Float64Array;
  readonly win: Float64Array;
  readonly inFlight: Float64Array;
  readonly len: Uint32Array;
  readonly flags: Uint8Array;
  readonly meta: Uint8Array;
  /** Row indexes of one flow, in capture order. */
  rowsOf(flowId: number): Uint32Array;
  /** Packets the flow had (kept or thinned). */
  packetsOf(flowId: number): number;
  /** Printable first payload bytes per direction [client→server, server→client]. */
  firstBytes(flowId: number): [string | null, string | null] | undefined;
  /** Whether any flow was thinned while collecting. */
  readonly thinned: boolean;
}
