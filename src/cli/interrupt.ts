/**
 * Ctrl-C while an offline command reads (`tcpdump -U -w - | sockscope analyze -`: the
 * shell sends SIGINT to the whole pipeline). As tcpdump and `sockscope live` do, the
 * first SIGINT or SIGTERM stops the reading and lets the command finish: what arrived is
 * analysed and the report printed (exit 0). A second one exits at once, with the
 * shell's status for death by that signal (130 for SIGINT, 143 for SIGTERM); cleanup
 * registered with process.on("exit") (the standard-input spool) still runs.
 */
import { noteInterruption } from "../capture/reader.js";
import type { CaptureInfo } from "../capture/record.js";

const SIGNAL_NUMBER = { SIGINT: 2, SIGTERM: 15 } as const;
type StopSignal = keyof typeof SIGNAL_NUMBER;

export class Interrupt {
  private readonly controller = new AbortController();
  /** Aborted at the first signal, with the signal's name as its reason. */
  readonly signal: AbortSignal = this.controller.signal;

  constructor() {
    for (const s of Object.keys(SIGNAL_NUMBER) as StopSignal[]) process.on(s, () => this.receive(s));
  }

  private receive(s: StopSignal): void {
    if (this.signal.aborted) process.exit(128 + SIGNAL_NUMBER[s]);
    this.controller.abort(s);
  }
}

let installed: Interrupt | null = null;

/** The signal that the first SIGINT or SIGTERM aborts; the handlers are installed on first use. */
export function stopOnSignal(): AbortSignal {
  return (installed ??= new Interrupt()).signal;
}

/**
 * Notes a signal that came once the reading had ended: Ctrl-C reaches the writer of a pipe
 * and sockscope together, and the end of input the writer's death causes may be handled
 * first. Either way the user interrupted, and is told after which frame the report ends.
 */
export function noteLateInterruption(info: CaptureInfo, signal: AbortSignal): void {
  if (signal.aborted && info.interrupted === undefined) noteInterruption(info, info.bytesRead, String(signal.reason));
}
