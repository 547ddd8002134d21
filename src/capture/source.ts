/**
 * Byte sources for the reader: a file read with positional reads into the reader's own
 * buffer (no intermediate copies), or standard input (a pipe from `tcpdump -w -`).
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import { CaptureError } from "./errors.js";

export interface ByteSource {
  readonly name: string;
  /** Total size when known (files), for progress and time-left estimates. */
  readonly size: number | null;
  /** Reads up to `length` bytes into buf at `offset`; 0 means end of input. */
  read(buf: Uint8Array, offset: number, length: number): Promise<number>;
  close(): Promise<void>;
}

class FileSource implements ByteSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly fh: FileHandle,
  ) {}
  async read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    const { bytesRead } = await this.fh.read(buf, offset, length, null);
    return bytesRead;
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Reads a Node stream by pulling its chunks and copying them into the caller's buffer. */
export class StreamSource implements ByteSource {
  readonly size = null;
  private readonly it: AsyncIterator<Buffer>;
  private chunk: Buffer | null = null;
  private chunkPos = 0;
  constructor(
    readonly name: string,
    private readonly stream: AsyncIterable<Buffer> & { destroy?: () => unknown },
  ) {
    this.it = stream[Symbol.asyncIterator]();
  }
  async read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    while (this.chunk === null || this.chunkPos >= this.chunk.length) {
      const next = await this.it.next();
      if (next.done) return 0;
      this.chunk = next.value;
      this.chunkPos = 0;
    }
    const n = Math.min(length, this.chunk.length - this.chunkPos);
    buf.set(this.chunk.subarray(this.chunkPos, this.chunkPos + n), offset);
    this.chunkPos += n;
    return n;
  }
  /**
   * Ends a read still waiting for data (the reading ended early, -c N or Ctrl-C, while the
   * writer goes on): the iterator's return() would wait for that read, so the stream is
   * destroyed first, which ends it (rejected; an abandoned read's rejection is ignored).
   */
  async close(): Promise<void> {
    this.stream.destroy?.();
    await this.it.return?.();
  }
}

/**
 * A source whose reads end (0 bytes, as at the end of input) once `signal` aborts, even
 * one waiting on a pipe whose writer sends nothing more (Ctrl-C on `tcpdump -w - | …`).
 * close() stops listening to the signal, so one signal can serve many reads of captures.
 */
export class InterruptibleSource implements ByteSource {
  private readonly aborted: Promise<number>;
  private readonly onAbort: () => void;

  constructor(
    private readonly inner: ByteSource,
    private readonly signal: AbortSignal,
  ) {
    let wake: (n: number) => void = () => undefined;
    this.aborted = new Promise((resolve) => {
      wake = resolve;
    });
    this.onAbort = () => wake(0);
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  get name(): string {
    return this.inner.name;
  }
  get size(): number | null {
    return this.inner.size;
  }

  read(buf: Uint8Array, offset: number, length: number): Promise<number> {
    if (this.signal.aborted) return Promise.resolve(0);
    const pending = this.inner.read(buf, offset, length);
    pending.catch(() => 0); // abandoned at an interruption, it may fail when the source closes
    return Promise.race([pending, this.aborted]);
  }

  close(): Promise<void> {
    this.signal.removeEventListener("abort", this.onAbort);
    return this.inner.close();
  }
}

/** Opens a path, or standard input for "-", turning file-system errors into one-liners. */
export async function openSource(path: string, name = path): Promise<ByteSource> {
  if (path === "-") return new StreamSource("(stdin)", process.stdin);
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CaptureError(name, null, "is a directory, not a capture file");
    size = st.size;
  } catch (e) {
    throw asCaptureError(name, e);
  }
  if (size === 0) throw new CaptureError(name, 0, "empty file (0 bytes): not a capture");
  try {
    return new FileSource(name, size, await open(path, "r"));
  } catch (e) {
    throw asCaptureError(name, e);
  }
}

function asCaptureError(path: string, e: unknown): CaptureError {
  if (e instanceof CaptureError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
        ? "permission denied"
        : code === "EISDIR"
          ? "is a directory, not a capture file"
          : `cannot open (${code ?? String(e)})`;
  return new CaptureError(path, null, why);
}
