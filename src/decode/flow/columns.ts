/**
 * The TCP endpoints' numbers, one typed column per field, indexed by an endpoint's slot
 * (record.ts: TcpEndpoint is a view over one slot of one EndpointColumns). A flow table
 * holds one EndpointStore; each flow takes two slots (client, server) when it starts.
 *
 * Why columns and not an object per endpoint (issue 17): an object field holding a number
 * that is not a small integer (a time, a 32-bit sequence number) is a pointer to a boxed
 * double of its own, so an endpoint object cost about 470 bytes of heap. In columns a
 * frame number or counter is 4 bytes, a time 8, a flag one bit: about 170 bytes, and
 * nothing for the garbage collector to walk.
 *
 * The columns come in chunks of fixed size (16 endpoints, then twice as many each time,
 * up to 4096), not in arrays that grow: a column that is never replaced is a constant
 * field of its chunk, so the tracker's reads of one endpoint share one load of it
 * (columns replaced on growth cost the tracker 70 ns a packet, measured), and no copy
 * or doubling slack is paid on growth.
 *
 * Slots are not handed back: the table keeps every flow until the report is written
 * (FlowTable.all) and the report reads both endpoints of each.
 */

/** Bits of `flags`. */
export const EP_SEEN = 1,
  EP_BASE_KNOWN = 2,
  EP_SYN_SEEN = 4,
  EP_ACK_SEEN = 8,
  EP_SACK_PERMITTED = 16,
  EP_TIMESTAMPS = 32,
  EP_SYN_CRAFTED = 64;

const FIRST_CHUNK = 16,
  LARGEST_CHUNK = 4096;

/** One chunk of endpoints: `size` slots, every column that long. */
export class EndpointColumns {
  /** Slots handed out so far (the next free one). */
  private used = 0;
  // Flags: EP_* bits.
  readonly flags: Uint8Array;
  // Raw 32-bit sequence numbers.
  readonly isn: Uint32Array;
  readonly nextSeq: Uint32Array;
  readonly lastAck: Uint32Array;
  readonly finSeq: Uint32Array;
  // Frame numbers (0: none) and counters.
  readonly synFrame: Uint32Array;
  readonly finFrame: Uint32Array;
  readonly finAckedFrame: Uint32Array;
  readonly rstFrame: Uint32Array;
  readonly ignoredRstFrame: Uint32Array;
  readonly ignoredFinFrame: Uint32Array;
  readonly lastFrame: Uint32Array;
  readonly lastDataFrame: Uint32Array;
  readonly synCount: Uint32Array;
  readonly ignoredCount: Uint32Array;
  readonly craftedSynCount: Uint32Array;
  readonly packets: Uint32Array;
  // Small signed integers from the headers (-1: none).
  readonly win: Int32Array;
  readonly wscale: Int32Array;
  readonly mss: Int32Array;
  readonly ttl: Int32Array;
  readonly synWindow: Int32Array;
  readonly lastDataTtl: Int32Array;
  // Doubles: times, byte totals (beyond 4 GiB), and what a window scale multiplies.
  readonly winScaled: Float64Array;
  readonly winMultiplier: Float64Array;
  readonly synTime: Float64Array;
  readonly finTime: Float64Array;
  readonly finAckedTime: Float64Array;
  readonly rstTime: Float64Array;
  readonly lastTime: Float64Array;
  readonly lastDataTime: Float64Array;
  readonly wireBytes: Float64Array;
  readonly payloadBytes: Float64Array;
  /** The SYN's option layout (stack-profile.ts): a string, so a plain array. */
  readonly synOptionLayout: string[] = [];

  constructor(readonly size: number) {
    this.flags = new Uint8Array(size);
    this.isn = new Uint32Array(size);
    this.nextSeq = new Uint32Array(size);
    this.lastAck = new Uint32Array(size);
    this.finSeq = new Uint32Array(size);
    this.synFrame = new Uint32Array(size);
    this.finFrame = new Uint32Array(size);
    this.finAckedFrame = new Uint32Array(size);
    this.rstFrame = new Uint32Array(size);
    this.ignoredRstFrame = new Uint32Array(size);
    this.ignoredFinFrame = new Uint32Array(size);
    this.lastFrame = new Uint32Array(size);
    this.lastDataFrame = new Uint32Array(size);
    this.synCount = new Uint32Array(size);
    this.ignoredCount = new Uint32Array(size);
    this.craftedSynCount = new Uint32Array(size);
    this.packets = new Uint32Array(size);
    this.win = new Int32Array(size);
    this.wscale = new Int32Array(size);
    this.mss = new Int32Array(size);
    this.ttl = new Int32Array(size);
    this.synWindow = new Int32Array(size);
    this.lastDataTtl = new Int32Array(size);
    this.winScaled = new Float64Array(size);
    this.winMultiplier = new Float64Array(size);
    this.synTime = new Float64Array(size);
    this.finTime = new Float64Array(size);
    this.finAckedTime = new Float64Array(size);
    this.rstTime = new Float64Array(size);
    this.lastTime = new Float64Array(size);
    this.lastDataTime = new Float64Array(size);
    this.wireBytes = new Float64Array(size);
    this.payloadBytes = new Float64Array(size);
  }

  /** Whether `n` more slots are free. */
  hasRoom(n: number): boolean {
    return this.used + n <= this.size;
  }

  /** A new endpoint's slot, its fields at their initial values (record.ts: TcpEndpoint). */
  take(): number {
    if (this.used === this.size) throw new Error("EndpointColumns.take: chunk full (EndpointStore.withRoom first)");
    const i = this.used++;
    // Zero already, except the fields whose "none" is -1 (or 1).
    this.wscale[i] = -1;
    this.mss[i] = -1;
    this.synWindow[i] = -1;
    this.winMultiplier[i] = 1;
    this.lastDataTime[i] = -1;
    this.synOptionLayout.push("");
    return i;
  }
}

/** A flow table's endpoint chunks: hands out one with room, making a larger one when the last is full. */
export class EndpointStore {
  private chunk = new EndpointColumns(FIRST_CHUNK);

  /** A chunk with `n` free slots (n at most FIRST_CHUNK). */
  withRoom(n: number): EndpointColumns {
    if (!this.chunk.hasRoom(n)) this.chunk = new EndpointColumns(Math.min(LARGEST_CHUNK, this.chunk.size * 2));
    return this.chunk;
  }
}
