/**
 * Maps a flow side to the program that owns its socket, on this machine now: the socket
 * tables of every network namespace (proc-net.ts, one process per namespace), the
 * namespaces' own addresses (local-addresses.ts), and who holds each socket inode
 * (processes.ts). A scan re-reads sockscope's own namespace's tables, other namespaces'
 * only when a flow side needs them; the fd walk over every process runs only when a
 * socket looked up has an inode not seen before, and its answer is kept by inode until
 * the next walk.
 *
 * A side finds its socket by (proto, local, remote) in sockscope's own namespace when the
 * address is one of its own, else in the namespaces that have that address; when several
 * of those hold that 4-tuple, none is named (never a guess). A server side also gets its listening socket's owner: after a
 * pre-fork or a hand-off the connection may be held by a child while the listener
 * belongs to the parent, and the listener outlives short connections.
 */
import { readSocketTables, type KernelSocket } from "./proc-net.js";
import { localAddresses } from "./local-addresses.js";
import { describeProcess, listPids, sweepSocketHolders, type ProcessRef } from "./processes.js";
import { groupByNetns, netnsOf } from "./namespaces.js";
import { hostOf, portOf } from "../../decode/wire/address.js";
import { CLOSED_BEFORE_ATTRIBUTED, sideOf, unattributed, type SideProcess } from "../../analyze/side-process.js";

interface Namespace {
  inode: number;
  own: boolean;
  /** /proc/self/net or /proc/<pid>/net of a process in it. */
  netDir: string;
  /** `${proto} ${local} ${remote}` → socket, LISTEN and unconnected UDP under `${proto} ${local} *`; null until read (socketsOf). */
  sockets: Map<string, KernelSocket> | null;
  local: Set<string>;
}

/** The answer for one side: its process, that it is not on this machine (null), or not known yet (undefined: look again). */
export interface SideLookup {
  process: SideProcess | null | undefined;
  /** The socket as the kernel shows it now (queues, state), when found. */
  socket: KernelSocket | null;
}

export interface ScanCost {
  /** Wall time of the scan's reads, ms. */
  ms: number;
  sockets: number;
  namespaces: number;
  /** Whether this scan walked every process's fds. */
  fdWalk: boolean;
}

const wildcard = (endpoint: string): string[] => {
  const port = portOf(endpoint);
  return endpoint.startsWith("[") ? [`[::]:${port}`, `0.0.0.0:${port}`] : [`0.0.0.0:${port}`, `[::]:${port}`];
};

export class ProcessAttribution {
  private namespaces: Namespace[] = [];
  private pids: number[] = [];
  private holders = new Map<number, number[]>();
  private walkedThisScan = false;
  private readonly procs = new Map<number, ProcessRef | null>();
  /** Processes whose fds could not be read at the last walk (another user's, without root). */
  unreadable = 0;
  scans = 0;
  fdWalks = 0;
  /** Sockets read in this scan so far (namespaces are read on need). */
  private socketsRead = 0;
  last: ScanCost = { ms: 0, sockets: 0, namespaces: 0, fdWalk: false };

  constructor(private readonly procRoot = "/proc") {}

  /** Re-reads every namespace's socket tables and local addresses. */
  scan(): ScanCost {
    const t0 = performance.now();
    this.scans++;
    this.walkedThisScan = false;
    this.procs.clear();
    this.pids = listPids(this.procRoot);
    const own = netnsOf("self", this.procRoot);
    const groups = groupByNetns(this.pids, this.procRoot);
    if (own !== null && !groups.has(own)) groups.set(own, []);
    this.namespaces = [];
    this.socketsRead = 0;
    for (const [inode, members] of groups) {
      const isOwn = inode === own;
      const netDir = isOwn ? `${this.procRoot}/self/net` : `${this.procRoot}/${members[0]}/net`;
      const ns: Namespace = { inode, own: isOwn, netDir, sockets: null, local: localAddresses(netDir) };
      // Own namespace first: a capture there sees its own sockets before a container's.
      if (isOwn) {
        this.namespaces.unshift(ns);
        this.socketsOf(ns);
      } else this.namespaces.push(ns);
    }
    this.last = {
      ms: performance.now() - t0,
      sockets: this.socketsRead,
      namespaces: this.namespaces.length,
      fdWalk: false,
    };
    return this.last;
  }

