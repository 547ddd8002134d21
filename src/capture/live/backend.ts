/**
 * Live capture backends. Each runs a capture process that writes a pcap or pcapng stream
 * to a pipe, which the main process reads with the ordinary file reader (StreamSource →
 * readSource), so both backends feed the same pipeline as `analyze -`:
 *
 * - tcpdump / dumpcap (`--via`; tcpdump is the default when installed): the capture
 *   program, `tcpdump -i IF -U -B KIB -w - [-s N] FILTER`; kernel timestamps, and libpcap's
 *   counters every second (SIGUSR1) and when it exits. Not `--immediate-mode`: libpcap then
 *   uses a TPACKET_V2 ring of one snap-length slot (64 KiB) per packet, 128 packets in
 *   8 MiB, and lost 25-73 % of a 50 000-datagram burst at 10-100 k packets/s where the
 *   default TPACKET_V3 ring (packets packed in blocks, handed over when a block fills or
 *   after tcpdump's 1 s timeout) lost none (bench/live-loss.sh, docs/PERFORMANCE.md "Live capture").
 * - cap: our own worker process (cap-worker.ts) capturing through the cap package
 *   (libpcap); packets stamped on delivery (cap gives no kernel timestamp). cap always
 *   opens in immediate mode with a 65535-byte snap length, so its ring holds one packet
 *   per 64 KiB of -B, and it gives no access to libpcap's counters: the kernel's drops
 *   are not known (said in the summary and the JSON). The interface's drops (sysfs
 *   rx_dropped) and the worker's own queue drops are counted.
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findTcpdump } from "../programs.js";
import { StreamSource, type ByteSource } from "../source.js";
import { describeOpenError, loadCap } from "./cap.js";
import type { CapWorkerConfig } from "./cap-worker.js";
import { LiveError } from "./errors.js";
import { interfaceGone } from "./interfaces.js";

export type BackendName = "cap" | "tcpdump" | "dumpcap";

/**
 * The kernel buffer (-B) when none is given, KiB. tcpdump: its TPACKET_V3 ring packs
 * packets, 8 MiB holds ~60 000 small ones (no loss measured at 100 k packets/s). cap: one
 * 64 KiB slot per packet, so 128 MiB holds ~2 000 packets (20 ms at 100 k packets/s).
 */
export const DEFAULT_BUFFER_KIB: Record<BackendName, number> = { tcpdump: 8192, dumpcap: 8192, cap: 131072 };

/** tcpdump when installed (it loses least, and counts what it loses), else cap. */
export function defaultBackend(): BackendName {
  return findTcpdump() !== null ? "tcpdump" : "cap";
}

export interface LiveStats {
  /** Packets the capture process handed to sockscope, when it says. */
  delivered: number | null;
  /** libpcap's counters (pcap_stats), when the backend reports them. */
  receivedByFilter: number | null;
  droppedByKernel: number | null;
  droppedByInterface: number | null;
  /** Packets the cap worker dropped because the analysis fell behind (64 MiB queued). */
  droppedBySockscope: number | null;
  /** False when the backend cannot see the kernel's drop counter (cap): drops there go uncounted. */
  kernelDropsKnown: boolean;
  /** Wall clock minus the stamping clock at the end, ms (cap: shows a stepped wall clock). */
  wallOffsetMs: number | null;
}

export interface LiveEnd {
  stats: LiveStats;
  /** Why the capture stopped on its own (interface lost, capture program failed); null if asked to stop. */
  error: LiveError | null;
}

export interface BackendConfig {
  iface: string;
  filter: string;
  snapLen: number;
  bufferBytes: number;
}

export interface LiveBackend {
  readonly name: BackendName;
  /** "delivery": stamped when sockscope received the packet; "kernel": the kernel's timestamps. */
  readonly timestamps: "delivery" | "kernel";
  readonly source: ByteSource;
  /** Resolves once the interface is open and capturing; rejects with a LiveError otherwise. */
  start(): Promise<void>;
  /** Asks the capture to stop; the stream then ends after the packets already captured. */
  stop(): void;
  /** Stops at once (second Ctrl-C). */
  kill(): void;
  /** Settles when the capture process has exited. */
  readonly ended: Promise<LiveEnd>;
  /** The program line, for the report. */
  readonly description: string;
  /** Called about once a second while capturing with the counters so far (cumulative). */
  onStats: ((stats: LiveStats) => void) | null;
}

