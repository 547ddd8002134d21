/**
 * The `--jobs` reader's index of the capture, shared by every worker: a ring of
 * fixed-size slots in a SharedArrayBuffer, filled in file order with one entry per record
 * and a few others, which each worker replays on its engine exactly as if it had read the
 * capture itself:
 *  - a record: its fields, the shard that owns it, and where its bytes are in the file.
 *    The owner analyses it (reading the bytes itself, file-window.ts: V8 copies into
 *    shared memory a byte at a time, 4-5 times slower than a read from the page cache);
 *    every other worker takes it as a clock tick (its frame and time: every shard's clock,
 *    and so its flows' retirement, moves with every record of the capture);
 *  - the file's sections and interfaces when they grow (the analyzers read them);
 *  - a packet's process (pcapng), before the record it belongs to;
 *  - the end, with the capture's last packet time.
 * One index for all, not one per worker: the reader writes each record once however many
 * workers there are (per-worker rings cost it a tick entry per worker per record, which
 * capped the model near 2.4x at 8 threads: docs/PERFORMANCE.md).
 * The reader publishes a slot when it is full (or at the end of a chunk of the file) with
 * one atomic store; each worker replays it in place and says so; the slot is free once
 * every worker has. When the ring is full the reader goes on into private slots and,
 * between chunks, awaits room to copy them in (Atomics.waitAsync): it never blocks its
 * event loop, so Ctrl-C and a failing worker are still heard.
 */

import type { PacketProcess, PacketRecord } from "../../capture/record.js";

/** Bytes per slot: about 18 000 record entries. */
const SLOT_BYTES = 1 << 20;
/** Slots per ring: a few hundred thousand records in flight. */
const SLOTS = 8;
/**
 * Private slots the reader may fill ahead of the workers before it waits between chunks:
 * a worker starting up (a few hundred ms loading its modules) does not hold the reader back.
 */
const LAG_SLOTS = 24;
/** Published slots that wake a waiting worker (publishShared). */
const WAKE_AFTER = SLOTS / 2;
/**
 * Control words: slots published, 1 while the reader waits for room; then per worker the
 * slots it has replayed and 1 while it waits for a slot.
 */
const PUBLISHED = 0;
const READER_WAITS = 1;
const consumedWord = (worker: number) => 2 + 2 * worker;
const waitsWord = (worker: number) => 3 + 2 * worker;
/** A slot starts with the bytes of it used (an Int32), padded to 8 for the float64s. */
const SLOT_HEAD = 8;

/** Entry kinds: the first Int32 of an entry; 0 or more is a record (its bytes' length). */
const PROCESS = -2;
const FACTS = -3;
const END = -4;
/** A record entry: 8 Int32s (length, frame, capLen, origLen, linkType, iface, tsNsec, owner), then tsSec, fileOffset and the bytes' offset in the file as float64s. */
const RECORD_BYTES = 56;
const END_BYTES = 16;

/** Typed views over one slot's bytes. */
class Slot {
  readonly u8: Uint8Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  constructor(buffer: ArrayBufferLike, offset: number) {
    this.u8 = new Uint8Array(buffer, offset, SLOT_BYTES);
    this.i32 = new Int32Array(buffer, offset, SLOT_BYTES >> 2);
    this.f64 = new Float64Array(buffer, offset, SLOT_BYTES >> 3);
  }
}

function controlBytes(workers: number): number {
  return 8 * (1 + workers);
}

/** The record fields an entry carries. */
export type RingRecord = Pick<
  PacketRecord,
  | "frame"
  | "tsSec"
  | "tsNsec"
  | "capLen"
  | "origLen"
  | "linkType"
  | "iface"
  | "fileOffset"
  | "start"
  | "end"
  | "process"
>;

type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The shared memory of a ring read by `workers` workers. */
export function newRing(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(controlBytes(workers) + SLOTS * SLOT_BYTES);
}

function slotsOf(buffer: SharedArrayBuffer, workers: number): Slot[] {
  return Array.from({ length: SLOTS }, (_, s) => new Slot(buffer, controlBytes(workers) + s * SLOT_BYTES));
}

