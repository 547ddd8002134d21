/**
 * The retransmission analyzer's timing rules, pinned from packets at each boundary and one
 * microsecond the other side (values written out, not imported): an identical copy within
 * 2 ms is a capture duplicate (CAPTURE_DUPLICATE_MAX_SEC); a re-send after 5 ms of silence
 * is a timer's (TIMER_MIN_SILENCE_SEC); one less than 20 ms after the receiver's duplicate
 * ACKs is fast (FAST_RETRANSMIT_WINDOW_SEC); old data within 3 ms of new data, without a
 * handshake to measure the round trip, is reordering (OUT_OF_ORDER_DEFAULT_SEC).
 */
import { describe, expect, it } from "vitest";
import retransmission from "../src/analyze/analyzers/retransmission.js";
import type { Finding } from "../src/analyze/finding.js";
import { ACK, findingsOf, gap, PSH, TcpScript } from "./helpers/tcp-script.js";

/** The counts of the one retransmission finding of a script (none: null). */
async function counts(s: TcpScript): Promise<Finding["measure"] | null> {
  const found = await findingsOf(retransmission, s);
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.measure ?? null;
}

describe("retransmission: capture duplicates (identical, within 2 ms, nothing from the peer between)", () => {
  /** The client's 100 bytes at 1.503 s, and the same segment again at `copyAt`. */
  function copied(copyAt: number): TcpScript {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client;
    return s.data(1.503, "client", 100).resend(copyAt, "client", seq, 100);
  }

  it("2 ms later: the same packet recorded twice (info, no re-send)", async () => {
    expect(gap(1.503, 1.505)).toBeLessThanOrEqual(0.002);
    const [f] = await findingsOf(retransmission, copied(1.505));
    expect(f!.severity).toBe("info");
    expect(f!.frames).toEqual([5]);
    expect(f!.measure).toEqual({ retransmissions: 0, rto: 0, fast: 0, spurious: 0, other: 0, duplicates: 1, bytes: 0 });
  });

  it("2.001 ms later: a re-send (too soon for a timer: other)", async () => {
    expect(await counts(copied(1.505001))).toMatchObject({ retransmissions: 1, other: 1, duplicates: 0, bytes: 100 });
  });
});

describe("retransmission: a timer's re-send needs 5 ms of silence", () => {
  /** The client's 100 bytes at 1.501 s, re-sent at `resendAt` with nothing in between. */
  function resent(resendAt: number): TcpScript {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client;
    return s.data(1.501, "client", 100).resend(resendAt, "client", seq, 100);
  }

  it("5 ms of silence: a timeout", async () => {
    expect(gap(1.501, 1.506)).toBeGreaterThanOrEqual(0.005);
    expect(await counts(resent(1.506))).toMatchObject({ retransmissions: 1, rto: 1, other: 0, rtoMaxWaitMs: 5 });
  });

  it("4.999 ms: not a timer (other)", async () => {
    expect(await counts(resent(1.505999))).toMatchObject({ retransmissions: 1, rto: 0, other: 1 });
  });
});

describe("retransmission: fast, within 20 ms of the receiver's duplicate ACKs", () => {
  /**
   * The client sends 100 + 100 bytes at 1.5 s; the server acknowledges none of them three
   * times (duplicate ACKs) by 1.6 s; the client re-sends the first 100 at `resendAt`.
   */
  function afterDupAcks(resendAt: number): TcpScript {
    const s = new TcpScript().handshake(1);
    const hole = s.next.client;
    s.data(1.5, "client", 100).data(1.5, "client", 100);
    for (const t of [1.58, 1.59, 1.6]) s.ack(t, "server", { ack: hole });
    return s.resend(resendAt, "client", hole, 100);
  }

  it("19.999 ms after the last duplicate ACK: fast", async () => {
    expect(await counts(afterDupAcks(1.619999))).toMatchObject({ retransmissions: 1, fast: 1, rto: 0 });
  });

  it("20 ms after it: no longer fast (a timeout)", async () => {
    expect(gap(1.6, 1.62)).toBeGreaterThanOrEqual(0.02);
    expect(await counts(afterDupAcks(1.62))).toMatchObject({ retransmissions: 1, fast: 0, rto: 1 });
  });

  it("2 duplicate ACKs make it fast even when the receiver's last segment was data; 1 does not", async () => {
    // The SYN-ACK's ACK is the first of that number: each bare ACK after it is a duplicate
    // (5 ms apart: identical ACKs within 2 ms would be one packet captured twice).
    const script = (dupAcks: number) => {
      const s = new TcpScript().handshake(1);
      const hole = s.next.client;
      s.data(1.5, "client", 100).data(1.5, "client", 100);
      for (let i = 0; i < dupAcks; i++) s.ack(1.58 + i * 0.005, "server", { ack: hole });
      s.segment(1.6, "server", { seq: s.next.server, ack: hole, flags: PSH | ACK, len: 10 });
      return s.resend(1.61, "client", hole, 100);
    };
    expect(await counts(script(2))).toMatchObject({ retransmissions: 1, fast: 1, rto: 0 });
    expect(await counts(script(1))).toMatchObject({ retransmissions: 1, fast: 0, rto: 1 });
  });

  it("an ACK that moves forward signals no loss: a re-send 10 ms after it is a timeout", async () => {
    const s = new TcpScript().handshake(1);
    const hole = s.next.client + 100;
    s.data(1.5, "client", 100).data(1.5, "client", 100).ack(1.6, "server", { ack: hole });
    expect(await counts(s.resend(1.61, "client", hole, 100))).toMatchObject({ fast: 0, rto: 1, rtoMaxWaitMs: 10 });
  });
});

describe("retransmission: old data within 3 ms of new data is reordering when no handshake gave the round trip", () => {
  /** Mid-connection: 100 bytes, then 100 bytes after a 100-byte hole at 1.5 s, then the hole's bytes at `fillAt`. */
  function reordered(fillAt: number): TcpScript {
    const s = new TcpScript();
    const first = s.next.client;
    s.data(1.4, "client", 100);
    s.segment(1.5, "client", { seq: first + 200, ack: s.next.server, flags: 0x18, len: 100 });
    return s.segment(fillAt, "client", { seq: first + 100, ack: s.next.server, flags: 0x18, len: 100 });
  }

  it("2.999 ms after the new data: out of order, no re-send", async () => {
    expect(await counts(reordered(1.502999))).toBeNull();
  });

  it("3 ms after it: a re-send", async () => {
    expect(gap(1.5, 1.503)).toBeGreaterThanOrEqual(0.003);
    expect(await counts(reordered(1.503))).toMatchObject({ retransmissions: 1, bytes: 100 });
  });

  it("with a handshake, its round trip is the window instead: 3 ms is out of order after a 10 ms handshake", async () => {
    const s = new TcpScript().handshake(1, 0.005); // SYN at 1 s, the client's ACK at 1.01 s
    const first = s.next.client;
    s.data(1.4, "client", 100);
    s.segment(1.5, "client", { seq: first + 200, ack: s.next.server, flags: 0x18, len: 100 });
    s.segment(1.503, "client", { seq: first + 100, ack: s.next.server, flags: 0x18, len: 100 });
    expect(await counts(s)).toBeNull();
  });
});
