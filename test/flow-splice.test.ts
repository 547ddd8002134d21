/**
 * Spliced captures and ports reused long after (table.ts, SPLIT_AFTER_QUIET_SEC): a 4-tuple's
 * packets after a quiet no TCP timer explains, or across a clock jump, are another flow
 * unless their numbers continue the old one; a new SYN whose ISN lies away from where the
 * old flow's sender had reached is a new connection at any gap. The spliced captures in
 * fixtures/scenarios/splice/ are real recordings cut and joined with editcap and mergecap
 * (make.sh there); each must give the flows and findings of its two excerpts analysed alone.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { SPLIT_AFTER_QUIET_SEC } from "../src/decode/flow/table.js";
import type { Report } from "../src/report/model.js";
import { ETH_IPV4, ethernet, ipv4, pcapFile, tcp, udp, type PcapRecord } from "./helpers/build.js";
import { FIXTURES } from "./helpers/paths.js";

const SPLICE = join(FIXTURES, "scenarios", "splice");
const dir = mkdtempSync(join(tmpdir(), "sockscope-splice-"));

/** The findings of a report as comparable across captures: frame numbers shifted by `offset`. */
function findingsOf(r: Report, offset = 0, flowOffset = 0): unknown[] {
  const shift = (n: number): number => n + offset;
  return r.findings.map((f) => ({
    kind: f.kind,
    severity: f.severity,
    flow: f.flow === null ? null : f.flow + flowOffset,
    side: f.side,
    frames: f.frames.map(shift),
    count: f.count,
    measure: f.measure,
    summary: f.summary.replace(
      /\b(frames?) (\d+(?:, \d+)*)/g,
      (_m, w: string, list: string) =>
        `${w} ${list
          .split(", ")
          .map((n) => shift(Number(n)))
          .join(", ")}`,
    ),
  }));
}

/** What a flow row says of the connection, without its id, frames and start; frame numbers shifted by `offset`. */
function flowsOf(r: Report, offset = 0): unknown[] {
  return r.flows.map((f) => ({
    client: f.client,
    server: f.server,
    rolesGuessed: f.rolesGuessed,
    packets: f.packets,
    bytes: f.bytes,
    close: f.close === null || !f.close.frame ? f.close : { ...f.close, frame: f.close.frame + offset },
    state: f.state,
    durationSec: f.durationSec,
  }));
}

const SPLICES: { file: string; first: string; later: string; reuses: boolean }[] = [
  { file: "midstream-3h", first: "a-mid", later: "b-mid", reuses: false },
  { file: "midstream-2d", first: "a-mid", later: "b-mid", reuses: false },
  { file: "midstream-reversed-3h", first: "b-mid", later: "a-mid", reuses: false },
  { file: "closewait-3h", first: "a-closewait", later: "b-full", reuses: true },
  { file: "reuse-unclosed-3h", first: "a-open", later: "b-full", reuses: true },
  { file: "reuse-midstream-3h", first: "a-mid", later: "b-full", reuses: true },
  { file: "udp-3h", first: "udp-1", later: "udp-2", reuses: false },
];

describe("a capture spliced from excerpts: each excerpt's own flows and findings", () => {
  for (const s of SPLICES) {
    it(`${s.file} = ${s.first} + ${s.later}`, async () => {
      const [whole, first, later] = await Promise.all(
        [s.file, s.first, s.later].map((f) => analyzeFile(join(SPLICE, `${f}.pcap`))),
      );
      expect(first!.flows).toHaveLength(1);
      expect(later!.flows).toHaveLength(1);
      // Two flows: the later excerpt's starts at its first frame.
      expect(whole!.flows.map((f) => [f.firstFrame, f.lastFrame])).toEqual([
        [1, first!.capture.packets],
        [first!.capture.packets + 1, first!.capture.packets + later!.capture.packets],
      ]);
      expect(flowsOf(whole!)).toEqual([...flowsOf(first!), ...flowsOf(later!, first!.capture.packets)]);
      // Only a SYN proves the 4-tuple reused; a flow picked up mid-stream claims nothing.
      expect(whole!.flows[1]!.previous).toBe(s.reuses ? 1 : null);
      expect(findingsOf(whole!)).toEqual([...findingsOf(first!), ...findingsOf(later!, first!.capture.packets, 1)]);
    });
  }

  it("no finding measured across the splice: no CLOSE_WAIT for 3 h, no re-sends of a reversed splice", async () => {
    // What one merged flow drew from these before flows split at a gap: a 10 802 s
    // CLOSE_WAIT, and both sides' re-sends with waits taken across the splice.
    const cw = await analyzeFile(join(SPLICE, "closewait-3h.pcap"));
    expect(cw.findings.map((f) => f.kind)).not.toContain("close-wait");
    const rev = await analyzeFile(join(SPLICE, "midstream-reversed-3h.pcap"));
    expect(rev.findings.map((f) => f.kind)).not.toContain("retransmission");
  });

  it("one connection idle for 3 h, its numbers continuing, stays one flow", async () => {
    const [whole, head, tail] = (await Promise.all(
      ["idle-3h", "a-head", "a-tail"].map((f) => analyzeFile(join(SPLICE, `${f}.pcap`))),
    )) as [Report, Report, Report];
    expect(whole.flows).toHaveLength(1);
    const f = whole.flows[0]!;
    expect(f.packets.client + f.packets.server).toBe(head.capture.packets + tail.capture.packets);
    expect(f.durationSec).toBeGreaterThan(3 * 3600);
    expect(f.rolesGuessed).toBe(false);
  });
});

