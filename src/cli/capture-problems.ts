/**
 * The stderr lines every capture command prints after its output: damage found in the
 * capture's structure (a truncated final record, an absurd record length, a broken
 * pcapng block) and an interruption (Ctrl-C), one line each naming the input and the
 * byte offset, so they are seen even when the report goes to a file or a pager. They are
 * about the results, so -q does not hide them.
 */
import type { CaptureInfo } from "../capture/record.js";

/** Beyond this many, the rest are counted (a file can repeat one problem per record). */
const MAX_LINES = 5;

/**
 * Prints the capture's problems on stderr, the first MAX_LINES of them; the rest are
 * counted, and said to be in `listedIn` when the output lists them (analyze's report
 * does; the flow table and the packet list do not).
 */
export function printCaptureProblems(info: CaptureInfo, listedIn: string | null): void {
  const lines = [...info.warnings];
  if (info.error !== null) lines.push(info.error);
  for (const l of lines.slice(0, MAX_LINES)) process.stderr.write(`sockscope: ${l}\n`);
  const more = lines.length - MAX_LINES;
  if (more > 0)
    process.stderr.write(
      `sockscope: … and ${more} more capture problem${more === 1 ? "" : "s"}${listedIn === null ? "" : ` (listed in ${listedIn})`}\n`,
    );
}
