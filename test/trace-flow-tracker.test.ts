/**
 * The flow table's TCP tracker (FlowTable.trackTcp, src/decode/flow/tcp-tracker.ts), traced the way
 * analyzers read it: after every segment, the facts of the segment (TcpSegment) and the
 * endpoint state they consult (next sequence number, last ACK, windows, FIN and RST
 * frames). Sequence numbers near 2^32 make both sides wrap mid-connection; window scale
 * shifts, a reset's window, FIN acknowledgement one below and at the FIN, a capture begun
 * mid-connection and a SYN re-sent after its own RST are each pinned at the boundary.
 */
import { describe, expect, it } from "vitest";
import type { Flow, TcpEndpoint } from "../src/decode/flow/record.js";
import type { TcpSegment } from "../src/decode/flow/tcp-tracker.js";
import { ACK, FIN, PSH, runScript, RST, SYN, TcpScript } from "./helpers/tcp-script.js";

type SegFacts = Pick<
  TcpSegment,
  "frame" | "dir" | "len" | "seqVsNext" | "nextSeqBefore" | "relSeq" | "relAck" | "winScaled" | "peerWin" | "inFlight"
>;
type EpFacts = Pick<
  TcpEndpoint,
  "isn" | "nextSeq" | "lastAck" | "win" | "winScaled" | "finFrame" | "finSeq" | "finAckedFrame" | "rstFrame"
>;
interface Step {
  seg: SegFacts;
  client: EpFacts;
  server: EpFacts;
  endedFrame: number;
}

function ep(e: TcpEndpoint): EpFacts {
  const { isn, nextSeq, lastAck, win, winScaled, finFrame, finSeq, finAckedFrame, rstFrame } = e;
  return { isn, nextSeq, lastAck, win, winScaled, finFrame, finSeq, finAckedFrame, rstFrame };
}

async function trace(script: TcpScript): Promise<{ steps: Step[]; flows: Flow[] }> {
  const steps: Step[] = [];
  const { engine } = await runScript(script, {
    onSegment({ seg, flow }) {
      const { frame, dir, len, seqVsNext, nextSeqBefore, relSeq, relAck, winScaled, peerWin, inFlight } = seg;
      steps.push({
        seg: { frame, dir, len, seqVsNext, nextSeqBefore, relSeq, relAck, winScaled, peerWin, inFlight },
        client: ep(flow.ep[0]),
        server: ep(flow.ep[1]),
        endedFrame: flow.endedFrame,
      });
    },
  });
  return { steps, flows: engine.flows.all };
}

