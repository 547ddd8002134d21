/**
 * The live drop warning: turns a backend's cumulative counters (about once a second)
 * into one warning for each second that lost packets, and notes the drops with the
 * session, which marks the findings of the flows open meanwhile.
 */
import { totalDropped, type LiveStats } from "../capture/live/backend.js";
import type { LiveClock } from "../capture/live/clock.js";
import type { LiveSession } from "./live-session.js";

export interface DropWarning {
  dropped: number;
  kernel: number | null;
  interface: number | null;
  sockscope: number | null;
  message: string;
}

export class DropWatch {
  private seen = 0;
  private at: number;
  constructor(
    private readonly session: LiveSession,
    private readonly clock: LiveClock,
    private readonly warn: (w: DropWarning) => void,
  ) {
    this.at = clock.now();
  }

  update(s: LiveStats, final = false): void {
    const now = this.clock.now();
    const total = totalDropped(s);
    const n = total - this.seen;
    if (n > 0) {
      // The counters were read a little before they reached us: the window starts early.
      this.session.noteDrops(this.at - 0.5, now, n);
      const where = [
        s.droppedByKernel ? `kernel ${s.droppedByKernel}` : "",
        s.droppedByInterface ? `interface ${s.droppedByInterface}` : "",
        s.droppedBySockscope ? `sockscope's queue ${s.droppedBySockscope}` : "",
      ]
        .filter((x) => x !== "")
        .join(", ");
      const span = final
        ? "at the end of the capture"
        : now - this.at < 1.5
          ? "in the last second"
          : `in the last ${(now - this.at).toFixed(1)} s`;
      this.warn({
        dropped: n,
        kernel: s.droppedByKernel,
        interface: s.droppedByInterface,
        sockscope: s.droppedBySockscope,
        message: `dropped ${n} packet(s) ${span} (${total} in all: ${where}): findings may be wrong; raise -B or narrow the capture filter`,
      });
    }
    this.seen = Math.max(this.seen, total);
    this.at = now;
  }
}
