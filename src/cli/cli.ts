/**
 * The `sockscope` command: argument parsing, wiring and exit codes, nothing else.
 *
 * Exit codes: 0 analysed (warnings may have been printed), 1 a check failed (reserved
 * for `sockscope check`), 2 usage error or input that could not be read as a capture,
 * 70 internal error, 130/143 a second SIGINT/SIGTERM (cli/interrupt.ts); the README's table.
 */
import type { ParseArgsConfig } from "node:util";
import { createRequire } from "node:module";
import { CaptureError } from "../capture/errors.js";
import type { CaptureInfo } from "../capture/record.js";
import { FilterError } from "../capture/filter/compile.js";
import type { PacketSelection } from "../capture/filter/select.js";
import {
  analyzeCapture,
  defaultJobs,
  jobsFor,
  MIN_BYTES_PER_JOB,
  runCapture,
  type RunOptions,
} from "../run/pipeline.js";
import {
  analysisWarnings,
  buildReport,
  buildReportFrom,
  hasFilter,
  matchesFilter,
  type FlowFilter,
  type Report,
} from "../report/model.js";
import { engineResult, flowReport, flowReports } from "../analyze/result.js";
import { captureHost } from "../report/combined.js";
import { reportJsonLines } from "../report/json.js";
import { formatPacketText, packetLine } from "../report/packets.js";
import { styleFor } from "../report/style.js";
import { Progress } from "./progress.js";
import { formatSize } from "./size.js";
import { exitQuietlyOnClosedPipe, Output, writeLinesToFile } from "./output.js";
import { spoolStdin } from "./spool.js";
import { noteLateInterruption, stopOnSignal } from "./interrupt.js";
import { printCaptureProblems } from "./capture-problems.js";
import { CHECK_HELP, INTERFACES_HELP, LIVE_HELP } from "./help-texts.js";
import { CAPTURE_OPTIONS, UsageError, analyzeInputs, captureArgs, parseCommandArgs } from "./args.js";

import { EXIT_OK, EXIT_USAGE } from "./exit-codes.js";
import { SinkConfigError, SinkError } from "../sink/clickhouse-target.js";
import { SINK_HELP } from "../sink/help.js";

const VERSION: string = (createRequire(import.meta.url)("../../package.json") as { version: string }).version;