describe("sequence numbers across the 2^32 wrap", () => {
  const C = 0xffffff00,
    S = 0xfffffff0;
  const script = () => {
    const s = new TcpScript({ client: C, server: S });
    s.handshake(1); // 1–3
    s.data(1.1, "client", 256); // 4: 0xffffff01 + 256 wraps to 1
    s.ack(1.2, "server"); // 5
    s.data(1.3, "client", 16); // 6: 1..17
    s.resend(1.4, "client", 0xffffff81, 128); // 7: old bytes from before the wrap
    s.data(1.5, "server", 32); // 8: the server wraps too: 0xfffffff1 + 32 = 0x11
    s.segment(1.6, "client", { seq: 17 + 100, ack: 0x11, flags: PSH | ACK, len: 10 }); // 9: 100 bytes missing
    s.fin(1.7, "client"); // 10: FIN at 127
    s.ack(1.8, "server", { ack: 127 }); // 11: acknowledges the data, not the FIN
    s.ack(1.9, "server"); // 12: ack 128, past the FIN
    s.fin(2, "server"); // 13: FIN at 0x11
    s.ack(2.1, "client"); // 14: both FINs acknowledged
    return s;
  };

  it("each segment's distance from the next byte, relative numbers and bytes in flight", async () => {
    const { steps } = await trace(script());
    const segs = steps.map((x) => x.seg);
    const W = 65535;
    // biome-ignore format: one segment a line reads as a trace
    expect(segs).toEqual([
      // SYN: the sender's next byte starts at its ISN; the peer not seen yet.
      { frame: 1, dir: 0, len: 0, seqVsNext: 0, nextSeqBefore: C, relSeq: 0, relAck: 0, winScaled: W, peerWin: -1, inFlight: 0 },
      { frame: 2, dir: 1, len: 0, seqVsNext: 0, nextSeqBefore: S, relSeq: 0, relAck: 1, winScaled: W, peerWin: W, inFlight: 0 },
      { frame: 3, dir: 0, len: 0, seqVsNext: 0, nextSeqBefore: C + 1, relSeq: 1, relAck: 1, winScaled: W, peerWin: W, inFlight: 0 },
      { frame: 4, dir: 0, len: 256, seqVsNext: 0, nextSeqBefore: C + 1, relSeq: 1, relAck: 1, winScaled: W, peerWin: W, inFlight: 256 },
      { frame: 5, dir: 1, len: 0, seqVsNext: 0, nextSeqBefore: S + 1, relSeq: 1, relAck: 257, winScaled: W, peerWin: W, inFlight: 0 },
      { frame: 6, dir: 0, len: 16, seqVsNext: 0, nextSeqBefore: 1, relSeq: 257, relAck: 1, winScaled: W, peerWin: W, inFlight: 16 },
      // 0xffffff81 is 144 bytes before 17: old data, and the next byte does not move back.
      { frame: 7, dir: 0, len: 128, seqVsNext: -144, nextSeqBefore: 17, relSeq: 129, relAck: 1, winScaled: W, peerWin: W, inFlight: 16 },
      { frame: 8, dir: 1, len: 32, seqVsNext: 0, nextSeqBefore: S + 1, relSeq: 1, relAck: 273, winScaled: W, peerWin: W, inFlight: 32 },
      { frame: 9, dir: 0, len: 10, seqVsNext: 100, nextSeqBefore: 17, relSeq: 373, relAck: 33, winScaled: W, peerWin: W, inFlight: 110 },
      { frame: 10, dir: 0, len: 0, seqVsNext: 0, nextSeqBefore: 127, relSeq: 383, relAck: 33, winScaled: W, peerWin: W, inFlight: 111 },
      { frame: 11, dir: 1, len: 0, seqVsNext: 0, nextSeqBefore: 0x11, relSeq: 33, relAck: 383, winScaled: W, peerWin: W, inFlight: 0 },
      { frame: 12, dir: 1, len: 0, seqVsNext: 0, nextSeqBefore: 0x11, relSeq: 33, relAck: 384, winScaled: W, peerWin: W, inFlight: 0 },
      { frame: 13, dir: 1, len: 0, seqVsNext: 0, nextSeqBefore: 0x11, relSeq: 33, relAck: 384, winScaled: W, peerWin: W, inFlight: 1 },
      { frame: 14, dir: 0, len: 0, seqVsNext: 0, nextSeqBefore: 128, relSeq: 384, relAck: 34, winScaled: W, peerWin: W, inFlight: 0 },
    ]);
  });

  it("each side's next byte, last ACK and FIN state", async () => {
    const { steps } = await trace(script());
    const at = (frame: number) => steps[frame - 1]!;
    expect(at(4).client).toMatchObject({ isn: C, nextSeq: 1 });
    expect(at(7).client.nextSeq).toBe(17);
    expect(at(8).server).toMatchObject({ isn: S, nextSeq: 0x11, lastAck: 17 });
    expect(at(9).client.nextSeq).toBe(127);
    expect(at(10).client).toMatchObject({ finFrame: 10, finSeq: 127, nextSeq: 128, finAckedFrame: 0 });
    // An ACK of the FIN's own sequence number acknowledges the bytes before it, not the FIN.
    expect(at(11).client.finAckedFrame).toBe(0);
    expect(at(11).server.lastAck).toBe(127);
    expect(at(12).client.finAckedFrame).toBe(12);
    expect(at(12).endedFrame).toBe(0); // one FIN acknowledged: not closed yet
    expect(at(13).server).toMatchObject({ finFrame: 13, finSeq: 0x11, nextSeq: 0x12 });
    expect(at(14).server.finAckedFrame).toBe(14);
    expect(at(14).endedFrame).toBe(14);
  });
});

