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

/**
 * Progress of a many-capture run: captures done of the total, packets read and their
 * rate, findings so far. Redrawn in place on a terminal; with --progress on something
 * else (a CI log), one line a second.
 */
export class ManyProgress {
  private readonly start = Date.now();
  private last = 0;
  private shown = false;
  constructor(
    private readonly mode: "tty" | "lines" | "off",
    private readonly stream: NodeJS.WritableStream = process.stderr,
  ) {}

  readonly update = (p: { done: number; total: number; packets: number; findings: number }): void => {
    if (this.mode === "off") return;
    const now = Date.now();
    const final = p.done === p.total;
    if (!final && now - this.last < (this.mode === "tty" ? 200 : 1000)) return;
    this.last = now;
    const secs = Math.max(0.001, (now - this.start) / 1000);
    const line = `  ${p.done} of ${p.total} captures, ${p.packets.toLocaleString("en-US")} packets, ${(p.packets / secs / 1e6).toFixed(2)} M pkt/s, ${p.findings} findings`;
    this.stream.write(this.mode === "tty" ? `\r${line}\x1b[K` : `${line}\n`);
    this.shown = true;
  };

  done(): void {
    if (this.shown && this.mode === "tty") this.stream.write("\r\x1b[K");
  }
}
