/**
 * The per-segment facts (src/decode/flow/segment-facts.ts) on hand-written conversations:
 * a capture copy against a real re-send, a BSD FIN repeated on an ACK against a FIN the
 * timer re-sent, keep-alive and zero-window probes, duplicate ACKs, window updates, and a
 * segment whose header the decoder rejects. Each fact is read off the segment the
 * analyzers receive (runScript's onSegment), frame by frame.
 */
import { describe, expect, it } from "vitest";
import peerUnresponsive from "../src/analyze/analyzers/peer-unresponsive.js";
import retransmission from "../src/analyze/analyzers/retransmission.js";
import zeroWindow from "../src/analyze/analyzers/zero-window.js";
import {
  COPY_NO_ID_MAX_SEC,
  COPY_SAME_ID_MAX_SEC,
  RESEND_FIN_REPEAT,
  RESEND_NONE,
  RESEND_SPURIOUS,
  RESEND_TIMEOUT,
} from "../src/decode/flow/segment-facts.js";
import { ACK, FIN, findingsOf, PSH, runScript, TcpScript } from "./helpers/tcp-script.js";

interface Facts {
  captureCopy: boolean;
  headerRejected: boolean;
  resend: number;
  keepAliveProbe: boolean;
  zeroWindowProbe: boolean;
  dupAck: boolean;
  windowUpdate: boolean;
}

/** The facts of every segment, by frame. */
async function factsOf(s: TcpScript): Promise<Map<number, Facts>> {
  const out = new Map<number, Facts>();
  await runScript(s, {
    onSegment: ({ frame, seg }) =>
      out.set(frame, {
        captureCopy: seg.captureCopy,
        headerRejected: seg.headerRejected,
        resend: seg.resend,
        keepAliveProbe: seg.keepAliveProbe,
        zeroWindowProbe: seg.zeroWindowProbe,
        dupAck: seg.dupAck,
        windowUpdate: seg.windowUpdate,
      }),
  });
  return out;
}

describe("capture copy or re-send", () => {
  /** The client's 100 bytes at 1.5 s (IP id `ipId`, TSval 500), then the same bytes at `t` with `again`'s id and TSval. */
  function sentTwice(t: number, again: { ipId: number; tsVal: number }, ipId = 7): TcpScript {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client,
      ack = s.next.server;
    const segment = (at: number, id: number, tsVal: number) =>
      s.segment(at, "client", { seq, ack, flags: PSH | ACK, len: 100, ipId: id, options: { ts: [tsVal, 1] } });
    segment(1.5, ipId, 500);
    return segment(t, again.ipId, again.tsVal);
  }

  it("same IP id and TSval 50 ms later, the peer's ACK between: a copy", async () => {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client,
      ack = s.next.server;
    const original = { seq, ack, flags: PSH | ACK, len: 100, ipId: 7, options: { ts: [500, 1] as const } };
    s.segment(1.5, "client", original).ack(1.52, "server").segment(1.55, "client", original);
    const f = await factsOf(s);
    expect(f.get(4)!.captureCopy).toBe(false);
    // Its `resend` is what tshark calls it (spurious: the ACK came first); no analyzer counts it.
    expect(f.get(6)).toMatchObject({ captureCopy: true, resend: RESEND_SPURIOUS });
  });

  it("a new IP id: the sender sent it again (a re-send)", async () => {
    const f = await factsOf(sentTwice(1.8, { ipId: 8, tsVal: 500 }));
    expect(f.get(5)).toMatchObject({ captureCopy: false, resend: RESEND_TIMEOUT });
  });

  it("the same IP id but a new TSval: a re-send", async () => {
    const f = await factsOf(sentTwice(1.8, { ipId: 7, tsVal: 800 }));
    expect(f.get(5)).toMatchObject({ captureCopy: false, resend: RESEND_TIMEOUT });
  });

  it(`the same IP id more than ${COPY_SAME_ID_MAX_SEC * 1000} ms later: a sender keeping its id, a re-send`, async () => {
    expect((await factsOf(sentTwice(1.5 + COPY_SAME_ID_MAX_SEC, { ipId: 7, tsVal: 500 }))).get(5)!.captureCopy).toBe(
      true,
    );
    const f = await factsOf(sentTwice(1.5 + COPY_SAME_ID_MAX_SEC + 0.001, { ipId: 7, tsVal: 500 }));
    expect(f.get(5)).toMatchObject({ captureCopy: false, resend: RESEND_TIMEOUT });
  });

  it(`without an IP id (0): identical within ${COPY_NO_ID_MAX_SEC * 1000} ms is a copy, later a re-send`, async () => {
    const copy = await factsOf(sentTwice(1.5 + COPY_NO_ID_MAX_SEC, { ipId: 0, tsVal: 500 }, 0));
    expect(copy.get(5)!.captureCopy).toBe(true);
    const resent = await factsOf(sentTwice(1.5 + COPY_NO_ID_MAX_SEC + 0.001, { ipId: 0, tsVal: 500 }, 0));
    expect(resent.get(5)!.captureCopy).toBe(false);
  });

  it("a copy of an earlier segment than the last (the copies arrive late, after newer packets)", async () => {
    const t = new TcpScript().handshake(1);
    const seq = t.next.client;
    t.segment(1.5, "client", { seq, ack: t.next.server, flags: PSH | ACK, len: 100, ipId: 8 });
    t.segment(1.5001, "client", { seq: seq + 100, ack: t.next.server, flags: ACK, len: 50, ipId: 9 });
    t.segment(1.52, "client", { seq, ack: t.next.server, flags: PSH | ACK, len: 100, ipId: 8 });
    const f = await factsOf(t);
    expect(f.get(6)!.captureCopy).toBe(true);
  });

  it("retransmission counts a copy apart (info) and a re-send as one", async () => {
    const [copy] = await findingsOf(retransmission, sentTwice(1.55, { ipId: 7, tsVal: 500 }));
    expect(copy).toMatchObject({ severity: "info", frames: [5] });
    expect(copy!.measure).toMatchObject({ retransmissions: 0, duplicates: 1 });
    const [resend] = await findingsOf(retransmission, sentTwice(1.8, { ipId: 8, tsVal: 530 }));
    expect(resend).toMatchObject({ severity: "warning", frames: [5] });
    expect(resend!.measure).toMatchObject({ retransmissions: 1, rto: 1, duplicates: 0 });
  });
});