describe("windows", () => {
  it("scaled by each side's shift once both SYNs carried one; a shift over 14 counts as 14; SYN windows never scaled", async () => {
    const s = new TcpScript();
    s.handshake(1, 0.001, { client: { wscale: 7 }, server: { wscale: 15 } }); // 1–3
    s.ack(1.1, "client", { win: 502 }); // 4
    s.ack(1.2, "server", { win: 3 }); // 5
    s.data(1.3, "client", 10); // 6
    const { steps } = await trace(s);
    expect(steps.map((x) => [x.seg.winScaled, x.seg.peerWin])).toEqual([
      [65535, -1], // SYN: unscaled
      [65535, 65535], // SYN-ACK: unscaled
      [65535 * 128, 65535],
      [502 * 128, 65535],
      [3 * 16384, 502 * 128],
      [65535 * 128, 3 * 16384],
    ]);
  });

  it("not scaled when only one SYN carried the option", async () => {
    const s = new TcpScript();
    s.handshake(1, 0.001, { client: { wscale: 7 } });
    s.ack(1.1, "client", { win: 502 });
    s.ack(1.2, "server", { win: 3 });
    const { steps } = await trace(s);
    expect(steps.slice(3).map((x) => x.seg.winScaled)).toEqual([502, 3]);
  });

  it("a reset's window is no advertisement: the peer still sees the last real one", async () => {
    const s = new TcpScript().handshake(1);
    s.ack(1.1, "server", { win: 1000 }); // 4
    s.segment(1.2, "server", { seq: s.next.server, ack: s.next.client, flags: RST | ACK, win: 0 }); // 5
    s.data(1.3, "client", 10); // 6
    const { steps } = await trace(s);
    expect(steps[4]!.server).toMatchObject({ win: 1000, winScaled: 1000, rstFrame: 5 });
    expect(steps[4]!.endedFrame).toBe(5);
    expect(steps[5]!.seg.peerWin).toBe(1000);
  });
});

describe("where relative numbers start", () => {
  it("mid-connection: one below the first sequence number seen, or the first ACK of a side not heard yet", async () => {
    const s = new TcpScript({ client: 7000, server: 5000 });
    s.data(1, "server", 10); // seq 5000, ack 7000
    s.data(1.1, "client", 20); // seq 7000
    const { steps, flows } = await trace(s);
    expect(flows[0]!.midstream).toBe(true);
    expect(steps[0]!.seg).toMatchObject({ dir: 1, relSeq: 1, relAck: 1, seqVsNext: 0, peerWin: -1, inFlight: 0 });
    expect(steps[0]!.server).toMatchObject({ isn: 4999, nextSeq: 5010 });
    expect(steps[0]!.client.isn).toBe(6999);
    expect(steps[1]!.seg).toMatchObject({ dir: 0, relSeq: 1, relAck: 11, seqVsNext: 0, inFlight: 20 });
  });
});

