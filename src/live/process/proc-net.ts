/**
 * The kernel's socket tables as /proc/net/{tcp,tcp6,udp,udp6} list them (one namespace's:
 * /proc/<pid>/net/… shows the namespace that process is in). Each line: local and remote
 * address, state, send and receive queue, the retransmit timer's count, owner uid and the
 * socket's inode (0 once no file holds it: TIME_WAIT, or an orphan closing on its own).
 *
 * Addresses are printed as the kernel keeps them: IPv4 one 32-bit word and IPv6 four, each
 * in host byte order; they are turned into the "ip:port" text flows use (endpointToString),
 * an IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer) as plain IPv4, so that a
 * flow's endpoints find their socket by text.
 */
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { endpointToString } from "../../decode/wire/address.js";

/** include/net/tcp_states.h, spelled as `ss` prints them. */
const TCP_STATES = [
  "",
  "ESTABLISHED",
  "SYN-SENT",
  "SYN-RECV",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "TIME-WAIT",
  "CLOSE",
  "CLOSE-WAIT",
  "LAST-ACK",
  "LISTEN",
  "CLOSING",
  "NEW-SYN-RECV",
] as const;

export interface KernelSocket {
  proto: "tcp" | "udp";
  /** "ip:port", as flows name their endpoints. */
  local: string;
  remote: string;
  /** TCP state as `ss` spells it; UDP: ESTABLISHED (connected) or CLOSE (not). */
  state: string;
  /** Bytes queued to send (TCP: sent and not yet acknowledged, or not yet sent). LISTEN: the backlog. */
  txQueue: number;
  /** Bytes received and not yet read by the program. LISTEN: connections waiting for accept(). */
  rxQueue: number;
  /** Expirations of the retransmit (or zero-window probe) timer since the last ACK that advanced. */
  retransmits: number;
  uid: number;
  /** 0 when no file refers to the socket any more. */
  inode: number;
}

const LITTLE = endianness() === "LE";

/** One 32-bit word of /proc/net's hex address, in network order. */
function word(hex: string): number {
  const v = Number.parseInt(hex, 16) >>> 0;
  if (!LITTLE) return v;
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Address text by its /proc hex form: a host has few addresses, and a scan meets each thousands of times. */
const addressCache = new Map<string, string>();
const MAX_CACHED_ADDRESSES = 4096;

/** The address part of endpointToString's "ip:port" ("127.0.0.1", "[::1]") for /proc's hex. */
function addressText(hex: string): string {
  let a = addressCache.get(hex);
  if (a !== undefined) return a;
  if (hex.length === 8) a = endpointToString(4, word(hex), 0, 0, 0, -1);
  else {
    const w = [0, 8, 16, 24].map((i) => word(hex.slice(i, i + 8)));
    // ::ffff:a.b.c.d — an IPv4 peer of a dual-stack socket: the flow names it as IPv4.
    a =
      w[0] === 0 && w[1] === 0 && w[2] === 0xffff
        ? endpointToString(4, w[3]!, 0, 0, 0, -1)
        : `[${endpointToString(6, w[0]!, w[1]!, w[2]!, w[3]!, -1)}]`;
  }
  if (addressCache.size >= MAX_CACHED_ADDRESSES) addressCache.clear();
  addressCache.set(hex, a);
  return a;
}

/** "0100007F:1F90" → "127.0.0.1:8080"; 32 hex digits for IPv6. */
export function procEndpoint(field: string): string {
  const colon = field.indexOf(":");
  return `${addressText(field.slice(0, colon))}:${Number.parseInt(field.slice(colon + 1), 16)}`;
}

/** The first `n` space-separated fields of a line into `out` (no regex: a scan splits tens of thousands of lines). */
function fields(line: string, out: string[], n: number): number {
  let k = 0,
    i = 0;
  const len = line.length;
  while (k < n) {
    while (i < len && line.charCodeAt(i) === 32) i++;
    if (i >= len) break;
    let j = i;
    while (j < len && line.charCodeAt(j) !== 32) j++;
    out[k++] = line.slice(i, j);
    i = j;
  }
  return k;
}

/** Parses one /proc/net/{tcp,udp}[6] file's text; lines that do not parse are skipped. */
export function parseProcNet(text: string, proto: "tcp" | "udp"): KernelSocket[] {
  const out: KernelSocket[] = [];
  const lines = text.split("\n");
  const f: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (fields(lines[i]!, f, 10) < 10) continue;
    const st = Number.parseInt(f[3]!, 16);
    const q = f[4]!;
    const colon = q.indexOf(":");
    out.push({
      proto,
      local: procEndpoint(f[1]!),
      remote: procEndpoint(f[2]!),
      state: proto === "tcp" ? (TCP_STATES[st] ?? `state ${st}`) : st === 1 ? "ESTABLISHED" : "CLOSE",
      txQueue: Number.parseInt(q.slice(0, colon), 16),
      rxQueue: Number.parseInt(q.slice(colon + 1), 16),
      retransmits: Number.parseInt(f[6]!, 16),
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** Every TCP and UDP socket of the namespace `netDir` shows (/proc/net, or /proc/<pid>/net); a table that cannot be read is left out. */
export function readSocketTables(netDir: string): KernelSocket[] {
  const all: KernelSocket[] = [];
  for (const [file, proto] of [
    ["tcp", "tcp"],
    ["tcp6", "tcp"],
    ["udp", "udp"],
    ["udp6", "udp"],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(`${netDir}/${file}`, "latin1");
    } catch {
      continue; // no IPv6 in this kernel, or the process left
    }
    for (const s of parseProcNet(text, proto)) all.push(s);
  }
  return all;
}
