/**
 * Standard output for the offline commands, and what happens when its reader goes away
 * (`sockscope explain | head -1`): EPIPE stops the work and ends the program quietly
 * with status 0, as a filter in a pipeline is expected to, instead of the stack trace
 * of an unhandled 'error' event. Cleanup registered with process.on("exit") (the
 * standard-input spool) still runs.
 */
import { closeSync, openSync, writeSync } from "node:fs";

/**
 * Makes a closed pipe on stdout (or stderr) end the process quietly. Installed once by
 * main.ts for every command but `live`, which stops its capture in order instead.
 */
export function exitQuietlyOnClosedPipe(): void {
  const onError = (e: NodeJS.ErrnoException): void => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  };
  process.stdout.on("error", onError);
  process.stderr.on("error", onError);
}

/** Buffered stdout: lines go out in big writes. */
export class Output {
  private buf: string[] = [];
  private size = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stdout) {}

  line(s: string): void {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 65536) this.flushSync();
  }

  private flushSync(): void {
    if (this.buf.length === 0) return;
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

/** Lines to a file, in big writes: what Output is for standard output. */
export class FileLines {
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  line(s: string): void {
    this.buf.push(s);
    this.size += s.length + 1;
    if (this.size > 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.buf.length > 0) writeSync(this.fd, this.buf.join("\n") + "\n");
    this.buf = [];
    this.size = 0;
  }

  /** Writes what is buffered and closes the file (also when a write failed). */
  end(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** Writes lines (joined by newlines, one at the end) to a file, in big writes. */
export function writeLinesToFile(path: string, lines: Iterable<string>): void {
  const file = new FileLines(path);
  try {
    for (const l of lines) file.line(l);
  } finally {
    file.end();
  }
}
