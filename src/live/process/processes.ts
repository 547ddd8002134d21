/**
 * Who holds which socket: every process's open files (/proc/<pid>/fd/* link to
 * "socket:[inode]" for a socket), and what a process is: its command name (comm), its
 * command line (shortened) and its user. Threads share their process's file table, so
 * the walk is per process. Reading another user's fd directory needs root (or
 * CAP_SYS_PTRACE); what cannot be read is counted, not guessed.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { ProcessRef } from "../../analyze/side-process.js";

export type { ProcessRef };

/** Longer command lines end in "…": enough to tell `python3 server.py --port 80` from another. */
export const COMMAND_LINE_MAX = 120;

/**
 * argv as one line: the program by its file name (`/usr/bin/python3` → `python3`, as the
 * issue's `python3 server.py`), its arguments as given, at most COMMAND_LINE_MAX characters.
 */
export function shortenCommandLine(argv: string[]): string | null {
  const args = argv.filter((a, i) => a !== "" || i < argv.length - 1);
  if (args.length > 0) args[0] = args[0]!.slice(args[0]!.lastIndexOf("/") + 1);
  const s = args.join(" ").trim();
  if (s === "") return null;
  return s.length <= COMMAND_LINE_MAX ? s : `${s.slice(0, COMMAND_LINE_MAX - 1)}…`;
}

let users: Map<number, string> | null = null;
function userName(uid: number): string {
  if (users === null) {
    users = new Map();
    try {
      for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
        const f = line.split(":");
        if (f.length > 2) users.set(Number(f[2]), f[0]!);
      }
    } catch {
      /* uids stay numbers */
    }
  }
  return users.get(uid) ?? String(uid);
}

/** The process `pid` as it is now; null once it has exited. */
export function describeProcess(pid: number, procRoot = "/proc"): ProcessRef | null {
  try {
    const dir = `${procRoot}/${pid}`;
    const command = readFileSync(`${dir}/comm`, "utf8").trimEnd();
    const argv = readFileSync(`${dir}/cmdline`, "utf8").split("\0");
    return { pid, command, commandLine: shortenCommandLine(argv), user: userName(statSync(dir).uid) };
  } catch {
    return null;
  }
}

/** The numeric entries of /proc: one per process. */
export function listPids(procRoot = "/proc"): number[] {
  const pids: number[] = [];
  for (const name of readdirSync(procRoot)) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) pids.push(Number(name));
  }
  return pids;
}

export interface FdSweep {
  /** Socket inode → the processes holding it (more than one after fork, or fd passing). */
  holders: Map<number, number[]>;
  /** Processes whose fd directory could not be read (another user's, without root). */
  unreadable: number;
}

/** Walks every process's fds once. */
export function sweepSocketHolders(pids: readonly number[], procRoot = "/proc"): FdSweep {
  const holders = new Map<number, number[]>();
  let unreadable = 0;
  for (const pid of pids) {
    const dir = `${procRoot}/${pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EACCES") unreadable++;
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`${dir}/${fd}`);
      } catch {
        continue;
      }
      // "socket:[12345]"
      if (!link.startsWith("socket:[")) continue;
      const inode = Number(link.slice(8, -1));
      const list = holders.get(inode);
      if (list === undefined) holders.set(inode, [pid]);
      else if (!list.includes(pid)) list.push(pid);
    }
  }
  return { holders, unreadable };
}
