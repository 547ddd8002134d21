/**
 * ip-fragmentation: UDP (or TCP) datagrams that travelled as IP fragments, reassembled
 * (RFC 791 §3.2, RFC 8200 §4.5). Reported per flow: how many datagrams, their sizes, the
 * largest fragment seen (the path MTU the sender's kernel used), and how that compares
 * with the 548-byte payload the socket FAQ calls safe. Tags every fragment's frame, as
 * tshark's ip.fragment verdicts do. Fragments smaller than the minimum MTU (68 bytes for
 * IPv4, 1280 for IPv6) or a TCP header split across fragments reveal no path MTU: that is
 * crafted fragmentation, and is said so.
 */
import { defineAnalyzer } from "../analyzer.js";
import { keepFrame, NO_FRAMES, roleOf } from "../lib/measure.js";
import { DIR_CLIENT, type Flow } from "../../decode/flow/record.js";
import { L4_TCP } from "../../decode/wire/packet.js";
import { minimumMtu } from "../lib/icmp-meaning.js";

/** A TCP header without options: a first fragment shorter than this splits the header, flags included (RFC 1858's tiny fragment). */
const TCP_HEADER_BYTES = 20;

/** The FAQ's safe UDP payload: 576-byte minimum reassembly buffer − 20 IP − 8 UDP (000 §5.8). */
export const SAFE_UDP_PAYLOAD = 548;

class State {
  readonly datagrams: [number, number] = [0, 0];
  minSize = [Infinity, Infinity];
  maxSize = [0, 0];
  /** Largest fragment (IP packet bytes) per direction: the path MTU in use. */
  maxFragment = [0, 0];
  maxFragments = [0, 0];
  frames: readonly number[] = NO_FRAMES;
  firstTime = -1;
  /** TCP only: the shortest first fragment (transport bytes at offset 0), per direction. */
  minFirstFragment = [Infinity, Infinity];
}

