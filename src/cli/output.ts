/**
 * Buffered stdout that survives a closed pipe (`sockscope packets x.pcap | head`):
 * EPIPE ends the program quietly with status 0, as tcpdump does.
 */
export class Output {
  private buf: string[] = [];
  private size = 0;
  closed = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") { this.closed = true; process.exit(0); }
      throw e;
    });
  }

  line(s: string): void {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 65536) this.flushSync();
  }

  private flushSync(): void {
    if (this.buf.length === 0 || this.closed) return;
    this.stream.write(this.buf.join("\n") + "\n");
    this.buf = [];
    this.size = 0;
  }

  /** Writes what is buffered and waits for the stream to drain. */
  async end(): Promise<void> {
    this.flushSync();
    if (this.stream.writableNeedDrain) await new Promise((r) => this.stream.once("drain", r));
  }
}
