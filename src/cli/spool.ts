/**
 * Copies standard input to a temporary file, for commands that read a capture twice
 * (`packets -`: tags come from findings, complete only at the end).
 *
 * The copy can be as big as the capture (hundreds of MB), so it must not outlive the
 * command however it ends: besides `remove()` at the normal end, a process "exit" hook
 * deletes it when the command ends early through process.exit (a closed stdout, a second
 * Ctrl-C). A first Ctrl-C or SIGTERM (`signal`) ends the copy with what has arrived.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signalsInFlight } from "../capture/reader.js";

export interface Spool {
  path: string;
  remove(): void;
}

export async function spoolStdin(signal?: AbortSignal): Promise<Spool> {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-"));
  const remove = (): void => {
    process.off("exit", remove);
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", remove);
  const spool: Spool = { path: join(dir, "stdin.pcap"), remove };
  const fd = openSync(spool.path, "w");
  const chunks = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const aborted = new Promise<null>((resolve) => {
    if (signal?.aborted) resolve(null);
    else signal?.addEventListener("abort", () => resolve(null), { once: true });
  });
  try {
    for (;;) {
      const pending = chunks.next();
      pending.catch(() => undefined); // abandoned at an interruption
      const next = await Promise.race([pending, aborted]);
      if (next === null) {
        process.stdin.destroy(); // a writer that goes on must not keep this process alive
        break;
      }
      if (next.done) {
        await signalsInFlight();
        break;
      }
      writeSync(fd, next.value);
    }
  } finally {
    closeSync(fd);
  }
  return spool;
}
