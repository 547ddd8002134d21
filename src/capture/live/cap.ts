/**
 * The `cap` package (a libpcap binding, https://github.com/mscdex/cap) is an optional
 * dependency: a native addon that needs libpcap's headers and a compiler to build. Reading
 * files never touches it. This module loads it on demand and, when it cannot, says
 * exactly what is missing and how to fix it.
 */
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LiveError } from "./errors.js";

/** The package directory (where `npm rebuild cap` must run). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface CapAddress {
  addr?: string;
  netmask?: string;
  broadaddr?: string;
  dstaddr?: string;
}
export interface CapDevice {
  name: string;
  description?: string;
  addresses: CapAddress[];
  flags?: string;
}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  on(event: "packet", listener: (nbytes: number, truncated: boolean) => void): void;
}
export interface CapModule {
  Cap: { new (): CapInstance; deviceList(): CapDevice[]; findDevice(ip?: string): string | undefined };
}

let cached: CapModule | LiveError | null = null;

/** Loads cap, or throws a LiveError naming what is missing and the commands that fix it. */
export function loadCap(): CapModule {
  if (cached === null) {
    try {
      cached = createRequire(import.meta.url)("cap") as CapModule;
    } catch (e) {
      cached = diagnose(e as NodeJS.ErrnoException);
    }
  }
  if (cached instanceof LiveError) throw cached;
  return cached;
}

export function capAvailable(): boolean {
  try {
    loadCap();
    return true;
  } catch {
    return false;
  }
}

const VIA = "or capture with tcpdump instead: sockscope live --via tcpdump ...";
const BUILD_DEPS =
  "apt-get install libpcap-dev g++ make python3 (Fedora: dnf install libpcap-devel gcc-c++ make python3)";

function diagnose(e: NodeJS.ErrnoException): LiveError {
  const msg = String(e?.message ?? e).split("\n")[0]!;
  const where = PACKAGE_ROOT;
  if (/libpcap\.so[^:]*: cannot open shared object/.test(msg)) {
    return new LiveError(
      `live capture needs libpcap, which is not installed (${msg}): apt-get install libpcap0.8 ` +
        `(or libpcap-dev), then run again; ${VIA}`,
      "missing",
    );
  }
  if (e?.code === "MODULE_NOT_FOUND" && /Cannot find module 'cap'/.test(msg)) {
    return new LiveError(
      `live capture needs the optional package "cap" (a libpcap binding), which is not installed: it is skipped ` +
        `when it cannot build. Install the build dependencies, ${BUILD_DEPS}, then in ${where} run npm install ` +
        `(or npm rebuild cap); ${VIA}`,
      "missing",
    );
  }
  if (/cap\.node/.test(msg) || (e?.code === "MODULE_NOT_FOUND" && existsSync(join(where, "node_modules", "cap")))) {
    return new LiveError(
      `live capture needs the "cap" package's native addon, which was not built (its install script did not run ` +
        `or failed; package.json allows it under allowScripts). Install the build dependencies, ${BUILD_DEPS}, then ` +
        `in ${where} run npm rebuild cap; ${VIA}`,
      "missing",
    );
  }
  if (/NODE_MODULE_VERSION|was compiled against a different Node\.js version|invalid ELF|undefined symbol/.test(msg)) {
    return new LiveError(
      `the "cap" package's native addon does not load in this Node.js ${process.version} (${msg}): ` +
        `in ${where} run npm rebuild cap; ${VIA}`,
      "missing",
    );
  }
  return new LiveError(`the "cap" package does not load (${msg}): in ${where} run npm rebuild cap; ${VIA}`, "missing");
}

/** What to tell a user whom libpcap refused: run as root, or give node the capabilities. */
export function permissionHint(program: string): string {
  return (
    `run as root (sudo), or give ${program} the capture capabilities: ` +
    (program === "node"
      ? "sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which node))"
      : `sudo setcap cap_net_raw,cap_net_admin+eip $(readlink -f $(which ${program}))`)
  );
}

/** One line from a libpcap error, for an interface: permission, no such interface, or as is. */
export function describeOpenError(iface: string, message: string, program: string): LiveError {
  const m = message.trim().replace(/\s*\n\s*/g, " ");
  if (/permission|Operation not permitted|EPERM|EACCES/i.test(m)) {
    return new LiveError(
      `cannot capture on ${iface}: permission denied (libpcap: ${m}); ${permissionHint(program)}`,
      "permission",
    );
  }
  if (/No such device|doesn't exist|no such interface/i.test(m)) {
    return new LiveError(
      `cannot capture on ${iface}: no such interface (libpcap: ${m}); sockscope interfaces lists them`,
      "interface",
    );
  }
  if (/not up|is down|went down/i.test(m)) {
    return new LiveError(
      `cannot capture on ${iface}: the interface is down (libpcap: ${m}); ip link set ${iface} up`,
      "interface",
    );
  }
  return new LiveError(`cannot capture on ${iface}: ${m}`, "interface");
}
