/**
 * SideHistory (src/analyze/lib/side-history.ts), traced: a hand-written connection goes through
 * the real engine and, after every segment, both sides' marks are compared whole with what
 * the segment must leave there. The resets judge by these counts (abortive-close,
 * reset-by-peer-reboot), so a count that is not cleared when the other side speaks, or a
 * probe not counted as wanting an answer, changes their verdicts without a fixture noticing.
 *
 * Times are multiples of 1/8 s: exact in binary, so idle times compare exactly.
 */
import { describe, expect, it } from "vitest";
import { defineAnalyzer } from "../src/analyze/analyzer.js";
import { type SideHistory, SideMark } from "../src/analyze/lib/side-history.js";
import { runScript, TcpScript } from "./helpers/tcp-script.js";

/** An analyzer that only asks for the flow's SideHistory, so the engine keeps one and the test can read it. */
function historyReader(): { analyzer: ReturnType<typeof defineAnalyzer<null>>; history: () => SideHistory } {
  let history: SideHistory | null = null;
  const analyzer = defineAnalyzer<null>({
    id: "side-history-reader",
    title: "test: reads the SideHistory",
    severity: "info",
    family: "tcp-transfer",
    wire: "-",
    explanation: "-",
    references: [],
    usesSideHistory: true,
    onTcpSegment(_s, flow, _seg, _p, out) {
      history ??= out.sideHistory(flow);
    },
  });
  return {
    analyzer,
    history: () => {
      if (history === null) throw new Error("no SideHistory was handed out");
      return history;
    },
  };
}

interface Snapshot {
  frame: number;
  established: boolean;
  client: SideMark;
  server: SideMark;
}

/** A mark with every field at its start value but those given. */
function mark(fields: Partial<SideMark>): SideMark {
  return Object.assign(new SideMark(), fields);
}

/** Both sides' marks after every segment of `script`. */
async function trace(script: TcpScript): Promise<Snapshot[]> {
  const reader = historyReader();
  const out: Snapshot[] = [];
  await runScript(script, {
    analyzers: [reader.analyzer],
    onSegment({ frame }) {
      const h = reader.history();
      out.push({
        frame,
        established: h.established,
        client: Object.assign(new SideMark(), h.sides[0]),
        server: Object.assign(new SideMark(), h.sides[1]),
      });
    },
  });
  return out;
}