function emptyStats(kernelDropsKnown: boolean): LiveStats {
  return {
    delivered: null,
    receivedByFilter: null,
    droppedByKernel: null,
    droppedByInterface: null,
    droppedBySockscope: null,
    kernelDropsKnown,
    wallOffsetMs: null,
  };
}

/** Every drop the counters show: kernel, interface and sockscope's own queue. */
export function totalDropped(s: LiveStats): number {
  return (s.droppedByKernel ?? 0) + (s.droppedByInterface ?? 0) + (s.droppedBySockscope ?? 0);
}

/** The interface's receive drops so far (sysfs rx_dropped, what libpcap reports as ps_ifdrop), or null. */
function interfaceRxDropped(iface: string): number | null {
  try {
    return Number(readFileSync(`/sys/class/net/${iface}/statistics/rx_dropped`, "utf8"));
  } catch {
    return null;
  }
}

const STATS_EVERY_MS = 1000;

/** Keeps the last `max` characters of a child's stderr, and hands out complete lines. */
class StderrLines {
  text = "";
  private partial = "";
  constructor(
    child: ChildProcess,
    private readonly onLine: (line: string) => void,
  ) {
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      this.text = (this.text + d).slice(-16384);
      const lines = (this.partial + d).split(/\r?\n|\r/);
      this.partial = lines.pop()!;
      for (const l of lines) if (l.trim() !== "") this.onLine(l.trim());
    });
    child.stderr!.on("end", () => {
      if (this.partial.trim() !== "") this.onLine(this.partial.trim());
      this.partial = "";
    });
  }
}

function lostMessage(iface: string, detail: string): LiveError {
  if (interfaceGone(iface))
    return new LiveError(`capture on ${iface} stopped: the interface went away (${detail})`, "interface");
  return new LiveError(`capture on ${iface} stopped: ${detail}`, "failed");
}

// ------------------------------------------------------------------------------- cap

const WORKER = join(dirname(fileURLToPath(import.meta.url)), "cap-worker.js");

export class CapBackend implements LiveBackend {
  readonly name = "cap";
  readonly timestamps = "delivery";
  readonly source: ByteSource;
  readonly ended: Promise<LiveEnd>;
  readonly description: string;
  onStats: ((stats: LiveStats) => void) | null = null;
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private stopping = false;