describe("a BSD FIN repeated on an ACK", () => {
  /** The server closes at 1.1 s; the client goes on sending 100 bytes at 1.2 s (half-close). */
  function halfClosed(): TcpScript {
    return new TcpScript().handshake(1).data(1.05, "client", 10).fin(1.1, "server").data(1.2, "client", 100);
  }

  it("the FIN again on the ACK of new data: a FIN repeat, not tagged as a re-send", async () => {
    const s = halfClosed();
    const finSeq = s.next.server - 1;
    s.segment(1.2002, "server", { seq: finSeq, ack: s.next.client, flags: FIN | ACK });
    const f = await factsOf(s);
    expect(f.get(7)!.resend).toBe(RESEND_FIN_REPEAT);
    expect(await findingsOf(retransmission, s)).toEqual([]);
  });

  it("the FIN again with the ACK it already sent, after a silence: the timer's re-send", async () => {
    const s = halfClosed();
    const finSeq = s.next.server - 1;
    s.segment(1.5, "server", { seq: finSeq, ack: s.next.client - 100, flags: FIN | ACK });
    const f = await factsOf(s);
    expect(f.get(7)!.resend).toBe(RESEND_TIMEOUT);
    const [found] = await findingsOf(retransmission, s);
    expect(found).toMatchObject({ severity: "warning", frames: [7] });
  });
});

