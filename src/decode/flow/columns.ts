/**
 * The TCP endpoints' numbers, one typed column per field, indexed by an endpoint's slot
 * (record.ts: TcpEndpoint is a view over one slot). A flow table holds one store; each
 * flow takes two slots (client, server) when it starts.
 *
 * Why columns and not an object per endpoint (issue 17): an object field holding a number
 * that is not a small integer (a time, a 32-bit sequence number) is a pointer to a boxed
 * double of its own, so an endpoint object cost about 470 bytes of heap. In columns a
 * frame number or counter is 4 bytes, a time 8, a flag one bit: about 170 bytes, and
 * nothing for the garbage collector to walk. Columns grow by doubling.
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

const INITIAL_SLOTS = 16;

export class EndpointColumns {
  /** Slots handed out so far (the next free one). */
  private used = 0;
  private capacity = 0;

  // Flags: EP_* bits.
  flags = new Uint8Array(0);
  // Raw 32-bit sequence numbers.
  isn = new Uint32Array(0);
  nextSeq = new Uint32Array(0);
  lastAck = new Uint32Array(0);
  finSeq = new Uint32Array(0);
  // Frame numbers (0: none) and counters.
  synFrame = new Uint32Array(0);
  finFrame = new Uint32Array(0);
  finAckedFrame = new Uint32Array(0);
  rstFrame = new Uint32Array(0);
  ignoredRstFrame = new Uint32Array(0);
  ignoredFinFrame = new Uint32Array(0);
  lastFrame = new Uint32Array(0);
  lastDataFrame = new Uint32Array(0);
  synCount = new Uint32Array(0);
  ignoredCount = new Uint32Array(0);
  craftedSynCount = new Uint32Array(0);
  packets = new Uint32Array(0);
  // Small signed integers from the headers (-1: none).
  win = new Int32Array(0);
  wscale = new Int32Array(0);
  mss = new Int32Array(0);
  ttl = new Int32Array(0);
  synWindow = new Int32Array(0);
  lastDataTtl = new Int32Array(0);
  // Doubles: times, byte totals (beyond 4 GiB), and what a window scale multiplies.
  winScaled = new Float64Array(0);
  winMultiplier = new Float64Array(0);
  synTime = new Float64Array(0);
  finTime = new Float64Array(0);
  finAckedTime = new Float64Array(0);
  rstTime = new Float64Array(0);
  lastTime = new Float64Array(0);
  lastDataTime = new Float64Array(0);
  wireBytes = new Float64Array(0);
  payloadBytes = new Float64Array(0);
  /** The SYN's option layout (stack-profile.ts): a string, so a plain array. */
  synOptionLayout: string[] = [];

  /** A new endpoint's slot, its fields at their initial values (record.ts: TcpEndpoint). */
  take(): number {
    if (this.used === this.capacity) this.grow(Math.max(INITIAL_SLOTS, this.capacity * 2));
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

  private grow(capacity: number): void {
    this.flags = grown(this.flags, capacity);
    this.isn = grown(this.isn, capacity);
    this.nextSeq = grown(this.nextSeq, capacity);
    this.lastAck = grown(this.lastAck, capacity);
    this.finSeq = grown(this.finSeq, capacity);
    this.synFrame = grown(this.synFrame, capacity);
    this.finFrame = grown(this.finFrame, capacity);
    this.finAckedFrame = grown(this.finAckedFrame, capacity);
    this.rstFrame = grown(this.rstFrame, capacity);
    this.ignoredRstFrame = grown(this.ignoredRstFrame, capacity);
    this.ignoredFinFrame = grown(this.ignoredFinFrame, capacity);
    this.lastFrame = grown(this.lastFrame, capacity);
    this.lastDataFrame = grown(this.lastDataFrame, capacity);
    this.synCount = grown(this.synCount, capacity);
    this.ignoredCount = grown(this.ignoredCount, capacity);
    this.craftedSynCount = grown(this.craftedSynCount, capacity);
    this.packets = grown(this.packets, capacity);
    this.win = grown(this.win, capacity);
    this.wscale = grown(this.wscale, capacity);
    this.mss = grown(this.mss, capacity);
    this.ttl = grown(this.ttl, capacity);
    this.synWindow = grown(this.synWindow, capacity);
    this.lastDataTtl = grown(this.lastDataTtl, capacity);
    this.winScaled = grown(this.winScaled, capacity);
    this.winMultiplier = grown(this.winMultiplier, capacity);
    this.synTime = grown(this.synTime, capacity);
    this.finTime = grown(this.finTime, capacity);
    this.finAckedTime = grown(this.finAckedTime, capacity);
    this.rstTime = grown(this.rstTime, capacity);
    this.lastTime = grown(this.lastTime, capacity);
    this.lastDataTime = grown(this.lastDataTime, capacity);
    this.wireBytes = grown(this.wireBytes, capacity);
    this.payloadBytes = grown(this.payloadBytes, capacity);
    this.capacity = capacity;
  }
}

/** `column` copied into a new one of the same type, `capacity` long. */
function grown<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(column: T, capacity: number): T {
  const copy = new (column.constructor as new (length: number) => T)(capacity);
  copy.set(column as never);
  return copy;
}
