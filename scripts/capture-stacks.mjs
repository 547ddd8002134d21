// Whose TCP stack each side of a connection runs, read off a capture with tshark (not with
// sockscope's decoder: the blind audit's labels must not rest on the code it judges), and
// named by sockscope's own rules (dist/analyze/lib/stack-profile.js: the initial TTL, and
// the SYN's option layout). Used by scripts/audit-by-stack.mjs.
import { spawn, spawnSync } from "node:child_process";

let tshark = null;
/** Is tshark on PATH. */
export function tsharkAvailable() {
  tshark ??= spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;
  return tshark;
}

let stackProfile = null;
async function loadStackProfile() {
  try {
    stackProfile ??= await import("../dist/analyze/lib/stack-profile.js");
  } catch (e) {
    throw new Error(`dist/analyze/lib/stack-profile.js: ${e.message} (run npm run build first)`);
  }
  return stackProfile;
}

const FIELDS = [
  "frame.number",
  "frame.protocols",
  "ip.src",
  "ip.dst",
  "ip.ttl",
  "ipv6.src",
  "ipv6.dst",
  "tcp.srcport",
  "tcp.dstport",
  "udp.srcport",
  "udp.dstport",
  "tcp.flags.syn",
  "tcp.option_kind",
];

/** TCP option kinds as the decoder names them in a layout (src/decode/wire/transport.ts). */
const OPTION_NAMES = { 0: "EOL", 1: "NOP", 2: "MSS", 3: "WS", 4: "SACK_PERM", 5: "SACK", 8: "TS" };

/** "MSS,NOP,WS,…" from tshark's option kinds, up to the first EOL (stacks pad with several; the decoder stops at one). */
export function optionLayout(kinds) {
  const names = [];
  for (const k of kinds) {
    names.push(OPTION_NAMES[k] ?? `K${k}`);
    if (k === 0) break;
  }
  return names.join(",");
}

/**
 * Each TCP/UDP packet's sender and receiver ("10.0.0.1:80", "[2001:db8::1]:80"), with the
 * innermost IP header's version and TTL (in a tunnel the outer TTL is the tunnel's), and a
 * SYN's option layout. ICMP errors are left out: the header they quote is not the sender's.
 * A damaged capture gives the packets before the damage (none when tshark cannot open it),
 * and tshark's complaint as `damage` ("" when it read to the end).
 */
export async function packetsOf(path) {
  const run = await collect("tshark", [
    "-r",
    path,
    "-n",
    "-Y",
    "(tcp or udp) and not icmp and not icmpv6",
    "-T",
    "fields",
    // Every header's value of a field (a tunnel has two IP headers), comma-separated.
    ...["occurrence=a", "aggregator=,", "separator=|"].flatMap((o) => ["-E", o]),
    ...FIELDS.flatMap((f) => ["-e", f]),
  ]).catch((e) => {
    throw new Error(`${path}: tshark: ${e.message}`);
  });
  // tshark warns on stderr when run as root; the complaint that matters is the rest.
  const complaint = run.stderr
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("Running as user"))
    .join(" ");
  const packets = [];
  for (const line of run.stdout.split("\n")) {
    if (line === "") continue;
    const [frame, protocols, ipSrc, ipDst, ttl, ip6Src, ip6Dst, tcpSport, tcpDport, udpSport, udpDport, syn, kinds] =
      line.split("|");
    const layers = protocols.split(":");
    const inner = layers.findLastIndex((l) => l === "ip" || l === "ipv6");
    if (inner < 0) continue;
    const version = layers[inner] === "ip" ? 4 : 6;
    // The innermost header is the n-th of its version: tshark lists each field once per header.
    const nth = layers.slice(0, inner + 1).filter((l) => l === layers[inner]).length - 1;
    const at = (col) => col.split(",")[nth] ?? "";
    const last = (col) => col.split(",").at(-1) ?? "";
    const isTcp = layers.slice(inner).includes("tcp");
    const host = (ip) => (version === 4 ? ip : `[${ip}]`);
    const src = `${host(version === 4 ? at(ipSrc) : at(ip6Src))}:${last(isTcp ? tcpSport : udpSport)}`;
    const dst = `${host(version === 4 ? at(ipDst) : at(ip6Dst))}:${last(isTcp ? tcpDport : udpDport)}`;
    const isSyn = isTcp && /^(1|True)$/i.test(last(syn));
    packets.push({
      frame: Number(frame),
      src,
      dst,
      version,
      ttl: version === 4 ? Number(at(ttl)) : 0,
      layout: isSyn ? optionLayout(kinds === "" ? [] : kinds.split(",").map(Number)) : null,
    });
  }
  return { packets, damage: run.status === 0 ? "" : complaint || `tshark exited with ${run.status}` };
}

/** A command's exit status, stdout and stderr (spawn, so that several captures are read at once). */
function collect(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out = [],
      err = [];
    child.stdout.setEncoding("utf8").on("data", (d) => out.push(d));
    child.stderr.setEncoding("utf8").on("data", (d) => err.push(d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout: out.join(""), stderr: err.join("") }));
  });
}

/**
 * The stack (a stack-profile.js StackProfile) of `side` in its connection with `peer`, or
 * null when the packets do not tell (as sockscope's guessStack decides: no SYN and TTL 64,
 * a TTL no profile starts from, a layout the TTL's profiles do not write, a crafted SYN).
 * The evidence is the side's SYN (or SYN-ACK) nearest before `frame` (the first one when
 * none is before it: a 4-tuple may be used again), else its packets' most common TTL.
 */
export async function stackOfSide(packets, side, peer, frame) {
  const { guessStack } = await loadStackProfile();
  const mine = packets.filter((p) => p.src === side && p.dst === peer);
  if (mine.length === 0) return null;
  const syns = mine.filter((p) => p.layout !== null);
  const syn = syns.findLast((p) => p.frame <= frame) ?? syns[0];
  if (syn !== undefined) return guessStack({ ttl: syn.ttl, synOptionLayout: syn.layout }, syn.version);
  const counts = new Map();
  for (const p of mine) counts.set(p.ttl, (counts.get(p.ttl) ?? 0) + 1);
  const ttl = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
  return guessStack({ ttl, synOptionLayout: "" }, mine[0].version);
}