describe("probes, duplicate ACKs, window updates", () => {
  it("a copy of an ACK is no second ACK: no duplicate ACK, and the ACK after it is counted from the original", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10);
    const ack = { seq: s.next.server, ack: s.next.client, flags: ACK, ipId: 40 };
    s.segment(1.2, "server", ack).segment(1.2001, "server", ack);
    s.segment(1.3, "server", { ...ack, ipId: 41 });
    const f = await factsOf(s);
    expect(f.get(6)).toMatchObject({ captureCopy: true, dupAck: false });
    expect(f.get(7)).toMatchObject({ captureCopy: false, dupAck: true });
  });

  it("an ACK changes when its number differs from the sender's last counted ACK; a late copy of an older ACK does not count", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10); // 1–4
    const first = { seq: s.next.server, ack: s.next.client, flags: ACK, ipId: 40 };
    s.segment(1.2, "server", first); // 5: acknowledges the 10 bytes
    s.data(1.21, "client", 10); // 6
    s.segment(1.22, "server", { ...first, ack: s.next.client, ipId: 41 }); // 7: acknowledges 10 more
    s.segment(1.25, "server", first); // 8: a late copy of 5
    s.segment(1.3, "server", { ...first, ack: s.next.client, ipId: 42 }); // 9: the same ACK as 7
    const changed: number[] = [];
    let copyOf5 = false;
    await runScript(s, {
      onSegment: ({ frame, seg }) => {
        if (seg.ackChanged) changed.push(frame);
        if (frame === 8) copyOf5 = seg.captureCopy;
      },
    });
    expect(copyOf5).toBe(true);
    // The SYN-ACK and the client's handshake ACK are each side's first; 4 and 6 acknowledge nothing new.
    expect(changed).toEqual([2, 3, 5, 7]);
  });

  it("a keep-alive probe after an idle minute; its answer is no duplicate ACK", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10).ack(1.2, "server");
    s.probe(61.2, "client").ack(61.21, "server");
    const f = await factsOf(s);
    expect(f.get(6)).toMatchObject({ keepAliveProbe: true, zeroWindowProbe: false, resend: RESEND_NONE });
    expect(f.get(7)).toMatchObject({ dupAck: false, windowUpdate: false });
  });

  it("a zero-window probe: the peer's window is 0 (Linux: keep-alive shaped; BSD: one new byte)", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10).ack(1.2, "server", { win: 0 });
    s.probe(1.4, "client").data(1.8, "client", 1);
    const f = await factsOf(s);
    expect(f.get(6)).toMatchObject({ zeroWindowProbe: true, keepAliveProbe: false });
    expect(f.get(7)).toMatchObject({ zeroWindowProbe: true, keepAliveProbe: false });
  });

  it("duplicate ACKs: the same ACK and window again, nothing new; a changed window is a window update", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10).ack(1.2, "server");
    s.ack(1.3, "server").ack(1.4, "server").ack(1.5, "server", { win: 1000 }).ack(1.6, "server", { win: 1000 });
    const f = await factsOf(s);
    expect([5, 6, 7, 8, 9].map((n) => f.get(n)!.dupAck)).toEqual([false, true, true, false, true]);
    expect([5, 6, 7, 8, 9].map((n) => f.get(n)!.windowUpdate)).toEqual([false, false, false, true, false]);
  });
});

describe("a segment whose header the decoder rejects", () => {
  it("TCP data offset 0 (a fuzzed record): marked, and no window advertisement for the analyzers", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10, { win: 0 });
    // Ethernet 14 + IPv4 20, then the TCP data offset in byte 12.
    s.records.at(-1)!.data[14 + 20 + 12] = 0;
    const f = await factsOf(s);
    expect(f.get(4)!.headerRejected).toBe(true);
    expect(await findingsOf(zeroWindow, s)).toEqual([]);
    // The same segment with its header whole: a zero window.
    const whole = new TcpScript().handshake(1).data(1.1, "client", 10, { win: 0 });
    expect(await findingsOf(zeroWindow, whole)).toHaveLength(1);
  });
});

describe("peer-unresponsive reads the FIN repeat", () => {
  it("a BSD server's FIN repeated on its ACKs of the client's data, at growing gaps, is no unanswered FIN", async () => {
    const s = new TcpScript().handshake(1).data(1.05, "client", 10).fin(1.1, "server");
    const finSeq = s.next.server - 1;
    // The client never acknowledges the FIN (its ACK stays below it) but keeps sending.
    const clientAck = finSeq;
    let t = 1.1;
    for (const gap of [0.2, 0.4, 0.8, 1.6, 3.2]) {
      t += gap;
      s.segment(t, "client", { seq: s.next.client, ack: clientAck, flags: PSH | ACK, len: 100 });
      s.segment(t + 0.0002, "server", { seq: finSeq, ack: s.next.client, flags: FIN | ACK });
    }
    const f = await factsOf(s);
    expect(f.get(s.frames)!.resend).toBe(RESEND_FIN_REPEAT);
    expect(await findingsOf(peerUnresponsive, s)).toEqual([]);
  });
});

describe("zero-window reads the facts", () => {
  it("a copy of a zero-window ACK arriving after the window reopened opens no second episode", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10);
    const shut = { seq: s.next.server, ack: s.next.client, flags: ACK, win: 0, ipId: 50 };
    s.segment(1.2, "server", shut).segment(1.21, "server", { ...shut, win: 65535, ipId: 51 });
    s.segment(1.22, "server", shut);
    const [found] = await findingsOf(zeroWindow, s);
    expect(found!.measure).toMatchObject({ episodes: 1 });
  });

  it("a FIN advertising window 0 is a closing side, not a reader lagging", async () => {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10);
    s.segment(1.2, "server", { seq: s.next.server, ack: s.next.client, flags: FIN | ACK, win: 0 });
    expect(await findingsOf(zeroWindow, s)).toEqual([]);
  });
});