  /**
   * A namespace's sockets, read on first need in this scan: the kernel prints each
   * namespace's /proc/net/tcp by walking the whole host's connection table (4-40 ms each
   * on a loaded host with a few thousand TIME-WAITs, whatever the namespace holds), so
   * another namespace is read only when a flow side is at one of its addresses and not
   * found in sockscope's own.
   */
  private socketsOf(ns: Namespace): Map<string, KernelSocket> {
    if (ns.sockets !== null) return ns.sockets;
    const t0 = performance.now();
    const sockets = new Map<string, KernelSocket>();
    for (const s of readSocketTables(ns.netDir)) {
      this.socketsRead++;
      const exact = `${s.proto} ${s.local} ${s.remote}`;
      // A socket bound and listening (TCP) or not connected (UDP) answers any peer.
      const any = s.state === "LISTEN" || (s.proto === "udp" && portOf(s.remote) === 0);
      const key = any ? `${s.proto} ${s.local} *` : exact;
      const had = sockets.get(key);
      // TIME-WAIT leftovers (inode 0) of an earlier connection never hide a live socket.
      if (had === undefined || (had.inode === 0 && s.inode !== 0)) sockets.set(key, s);
    }
    ns.sockets = sockets;
    this.last.ms += performance.now() - t0;
    this.last.sockets = this.socketsRead;
    return sockets;
  }

  /**
   * One side: `local` its endpoint, `remote` its peer's. `closed`: the side had a socket
   * and the flow is over on the wire, so no socket now means it closed (not: not made yet).
   */
  lookup(proto: "tcp" | "udp", local: string, remote: string, server: boolean, closed: boolean): SideLookup {
    const matches: [Namespace, KernelSocket][] = [];
    let home: Namespace | null = null;
    for (const ns of this.namespaces) {
      if (!ns.local.has(hostOf(local))) continue;
      home ??= ns;
      const s = this.find(ns, proto, local, remote);
      if (s !== null) matches.push([ns, s]);
      // An address of sockscope's own namespace (its loopback, its interfaces) is served
      // by that namespace's sockets alone: no need to read the others.
      if (ns.own) break;
    }
    if (home === null) return { process: null, socket: null };
    const owned = matches.filter(([, s]) => s.inode !== 0);
    if (owned.length === 0) {
      // A TIME-WAIT (inode 0) entry, or nothing: the socket existed and no file holds it now.
      if (!closed && matches.length === 0) return { process: undefined, socket: null };
      const p = unattributed(CLOSED_BEFORE_ATTRIBUTED);
      p.listener = server ? this.listenerOf(home, proto, local) : null;
      return { process: p, socket: matches[0]?.[1] ?? null };
    }
    const first = owned[0]!;
    if (owned.length > 1 && !first[0].own) return { process: null, socket: null }; // several containers: not named
    const [ns, socket] = first;
    const owners = this.ownersOf(socket.inode);
    if (owners.length === 0) return { process: undefined, socket };
    const listener = server ? this.listenerOf(ns, proto, local) : null;
    return { process: sideOf(owners, listener, ns.own ? null : ns.inode), socket };
  }

  /** The owner of the TCP socket listening where `local` was accepted, if any. */
  private listenerOf(ns: Namespace, proto: string, local: string): ProcessRef | null {
    if (proto !== "tcp") return null;
    const l = this.find(ns, proto, local, "*");
    if (l === null || l.inode === 0 || l.state !== "LISTEN") return null;
    return this.ownersOf(l.inode)[0] ?? null;
  }

  private find(ns: Namespace, proto: string, local: string, remote: string): KernelSocket | null {
    const sockets = this.socketsOf(ns);
    if (remote !== "*") {
      const s = sockets.get(`${proto} ${local} ${remote}`);
      if (s !== undefined) return s;
      if (proto === "tcp") return null; // an accepted or connected socket has its own entry
    }
    for (const l of [local, ...wildcard(local)]) {
      const s = sockets.get(`${proto} ${l} *`);
      if (s !== undefined) return s;
    }
    return null;
  }

  /** Walks every process's fds (the processes of the last scan): who holds which socket now. */
  walkFds(): void {
    const t0 = performance.now();
    const sweep = sweepSocketHolders(this.pids, this.procRoot);
    this.holders = sweep.holders;
    this.unreadable = sweep.unreadable;
    this.walkedThisScan = true;
    this.fdWalks++;
    this.last.ms += performance.now() - t0;
    this.last.fdWalk = true;
  }

  private ownersOf(inode: number): ProcessRef[] {
    let pids = this.holders.get(inode);
    if (pids === undefined && !this.walkedThisScan) {
      // A socket not seen before: one walk of every process's fds answers for all of them.
      this.walkFds();
      pids = this.holders.get(inode);
    }
    const out: ProcessRef[] = [];
    for (const pid of [...(pids ?? [])].sort((a, b) => a - b)) {
      let p = this.procs.get(pid);
      if (p === undefined) {
        p = describeProcess(pid, this.procRoot);
        this.procs.set(pid, p);
      }
      if (p !== null) out.push(p);
    }
    return out;
  }
}