const COMMON_OPTIONS = {
  ...CAPTURE_OPTIONS,
  format: { type: "string", short: "F" },
  flow: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  "no-color": { type: "boolean" },
  msl: { type: "string" },
  "max-flows": { type: "string" },
  "frag-timeout": { type: "string" },
  "max-frag-datagrams": { type: "string" },
  "max-frag-bytes": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** What to read and which packets of it, the same for analyze, flows and packets (tcpdump's options). */
const SELECT_HELP = `Reading, as tcpdump does:
  -r FILE                  the capture to read (or give it as the first word; - is standard input)
  FILTER, -f FILTER        the words after the capture: a capture filter in tcpdump's syntax
                           ("tcp port 5020"), compiled by libpcap (through tcpdump, which must be
                           installed); only the packets it matches are analysed. Frame numbers
                           stay those of the whole file
  -c N                     only the first N packets (of those the filter matches)
  -n                       accepted as tcpdump's -n; sockscope never resolves names`;

const HELP: Record<string, string> = {
  main: `sockscope ${VERSION}: explains, in socket-API terms, what TCP and UDP programs did in a packet capture.

Usage: sockscope <command> [options] <file.pcap|file.pcapng|-> [capture filter]

Commands:
  analyze   capture summary, flow table and findings with explanations (the main job)
  flows     the flow table only
  packets   one line per packet, with flow, direction, flags and finding tags
  explain   what a finding kind means (sockscope explain zero-window); no kind: list all
  live      capture on an interface, findings as they happen, summary at Ctrl-C (root)
  interfaces  the interfaces live can capture on, with their addresses
  check     hold captures to their expectations files (regression checks in CI); --update writes them

Options for every command: --help, --version. Run 'sockscope <command> --help' for more.
Exit codes: 0 analysed (also after a first Ctrl-C, with what was read), 1 a check failed
(check), 2 usage error or unreadable input, 70 internal error (a bug: please report it),
130 or 143 a second Ctrl-C, or SIGTERM, while the first was being finished.`,
  analyze: `Usage: sockscope analyze [options] <file|-> [FILTER]   (or -r FILE [FILTER])
       sockscope analyze [options] [-f FILTER] <file|dir|glob>...   (many captures)

Reads a pcap or pcapng capture ("-" for standard input, e.g. tcpdump -U -w - | sockscope analyze -)
and prints a capture summary, the flow table and the findings, each with its explanation.

Many captures (several files, a directory's .pcap/.pcapng/.cap files without its
subdirectories, or a glob, quoted or not): each is analysed whole by one of --jobs threads,
and one report holds each capture's own report with its file, host and content hash, then
a table of the captures (JSON: schema sockscope.reports/1). A capture filter goes with -f.
A capture that cannot be read is named on stderr and the run exits 2, after the report of
the others.

${SELECT_HELP}

Options:
  -F, --format FORMAT      text (default), json (schema sockscope.report/1), html (one
                           self-contained page with per-flow graphs; give -o or redirect), or
                           ndjson-ecs (one JSON line per flow and per finding, Elastic Common
                           Schema field names and the Community ID, for Filebeat/Vector/Logstash)
  -o, --output FILE        write the report to FILE instead of standard output
      --capture-host NAME  the host the capture was taken on (ndjson-ecs host.name, observer.hostname;
                           many captures: each one's host); {dir} stands for the directory a capture is in
      --brief              findings' one-line summaries only, no explanations
      --all                list every finding by flow; by default, past 40 findings the text
                           report summarises them by kind with one example each
  -j, --jobs N             worker threads for text and JSON reports (default: one per core,
                           at most 4, for capture files over 512 MB, else 1); the report is
                           the same for any N (captures with IP fragments or several VLANs,
                           and a capture filter or -c, are analysed on one thread). Many captures:
                           captures analysed at once, one thread each (default: one per core)
      --flow ID            only this flow (ids as in the flow table)
      --host ADDR          only flows with this address at either end
      --port N             only flows with this port at either end
      --msl SECONDS        maximum segment lifetime; TIME_WAIT lasts 2·MSL (default: each closing host's
                           own stack's, e.g. 60 s on Linux, 30 s on macOS, 120-240 s on Windows)
      --max-flows N        flows tracked at once (default 75000); when full, closed flows and
                           flows idle for 60 s make room, and newer connections go untracked
      --frag-timeout S     IP reassembly timeout in seconds (default 30, as Linux's ipfrag_time)
      --max-frag-datagrams N   incomplete datagrams held at once, oldest evicted beyond (default 4096)
      --max-frag-bytes N   fragment bytes buffered at once, oldest evicted beyond (default 16777216)
${SINK_HELP}
  -q, --quiet              no progress on stderr
      --progress           many captures: progress lines on stderr even when it is not a terminal
      --no-color           no colours (also: NO_COLOR=1)`,
  flows: `Usage: sockscope flows [options] <file|-> [FILTER]   (or -r FILE [FILTER])

Prints the flow table: one row per TCP connection or UDP flow, client and server, frames,
packets and bytes per direction, who closed first and each side's final state.

${SELECT_HELP}

Options:
  -F, --format text|json   (default text; json: {"schema":"sockscope.flows/1","flows":[...]})
      --flow ID, --host ADDR, --port N   filters, as for analyze
  -q, --quiet, --no-color`,
  packets: `Usage: sockscope packets [options] <file|-> [FILTER]   (or -r FILE [FILTER])

One line per packet, tshark style: frame, time since the first packet, flow id, direction
(c→s client to server), protocol, addresses, TCP flags, relative seq/ack, window, payload
length, decode notes, and the finding kinds the frame is evidence of.

${SELECT_HELP}

Options:
  -F, --format text|jsonl  (default text; jsonl: one JSON object per line)
      --flow ID, --host ADDR, --port N   filters, as for analyze (packets outside flows are dropped)
  -q, --quiet, --no-color`,
  live: LIVE_HELP,
  interfaces: INTERFACES_HELP,
  explain: `Usage: sockscope explain [kind]

Without a kind: lists every finding kind with its one-line meaning.
With a kind: prints its catalogue entry: what it looks like on the wire, what the program
did at the socket API, what it saw, what to change, and the FAQ sections to read.`,
  check: CHECK_HELP,
};

function parseFilter(v: Record<string, unknown>): FlowFilter {
  const f: FlowFilter = {};
  if (v.flow !== undefined) f.flow = positiveInt("--flow", v.flow as string);
  if (v.port !== undefined) {
    f.port = positiveInt("--port", v.port as string);
    if (f.port > 65535) throw new UsageError("--port must be 0-65535");
  }
  if (v.host !== undefined) f.host = v.host as string;
  return f;
}

function positiveInt(name: string, s: string): number {
  if (!/^\d+$/.test(s)) throw new UsageError(`${name} takes a whole number, not "${s}"`);
  return Number(s);
}

function runOptions(v: Record<string, unknown>, progress: Progress, select: PacketSelection | undefined): RunOptions {
  const o: RunOptions = { onProgress: progress.update, select, signal: stopOnSignal() };
  if (v.msl !== undefined) {
    const msl = Number(v.msl);
    if (!(msl > 0)) throw new UsageError(`--msl takes a number of seconds, not "${String(v.msl)}"`);
    o.analyzer = { mslSec: msl };
  }
  if (v["max-flows"] !== undefined) o.maxFlows = Math.max(1, positiveInt("--max-flows", v["max-flows"] as string));
  if (v["frag-timeout"] !== undefined) {
    const t = Number(v["frag-timeout"]);
    if (!(t > 0)) throw new UsageError(`--frag-timeout takes a number of seconds, not "${String(v["frag-timeout"])}"`);
    o.fragmentTimeoutSec = t;
  }
  if (v["max-frag-datagrams"] !== undefined)
    o.maxPendingDatagrams = Math.max(1, positiveInt("--max-frag-datagrams", v["max-frag-datagrams"] as string));
  if (v["max-frag-bytes"] !== undefined)
    o.maxFragmentBytes = Math.max(1, positiveInt("--max-frag-bytes", v["max-frag-bytes"] as string));
  return o;
}

/** `--flow 9` when there is no flow 9 is a mistake to name, not an empty table: the message, or null if the flow exists. */
function missingFlow(filter: FlowFilter, flows: readonly { id: number }[], report: Report | null): string | null {
  if (filter.flow === undefined || flows.some((f) => f.id === filter.flow)) return null;
  const n = flows.length;
  const what = report === null ? "the capture" : report.capture.file;
  return `no flow ${filter.flow}: ${what} has ${n === 0 ? "no TCP or UDP flows" : n === 1 ? `1 flow (id ${flows[0]!.id})` : `${n} flows (ids ${flows[0]!.id}-${flows[n - 1]!.id})`}`;
}

function formatOf(v: Record<string, unknown>, allowed: string[]): string {
  const f = (v.format as string | undefined) ?? "text";
  if (!allowed.includes(f)) throw new UsageError(`--format must be one of ${allowed.join(", ")}`);
  return f;
}

/**
 * Prints the analysis's warnings on stderr, one line each; the capture's own problems
 * (printCaptureProblems) are not repeated. Even with --quiet, which silences progress
 * only: a warning (a full flow table, a clock jump) says the results are incomplete, as
 * tcpdump's drop count does.
 */
function reportProblems(report: Report, info: CaptureInfo): void {
  for (const w of analysisWarnings(report, info)) process.stderr.write(`sockscope: warning: ${w}\n`);
}

/** `--jobs N` as the file and machine can use it (jobsFor), saying so when that is fewer. */
function cappedJobs(requested: number, input: string, quiet: boolean): number {
  const { jobs, cappedBy, size, cores } = jobsFor(input, requested);
  if (cappedBy === null || quiet) return jobs;
  const why =
    cappedBy === "stdin"
      ? "standard input is read once, by one thread"
      : cappedBy === "size"
        ? `a ${formatSize(size!)} capture gets one thread per ${MIN_BYTES_PER_JOB >> 20} MB`
        : `this machine has ${cores} core${cores === 1 ? "" : "s"}`;
  process.stderr.write(`sockscope: --jobs ${requested}: using ${jobs} thread${jobs === 1 ? "" : "s"} (${why})\n`);
  return jobs;
}

async function analyzeCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs("analyze", args, {
    ...COMMON_OPTIONS,
    brief: { type: "boolean" },
    all: { type: "boolean" },
    jobs: { type: "string", short: "j" },
    output: { type: "string", short: "o" },
    "capture-host": { type: "string" },
    progress: { type: "boolean" },
    sink: { type: "string" },
    "sink-password-file": { type: "string" },
  });
  if (v.help) return help("analyze");
  const format = formatOf(v, ["text", "json", "html", "ndjson-ecs"]);
  const output = v.output;
  if (format === "html" && output === undefined && process.stdout.isTTY)
    throw new UsageError("--format html writes a page: give -o FILE.html (or redirect standard output)");
  const inputs = analyzeInputs("analyze", v, positionals);
  if (inputs.kind === "many") {
    if (v.flow !== undefined)
      throw new UsageError("--flow names a flow of one capture: give one capture, or --host/--port");
    const engine = runOptions(v, new Progress(false), undefined);
    // --sink: the server is asked once before any capture (one that is away fails the run at
    // once); each capture is then stored by the thread that analysed it.
    const sink =
      v.sink === undefined
        ? undefined
        : await (await import("../sink/analyze-sink.js")).threadSinkSpec({
            url: v.sink,
            passwordFile: v["sink-password-file"],
            flowFiltered: hasFilter(parseFilter(v)),
            version: VERSION,
          });
    return (await import("./many-captures.js")).analyzeMany({
      words: inputs.words,
      format,
      output,
      jobs: v.jobs === undefined ? undefined : positiveInt("--jobs", v.jobs),
      quiet: v.quiet === true,
      progress: v.progress === true,
      captureHost: v["capture-host"],
      text: {
        style: styleFor(process.stdout, v["no-color"] === true || output !== undefined),
        brief: v.brief === true,
        all: v.all === true,
      },
      capture: {
        engine: {
          analyzer: engine.analyzer,
          maxFlows: engine.maxFlows,
          fragmentTimeoutSec: engine.fragmentTimeoutSec,
          maxPendingDatagrams: engine.maxPendingDatagrams,
          maxFragmentBytes: engine.maxFragmentBytes,
        },
        filter: inputs.filter,
        count: inputs.count,
        flowFilter: parseFilter(v),
        sink,
      },
      signal: stopOnSignal(),
      version: VERSION,
    });
  }
  const { input, select } = inputs;
  const progress = new Progress(process.stderr.isTTY === true && !v.quiet);
  // The HTML report's graphs need per-packet series: collected only for it.
  const html = format === "html" ? await import("../report/html/index.js") : null;
  const series = html !== null ? new (await import("../run/series.js")).SeriesCollector() : null;
  const jobs =
    v.jobs === undefined ? defaultJobs(input) : cappedJobs(positiveInt("--jobs", v.jobs), input, v.quiet === true);
  // --capture-host, its `{dir}` made this capture's directory: the same name for the ECS records and the store.
  const host = captureHost(v["capture-host"], input) ?? undefined;
  // --sink: the server is asked before the analysis, so one that is away fails the run at once.
  const sink =
    v.sink === undefined
      ? null
      : await (await import("../sink/analyze-sink.js")).AnalyzeSink.start({
          url: v.sink,
          passwordFile: v["sink-password-file"],
          input,
          flowFiltered: hasFilter(parseFilter(v)),
          hostName: host,
          version: VERSION,
        });
  const { info, result, selected } = await analyzeCapture(
    input,
    series === null
      ? { ...runOptions(v, progress, select), jobs }
      : { ...runOptions(v, progress, select), observer: series.observe },
  );
  progress.done();
  if (info.error !== null && info.packets === 0) {
    await sink?.close();
    return fail(info.error);
  }
  noteLateInterruption(info, stopOnSignal());
  const filter = parseFilter(v);
  const report = buildReportFrom(info, result, filter, selected?.summary() ?? null);
  const noFlow = missingFlow(filter, result.flows, report);
  if (noFlow !== null) return fail(noFlow);
  // JSON goes out line by line: one string of a big capture's report would not fit in memory.
  const lines: Iterable<string> =
    format === "json"
      ? reportJsonLines(report)
      : format === "ndjson-ecs"
        ? (await import("../report/ecs.js")).ecsLines(report, {
            version: VERSION,
            hostName: host,
          })
        : [
            html !== null
              ? html.renderHtml(report, series).replace(/\n$/, "")
              : (await import("../report/text.js"))
                  .renderText(report, {
                    style: styleFor(process.stdout, v["no-color"] === true || output !== undefined),
                    brief: v.brief === true,
                    all: v.all === true,
                  })
                  .trimEnd(),
          ];
  if (output !== undefined) {
    try {
      writeLinesToFile(output, lines);
    } catch (e) {
      return fail(`cannot write ${output}: ${(e as Error).message}`);
    }
  } else {
    const out = new Output();
    for (const l of lines) out.line(l);
    await out.end();
  }
  // The report lists every warning (text, JSON and HTML alike); stderr has the capture's problems and, but for text, the rest.
  printCaptureProblems(info, "the report's warnings");
  if (format !== "text") reportProblems(report, info);
  if (sink !== null) {
    const stored = await sink.store(report, info.interrupted !== undefined);
    if (!v.quiet) process.stderr.write(`sockscope: ${stored}\n`);
  }
  return EXIT_OK;
}

async function flowsCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs("flows", args, COMMON_OPTIONS);
  if (v.help) return help("flows");
  const format = formatOf(v, ["text", "json"]);
  const { input, select } = captureArgs("flows", v, positionals);
  const progress = new Progress(process.stderr.isTTY === true && !v.quiet);
  const { info, engine, selected } = await runCapture(input, { ...runOptions(v, progress, select), analyzers: [] });
  progress.done();
  if (info.error !== null && info.packets === 0) return fail(info.error);
  noteLateInterruption(info, stopOnSignal());
  const filter = parseFilter(v);
  const result = engineResult(engine);
  const report = buildReportFrom(info, result, filter, selected?.summary() ?? null);
  const noFlow = missingFlow(filter, result.flows, report);
  if (noFlow !== null) return fail(noFlow);
  const out = new Output();
  if (format === "json") out.line(JSON.stringify({ schema: "sockscope.flows/1", flows: report.flows }, null, 2));
  else {
    const st = styleFor(process.stdout, v["no-color"] === true);
    const { renderFlowTable, renderSummary } = await import("../report/text.js"); // cli-table3: text output only
    out.line(renderSummary(report, st));
    // cli-table3 lays out a table in time quadratic in its rows: beyond this, use JSON.
    out.line(renderFlowTable(report.flows, st, 1000));
  }
  await out.end();
  // The flow list is incomplete past a full flow table, its durations skip clock jumps: said even with -q.
  printCaptureProblems(info, null);
  reportProblems(report, info);
  return EXIT_OK;
}

