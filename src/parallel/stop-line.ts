/**
 * Ctrl-C under `--jobs`: every thread reads the whole capture at its own pace, and their
 * shards merge into one report only if all of them analysed the same frames. So the
 * threads must stop at one frame, the furthest any of them had reached, and none may go
 * past it meanwhile.
 *
 * Shared memory, one Int32 per thread and one for the line: before analysing a record, a
 * thread takes its frame with a compare-and-swap on its own word (previous frame → this
 * frame). Drawing the line (main thread, in its signal handler) sets the sign bit of
 * every thread's word, which reads the frame each has taken and makes its next swap fail,
 * then publishes the largest as the line. A thread whose swap fails waits for the line
 * (the main thread publishes it right after closing the words) and analyses on up to it.
 */
const NO_LINE = 0x7fffffff;
const CLOSED = -0x80000000; // the sign bit, as an Int32

export class StopLine {
  private readonly words: Int32Array;

  /** `buffer` from `StopLine.create` (the same memory in every thread). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  static create(threads: number): StopLine {
    const line = new StopLine(new SharedArrayBuffer(4 * (threads + 1)));
    line.words[0] = NO_LINE;
    return line;
  }

  /** Thread `thread` may analyse `frame` (frames come one by one from 1): false means stop before it. */
  take(thread: number, frame: number): boolean {
    if (Atomics.compareExchange(this.words, thread + 1, frame - 1, frame) === frame - 1) return true;
    while (Atomics.load(this.words, 0) === NO_LINE) Atomics.wait(this.words, 0, NO_LINE, 100);
    return frame <= Atomics.load(this.words, 0);
  }

  /** Stops every thread at the furthest frame any has taken; returns that frame. */
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
