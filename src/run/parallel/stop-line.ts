/**
 * Ctrl-C under `--jobs`: every thread reads the whole capture at its own pace, and their
 * shards merge into one report only if all of them analysed the same frames. So the
 * threads must stop at one frame, one that none of them has gone past.
 *
 * Shared memory, one Int32 per thread and one for the line. A thread claims the frames
 * it may analyse a batch at a time, with a compare-and-swap on its own word (the last
 * frame claimed), so a record costs a comparison. Drawing the line (the main thread, in
 * its signal handler) sets the sign bit of every thread's word, which reads what each has
 * claimed and makes its next claim fail, then publishes the largest claim as the line. A
 * thread whose claim fails waits for the line (published right after the words are
 * closed) and analyses on up to it. So all stop at the same frame, at most a batch past
 * the furthest one read when the signal came (or all read to the end if the file ends
 * before it).
 *
 * `--jobs` now has one reader (shard.ts), the main thread, so it alone takes frames on
 * the line: it stops the reading at the same frame as before (a batch boundary), and
 * every worker replays the records written up to there.
 */
const NO_LINE = 0x7fffffff;
const CLOSED = -0x80000000; // the sign bit, as an Int32
/** Frames claimed at once: an atomic operation per batch, not per record (45 ns each). */
const BATCH = 1024;

export class StopLine {
  private readonly words: Int32Array;
  /** Frames up to this one may be analysed without asking again. */
  private claimed = 0;
  private stopped = false;

  /** `buffer` from `StopLine.create` (the same memory in every thread); `thread` 0, 1, …. */
  constructor(
    readonly buffer: SharedArrayBuffer,
    private readonly thread = 0,
  ) {
    this.words = new Int32Array(buffer);
  }

  static create(threads: number): StopLine {
    const line = new StopLine(new SharedArrayBuffer(4 * (threads + 1)));
    line.words[0] = NO_LINE;
    return line;
  }

  /** This thread may analyse `frame` (frames come in order): false means stop before it. */
  take(frame: number): boolean {
    if (frame <= this.claimed) return true;
    if (this.stopped) return false;
    const want = Math.min(frame + BATCH - 1, NO_LINE);
    if (Atomics.compareExchange(this.words, this.thread + 1, this.claimed, want) === this.claimed) {
      this.claimed = want;
      return true;
    }
    while (Atomics.load(this.words, 0) === NO_LINE) Atomics.wait(this.words, 0, NO_LINE, 100);
    this.stopped = true;
    this.claimed = Atomics.load(this.words, 0);
    return frame <= this.claimed;
  }

  /** Stops every thread at the furthest frame any has claimed; returns that frame. */
  draw(): number {
    let furthest = 0;
    for (let i = 1; i < this.words.length; i++) {
      furthest = Math.max(furthest, Atomics.or(this.words, i, CLOSED) & NO_LINE);
    }
    Atomics.store(this.words, 0, furthest);
    Atomics.notify(this.words, 0);
    return furthest;
  }
}
