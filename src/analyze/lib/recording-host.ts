/**
 * The host a capture was recorded on, as the capture file itself says (pcapng section and
 * interface options: capture/pcapng.ts), and when a side of a connection is that host.
 * It is evidence of that side's TCP stack (side-stack.ts weighs it), never of the other side's.
 *
 * The OS an interface's host runs: its if_os ("the OS of the machine in which this
 * interface is installed"), else its section's shb_os, but only when the section was
 * written by Wireshark's capture engine (shb_userappl "Dumpcap …"): mergecap, editcap and
 * text2pcap write their own section header naming the OS they ran on, not the capturing
 * host's (zeek pcapng-multi-interface: a Linux mergecap's section over a Windows
 * interface), and other writers' strings (a test generator's "OS-X 10.10.5") say nothing
 * sure. Strings naming no stack known here give no evidence.
 *
 * Which side is the capturing host, in this order:
 * 1. its address is one of the interfaces' own (if_IPv4addr, if_IPv6addr) and, over IPv4,
 *    its TTL is the named OS's full initial TTL: that side is the host. A TTL below it
 *    means the packets came through the host, not from it (a NAT router's address on its
 *    clients' forwarded packets), and nothing is said. When those addresses are known for
 *    the flow's IP version and neither side has one, the host is neither side (a router or
 *    a mirror port) and nothing is said either;
 * 2. both addresses are loopback: both sides are the host;
 * 3. IPv4 only: this side's TTL is exactly the initial TTL of the OS named and the other
 *    side's is not. A host's own packets leave it with their full initial TTL and routers
 *    only lower a TTL, so if the capturing host is a side, it is this one. That it is a side
 *    at all is assumed here: a capture on a router or a mirror port whose own OS starts
 *    from the same TTL as one side would name that side wrongly, which is why the SYN's
 *    options, when seen, must agree (side-stack.ts: the packets win).
 * When the interfaces name different stacks (a file merged from several hosts), rules 2
 * and 3 say nothing: which interface a flow was seen on is not kept.
 */
import type { InterfaceInfo, SectionInfo } from "../../capture/record.js";
import { DIR_CLIENT, type Flow } from "../../decode/flow/record.js";
import { STACK_PROFILES, type StackId } from "./stack-profile.js";

/** What the analysis is told of the capture file: its pcapng sections and interfaces (none for classic pcap, live captures). */
export interface CaptureFacts {
  readonly sections: readonly SectionInfo[];
  readonly interfaces: readonly InterfaceInfo[];
}

export const NO_CAPTURE_FACTS: CaptureFacts = { sections: [], interfaces: [] };

/** The capturing host of one side, as the file names it. */
export interface RecordingHost {
  stack: StackId;
  /** The OS string as the file wrote it ("Linux 6.6.9-amd64"). */
  os: string;
  /** Which rule made this side the host (see the header): its address, loopback, or its TTL. */
  how: "address" | "loopback" | "ttl";
}

/**
 * The stack an OS string names: "Linux 6.1.0-18-amd64", "Mac OS X 10.15.7, build 19H2
 * (Darwin 19.6.0)", "macOS 12.5.1 …", "64-bit Windows 10 (22H2), build 19045",
 * "FreeBSD 13.2-RELEASE"; null for anything else (an unknown OS is no evidence).
 */
export function stackOfOs(os: string): StackId | null {
  if (/\bFreeBSD\b/i.test(os)) return "freebsd";
  if (/\b(mac ?OS|OS ?X|OS-X|Darwin|iOS|iPadOS)\b/i.test(os)) return "macos";
  if (/\bWindows\b/i.test(os)) return "windows";
  if (/\bLinux\b/i.test(os)) return "linux";
  return null;
}

/** Section writers that recorded the packets themselves: Wireshark's capture engine. */
const CAPTURING_WRITER = /^Dumpcap\b/i;

/** The OS the file names for an interface's host: if_os, else a capturing writer's shb_os; "" when it names none. */
export function interfaceOs(facts: CaptureFacts, iface: InterfaceInfo): string {
  if (iface.os !== "") return iface.os;
  const section = facts.sections[iface.section];
  return section !== undefined && CAPTURING_WRITER.test(section.userAppl) ? section.os : "";
}

/** The capturing host as side `dir` of `flow` (DIR_CLIENT or DIR_SERVER), when the file and the packets show it is that side. */
export function recordingHostOf(flow: Flow, dir: number, facts: CaptureFacts): RecordingHost | null {
  if (facts.interfaces.length === 0) return null;
  const me = dir === DIR_CLIENT ? 0 : 1;
  const mine = me === 0 ? flow.client : flow.server;
  const theirs = me === 0 ? flow.server : flow.client;
  const v6 = flow.ipVersion === 6;
  let addressesKnown = false;
  let byAddress: RecordingHost | null | undefined;
  for (const iface of facts.interfaces) {
    const own = iface.addresses.filter((a) => a.version === flow.ipVersion);
    if (own.length === 0) continue;
    addressesKnown = true;
    if (!own.some((a) => a.words.every((w, i) => w === mine[i]! >>> 0))) continue;
    const host = hostOf(facts, iface, "address");
    // The host's OS unknown, or interfaces of this address naming different stacks: no evidence.
    byAddress = byAddress === undefined || (host !== null && byAddress?.stack === host.stack) ? host : null;
  }
  if (byAddress !== undefined) {
    if (byAddress === null || v6) return byAddress;
    return flow.ep[me]!.ttl === initialTtlOf(byAddress.stack) ? byAddress : null;
  }
  if (addressesKnown && !isLoopback(flow.ipVersion, mine)) return null; // the host is the other side, or neither
  const only = oneStack(facts);
  if (only === null) return null;
  if (isLoopback(flow.ipVersion, mine) && isLoopback(flow.ipVersion, theirs)) return { ...only, how: "loopback" };
  if (v6) return null; // a hop limit comes from the router advertisement: it says nothing of the stack
  const initial = initialTtlOf(only.stack);
  const myTtl = flow.ep[me]!.ttl;
  const theirTtl = flow.ep[1 - me]!.ttl;
  return myTtl === initial && theirTtl > 0 && theirTtl !== initial ? { ...only, how: "ttl" } : null;
}

/** The TTL a stack's own packets start from. */
function initialTtlOf(stack: StackId): number {
  return STACK_PROFILES[stack].initialTtl;
}

function hostOf(facts: CaptureFacts, iface: InterfaceInfo, how: RecordingHost["how"]): RecordingHost | null {
  const os = interfaceOs(facts, iface);
  const stack = stackOfOs(os);
  return stack === null ? null : { stack, os, how };
}

/** The one stack all interfaces whose OS the file names agree on (the first such OS string), or null. */
function oneStack(facts: CaptureFacts): RecordingHost | null {
  let found: RecordingHost | null = null;
  for (const iface of facts.interfaces) {
    const host = hostOf(facts, iface, "ttl");
    if (host === null) continue;
    if (found !== null && found.stack !== host.stack) return null;
    found ??= host;
  }
  return found;
}

/** 127.0.0.0/8, ::1, or ::ffff:127.x.y.z (an address as flows hold it: four 32-bit words). */
function isLoopback(ipVersion: number, a: readonly number[]): boolean {
  if (ipVersion === 4) return a[0]! >>> 24 === 127;
  if (a[0] !== 0 || a[1] !== 0) return false;
  return (a[2] === 0 && a[3] === 1) || (a[2] === 0xffff && a[3]! >>> 24 === 127);
}