  constructor(cfg: BackendConfig) {
    loadCap(); // says what is missing before anything starts
    this.description = `cap ${capVersion()} (libpcap), packets stamped on delivery`;
    const wc: CapWorkerConfig = {
      iface: cfg.iface,
      filter: cfg.filter,
      snapLen: cfg.snapLen,
      bufferBytes: cfg.bufferBytes,
      statsEveryMs: STATS_EVERY_MS,
    };
    this.child = fork(WORKER, [JSON.stringify(wc)], { stdio: ["ignore", "pipe", "pipe", "ipc"], execArgv: [] });
    const child = this.child;
    this.source = new StreamSource(`${cfg.iface} (live)`, child.stdout!);
    const stats = emptyStats(false);
    const ifDropsAtStart = interfaceRxDropped(cfg.iface);
    const ifDrops = (): number | null => {
      const now = interfaceRxDropped(cfg.iface);
      return now === null || ifDropsAtStart === null ? null : Math.max(0, now - ifDropsAtStart);
    };
    let failure: LiveError | null = null;
    let gotEnd = false;
    const err = new StderrLines(child, () => {
      /* kept for the crash message; cap's lookupnet warnings are noise */
    });
    let resolveReady!: () => void, rejectReady!: (e: LiveError) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => {});
    child.on(
      "message",
      (m: {
        type: string;
        kind?: LiveError["kind"];
        message?: string;
        delivered?: number;
        dropped?: number;
        wallOffsetMs?: number;
      }) => {
        if (m.type === "ready") resolveReady();
        else if (m.type === "stats") {
          stats.delivered = m.delivered ?? null;
          stats.droppedBySockscope = m.dropped ?? null;
          stats.droppedByInterface = ifDrops();
          this.onStats?.({ ...stats });
        } else if (m.type === "error") {
          failure = new LiveError(m.message ?? "capture failed", m.kind);
          rejectReady(failure);
        } else if (m.type === "end") {
          gotEnd = true;
          stats.delivered = m.delivered ?? null;
          stats.droppedBySockscope = m.dropped ?? null;
          stats.droppedByInterface = ifDrops();
          stats.wallOffsetMs = m.wallOffsetMs ?? null;
        }
      },
    );
    // Settles once the process has exited, its output is read and its IPC channel is
    // closed: an "end" message or stderr may still be in flight when "exit" is emitted.
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) =>
      child.on("close", (code, signal) => res([code, signal])),
    );
    const disconnected = new Promise<void>((res) => {
      if (!child.connected) res();
      else child.on("disconnect", () => res());
    });
    this.ended = new Promise((resolve) => {
      void Promise.all([exited, disconnected]).then(([[code, signal]]) => {
        if (failure === null && !gotEnd && !(this.stopping && signal === "SIGKILL")) {
          const assertion = /Assertion .*failed/.exec(err.text)?.[0];
          failure =
            assertion !== undefined || signal === "SIGABRT"
              ? lostMessage(cfg.iface, "libpcap reported an error on the capture handle")
              : new LiveError(
                  `the capture process ended unexpectedly (${signal ?? `exit code ${code}`}): ${err.text.trim().split("\n").pop() ?? ""}`,
                );
          rejectReady(failure);
        }
        resolve({ stats, error: failure });
      });
    });
  }

  start(): Promise<void> {
    return this.ready;
  }

  stop(): void {
    this.stopping = true;
    if (this.child.connected) this.child.send({ type: "stop" });
    else if (this.child.exitCode === null) this.child.kill("SIGTERM");
  }

  kill(): void {
    this.stopping = true;
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

function capVersion(): string {
  try {
    return (createRequire(import.meta.url)("cap/package.json") as { version: string }).version;
  } catch {
    return "";
  }
}

// --------------------------------------------------------------- tcpdump / dumpcap

export class ProgramBackend implements LiveBackend {
  readonly timestamps = "kernel";
  readonly source: ByteSource;
  readonly ended: Promise<LiveEnd>;
  readonly description: string;
  onStats: ((stats: LiveStats) => void) | null = null;
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private stopping = false;

  constructor(
    readonly name: "tcpdump" | "dumpcap",
    cfg: BackendConfig,
  ) {
    const args =
      name === "tcpdump"
        ? [
            "-i",
            cfg.iface,
            "-U",
            "-B",
            String(Math.ceil(cfg.bufferBytes / 1024)),
            "-s",
            String(cfg.snapLen),
            "-w",
            "-",
            ...(cfg.filter !== "" ? [cfg.filter] : []),
          ]
        : [
            "-i",
            cfg.iface,
            "-q",
            "-B",
            String(Math.max(1, Math.ceil(cfg.bufferBytes / 1048576))),
            "-s",
            String(cfg.snapLen),
            "-w",
            "-",
            ...(cfg.filter !== "" ? ["-f", cfg.filter] : []),
          ];
    this.description = `${name} ${args.map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(" ")}, kernel timestamps`;
    this.child = spawn(name === "tcpdump" ? (findTcpdump() ?? name) : name, args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const child = this.child;
    const watchdog = child.pid === undefined ? null : watchOver(child.pid);
    this.source = new StreamSource(`${cfg.iface} (live)`, child.stdout!);
    const stats = emptyStats(true);
    let poll: NodeJS.Timeout | null = null;
    let started = false;
    let failure: LiveError | null = null;
    const lines: string[] = [];
    let resolveReady!: () => void, rejectReady!: (e: LiveError) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => {});
    const num = (re: RegExp, l: string): number | null => {
      const m = re.exec(l);
      return m ? Number(m[1]) : null;
    };
    new StderrLines(child, (l) => {
      if (!started && (name === "tcpdump" ? /^(tcpdump: )?listening on /.test(l) : /^File: /.test(l))) {
        started = true;
        resolveReady();
        // tcpdump prints its counters on SIGUSR1 (its handler is set by now): drops as they
        // happen. Linux only: where SIGINFO exists (BSD, macOS) tcpdump uses that, and SIGUSR1 would kill it.
        if (name === "tcpdump" && process.platform === "linux")
          poll = setInterval(() => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGUSR1");
          }, STATS_EVERY_MS);
        return;
      }
      const usr1 =
        name === "tcpdump"
          ? /^(?:tcpdump: )?(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel(?:, (\d+) packets? dropped by interface)?/.exec(
              l,
            )
          : null;
      if (usr1 !== null) {
        stats.delivered = Number(usr1[1]);
        stats.receivedByFilter = Number(usr1[2]);
        stats.droppedByKernel = Number(usr1[3]);
        if (usr1[4] !== undefined) stats.droppedByInterface = Number(usr1[4]);
        this.onStats?.({ ...stats });
        return;
      }
      if (name === "tcpdump") {
        stats.delivered = num(/^(\d+) packets? captured/, l) ?? stats.delivered;
        stats.receivedByFilter = num(/^(\d+) packets? received by filter/, l) ?? stats.receivedByFilter;
        stats.droppedByKernel = num(/^(\d+) packets? dropped by kernel/, l) ?? stats.droppedByKernel;
        stats.droppedByInterface = num(/^(\d+) packets? dropped by interface/, l) ?? stats.droppedByInterface;
      } else {
        stats.delivered = num(/^Packets captured: (\d+)/, l) ?? stats.delivered;
        const m =
          /^Packets received\/dropped on interface .*: (\d+)\/(\d+) \(pcap:(\d+)\/dumpcap:(\d+)\/flushed:(\d+)\/ps_ifdrop:(\d+)\)/.exec(
            l,
          );
        if (m) {
          stats.receivedByFilter = Number(m[1]);
          stats.droppedByKernel = Number(m[3]);
          stats.droppedBySockscope = Number(m[4]) + Number(m[5]);
          stats.droppedByInterface = Number(m[6]);
        }
      }
      if (/^(tcpdump|dumpcap): /.test(l) || !/^(\d+ packets?|Packets |Capturing on|File: |\(|See the User)/.test(l))
        lines.push(l);
    });
    this.ended = new Promise((resolve) => {
      child.on("error", (e: NodeJS.ErrnoException) => {
        watchdog?.done();
        failure =
          e.code === "ENOENT"
            ? new LiveError(
                `--via ${name}: ${name} is not installed: apt-get install ${name === "tcpdump" ? "tcpdump" : "wireshark-common"} (or --via cap)`,
                "missing",
              )
            : new LiveError(`--via ${name}: cannot run ${name}: ${e.message}`, "missing");
        rejectReady(failure);
        resolve({ stats, error: failure });
      });
      // "close": after tcpdump's last stderr lines (its counters) have been read.
      child.on("close", (code, signal) => {
        if (poll !== null) clearInterval(poll);
        watchdog?.done();
        const said = lines.map((l) => l.replace(/^(tcpdump|dumpcap): /, "")).join("; ");
        if (!started) failure = classify(name, cfg, said || `${name} exited (${signal ?? `code ${code}`})`);
        // Ctrl-C on a terminal reaches the capture program too, and it may exit (0, nothing
        // said but its counters) before our own handler has asked it to: not a failure.
        else if (!this.stopping && (code !== 0 || signal !== null || said !== "")) {
          failure = lostMessage(cfg.iface, `${name}: ${said || `exited (${signal ?? `code ${code}`})`}`);
        }
        rejectReady(failure ?? new LiveError(`${name} exited before capturing`));
        resolve({ stats, error: failure });
      });
    });
  }

  start(): Promise<void> {
    return this.ready;
  }

  stop(): void {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGINT");
  }

  kill(): void {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/**
 * Kills the capture program (root tcpdump) if sockscope dies without stopping it, even by
 * SIGKILL: a shell that waits for end of file on a pipe only sockscope holds open.
 * (`setpriv --pdeathsig KILL tcpdump` does not hold: tcpdump changes its credentials to
 * drop privileges, and the kernel then clears the parent-death signal.) It ignores
 * Ctrl-C, which reaches the whole process group: sockscope stops tcpdump itself then.
 */
function watchOver(pid: number): { done(): void } | null {
  try {
    const dog = spawn("sh", ["-c", `trap '' INT TERM HUP; read _ignored; kill -KILL ${pid} 2>/dev/null`], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    dog.on("error", () => undefined);
    dog.stdin!.on("error", () => undefined);
    dog.unref();
    (dog.stdin as unknown as { unref?: () => void }).unref?.();
    // Once the program has exited its pid may be reused: the watchdog goes first.
    return {
      done: () => {
        if (dog.exitCode === null && dog.signalCode === null) dog.kill("SIGKILL");
      },
    };
  } catch {
    return null;
  }
}

/** A capture program's start-up complaint, as one line that says what to do. */
function classify(name: string, cfg: BackendConfig, said: string): LiveError {
  if (/filter|syntax error|parse/i.test(said) && cfg.filter !== "") {
    return new LiveError(`bad capture filter "${cfg.filter}": ${name} (libpcap) says: ${said}`, "filter");
  }
  return describeOpenError(cfg.iface, said, name);
}

export function makeBackend(name: BackendName, cfg: BackendConfig): LiveBackend {
  return name === "cap" ? new CapBackend(cfg) : new ProgramBackend(name, cfg);
}
