/**
 * Network namespaces by the processes in them: /proc/<pid>/ns/net links to
 * "net:[inode]", the same inode for every process of one namespace. One process per
 * namespace is enough to read that namespace's socket tables (/proc/<pid>/net/…), so a
 * capture on a host interface can name a container's program.
 */
import { readlinkSync } from "node:fs";

/** The namespace inode in a "net:[4026531840]" link; null when unreadable (exited, or not ours to read). */
export function netnsOf(pid: number | "self", procRoot = "/proc"): number | null {
  try {
    const link = readlinkSync(`${procRoot}/${pid}/ns/net`);
    return Number(link.slice(5, -1));
  } catch {
    return null;
  }
}

/** Namespace inode → the processes in it (in /proc order). */
export function groupByNetns(pids: readonly number[], procRoot = "/proc"): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const pid of pids) {
    const ns = netnsOf(pid, procRoot);
    if (ns === null) continue;
    const g = groups.get(ns);
    if (g === undefined) groups.set(ns, [pid]);
    else g.push(pid);
  }
  return groups;
}