describe("a SYN re-sent after the client's own RST (before any SYN-ACK)", () => {
  it("undoes that RST: the connection attempt goes on, not ended", async () => {
    const s = new TcpScript();
    s.segment(1, "client", { seq: 1000, ack: 0, flags: SYN }); // 1
    s.ack(1.1, "server", { ack: 77 }); // 2: a stray ACK (the server's TIME-WAIT)
    s.segment(1.2, "client", { seq: 77, ack: 0, flags: RST }); // 3: the client refuses it
    s.segment(2, "client", { seq: 1000, ack: 0, flags: SYN }); // 4: the same SYN again
    const { steps, flows } = await trace(s);
    expect(flows.length).toBe(1);
    expect(steps.map((x) => [x.client.rstFrame, x.endedFrame])).toEqual([
      [0, 0],
      [0, 0],
      [3, 3],
      [0, 0],
    ]);
  });

  it("but a RST after the SYN-ACK stays", async () => {
    const s = new TcpScript().handshake(1);
    s.segment(1.2, "client", { seq: s.next.client, ack: 0, flags: RST }); // 4
    s.segment(2, "client", { seq: 1000, ack: 0, flags: SYN }); // 5: the old SYN again
    const { steps } = await trace(s);
    expect(steps[4]!.client.rstFrame).toBe(4);
    expect(steps[4]!.endedFrame).toBe(4);
  });
});

describe("FIN with data", () => {
  it("the FIN's sequence number is after its data; an ACK one past it acknowledges the FIN", async () => {
    const s = new TcpScript().handshake(1);
    s.data(1.1, "client", 10, { flags: FIN | PSH | ACK }); // 4: data 1001..1010, FIN at 1011
    s.ack(1.2, "server", { ack: 1011 }); // 5
    s.ack(1.3, "server", { ack: 1012 }); // 6
    const { steps } = await trace(s);
    expect(steps[3]!.client).toMatchObject({ finFrame: 4, finSeq: 1011, nextSeq: 1012 });
    expect(steps.slice(3).map((x) => x.client.finAckedFrame)).toEqual([0, 0, 6]);
  });
});

describe("new data: each side's last, and the one before each segment", () => {
  it("only payload from the next byte on, without SYN or RST, counts; re-sent bytes (even partly new) do not", async () => {
    const s = new TcpScript().handshake(1); // 1–3
    s.data(1.1, "client", 10); // 4: new data 1001..1010
    s.resend(1.2, "client", 1001, 10); // 5: the same bytes again
    s.probe(1.3, "client", 1); // 6: a keep-alive with one old byte
    s.segment(1.4, "client", { seq: 1005, ack: 5001, flags: PSH | ACK, len: 10 }); // 7: 1005..1014, only 1011.. new
    s.data(1.5, "server", 4, { flags: FIN | PSH | ACK }); // 8: the server's data with its FIN
    s.data(1.6, "client", 3); // 9: new data again
    s.segment(1.7, "client", { seq: 1018, ack: 5006, flags: RST | ACK, len: 2 }); // 10: a reset carrying bytes
    const facts: { frame: number; newData: boolean; prevDataTime: number; prevDataFrame: number }[] = [];
    const ends: number[][] = [];
    await runScript(s, {
      onSegment({ seg, flow }) {
        const { frame, newData, prevDataTime, prevDataFrame } = seg;
        facts.push({ frame, newData, prevDataTime, prevDataFrame });
        ends.push([flow.ep[0].lastDataFrame, flow.ep[1].lastDataFrame]);
      },
    });
    const at = (frame: number) => facts.find((f) => f.frame === frame);
    expect(facts.filter((f) => f.newData).map((f) => f.frame)).toEqual([4, 8, 9]);
    expect(at(4)).toMatchObject({ prevDataTime: -1, prevDataFrame: 0 });
    for (const frame of [5, 6, 7, 9]) expect(at(frame)).toMatchObject({ prevDataTime: 1.1, prevDataFrame: 4 });
    expect(at(10)).toMatchObject({ prevDataTime: 1.6, prevDataFrame: 9 });
    // After each segment: the client's and the server's last new data.
    expect(ends).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
      [4, 0],
      [4, 0],
      [4, 0],
      [4, 0],
      [4, 8],
      [9, 8],
      [9, 8],
    ]);
  });
});