describe("SideHistory, segment by segment", () => {
  it("counts each side's data and re-sends since the other side last spoke, and clears them when it does", async () => {
    const s = new TcpScript().handshake(1, 0.125); // frames 1–3 at 1, 1.125, 1.25
    const firstData = s.next.client;
    s.data(1.5, "client", 100) // 4
      .data(1.625, "client", 50) // 5
      .resend(2, "client", firstData, 100) // 6: old data
      .resend(3, "client", firstData, 100) // 7
      .ack(3.5, "server") // 8: a pure ACK
      .data(4, "server", 20) // 9: the server's first data
      .probe(14, "client") // 10: a keep-alive after 10 s idle
      .rst(14.5, "server"); // 11: resets are not noted
    const steps = await trace(s);
    expect(steps.map((x) => x.frame)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const at = (frame: number) => steps[frame - 1]!;

    // Handshake: not established until the client acknowledges the SYN-ACK.
    expect(at(1)).toEqual({
      frame: 1,
      established: false,
      client: mark({ lastFrame: 1, lastTime: 1 }),
      server: mark({}),
    });
    expect(at(2)).toEqual({
      frame: 2,
      established: false,
      client: mark({ lastFrame: 1, lastTime: 1 }),
      server: mark({ lastFrame: 2, lastTime: 1.125, idleBefore: 0.125 }),
    });
    expect(at(3).established).toBe(true);
    expect(at(3).client).toEqual(mark({ lastFrame: 3, lastTime: 1.25, idleBefore: 0.125 }));

    // Two writes: counted together from the first, which also starts the unanswered-data count.
    const client5 = mark({
      lastFrame: 5,
      lastTime: 1.625,
      lastWantsAnswer: true,
      dataSinceOther: 150,
      firstDataSinceOther: 4,
      dataSinceOtherData: 150,
      firstDataSinceOtherData: 4,
      lastPayloadFrame: 5,
      idleBefore: 0.125,
    });
    expect(at(4).client).toEqual(
      mark({
        ...client5,
        lastFrame: 4,
        lastTime: 1.5,
        dataSinceOther: 100,
        dataSinceOtherData: 100,
        lastPayloadFrame: 4,
        idleBefore: 0.25,
      }),
    );
    expect(at(5).client).toEqual(client5);

    // Re-sends count as re-sends, not as new data.
    expect(at(6).client).toEqual(
      mark({ ...client5, lastFrame: 6, lastPayloadFrame: 6, lastTime: 2, resendsSinceOther: 1, idleBefore: 0.375 }),
    );
    expect(at(7).client).toEqual(
      mark({ ...client5, lastFrame: 7, lastPayloadFrame: 7, lastTime: 3, resendsSinceOther: 2, idleBefore: 1 }),
    );

    // The server's pure ACK ends the client's "since the other side" counts, re-sends included,
    // but not its unanswered data: an ACK is no answer from the program.
    const client8 = mark({
      ...client5,
      lastFrame: 7,
      lastPayloadFrame: 7,
      lastTime: 3,
      idleBefore: 1,
      dataSinceOther: 0,
      firstDataSinceOther: 0,
    });
    expect(at(8)).toEqual({
      frame: 8,
      established: true,
      client: client8,
      // Its window while the client's data is unanswered: the run's largest (abortive-close's read evidence).
      server: mark({ lastFrame: 8, lastTime: 3.5, idleBefore: 0.5, maxWindowInRun: 65535 }),
    });

    // The server's data answers the client's: now that count ends too.
    const server9 = mark({
      lastFrame: 9,
      lastTime: 4,
      lastWantsAnswer: true,
      dataSinceOther: 20,
      firstDataSinceOther: 9,
      dataSinceOtherData: 20,
      firstDataSinceOtherData: 9,
      lastPayloadFrame: 9,
      idleBefore: 0.5,
      maxWindowInRun: 65535,
    });
    expect(at(9).client).toEqual(mark({ ...client8, dataSinceOtherData: 0, firstDataSinceOtherData: 0 }));
    expect(at(9).server).toEqual(server9);

    // A keep-alive probe re-sends old sequence space and wants an answer; it ends the
    // server's count of data since the client spoke, not its count of unanswered data.
    const client10 = mark({
      ...client8,
      dataSinceOtherData: 0,
      firstDataSinceOtherData: 0,
      lastFrame: 10,
      lastTime: 14,
      lastWantsAnswer: true,
      resendsSinceOther: 1,
      idleBefore: 10,
      maxWindowInRun: 65535, // its window while the server's data is unanswered
    });
    const server10 = mark({ ...server9, dataSinceOther: 0, firstDataSinceOther: 0 });
    expect(at(10)).toEqual({ frame: 10, established: true, client: client10, server: server10 });

    // The reset is not noted: at a reset the history still describes what came before it.
    expect(at(11)).toEqual({ frame: 11, established: true, client: client10, server: server10 });
  });

  it("a side's last segment without data (a pure ACK) wants no answer; its data before it still counts", async () => {
    const s = new TcpScript().handshake(1, 0.125).data(1.5, "client", 10).ack(2, "client");
    const steps = await trace(s);
    expect(steps[4]!.client).toEqual(
      mark({
        lastFrame: 5,
        lastTime: 2,
        lastWantsAnswer: false,
        dataSinceOther: 10,
        firstDataSinceOther: 4,
        dataSinceOtherData: 10,
        firstDataSinceOtherData: 4,
        lastPayloadFrame: 4,
        idleBefore: 0.5,
      }),
    );
  });

  it("a capture that begins mid-connection is established from its first segment", async () => {
    const s = new TcpScript().data(1, "server", 10);
    const [first] = await trace(s);
    expect(first!.established).toBe(true);
    expect(first!.server).toEqual(
      mark({
        lastFrame: 1,
        lastTime: 1,
        lastWantsAnswer: true,
        dataSinceOther: 10,
        firstDataSinceOther: 1,
        dataSinceOtherData: 10,
        firstDataSinceOtherData: 1,
        lastPayloadFrame: 1,
      }),
    );
  });

  it("a server's bare ACK to a SYN (its TIME-WAIT answering) does not establish the connection", async () => {
    const s = new TcpScript();
    s.segment(1, "client", { seq: 1000, ack: 0, flags: 0x02 });
    s.ack(1.125, "server", { ack: 77 });
    const steps = await trace(s);
    expect(steps.map((x) => x.established)).toEqual([false, false]);
  });

  it("a client ACK before any SYN-ACK does not establish a connection whose SYN was seen", async () => {
    const s = new TcpScript();
    s.segment(1, "client", { seq: 1000, ack: 0, flags: 0x02 });
    s.ack(1.125, "client", { ack: 5001 });
    s.segment(1.25, "server", { seq: 5000, ack: 1001, flags: 0x12 });
    s.ack(1.375, "client");
    const steps = await trace(s);
    expect(steps.map((x) => x.established)).toEqual([false, false, false, true]);
  });
});