// Hand-built segments for the edges of the rule.
const SYN = 0x02,
  ACK = 0x10,
  PSH = 0x08;
const CLIENT = 0x0a000001,
  SERVER = 0x0a000002;

function seg(t: number, fromClient: boolean, seq: number, ack: number, flags: number, data = 0): PcapRecord {
  const [src, dst, sport, dport] = fromClient ? [CLIENT, SERVER, 40000, 80] : [SERVER, CLIENT, 80, 40000];
  const payload = tcp({ srcPort: sport, dstPort: dport, seq, ack, flags, win: 512, payload: new Uint8Array(data) });
  return {
    tsSec: Math.floor(t),
    tsFrac: Math.round((t % 1) * 1e6),
    data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 6, payload })),
  };
}

function dgram(t: number, fromClient: boolean): PcapRecord {
  const [src, dst, sport, dport] = fromClient ? [CLIENT, SERVER, 40000, 53] : [SERVER, CLIENT, 53, 40000];
  const payload = udp(sport, dport, new Uint8Array(20));
  return { tsSec: Math.floor(t), tsFrac: 0, data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 17, payload })) };
}

async function flowsIn(name: string, records: PcapRecord[]): Promise<Report["flows"]> {
  const path = join(dir, name);
  writeFileSync(path, pcapFile(records));
  return (await analyzeFile(path)).flows;
}

/** A connection caught mid-stream: one request and its answer from t = 1000. */
function midstream(t = 1000): PcapRecord[] {
  return [
    seg(t, true, 5000, 9000, ACK | PSH, 100),
    seg(t + 0.01, false, 9000, 5100, ACK | PSH, 100),
    seg(t + 0.02, true, 5100, 9100, ACK),
  ];
}

describe("where the rule draws its lines", () => {
  const T = 1000 + SPLIT_AFTER_QUIET_SEC;
  it("mid-stream packets whose numbers are elsewhere: a new flow after the quiet, the same flow before it", async () => {
    const other = (t: number): PcapRecord[] => [seg(t, true, 70_000_000, 80_000_000, ACK | PSH, 100)];
    expect(await flowsIn("far-after.pcap", [...midstream(), ...other(T + 1)])).toHaveLength(2);
    expect(await flowsIn("far-before.pcap", [...midstream(), ...other(T - 1)])).toHaveLength(1);
  });

  it("the same numbers after any quiet: the same idle connection (keep-alive probe, then data)", async () => {
    const later = [
      seg(T + 3600, true, 5099, 9100, ACK),
      seg(T + 3600, false, 9100, 5100, ACK),
      seg(T + 3601, true, 5100, 9100, ACK | PSH, 10),
    ];
    expect(await flowsIn("idle.pcap", [...midstream(), ...later])).toHaveLength(1);
  });

  it("a sequence number that continues but an acknowledgement that does not: another connection", async () => {
    const later = [seg(T + 1, true, 5100, 123_456_789, ACK | PSH, 10)];
    expect(await flowsIn("ack-elsewhere.pcap", [...midstream(), ...later])).toHaveLength(2);
  });

  it("a stack's SYN far from the mid-stream sender's numbers: a new connection, even 1 s later", async () => {
    const flows = await flowsIn("syn-midstream.pcap", [...midstream(), seg(1001, true, 70_000_000, 0, SYN)]);
    expect(flows).toHaveLength(2);
    expect(flows[1]!.previous).toBe(1);
  });

  it("a SYN at the sequence number the server's SYN-ACK acknowledged (its late re-send) stays in its flow", async () => {
    const flows = await flowsIn("syn-resent.pcap", [
      seg(1000, false, 9000, 5001, SYN | ACK),
      seg(1001, true, 5000, 0, SYN),
    ]);
    expect(flows).toHaveLength(1);
  });

  it("UDP: a datagram after the quiet is a new flow; within it, or across a clock jump, the same", async () => {
    const first = [dgram(1000, true), dgram(1000, false)];
    expect(await flowsIn("udp-far.pcap", [...first, dgram(T + 1, true)])).toHaveLength(2);
    expect(await flowsIn("udp-near.pcap", [...first, dgram(T - 1, true)])).toHaveLength(1);
    // A pcapng Simple Packet Block has no timestamp (time 0): the clock jumps, the conversation goes on.
    expect(await flowsIn("udp-untimed.pcap", [...first, dgram(0, true), dgram(1001, false)])).toHaveLength(1);
  });

  it("TCP across a clock jump (2 days): split when the numbers are elsewhere, kept when they continue", async () => {
    const later = 1000 + 2 * 86_400;
    const elsewhere = [seg(later, true, 70_000_000, 80_000_000, ACK | PSH, 100)];
    const continuing = [seg(later, true, 5100, 9100, ACK | PSH, 10)];
    expect(await flowsIn("jump-elsewhere.pcap", [...midstream(), ...elsewhere])).toHaveLength(2);
    expect(await flowsIn("jump-continuing.pcap", [...midstream(), ...continuing])).toHaveLength(1);
  });
});
