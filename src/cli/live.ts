/**
 * `sockscope live`: capture on an interface and report findings as they happen, and
 * `sockscope interfaces`: what can be captured on. Capture backends, the live clock and
 * the streaming analysis are in src/capture/live; this file is options and output.
 *
 * Exit codes: 0 capture ended (Ctrl-C, SIGTERM, -c, --duration), 2 usage error, or the
 * capture could not start or stopped on its own (permission, no such interface, bad
 * filter, interface lost, cap missing): one line on stderr saying what to do.
 */
import { LIVE_HELP, INTERFACES_HELP } from "./help-texts.js";
import { CAPTURE_OPTIONS, parseCommandArgs } from "./args.js";
import type { parseArgs, ParseArgsConfig } from "node:util";
import { unlinkSync } from "node:fs";
import { readSource } from "../capture/reader.js";
import { CaptureError } from "../capture/errors.js";
import { newCaptureInfo } from "../capture/reader.js";
import type { CaptureInfo } from "../capture/record.js";
import {
  DEFAULT_BUFFER_KIB,
  defaultBackend,
  makeBackend,
  totalDropped,
  type BackendName,
  type LiveBackend,
  type LiveEnd,
} from "../capture/live/backend.js";
import { LiveClock } from "../capture/live/clock.js";
import { DropWatch } from "../run/drop-watch.js";
import { LiveError } from "../capture/live/errors.js";
import { defaultInterface, listInterfaces } from "../capture/live/interfaces.js";
import { PcapWriter } from "../capture/live/pcap-writer.js";
import { PcapngWriter } from "../capture/live/pcapng-writer.js";
import { ProcessAttribution } from "../live/process/attribution.js";
import { FlowAttribution } from "../live/process/flow-attribution.js";
import { nameProcess, type FlowProcesses } from "../analyze/side-process.js";
import {
  LIVE_IDLE_SEC,
  LIVE_LINGER_SEC,
  LIVE_UDP_IDLE_SEC,
  LiveSession,
  type OngoingEvent,
} from "../run/live-session.js";
import type { Finding } from "../analyze/finding.js";
import type { EngineOptions } from "../run/packet-loop.js";
import type { FlowReport } from "../analyze/result.js";
import type { FlowFilter, Report } from "../report/model.js";
import type { FlowEndReason } from "../decode/flow/lifecycle.js";
import { linkTypeName } from "../capture/link.js";
import { compressFrames, indentWrap, renderText } from "../report/text.js";
import { styleFor, type Style } from "../report/style.js";

import { EXIT_OK, EXIT_USAGE as EXIT_FAIL } from "./exit-codes.js";
import { parseSinkUrl, SinkConfigError } from "../sink/clickhouse-target.js";

/** How often finished flows are ended, ongoing conditions checked (and -w flushed), ms of wall time. */
const TICK_MS = 250;

class LiveUsageError extends Error {}

const LIVE_OPTIONS = {
  interface: { type: "string", short: "i" },
  filter: { type: "string", short: "f" },
  snaplen: { type: "string", short: "s" },
  count: { type: "string", short: "c" },
  numeric: CAPTURE_OPTIONS.numeric,
  duration: { type: "string" },
  write: { type: "string", short: "w" },
  via: { type: "string" },
  "buffer-size": { type: "string", short: "B" },
  format: { type: "string", short: "F" },
  flow: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  brief: { type: "boolean" },
  "idle-timeout": { type: "string" },
  "udp-timeout": { type: "string" },
  linger: { type: "string" },
  "max-flows": { type: "string" },
  msl: { type: "string" },
  "frag-timeout": { type: "string" },
  "max-frag-datagrams": { type: "string" },
  "max-frag-bytes": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  "no-process": { type: "boolean" },
  "no-color": { type: "boolean" },
  sink: { type: "string" },
  "sink-password-file": { type: "string" },
  "sink-spool": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

function wholeNumber(name: string, s: string, min = 0): number {
  if (!/^\d+$/.test(s) || Number(s) < min)
    throw new LiveUsageError(`${name} takes a whole number${min > 0 ? ` of at least ${min}` : ""}, not "${s}"`);
  return Number(s);
}

function seconds(name: string, s: string, allowZero = false): number {
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0) || s.trim() === "")
    throw new LiveUsageError(`${name} takes a number of seconds, not "${s}"`);
  return v;
}

