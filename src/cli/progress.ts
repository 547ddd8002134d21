/**
 * Progress on stderr for long files: bytes and packets read, rate, time left. Only when
 * stderr is a terminal and --quiet is not given; redrawn at most five times a second.
 */
import { formatSize } from "./size.js";

export class Progress {
  private readonly start = Date.now();
  private last = 0;
  private shown = false;
  constructor(private readonly enabled: boolean) {}

  readonly update = (bytes: number, packets: number, total: number | null): void => {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 200 || now - this.start < 500) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const rate = packets / secs;
    let line = `  ${formatSize(bytes)}${total ? ` of ${formatSize(total)} (${Math.floor((bytes / total) * 100)}%)` : ""}, ${packets.toLocaleString("en-US")} packets, ${(rate / 1e6).toFixed(2)} M pkt/s`;
    if (total && bytes > 0) line += `, ${Math.ceil(((total - bytes) / bytes) * secs)} s left`;
    process.stderr.write(`\r${line}\x1b[K`);
    this.shown = true;
  };

  done(): void {
    if (this.shown) process.stderr.write("\r\x1b[K");
  }
}