async function packetsCommand(args: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs("packets", args, COMMON_OPTIONS);
  if (v.help) return help("packets");
  const format = formatOf(v, ["text", "jsonl"]);
  let { input, select } = captureArgs("packets", v, positionals);
  const filter = parseFilter(v);
  const progress = new Progress(process.stderr.isTTY === true && !v.quiet);
  // Tags come from findings, which are complete only at the end of the capture: a first
  // pass analyses, a second prints. Standard input is spooled to a temporary file for it.
  // Ctrl-C stops the pass it falls in; what was read is printed (a second Ctrl-C exits).
  // A pass that starts after it reads what the interruption left (ReadOptions), as far as the first pass went.
  const signal = stopOnSignal();
  const spool = input === "-" ? await spoolStdin(signal) : null;
  const inputName = spool === null ? undefined : "(stdin)";
  if (spool !== null) input = spool.path;
  try {
    const first = await runCapture(input, { ...runOptions(v, progress, select), collectTags: true, inputName });
    progress.done();
    noteLateInterruption(first.info, signal);
    if (first.info.error !== null && first.info.packets === 0) return fail(first.info.error);
    const noFlow = filter.flow === undefined ? null : missingFlow(filter, flowReports(first.engine), null);
    if (noFlow !== null) return fail(noFlow);
    const tags = first.engine.tags!;
    const out = new Output();
    const filtering = hasFilter(filter);
    const keep = new Map<number, boolean>();
    let t0 = -1;
    const noTags: string[] = [];
    const second = await runCapture(input, {
      ...runOptions(v, new Progress(false), select),
      inputName,
      lastFrame: first.info.packets,
      analyzers: [],
      observer: (rec, p, flow, dir, seg) => {
        const time = rec.tsSec + rec.tsNsec / 1e9;
        if (t0 < 0) t0 = time;
        if (filtering) {
          if (flow === null) return;
          let k = keep.get(flow.id);
          if (k === undefined) {
            k = matchesFilter(flowReport(flow), filter);
            keep.set(flow.id, k);
          }
          if (!k) return;
        }
        const line = packetLine(rec, p, flow, dir, seg, tags.get(rec.frame) ?? noTags);
        out.line(format === "jsonl" ? JSON.stringify(line) : formatPacketText(line, t0));
      },
    });
    await out.end();
    // The packet list has no warnings of its own: the capture's problems and the analysis's (a full flow table, clock jumps) go to stderr.
    printCaptureProblems(first.info, null);
    reportProblems(buildReport(first.info, first.engine), first.info);
    // Ctrl-C while printing: the listing ends early (an earlier one is the first pass's, printed above).
    if (first.info.interrupted === undefined && second.info.interrupted !== undefined)
      process.stderr.write(`sockscope: ${second.info.interrupted}\n`);
    return EXIT_OK;
  } finally {
    spool?.remove();
  }
}