function usageFail(message: string, command: string): number {
  process.stderr.write(`sockscope: ${message} (see sockscope ${command} --help)\n`);
  return EXIT_FAIL;
}

function localTime(t: number): string {
  const d = new Date(t * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function flowTitle(fr: FlowReport): string {
  return `flow ${fr.id} ${fr.proto} ${fr.client}${fr.rolesGuessed ? " ?" : ""} → ${fr.server}`;
}

function severityLabel(f: Finding, st: Style): string {
  const label = f.severity.toUpperCase();
  return f.severity === "error" ? st.red(st.bold(label)) : f.severity === "warning" ? st.yellow(label) : st.dim(label);
}

export function formatFinding(f: Finding, fr: FlowReport | null, st: Style, brief: boolean): string {
  const frames =
    f.frames.length === 0 ? "" : ` [frames ${compressFrames(f.frames)}${f.count > f.frames.length ? ", …" : ""}]`;
  const lines = [
    `${st.dim(localTime(f.time))} ${severityLabel(f, st)} ${st.cyan(f.kind)}  ${st.bold(fr ? flowTitle(fr) : "capture-wide")}${f.side ? ` (${f.side})` : ""}`,
    indentWrap(`${f.summary}${frames}`, 2, 96),
  ];
  const programs = programsLine(fr?.process, f.side);
  if (programs !== "") lines.push(indentWrap(programs, 2, 96));
  if (!brief) {
    lines.push(indentWrap(f.explanation, 6, 96));
    lines.push(st.dim(`      see ${f.references.join("; ")}`));
  }
  return lines.join("\n");
}

/**
 * Which programs a flow's sides are, as live attribution found them: the side a finding
 * names first ("server: pid 4242 (`python3 server.py`, user root)"), then the other.
 */
export function programsLine(p: FlowProcesses | undefined, side: string | null = null): string {
  if (p === undefined) return "";
  const order: ("client" | "server")[] = side === "server" ? ["server", "client"] : ["client", "server"];
  return order
    .filter((s) => p[s] !== null)
    .map((s) => `${s}: ${nameProcess(p[s]!)}`)
    .join("; ");
}

/**
 * A condition holding on an open connection: its kind, flow and side as a finding's
 * header, marked "[ongoing 3.2s]" (or "[still ongoing …]"), and what is happening; no
 * explanation, the finding that follows when the flow ends has it. "over": one dim line.
 */
export function formatOngoing(e: OngoingEvent, st: Style): string {
  const elapsed = `${e.elapsedSec.toFixed(1)}s`;
  const nth = e.episode === 1 ? "" : `, ${e.episode}th time on this flow`;
  const head = `${localTime(e.time)} ${e.state === "over" ? `[over${nth}]` : `[${e.state === "still" ? "still " : ""}ongoing ${elapsed}${nth}]`}`;
  const where = `${flowTitle(e.flow)} (${e.side})`;
  if (e.state === "over") return st.dim(`${head} ${e.kind}  ${where}: ${e.summary}`);
  const label = e.severity === "error" ? st.red(st.bold(head)) : st.yellow(head);
  const lines = [`${label} ${st.cyan(e.kind)}  ${st.bold(where)}`, indentWrap(e.summary, 2, 96)];
  if (e.kernel !== null) lines.push(indentWrap(e.kernel, 2, 96));
  else {
    const programs = programsLine(e.flow.process, e.side);
    if (programs !== "") lines.push(indentWrap(programs, 2, 96));
  }
  return lines.join("\n");
}

const WHY: Record<FlowEndReason, string> = {
  closed: "closed",
  idle: "idle",
  replaced: "4-tuple reused by a new connection",
  gap: "its 4-tuple's next packet came after a long gap: another flow",
  evicted: "evicted: flow table full",
  "capture-end": "capture end",
};

function formatFlowEnd(fr: FlowReport, why: FlowEndReason, now: number, st: Style): string {
  const close = fr.close === null ? "" : fr.close.first === null ? ", open" : `, ${fr.close.first} ${fr.close.how}`;
  const state = fr.state === null ? "" : `, ${fr.state.client} / ${fr.state.server}`;
  return st.dim(
    `${localTime(now)} ${flowTitle(fr)} ended (${WHY[why]}): frames ${fr.firstFrame}-${fr.lastFrame}, ` +
      `${fr.packets.client}/${fr.packets.server} packets, ${fr.bytes.client}/${fr.bytes.server} bytes, ${fr.durationSec.toFixed(3)} s${close}${state}`,
  );
}

/** Writes lines to stdout as they come; a closed pipe (| head) stops the capture quietly. */
class LineOut {
  closed = false;
  constructor(onClosed: () => void) {
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") {
        this.closed = true;
        onClosed();
        return;
      }
      throw e;
    });
  }
  line(s: string): void {
    if (!this.closed) process.stdout.write(s + "\n");
  }
  async drain(): Promise<void> {
    if (!this.closed && process.stdout.writableNeedDrain) await new Promise((r) => process.stdout.once("drain", r));
  }
}

