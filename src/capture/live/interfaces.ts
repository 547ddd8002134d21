/** The interfaces a live capture can open: libpcap's list through cap, else the system's. */
import { networkInterfaces } from "node:os";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { loadCap } from "./cap.js";
import { LiveError } from "./errors.js";

export interface LiveInterface {
  name: string;
  description: string | null;
  addresses: string[];
  loopback: boolean;
  /** IFF_UP from /sys/class/net (Linux), null when unknown or a pseudo-device. */
  up: boolean | null;
}

export interface InterfaceList {
  /** "libpcap": pcap_findalldevs through cap (pseudo-devices like `any` included). */
  source: "libpcap" | "system";
  /** Why libpcap's list is not shown, when it is not. */
  note: string | null;
  interfaces: LiveInterface[];
}

function upFlag(name: string): boolean | null {
  try {
    return (parseInt(readFileSync(`/sys/class/net/${name}/flags`, "utf8").trim(), 16) & 1) === 1;
  } catch {
    return null;
  }
}

export function listInterfaces(): InterfaceList {
  try {
    const { Cap } = loadCap();
    const interfaces = Cap.deviceList().map((d) => ({
      name: d.name,
      description: d.description ?? null,
      addresses: d.addresses.map((a) => a.addr).filter((a): a is string => typeof a === "string"),
      loopback: d.flags === "PCAP_IF_LOOPBACK",
      up: upFlag(d.name),
    }));
    return { source: "libpcap", note: null, interfaces };
  } catch (e) {
    const note = e instanceof LiveError ? e.message : String(e);
    const os = networkInterfaces();
    const names = new Set(Object.keys(os));
    if (existsSync("/sys/class/net")) for (const n of readdirSync("/sys/class/net")) names.add(n);
    const interfaces = [...names].sort().map((name) => ({
      name,
      description: null,
      addresses: (os[name] ?? []).map((a) => a.address),
      loopback: (os[name] ?? []).some((a) => a.internal) || name === "lo",
      up: upFlag(name),
    }));
    return { source: "system", note, interfaces };
  }
}

/** tcpdump's choice when no -i is given: the first interface that is up, not loopback, with an address; else lo. */
export function defaultInterface(list: InterfaceList): string {
  const ok = list.interfaces.find((i) => !i.loopback && i.up !== false && i.addresses.length > 0);
  return ok?.name ?? list.interfaces.find((i) => i.loopback)?.name ?? "lo";
}

/**
 * A named Linux interface no longer in this process's network namespace: removed under a
 * capture (never "any"). /proc/net/dev is the namespace's own list; /sys/class/net shows
 * the namespace that mounted /sys, which inside `unshare -n` is the host's.
 */
export function interfaceGone(iface: string): boolean {
  if (process.platform !== "linux" || iface === "any") return false;
  let dev: string;
  try {
    dev = readFileSync("/proc/net/dev", "utf8");
  } catch {
    return false; // cannot tell: not gone
  }
  return !dev.split("\n").some((line) => line.trimStart().startsWith(`${iface}:`));
}
