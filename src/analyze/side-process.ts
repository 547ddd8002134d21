/**
 * What a report says of the program behind one side of a flow (FlowReport.process): the
 * live capture's attribution (live/process/attribution.ts), or a pcapng's per-packet
 * process options and comments read back (capture/packet-process.ts, decode/flow/senders.ts).
 * Plain data: it is JSON.
 */
import type { FlowSenders, SideSenders } from "../decode/flow/senders.js";

/** A process as live attribution names it (live/process/processes.ts reads /proc for it). */
export interface ProcessRef {
  pid: number;
  /** /proc/<pid>/comm: the name the kernel keeps (15 characters at most). */
  command: string;
  /** argv, the program by its file name, at most 120 characters; null when empty (a kernel thread) or gone. */
  commandLine: string | null;
  /** The user name from /etc/passwd, or the uid as text. */
  user: string;
}

export interface SideProcess {
  /** The process holding the socket (the lowest pid when several do); null with `note` saying why. */
  pid: number | null;
  command: string | null;
  commandLine: string | null;
  user: string | null;
  /** Other processes holding the same socket (after fork(), or a passed descriptor). */
  otherPids: number[];
  /** A server's listening socket's owner when it is another process (a pre-fork server's parent), else null. */
  listener: ProcessRef | null;
  /** The network namespace (its inode) when it is not the one sockscope ran in (a container), else null. */
  netns: number | null;
  /** Why there is no pid: "closed before it could be attributed"; null when there is one. */
  note: string | null;
}

export const CLOSED_BEFORE_ATTRIBUTED = "closed before it could be attributed";

/** Both sides; a side is null when unknown (a remote host, or not looked up). */
export interface FlowProcesses {
  client: SideProcess | null;
  server: SideProcess | null;
}

export function sideOf(owners: readonly ProcessRef[], listener: ProcessRef | null, netns: number | null): SideProcess {
  const [first, ...rest] = owners;
  return {
    pid: first?.pid ?? null,
    command: first?.command ?? null,
    commandLine: first?.commandLine ?? null,
    user: first?.user ?? null,
    otherPids: rest.map((p) => p.pid),
    listener: listener !== null && !owners.some((o) => o.pid === listener.pid) ? listener : null,
    netns,
    note: null,
  };
}

export function unattributed(note: string): SideProcess {
  return {
    pid: null,
    command: null,
    commandLine: null,
    user: null,
    otherPids: [],
    listener: null,
    netns: null,
    note,
  };
}

/** "pid 4242 (`python3 server.py`)", as explanations name a program; the note when there is none. */
export function nameProcess(p: SideProcess): string {
  if (p.pid === null) {
    const l = p.listener;
    const listening = l !== null ? `; its listening socket is pid ${l.pid} (\`${l.commandLine ?? l.command}\`)` : "";
    return `${p.note ?? "unknown process"}${listening}`;
  }
  const also = p.otherPids.length > 0 ? ` and pid ${p.otherPids.join(", ")}` : "";
  const ns = p.netns !== null ? ` in network namespace ${p.netns}` : "";
  return `pid ${p.pid}${also} (\`${p.commandLine ?? p.command ?? "?"}\`${p.user !== null ? `, user ${p.user}` : ""})${ns}`;
}

/** A side as a capture file's per-packet processes name it: no user, listener or namespace (the file does not say). */
function sideFromSenders(s: SideSenders | null): SideProcess | null {
  if (s === null) return null;
  return {
    pid: s.first.pid,
    command: s.first.command === "" ? null : s.first.command,
    commandLine: s.first.args === "" ? null : s.first.args,
    user: null,
    otherPids: [...s.otherPids],
    listener: null,
    netns: null,
    note: null,
  };
}

export function processesFromSenders(senders: FlowSenders): FlowProcesses {
  return { client: sideFromSenders(senders[0]), server: sideFromSenders(senders[1]) };
}

/** A side in a table cell: "4242 python3", "closed" (before it could be attributed), "-" when unknown. */
export function processCell(p: SideProcess | null): string {
  if (p === null) return "-";
  if (p.pid === null) return p.note === CLOSED_BEFORE_ATTRIBUTED ? "closed" : "-";
  return p.command !== null ? `${p.pid} ${p.command}` : String(p.pid);
}

/** Both sides as the flow tables show them ("4242 curl / 17 nginx"); null when the flow has none. */
export function processesCell(p: FlowProcesses | undefined): string | null {
  return p === undefined ? null : `${processCell(p.client)} / ${processCell(p.server)}`;
}