export async function liveCommand(args: string[]): Promise<number> {
  let v: ReturnType<typeof parseArgs<{ options: typeof LIVE_OPTIONS; allowPositionals: true }>>["values"];
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseCommandArgs("live", args, LIVE_OPTIONS));
  } catch (e) {
    return usageFail((e as Error).message, "live");
  }
  if (v.help) {
    process.stdout.write(LIVE_HELP + "\n");
    return EXIT_OK;
  }
  let o: ReturnType<typeof liveOptions>;
  try {
    o = liveOptions(v, positionals);
  } catch (e) {
    if (e instanceof LiveUsageError) return usageFail(e.message, "live");
    throw e;
  }
  try {
    return await runLive(o);
  } catch (e) {
    if (e instanceof LiveError) {
      process.stderr.write(`sockscope: ${e.message}\n`);
      return EXIT_FAIL;
    }
    throw e;
  }
}

function liveOptions(v: Record<string, string | boolean | undefined>, positionals: string[]) {
  const s = (k: string) => v[k] as string | undefined;
  const via = (s("via") ?? defaultBackend()) as BackendName;
  if (!["cap", "tcpdump", "dumpcap"].includes(via))
    throw new LiveUsageError(`--via must be cap, tcpdump or dumpcap, not "${via}"`);
  const format = s("format") ?? "text";
  if (format !== "text" && format !== "jsonl") throw new LiveUsageError("--format must be text or jsonl");
  if (s("filter") !== undefined && positionals.length > 0)
    throw new LiveUsageError("give the capture filter once: -f EXPR or words after the options, not both");
  const filter = (s("filter") ?? positionals.join(" ")).trim();
  const maxSnap = via === "cap" ? 65535 : 262144;
  const snapLen = s("snaplen") === undefined ? maxSnap : wholeNumber("-s/--snaplen", s("snaplen")!);
  if (snapLen > maxSnap) throw new LiveUsageError(`-s/--snaplen: at most ${maxSnap} with --via ${via}`);
  const ff: FlowFilter = {};
  if (s("flow") !== undefined) ff.flow = wholeNumber("--flow", s("flow")!, 1);
  if (s("port") !== undefined) {
    ff.port = wholeNumber("--port", s("port")!);
    if (ff.port > 65535) throw new LiveUsageError("--port must be 0-65535");
  }
  if (s("host") !== undefined) ff.host = s("host")!;
  const engine: EngineOptions = {};
  if (s("msl") !== undefined) engine.analyzer = { mslSec: seconds("--msl", s("msl")!) };
  if (s("max-flows") !== undefined) engine.maxFlows = wholeNumber("--max-flows", s("max-flows")!, 1);
  if (s("frag-timeout") !== undefined) engine.fragmentTimeoutSec = seconds("--frag-timeout", s("frag-timeout")!);
  if (s("max-frag-datagrams") !== undefined)
    engine.maxPendingDatagrams = wholeNumber("--max-frag-datagrams", s("max-frag-datagrams")!, 1);
  if (s("max-frag-bytes") !== undefined)
    engine.maxFragmentBytes = wholeNumber("--max-frag-bytes", s("max-frag-bytes")!, 1);
  let sink = null;
  try {
    if (s("sink") !== undefined)
      sink = { target: parseSinkUrl(s("sink")!, s("sink-password-file")), spool: s("sink-spool") };
  } catch (e) {
    if (e instanceof SinkConfigError) throw new LiveUsageError(e.message);
    throw e;
  }
  return {
    via,
    sink,
    iface: s("interface"),
    filter,
    snapLen: snapLen === 0 ? maxSnap : snapLen,
    count: s("count") === undefined ? undefined : wholeNumber("-c/--count", s("count")!, 1),
    durationSec: s("duration") === undefined ? undefined : seconds("--duration", s("duration")!),
    write: s("write"),
    bufferBytes:
      (s("buffer-size") === undefined
        ? DEFAULT_BUFFER_KIB[via]
        : wholeNumber("-B/--buffer-size", s("buffer-size")!, 1)) * 1024,
    format: format as "text" | "jsonl",
    flowFilter: ff,
    brief: v.brief === true,
    quiet: v.quiet === true,
    attribute: v["no-process"] !== true && process.platform === "linux",
    noColor: v["no-color"] === true,
    engine,
    expire: {
      idleSec: s("idle-timeout") === undefined ? LIVE_IDLE_SEC : seconds("--idle-timeout", s("idle-timeout")!),
      udpIdleSec: s("udp-timeout") === undefined ? LIVE_UDP_IDLE_SEC : seconds("--udp-timeout", s("udp-timeout")!),
      lingerSec: s("linger") === undefined ? LIVE_LINGER_SEC : seconds("--linger", s("linger")!, true),
    },
  };
}