const analyzer = defineAnalyzer<State>({
  id: "ip-fragmentation",
  title: "Datagrams larger than the path MTU were sent as IP fragments",
  severity: "warning",
  family: "udp-ip-icmp",
  wire: "A UDP datagram carried in several IP fragments (IPv4 MF/offset, IPv6 Fragment header), reassembled by the receiver.",
  explanation:
    "The program handed the kernel a datagram (one sendto()/send() call) larger than the path MTU allows, so the " +
    "sending host's IP layer cut it into fragments and only the receiving host's IP layer put it back together. It works " +
    "on a clean LAN, but every fragment must arrive for the datagram to be delivered: lose one and the whole datagram " +
    "is silently discarded after the reassembly timeout, firewalls and NATs often drop fragments, and IPv6 routers never " +
    "fragment (they answer with Packet Too Big). recvfrom() on the other side just never returns that datagram; no error " +
    "reaches either program. Keep datagrams within the path MTU (the FAQ's conservative limit is 548 bytes of payload; " +
    "1472 on a 1500-byte Ethernet path for IPv4, 1452 for IPv6), split application messages yourself, or use TCP for " +
    "bulk data. IP_MTU_DISCOVER/IPV6_DONTFRAG make oversized sends fail with EMSGSIZE instead.",
  references: ["000 §5.8"],
  createState: () => new State(),
  onDatagramComplete(s, _flow, dir, d, p, out) {
    s.datagrams[dir] = s.datagrams[dir]! + 1;
    const size = p.udpLen > 0 ? p.udpLen - 8 : p.payloadLen;
    if (size < s.minSize[dir]!) s.minSize[dir] = size;
    if (size > s.maxSize[dir]!) s.maxSize[dir] = size;
    for (const f of d.fragmentSizes) if (f > s.maxFragment[dir]!) s.maxFragment[dir] = f;
    if (d.fragmentCount > s.maxFragments[dir]!) s.maxFragments[dir] = d.fragmentCount;
    for (const f of d.frames) s.frames = keepFrame(s.frames, f, out.frameCap);
    if (s.firstTime < 0) s.firstTime = d.firstTime;
    const first = d.pieces.find((piece) => piece.offset === 0);
    if (first !== undefined && first.data.length < s.minFirstFragment[dir]!)
      s.minFirstFragment[dir] = first.data.length;
  },
  onFlowEnd(s, flow, out) {
    const dirs = [0, 1].filter((dir) => s.datagrams[dir]! > 0);
    if (dirs.length === 0) return;
    const dir = dirs.reduce((a, b) => (s.datagrams[b]! > s.datagrams[a]! ? b : a), DIR_CLIENT);
    const n = s.datagrams[0]! + s.datagrams[1]!;
    // Each direction is its own sender's doing: its figures are said apart (a crafting tool
    // on the path fragments both ways).
    const said = dirs.map((d) => describeSide(s, flow, d));
    const summary =
      dirs.length === 1
        ? `${n} datagram(s) from the ${roleOf(dir)} were fragmented: ${said[0]!.figures}${said[0]!.crafted ? ", " : " "}${said[0]!.why}`
        : `${n} datagram(s) were fragmented, ` +
          dirs.map((d, i) => `${s.datagrams[d]} from the ${roleOf(d)} (${said[i]!.figures})`).join(" and ") +
          (said.every((x) => x.crafted)
            ? `: both ways smaller than any link needs or splitting the TCP header, so no path MTU explains it; ${crafted("by a tool on the path rather than one program, ")}`
            : `: ${dirs.map((d, i) => `the ${roleOf(d)}'s fragments ${said[i]!.why}`).join("; ")}`);
    out.report(analyzer, {
      flow,
      dir,
      frames: s.frames,
      count: n,
      time: s.firstTime,
      summary,
      measure: {
        datagrams: n,
        minPayloadBytes: s.minSize[dir]!,
        maxPayloadBytes: s.maxSize[dir]!,
        largestFragmentBytes: s.maxFragment[dir]!,
        maxFragmentsPerDatagram: s.maxFragments[dir]!,
        safePayloadBytes: SAFE_UDP_PAYLOAD,
      },
    });
  },
});
export default analyzer;

/** Crafted fragmentation, `by` whom if known, and why it is made. */
function crafted(by = ""): string {
  return `crafted fragmentation, ${by}as used to slip past firewalls and intrusion detection`;
}

/** What one direction's fragmented datagrams show: sizes, fragments, and whether a path MTU explains them. */
function describeSide(s: State, flow: Flow, dir: number): { figures: string; why: string; crafted: boolean } {
  const sizes = s.minSize[dir] === s.maxSize[dir] ? `${s.maxSize[dir]}` : `${s.minSize[dir]}-${s.maxSize[dir]}`;
  const tcp = flow.proto === L4_TCP;
  const minMtu = minimumMtu(flow.ipVersion);
  const tinyFirst = tcp && s.minFirstFragment[dir]! < TCP_HEADER_BYTES;
  // Cut smaller than any link needs, or a TCP header split across fragments: no path
  // MTU explains it; it is fragmentation made to slip past filters (RFC 1858, RFC 3128).
  const isCrafted = s.maxFragment[dir]! < minMtu || tinyFirst;
  const figures = `${sizes} bytes of payload each, in up to ${s.maxFragments[dir]} fragments of at most ${s.maxFragment[dir]} bytes`;
  const why = isCrafted
    ? `${s.maxFragment[dir]! < minMtu ? `smaller than any link needs (the minimum MTU is ${minMtu})` : ""}` +
      `${s.maxFragment[dir]! < minMtu && tinyFirst ? ", " : ""}` +
      `${tinyFirst ? `the first holding only ${s.minFirstFragment[dir]} bytes of the TCP header` : ""}: ` +
      `no path MTU explains it; ${crafted()}`
    : "(the path MTU)" +
      (tcp ? "" : `; ${Math.ceil(s.maxSize[dir]! / SAFE_UDP_PAYLOAD)}x the ${SAFE_UDP_PAYLOAD}-byte safe size`);
  return { figures, why, crafted: isCrafted };
}