/** The reader's end of the ring. */
export class RingWriter {
  private readonly control: Int32Array;
  private readonly shared: Slot[];
  private published = 0;
  private cur: Slot;
  private curShared = true;
  private at = SLOT_HEAD;
  /** Full private slots waiting for room in the ring, in order. */
  private readonly waiting: Slot[] = [];
  private readonly spare: Slot[] = [];

  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly workers: number,
  ) {
    this.control = new Int32Array(buffer, 0, controlBytes(workers) >> 2);
    this.shared = slotsOf(buffer, workers);
    this.cur = this.shared[0]!;
  }

  /** A record of shard `owner`, whose bytes are at `dataAt` in the file. */
  record(rec: RingRecord, owner: number, dataAt: number): void {
    if (rec.process !== null) this.json(PROCESS, rec.process);
    if (this.at + RECORD_BYTES > SLOT_BYTES) this.nextSlot();
    const at = this.at,
      s = this.cur,
      w = at >> 2,
      d = at >> 3;
    const i32 = s.i32,
      f64 = s.f64;
    i32[w] = rec.end - rec.start;
    i32[w + 1] = rec.frame;
    i32[w + 2] = rec.capLen;
    i32[w + 3] = rec.origLen;
    i32[w + 4] = rec.linkType;
    i32[w + 5] = rec.iface;
    i32[w + 6] = rec.tsNsec;
    i32[w + 7] = owner;
    f64[d + 4] = rec.tsSec;
    f64[d + 5] = rec.fileOffset;
    f64[d + 6] = dataAt;
    this.at = at + RECORD_BYTES;
  }

  /** The capture's sections and interfaces, as read so far (they only grow). */
  facts(facts: unknown): void {
    this.json(FACTS, facts);
  }

  /** No more records: `lastTime` is the capture's last packet's time (NaN: none). */
  end(lastTime: number): void {
    if (this.at + END_BYTES > SLOT_BYTES) this.nextSlot();
    this.cur.i32[this.at >> 2] = END;
    this.cur.f64[(this.at >> 3) + 1] = lastTime;
    this.at += END_BYTES;
    this.close(true);
  }

  /** Hands the workers what is written so far (between chunks of the file: they need not wait for a full slot). */
  publish(): void {
    if (this.at > SLOT_HEAD) {
      this.close();
      this.open();
    }
  }

  /**
   * Resolves once at most `lag` private slots wait for room in the ring (after the last
   * entry: none); `stopped` is asked while it waits (a failed worker frees nothing).
   */
  async drain(stopped: () => Error | null, lag = LAG_SLOTS): Promise<void> {
    for (;;) {
      this.moveWaiting();
      if (this.waiting.length <= lag) return;
      const err = stopped();
      if (err !== null) throw err;
      // Waits for the worker furthest behind: the one that frees the oldest slot.
      const worker = this.slowest();
      const consumed = Atomics.load(this.control, consumedWord(worker));
      Atomics.store(this.control, READER_WAITS, 1);
      // Timed: a worker that died frees nothing, and `stopped` must be asked again.
      const w = waitAsync(this.control, consumedWord(worker), consumed, 100);
      if (w.async) await w.value;
      Atomics.store(this.control, READER_WAITS, 0);
    }
  }

  private json(kind: number, value: unknown): void {
    const bytes = encoder.encode(JSON.stringify(value));
    const size = 8 + ((bytes.length + 7) & ~7);
    if (size > SLOT_BYTES - SLOT_HEAD)
      throw new Error(`--jobs ring: ${bytes.length} bytes of capture facts do not fit a slot`);
    if (this.at + size > SLOT_BYTES) this.nextSlot();
    this.cur.i32[this.at >> 2] = kind;
    this.cur.i32[(this.at >> 2) + 1] = bytes.length;
    this.cur.u8.set(bytes, this.at + 8);
    this.at += size;
  }

  private nextSlot(): void {
    this.close();
    this.open();
  }

  private close(last = false): void {
    const s = this.cur;
    s.i32[0] = this.at;
    if (this.curShared) this.publishShared(last);
    else this.waiting.push(s);
  }

  /** The next shared slot if it is free and no private one waits before it, else a private one. */
  private open(): void {
    this.at = SLOT_HEAD;
    if (this.waiting.length === 0 && this.hasRoom()) {
      this.cur = this.shared[this.published % SLOTS]!;
      this.curShared = true;
    } else {
      this.cur = this.spare.pop() ?? new Slot(new ArrayBuffer(SLOT_BYTES), 0);
      this.curShared = false;
    }
  }

  private slowest(): number {
    let min = 0;
    for (let k = 1; k < this.workers; k++) {
      if (Atomics.load(this.control, consumedWord(k)) < Atomics.load(this.control, consumedWord(min))) min = k;
    }
    return min;
  }

  private hasRoom(): boolean {
    return this.published - Atomics.load(this.control, consumedWord(this.slowest())) < SLOTS;
  }

  /**
   * Publishes the slot just filled. Waiting workers are woken only once half the ring is
   * ready, or at the end (`now`): each wake-up is a system call that can cost the reader its
   * time slice, and a worker that waits is one that has caught up anyway. (A worker says it
   * waits before it checks PUBLISHED, and waits with a timeout.)
   */
  private publishShared(now = false): void {
    this.published++;
    Atomics.store(this.control, PUBLISHED, this.published);
    for (let k = 0; k < this.workers; k++) {
      if (
        Atomics.load(this.control, waitsWord(k)) !== 0 &&
        (now || this.published - Atomics.load(this.control, consumedWord(k)) >= WAKE_AFTER)
      ) {
        Atomics.notify(this.control, PUBLISHED);
        return;
      }
    }
  }

  /** Copies waiting private slots into the ring while it has room. */
  private moveWaiting(): void {
    while (this.waiting.length > 0 && this.hasRoom()) {
      const from = this.waiting.shift()!;
      this.shared[this.published % SLOTS]!.u8.set(from.u8.subarray(0, from.i32[0]!));
      this.publishShared(this.waiting.length === 0);
      this.spare.push(from);
    }
    // The slot being filled was private because others waited: once they are in, fill the ring directly.
    if (this.waiting.length === 0 && !this.curShared && this.at === SLOT_HEAD && this.hasRoom()) {
      this.spare.push(this.cur);
      this.open();
    }
  }
}