type StopReason = "SIGINT" | "SIGTERM" | "count" | "duration" | "stdout closed" | "write failed" | null;

/**
 * Process attribution for this capture. Reading other users' /proc/<pid>/fd needs root:
 * without it, said once, and only the user's own programs are named.
 */
function startAttribution(quiet: boolean): FlowAttribution {
  if (process.getuid?.() !== 0 && !quiet)
    process.stderr.write(
      "sockscope: naming the program behind each socket needs root (other users' /proc/<pid>/fd): only your own processes are named\n",
    );
  return new FlowAttribution(new ProcessAttribution());
}

async function runLive(o: ReturnType<typeof liveOptions>): Promise<number> {
  const iface = o.iface ?? defaultInterface(listInterfaces());
  const backend: LiveBackend = makeBackend(o.via, {
    iface,
    filter: o.filter,
    snapLen: o.snapLen,
    bufferBytes: o.bufferBytes,
  });
  let writer: PcapWriter | null = null;
  let stopReason: StopReason = null;
  const stop = (why: Exclude<StopReason, null>): void => {
    if (stopReason === null) {
      stopReason = why;
      backend.stop();
    } else if (why === "SIGINT" || why === "SIGTERM") backend.kill(); // a second Ctrl-C: now
  };
  const onSigint = () => stop("SIGINT"),
    onSigterm = () => stop("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  const status = (s: string) => {
    if (!o.quiet) process.stderr.write(`sockscope: ${s}\n`);
  };
  try {
    if (o.write !== undefined) {
      try {
        writer = o.write.toLowerCase().endsWith(".pcap")
          ? new PcapWriter(o.write, o.snapLen)
          : new PcapngWriter(o.write, o.snapLen, iface);
      } catch (e) {
        backend.kill();
        throw new LiveError(
          `-w ${o.write}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        );
      }
    }
    try {
      await backend.start();
    } catch (e) {
      if (writer !== null) {
        try {
          writer.close(1);
          unlinkSync(o.write!);
        } catch {
          /* nothing to keep */
        }
      }
      throw e;
    }
    if (stopReason !== null) backend.stop(); // Ctrl-C while starting
    status(
      `listening on ${iface}${o.filter ? ` (filter "${o.filter}")` : ""} via ${backend.description}` +
        `${writer ? `, saving to ${o.write}` : ""}; Ctrl-C to stop and print the summary`,
    );
    try {
      return await capture(o, iface, backend, writer, stop, () => stopReason);
    } catch (e) {
      // A bug while reading: do not leave the capture process (root tcpdump) running.
      backend.kill();
      await backend.source.close().catch(() => undefined);
      throw e;
    }
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}

async function capture(
  o: ReturnType<typeof liveOptions>,
  iface: string,
  backend: LiveBackend,
  writer: PcapWriter | null,
  stop: (why: Exclude<StopReason, null>) => void,
  stopReason: () => StopReason,
): Promise<number> {
  const st = styleFor(process.stdout, o.noColor);
  const clock = new LiveClock();
  const out = new LineOut(() => stop("stdout closed"));
  const jsonl = o.format === "jsonl";
  // --sink: rows as flows end and findings fire (sink/live-sink.ts; spooled while the server is away).
  const sink =
    o.sink === null
      ? null
      : await (await import("../sink/live-sink.js")).startLiveSink(o.sink, iface, (line) =>
          process.stderr.write(`sockscope: ${line}\n`),
        );
  const processes = o.attribute ? startAttribution(o.quiet) : null;
  const session = new LiveSession({
    processes,
    engine: o.engine,
    filter: o.flowFilter,
    expire: o.expire,
    writer,
    count: o.count,
    onCountReached: () => stop("count"),
    onFinding: (f, fr) => {
      sink?.finding(f, fr);
      if (jsonl)
        out.line(
          JSON.stringify({
            type: "finding",
            ...f,
            proto: fr?.proto ?? null,
            client: fr?.client ?? null,
            server: fr?.server ?? null,
            process: fr?.process ?? null,
          }),
        );
      else out.line(formatFinding(f, fr, st, o.brief));
    },
    onOngoing: (e) => {
      if (jsonl) {
        const { flow, ...rest } = e;
        out.line(
          JSON.stringify({
            type: "ongoing",
            ongoing: e.state !== "over",
            ...rest,
            flow: flow.id,
            proto: flow.proto,
            client: flow.client,
            server: flow.server,
            process: flow.process ?? null,
          }),
        );
      } else if (e.state !== "over" || !o.quiet) {
        out.line(formatOngoing(e, st));
      }
    },
    onFlowEnd: (fr, why) => {
      sink?.flowEnded(fr, why);
      if (why === "capture-end") return; // in the summary's flow table
      if (jsonl) out.line(JSON.stringify({ type: "flow", why, ...fr }));
      else if (!o.quiet) out.line(formatFlowEnd(fr, why, clock.now(), st));
    },
  });
  const timer = setInterval(() => {
    session.tick(clock.now());
    if (writer?.failure) stop("write failed");
  }, TICK_MS);
  const drops = new DropWatch(session, clock, (line) => {
    // About the results, not progress: said even with -q.
    if (jsonl) out.line(JSON.stringify({ type: "drops", ...line }));
    process.stderr.write(`sockscope: warning: ${line.message}\n`);
  });
  backend.onStats = (stats) => drops.update(stats);
  const deadline = o.durationSec === undefined ? null : setTimeout(() => stop("duration"), o.durationSec * 1000);
  let info: CaptureInfo;
  try {
    info = await readSource(backend.source, session.onPacket, { chunkSize: 1 << 20 });
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    info = newCaptureInfo(backend.source.name); // the capture process ended before its first byte
  } finally {
    clearInterval(timer);
    if (deadline !== null) clearTimeout(deadline);
  }
  const end = await backend.ended;
  drops.update(end.stats, true);
  session.finish();
  await sink?.finish(session.packets);
  const linkType = info.interfaces[0]?.linkType ?? 1;
  writer?.close(linkType);
  const report = liveReport(session, info, iface, o, backend, end, linkType);
  if (jsonl) {
    // Findings streamed before the drops that make their evidence incomplete were known.
    const incomplete = report.findings
      .filter((f) => f.measure.captureDroppedPackets !== undefined)
      .map((f) => ({
        flow: f.flow,
        kind: f.kind,
        frame: f.frames[0] ?? null,
        captureDroppedPackets: f.measure.captureDroppedPackets,
      }));
    out.line(
      JSON.stringify({
        type: "end",
        stoppedBy: end.error ? "error" : (stopReason() ?? "end of stream"),
        capture: report.capture,
        live: liveFacts(session, backend, end, writer, o),
        findingsWithIncompleteEvidence: incomplete,
        warnings: report.warnings,
      }),
    );
  } else {
    out.line("");
    out.line(st.bold(`Summary${stopReason() ? ` (${stopReason() === "SIGINT" ? "Ctrl-C" : stopReason()})` : ""}`));
    // Findings were printed as they came: the closing report summarises them past the threshold.
    out.line(renderText(report, { style: st, brief: true }).trimEnd());
    out.line("");
    out.line(renderLiveSection(session, backend, end, writer, o, st));
  }
  await out.drain();
  // Packets lost and findings that may be wrong are about the results: said even with -q.
  for (const w of report.warnings.filter((w) => /dropped \d|packet\(s\) dropped|capture dropped packets/.test(w)))
    process.stderr.write(`sockscope: warning: ${w}\n`);
  if (writer?.failure) {
    const e = writer.failure;
    process.stderr.write(
      `sockscope: -w ${o.write}: cannot write (${e.code === "ENOSPC" ? "ENOSPC, the disk is full" : (e.code ?? e.message)}): ` +
        `capture stopped; the file holds the first ${writer.savedPackets} packet(s) of ${session.packets}, a valid capture\n`,
    );
    return EXIT_FAIL;
  }
  if (end.error !== null) {
    process.stderr.write(`sockscope: ${end.error.message}\n`);
    return EXIT_FAIL;
  }
  return EXIT_OK;
}

function liveFacts(
  session: LiveSession,
  backend: LiveBackend,
  end: LiveEnd,
  writer: PcapWriter | null,
  o: ReturnType<typeof liveOptions>,
) {
  return {
    backend: backend.name,
    timestamps: backend.timestamps,
    program: backend.description,
    packets: session.packets,
    counters: end.stats,
    dropped: totalDropped(end.stats),
    flowsEndedWhileCapturing: session.flowsEndedLive,
    flowsOpenAtEnd: session.flowsOpenAtEnd,
    findings: session.findingsReported,
    expire: session.expire,
    saved:
      writer === null
        ? null
        : {
            file: o.write,
            packets: writer.failure ? writer.savedPackets : writer.packets,
            error: writer.failure?.code ?? null,
          },
  };
}

function liveReport(
  session: LiveSession,
  info: CaptureInfo,
  iface: string,
  o: ReturnType<typeof liveOptions>,
  backend: LiveBackend,
  end: LiveEnd,
  linkType: number,
): Report {
  const r = session.report(info);
  r.capture.file = `${iface} (live${o.filter ? `, filter "${o.filter}"` : ""})`;
  r.capture.format = `live via ${backend.name}, ${backend.timestamps === "delivery" ? "timestamps taken on delivery" : "kernel timestamps"}`;
  if (r.capture.linkTypes.length === 0) r.capture.linkTypes = [linkTypeName(linkType)];
  const s = end.stats;
  if ((s.droppedByKernel ?? 0) > 0 || (s.droppedByInterface ?? 0) > 0) {
    r.warnings.push(
      `the kernel dropped ${s.droppedByKernel ?? 0} packet(s)${s.droppedByInterface ? ` and the interface ${s.droppedByInterface}` : ""} ` +
        `(libpcap's counters): findings may be missing or wrong; narrow the capture filter (-f) or raise the buffer (-B)` +
        // The kernel counts a loopback packet going out and coming in; libpcap keeps one copy.
        (iface === "lo" ? `; on lo the kernel counts each packet twice, so about half as many were lost` : ""),
    );
  }
  if ((s.droppedBySockscope ?? 0) > 0) {
    r.warnings.push(
      `${s.droppedBySockscope} packet(s) dropped because the analysis fell behind the capture: findings may be missing or wrong; narrow the capture filter (-f)`,
    );
  }
  if (!s.kernelDropsKnown) {
    r.warnings.push(
      `${backend.name} cannot read the kernel's drop counter: packets the kernel dropped are not counted here ` +
        `(measured: up to 8 % at 100 k packets/s with the default -B); --via tcpdump counts them`,
    );
  }
  if (s.wallOffsetMs !== null && Math.abs(s.wallOffsetMs) > 100) {
    r.warnings.push(
      `the wall clock moved ${(s.wallOffsetMs / 1000).toFixed(3)} s against the monotonic clock during the capture (a clock step): times are monotonic from the start`,
    );
  }
  return r;
}

function renderLiveSection(
  session: LiveSession,
  backend: LiveBackend,
  end: LiveEnd,
  writer: PcapWriter | null,
  o: ReturnType<typeof liveOptions>,
  st: Style,
): string {
  const s = end.stats;
  const lines = [st.bold("Live capture")];
  lines.push(`  backend: ${backend.description}`);
  if (backend.timestamps === "delivery") {
    lines.push("  timestamps: taken when each packet was delivered to sockscope, not by the kernel (cap gives none):");
    lines.push("    a little later than the kernel's (see README, Live capture); --via tcpdump for kernel timestamps");
  } else {
    lines.push(`  timestamps: the kernel's, from ${backend.name}`);
  }
  if (s.receivedByFilter !== null || s.droppedByKernel !== null) {
    lines.push(
      `  packets: ${session.packets} analysed; ${backend.name}: ${s.delivered ?? "?"} captured, ${s.receivedByFilter ?? "?"} received by filter, ` +
        `${s.droppedByKernel ?? "?"} dropped by kernel${s.droppedByInterface !== null ? `, ${s.droppedByInterface} dropped by interface` : ""}`,
    );
  } else {
    lines.push(
      `  packets: ${session.packets} analysed; the kernel's drops: not counted, libpcap's counters are not available through cap ` +
        `(--via tcpdump reports them); ${s.droppedByInterface ?? "?"} dropped by interface, ${s.droppedBySockscope ?? 0} dropped by sockscope (analysis fell behind)`,
    );
  }
  lines.push(`  dropped: ${totalDropped(s)} packet(s) in all${s.kernelDropsKnown ? "" : " that could be counted"}`);
  lines.push(
    `  flows: ${session.flowsEndedLive} ended while capturing (closed and quiet ${session.expire.lingerSec} s, or idle ` +
      `${session.expire.idleSec} s TCP / ${session.expire.udpIdleSec} s UDP), ${session.flowsOpenAtEnd} open at the end`,
  );
  lines.push(
    `  findings: ${session.findingsReported}, each printed with its explanation as it was reported (sockscope explain KIND repeats it)`,
  );
  if (writer !== null) {
    lines.push(
      writer.failure
        ? `  saved: ${o.write} (the first ${writer.savedPackets} packets, ${writer.format}; writing failed: ${writer.failure.code ?? writer.failure.message})`
        : `  saved: ${o.write} (${writer.packets} packets, ${writer.format}${writer instanceof PcapngWriter ? `, ${writer.withProcess} with their sending process` : ""}; frame numbers as above)`,
    );
  }
  return lines.join("\n");
}

export async function interfacesCommand(args: string[]): Promise<number> {
  let v: { format?: string; help?: boolean };
  try {
    let positionals: string[];
    ({ values: v, positionals } = parseCommandArgs("interfaces", args, {
      format: { type: "string", short: "F" },
      help: { type: "boolean", short: "h" },
    }));
    if (positionals.length > 0)
      return usageFail(`interfaces takes no arguments (got "${positionals[0]}")`, "interfaces");
  } catch (e) {
    return usageFail((e as Error).message, "interfaces");
  }
  if (v.help) {
    process.stdout.write(INTERFACES_HELP + "\n");
    return EXIT_OK;
  }
  const format = v.format ?? "text";
  if (format !== "text" && format !== "json") return usageFail("--format must be text or json", "interfaces");
  const list = listInterfaces();
  if (format === "json") {
    process.stdout.write(JSON.stringify(list, null, 2) + "\n");
    return EXIT_OK;
  }
  const w = Math.max(4, ...list.interfaces.map((i) => i.name.length));
  const rows = list.interfaces.map((i) => {
    const state = i.up === null ? "-" : i.up ? "up" : "down";
    const what = [i.loopback ? "loopback" : "", i.addresses.join(", "), i.description ?? ""]
      .filter((x) => x !== "")
      .join("  ");
    return `${i.name.padEnd(w)}  ${state.padEnd(4)}  ${what}`;
  });
  process.stdout.write(rows.join("\n") + "\n");
  if (list.note !== null) process.stderr.write(`sockscope: listed from the system, not libpcap: ${list.note}\n`);
  return EXIT_OK;
}
