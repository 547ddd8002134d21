/**
 * Command-line parsing shared by the capture commands: Node's parseArgs with sockscope's
 * own one-line messages, and tcpdump's habits for naming what to read (`-r FILE`, `-c N`,
 * `-n`, a capture filter expression after the file).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { existsSync, statSync } from "node:fs";
import { CaptureFilter, FilterError } from "../capture/filter/compile.js";
import type { PacketSelection } from "../capture/filter/select.js";
import { didYouMean } from "./suggest.js";
import { CAPTURE_FILE, isGlob, namesCaptures } from "../run/captures/inputs.js";

/** A mistake on the command line: main prints it as one line with a --help hint for the command. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Options every capture-reading command takes the way tcpdump and tshark do. */
export const CAPTURE_OPTIONS = {
  read: { type: "string", short: "r" },
  // -f EXPR as live (and tshark) take it, for the filter that may otherwise follow the file.
  filter: { type: "string", short: "f" },
  count: { type: "string", short: "c" },
  // -n: tcpdump's "don't resolve names". sockscope never resolves names, so it changes nothing.
  numeric: { type: "boolean", short: "n" },
} as const satisfies ParseArgsConfig["options"];

/** parseArgs for `command`, turning Node's parser errors into sockscope's own one-line UsageErrors. */
type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandArgs<O extends Options>(
  command: string,
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw asUsageError(command, e, options);
  }
}

function asUsageError(command: string, e: unknown, options: Options): unknown {
  const code = (e as { code?: string }).code;
  const message = (e as Error).message ?? "";
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    // Suggest long options for a mistyped long one; a one-letter option has no near miss worth naming.
    const hint = quoted.startsWith("--")
      ? didYouMean(
          quoted,
          Object.keys(options).map((long) => `--${long}`),
        )
      : "";
    return new UsageError(`unknown option ${quoted}${hint}`, command);
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    // "Option '-c, --count <value>' argument missing" / "Option '--quiet' does not take an argument"
    const name = quoted.replace(/ <value>$/, "");
    return new UsageError(/missing/.test(message) ? `${name} needs a value` : `${name} takes no value`, command);
  }
  if (code?.startsWith("ERR_PARSE_ARGS") === true) return new UsageError(message, command);
  return e;
}

/** What a capture command reads: the input and the packets of it to analyse. */
export interface CaptureArgs {
  input: string;
  /** undefined when every packet is analysed. */
  select: PacketSelection | undefined;
}

/**
 * The input is `-r FILE` or the first word; the words after it are a capture filter
 * expression, joined with spaces as tcpdump joins them (or `-f EXPR`, as for live). `-c N` keeps the first N
 * (matching) packets. Compiling the filter may throw FilterError (no compiler, or libpcap
 * refused the expression).
 */
export function captureArgs(
  command: string,
  v: { read?: string; filter?: string; count?: string },
  positionals: string[],
): CaptureArgs {
  const words = [...positionals];
  const input = v.read ?? words.shift();
  if (input === undefined)
    throw new UsageError(`which capture? give a file (or -r FILE), or - for standard input`, command);
  let count: number | null = null;
  if (v.count !== undefined) {
    if (!/^\d+$/.test(v.count) || Number(v.count) < 1)
      throw new UsageError(`-c takes a number of packets (1 or more), not "${v.count}"`, command);
    count = Number(v.count);
  }
  if (v.filter !== undefined && words.length > 0)
    throw new UsageError(
      `give the capture filter once: -f EXPR or words after the capture, not both (got "${words.join(" ")}" too)`,
      command,
    );
  const expression = (v.filter ?? words.join(" ")).trim();
  let filter: CaptureFilter | null = null;
  if (expression !== "") {
    try {
      filter = new CaptureFilter(expression);
    } catch (e) {
      // `analyze a.pcap b.pcap` reads as a filter "b.pcap": say what was more likely meant.
      if (e instanceof FilterError && words.length > 0 && existsSync(words[0]!)) {
        throw new UsageError(
          `one capture at a time: "${words[0]}" is a file, and words after the capture are a capture filter`,
          command,
        );
      }
      throw e;
    }
  }
  return { input, select: filter === null && count === null ? undefined : { filter, count } };
}

/** What `analyze` (and `check`) read: one capture as before, or several (files, directories, globs). */
export type AnalyzeInputs =
  | ({ kind: "one" } & CaptureArgs)
  | { kind: "many"; words: string[]; filter: string | null; count: number | null };

/**
 * One capture or many. The first word is a capture, as it always was; so is every word
 * after it that names an existing file or directory, or is a glob matching capture files
 * (the shell leaves a quoted one unexpanded). The rest are a capture filter. Several
 * captures, a directory or a glob make a many-capture run, whose filter is given with -f
 * only: words after several captures could be a filter or a mistyped file.
 */
export function analyzeInputs(
  command: string,
  v: { read?: string; filter?: string; count?: string },
  positionals: string[],
): AnalyzeInputs {
  const words = [...positionals];
  const first = v.read ?? words.shift();
  if (first === undefined || first === "-" || (!namesCaptures(first) && !isGlob(first)))
    return { kind: "one", ...captureArgs(command, v, positionals) };
  const captures = [first];
  while (words.length > 0 && namesCaptures(words[0]!)) captures.push(words.shift()!);
  // `analyze a.pcap b.pcapp`: a mistyped capture would otherwise be compiled as a filter.
  if (words.length > 0 && CAPTURE_FILE.test(words[0]!))
    throw new UsageError(`${words[0]}: no such capture file (and a file name is no capture filter)`, command);
  const many = captures.length > 1 || isDirectory(first) || (isGlob(first) && !existsSync(first));
  if (!many) return { kind: "one", ...captureArgs(command, v, positionals) };
  if (words.length > 0)
    throw new UsageError(
      `"${words.join(" ")}" names no capture file, directory or glob match; with several captures, give a capture filter with -f "EXPR"`,
      command,
    );
  if (captures.includes("-")) throw new UsageError("standard input (-) goes alone, not with other captures", command);
  // Compiled here once so that a wrong expression is one usage error, not one per capture.
  const { select } = captureArgs(command, { filter: v.filter, count: v.count }, ["(captures)"]);
  return {
    kind: "many",
    words: captures,
    filter: select?.filter?.expression ?? null,
    count: select?.count ?? null,
  };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