/** What a worker does with the entries of the ring (shard.ts). */
export interface RingListener {
  /** A record of its shard: `rec`'s `len` bytes are at `dataAt` in the file, the listener points the record at them. */
  packet(rec: RingRecord, dataAt: number, len: number): void;
  /** A record of another shard. */
  tick(frame: number, time: number): void;
  facts(facts: unknown): void;
  end(lastTime: number): void;
}

/** Worker `worker` (0, 1, … of the ring's readers)'s end of the ring, replaying the records of `shard`. */
export class RingReader {
  private readonly control: Int32Array;
  private readonly shared: Slot[];
  private consumed = 0;
  private process: PacketProcess | null = null;

  constructor(
    buffer: SharedArrayBuffer,
    workers: number,
    private readonly worker: number,
    private readonly shard: number,
  ) {
    this.control = new Int32Array(buffer, 0, controlBytes(workers) >> 2);
    this.shared = slotsOf(buffer, workers);
  }

  /** Replays every entry up to the end onto `to`, blocking while the ring is empty (a worker has nothing else to do). */
  replay(to: RingListener, rec: RingRecord): void {
    const me = this.shard;
    for (;;) {
      const s = this.next();
      const i32 = s.i32,
        f64 = s.f64;
      const used = i32[0]!;
      for (let at = SLOT_HEAD; at < used; ) {
        const w = at >> 2,
          d = at >> 3;
        const kind = i32[w]!;
        if (kind >= 0) {
          if (i32[w + 7] === me) {
            rec.frame = i32[w + 1]!;
            rec.capLen = i32[w + 2]!;
            rec.origLen = i32[w + 3]!;
            rec.linkType = i32[w + 4]!;
            rec.iface = i32[w + 5]!;
            rec.tsNsec = i32[w + 6]!;
            rec.tsSec = f64[d + 4]!;
            rec.fileOffset = f64[d + 5]!;
            rec.process = this.process;
            to.packet(rec, f64[d + 6]!, kind);
          } else {
            // The time exactly as the reader computes it (shard.ts).
            to.tick(i32[w + 1]!, f64[d + 4]! + i32[w + 6]! / 1e9);
          }
          this.process = null;
          at += RECORD_BYTES;
        } else if (kind === END) {
          to.end(f64[d + 1]!);
          this.free();
          return;
        } else {
          const len = i32[w + 1]!;
          // slice: a copy out of shared memory, which TextDecoder refuses.
          const value = JSON.parse(decoder.decode(s.u8.slice(at + 8, at + 8 + len)));
          if (kind === PROCESS) this.process = value as PacketProcess;
          else if (kind === FACTS) to.facts(value);
          else throw new Error(`--jobs ring: unknown entry ${kind} at ${at}`);
          at += 8 + ((len + 7) & ~7);
        }
      }
      this.free();
    }
  }

  /** Waits for the next published slot. */
  private next(): Slot {
    const c = this.control;
    if (Atomics.load(c, PUBLISHED) === this.consumed) {
      const waits = waitsWord(this.worker);
      Atomics.store(c, waits, 1);
      while (Atomics.load(c, PUBLISHED) === this.consumed) Atomics.wait(c, PUBLISHED, this.consumed, 200);
      Atomics.store(c, waits, 0);
    }
    return this.shared[this.consumed % SLOTS]!;
  }

  /** Says the slot just replayed is done with (it is free once every worker has). */
  private free(): void {
    this.consumed++;
    Atomics.store(this.control, consumedWord(this.worker), this.consumed);
    if (Atomics.load(this.control, READER_WAITS) !== 0) Atomics.notify(this.control, consumedWord(this.worker));
  }
}
