/**
 * The addresses a network namespace calls its own: IPv4 from its routing table's LOCAL
 * entries (/proc/net/fib_trie, "/32 host LOCAL" under the address), IPv6 from
 * /proc/net/if_inet6. A flow side at one of them is a socket on this machine, so a side
 * that has no socket there had one that closed; a side elsewhere is another host's.
 */
import { readFileSync } from "node:fs";
import { addressToString } from "../../decode/wire/address.js";

function readOr(path: string): string {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return "";
  }
}

/** IPv4 addresses marked "host LOCAL" in a fib_trie dump (each appears once per table that has it). */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let last = "";
  for (const line of text.split("\n")) {
    const leaf = /\|--\s+(\d+\.\d+\.\d+\.\d+)/.exec(line);
    if (leaf) last = leaf[1]!;
    else if (/\/32 host LOCAL/.test(line) && last !== "") out.add(last);
  }
  return [...out];
}

/** IPv6 addresses of if_inet6's lines (32 hex digits first). */
export function parseIfInet6(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const hex = line.trim().split(/\s+/)[0] ?? "";
    if (!/^[0-9a-f]{32}$/i.test(hex)) continue;
    const w = [0, 8, 16, 24].map((i) => Number.parseInt(hex.slice(i, i + 8), 16) >>> 0);
    out.push(addressToString(6, w[0]!, w[1]!, w[2]!, w[3]!));
  }
  return out;
}

/** The local addresses of the namespace `netDir` (/proc/net or /proc/<pid>/net) shows. */
export function localAddresses(netDir: string): Set<string> {
  return new Set([...parseFibTrieLocal(readOr(`${netDir}/fib_trie`)), ...parseIfInet6(readOr(`${netDir}/if_inet6`))]);
}