function help(topic: string): number {
  process.stdout.write(HELP[topic] + "\n");
  return EXIT_OK;
}

function fail(message: string): number {
  process.stderr.write(`sockscope: ${message}\n`);
  return EXIT_USAGE;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== "live") exitQuietlyOnClosedPipe(); // live stops its capture in order instead
  try {
    switch (cmd) {
      case undefined:
      case "-h":
      case "--help":
      case "help":
        return help(rest[0] !== undefined && HELP[rest[0]] ? rest[0] : "main");
      case "-V":
      case "--version":
      case "version":
        process.stdout.write(`sockscope ${VERSION}\n`);
        return EXIT_OK;
      case "analyze":
        return await analyzeCommand(rest);
      case "flows":
        return await flowsCommand(rest);
      case "packets":
        return await packetsCommand(rest);
      // Commands beyond the offline reports load on demand: start-up is part of every run.
      case "explain":
        return (await import("./explain.js")).explainCommand(rest, HELP.explain!);
      case "live":
        return await (await import("./live.js")).liveCommand(rest);
      case "interfaces":
        return await (await import("./live.js")).interfacesCommand(rest);
      case "check":
        return await (await import("./check.js")).checkCommand(rest);
      default:
        throw new UsageError(
          `unknown command "${cmd}"; commands: analyze, flows, packets, explain, check, live, interfaces`,
        );
    }
  } catch (e) {
    if (e instanceof CaptureError || e instanceof FilterError || e instanceof SinkError || e instanceof SinkConfigError)
      return fail(e.message);
    if (e instanceof UsageError)
      return fail(
        e.command === undefined
          ? `${e.message} (see sockscope --help)`
          : `${e.command}: ${e.message} (see sockscope ${e.command} --help)`,
      );
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A bug, not bad input: say so plainly, with the stack for the bug report.
    process.stderr.write(`sockscope: internal error (please report): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
