/**
 * The thresholds of the transfer analyzers, pinned from packets: each case puts one
 * quantity exactly at the analyzer's documented threshold, and one microsecond (or one
 * byte, one segment) on the other side, so that tripling or halving a constant changes an
 * outcome here. The values are written out, not imported: a test that read the constant
 * would move with it. Each analyzer runs alone on a hand-written conversation
 * (helpers/tcp-script.ts); `gap` checks the engine really measures the boundary intended
 * (floating-point subtraction of capture times can land either side of it).
 */
import { describe, expect, it } from "vitest";
import keepalive from "../src/analyze/analyzers/keepalive.js";
import nagleDelay from "../src/analyze/analyzers/nagle-delay.js";
import peerUnresponsive from "../src/analyze/analyzers/peer-unresponsive.js";
import smallSegments from "../src/analyze/analyzers/small-segments.js";
import windowFull from "../src/analyze/analyzers/window-full.js";
import zeroWindow from "../src/analyze/analyzers/zero-window.js";
import { findingsOf, gap, TcpScript } from "./helpers/tcp-script.js";

describe("zero-window: a stall is 10 ms shut (ZERO_WINDOW_BRIEF_SEC); a warning needs 100 ms of stalls (ZERO_WINDOW_STALL_MIN_SEC)", () => {
  /** The server's window shut at 1.5 s for each of `durations` in turn (reopened 0.2 s apart). */
  function shut(...durations: number[]): TcpScript {
    const s = new TcpScript().handshake(1).data(1.01, "client", 1000);
    let t = 1.5;
    for (const d of durations) {
      s.ack(t, "server", { win: 0 }).ack(t + d, "server", { win: 1000 });
      t += 0.2 + d;
    }
    return s;
  }

  it("shut exactly 100 ms: a warning, one stall of 100 ms", async () => {
    expect(gap(1.5, 1.6)).toBeGreaterThanOrEqual(0.1);
    const [f, ...rest] = await findingsOf(zeroWindow, shut(0.1));
    expect(rest).toEqual([]);
    expect(f!.severity).toBe("warning");
    expect(f!.side).toBe("server");
    expect(f!.frames).toEqual([5]);
    expect(f!.measure).toMatchObject({ episodes: 1, stalls: 1, longestMs: 100, stallTotalMs: 100, probes: 0 });
    expect(f!.summary).toContain("stayed at zero for 100 ms (from frame 5, reopened by a window update at frame 6)");
  });

  it("shut 99.999 ms: a stall, but info (under the 100 ms that would matter)", async () => {
    const [f] = await findingsOf(zeroWindow, shut(0.099999));
    expect(f!.severity).toBe("info");
    expect(f!.measure).toMatchObject({ episodes: 1, stalls: 1, longestMs: 99.999 });
    expect(f!.summary).toContain("under the 100 ms of stall that would matter");
  });

  it("stalls add up: 50 ms twice is a warning, 50 ms and 49.999 ms is not", async () => {
    expect(gap(1.5, 1.55) + gap(1.75, 1.8)).toBeGreaterThanOrEqual(0.1);
    const [twice] = await findingsOf(zeroWindow, shut(0.05, 0.05));
    expect(twice!.severity).toBe("warning");
    expect(twice!.measure).toMatchObject({ episodes: 2, stalls: 2, stallTotalMs: 100 });
    expect(twice!.summary).toContain("stayed at zero 2 times for 10 ms or more, 100 ms in all");
    const [short] = await findingsOf(zeroWindow, shut(0.05, 0.049999));
    expect(short!.severity).toBe("info");
    expect(short!.measure).toMatchObject({ episodes: 2, stalls: 2, stallTotalMs: 99.999 });
  });

  it("shut exactly 10 ms is a stall; 9.999 ms is a brief lag", async () => {
    expect(gap(1.5, 1.51)).toBeGreaterThanOrEqual(0.01);
    const [stall] = await findingsOf(zeroWindow, shut(0.01));
    expect(stall!.measure).toMatchObject({ episodes: 1, stalls: 1, longestMs: 10 });
    const [brief] = await findingsOf(zeroWindow, shut(0.009999));
    expect(brief!.measure).toMatchObject({ episodes: 1, stalls: 0, longestMs: 9.999, stallTotalMs: 0 });
    expect(brief!.summary).toContain("each briefly (longest 9.999 ms, under 10 ms)");
    // Ten brief lags of 9.999 ms (almost 100 ms shut in all) are still no warning: only stalls count.
    const [many] = await findingsOf(zeroWindow, shut(...Array<number>(11).fill(0.009999)));
    expect(many!.severity).toBe("info");
    expect(many!.measure).toMatchObject({ episodes: 11, stalls: 0 });
  });
});

describe("nagle-delay: the ACK comes ≥ 20 ms (NAGLE_MIN_STALL_SEC) beyond the handshake's round trip after the data, the held write ≤ 5 ms after the ACK (NAGLE_RELEASE_MAX_SEC), 2 times (NAGLE_MIN_EVENTS)", () => {
  /**
   * A greeting from the server, then the client's small write D at 1.2 s; `events` times
   * the server's bare ACK of it `ackAfter` later and the client's next small write 1 ms
   * after that ACK (which is the next D); the last one `lastRelease` after it.
   */
  function writeWriteRead(events: number, ackAfter: number, lastRelease = 0.001, halfRtt = 0.001): TcpScript {
    // The handshake's SYN to ACK: 2·halfRtt (2 ms unless given).
    const s = new TcpScript().handshake(1, halfRtt).data(1.1, "server", 5).data(1.2, "client", 10);
    let t = 1.2;
    for (let i = 0; i < events; i++) {
      const release = i === events - 1 ? lastRelease : 0.001;
      s.ack(t + ackAfter, "server").data(t + ackAfter + release, "client", 10);
      t += ackAfter + release;
    }
    return s;
  }

  it("ACK exactly 20 ms beyond the 2 ms round trip after the data, write released 1 ms after it, twice: a finding", async () => {
    expect(gap(1.2, 1.222)).toBeGreaterThanOrEqual(0.022);
    expect(gap(1.223, 1.245)).toBeGreaterThanOrEqual(0.022);
    const [f, ...rest] = await findingsOf(nagleDelay, writeWriteRead(2, 0.022));
    expect(rest).toEqual([]);
    expect(f!.side).toBe("client");
    expect(f!.count).toBe(2);
    // D, P, S of the first and (S being the next D) P, S of the second.
    expect(f!.frames).toEqual([5, 6, 7, 8, 9]);
    expect(f!.measure).toEqual({ events: 2, stallTotalMs: 46, stallMaxMs: 23, stallAvgMs: 23 });
  });

  it("ACK 21.999 ms after the data (19.999 ms beyond the round trip): not a delayed ACK, no finding", async () => {
    expect(await findingsOf(nagleDelay, writeWriteRead(2, 0.021999))).toEqual([]);
  });

  // Issue 21: on a 100 ms path an immediate ACK comes 100 ms after the data; only what it
  // waits beyond the round trip is a delayed ACK.
  it("a 100 ms round trip: an ACK 110 ms after the data is an immediate one; 120 ms is delayed", async () => {
    expect(await findingsOf(nagleDelay, writeWriteRead(2, 0.11, 0.001, 0.05))).toEqual([]);
    const [f] = await findingsOf(nagleDelay, writeWriteRead(2, 0.12, 0.001, 0.05));
    expect(f!.measure).toMatchObject({ events: 2 });
  });

  it("the write leaving exactly 5 ms after the ACK is released by it; 5.001 ms is a new write", async () => {
    // The second release: ACK at 1.281 s, write at 1.286 s.
    expect(gap(1.281, 1.286)).toBeLessThanOrEqual(0.005);
    const [f] = await findingsOf(nagleDelay, writeWriteRead(2, 0.04, 0.005));
    expect(f!.measure).toMatchObject({ events: 2, stallMaxMs: 45 });
    expect(await findingsOf(nagleDelay, writeWriteRead(2, 0.04, 0.005001))).toEqual([]);
  });

  it("one held write is no finding; three are", async () => {
    expect(await findingsOf(nagleDelay, writeWriteRead(1, 0.04))).toEqual([]);
    const [f] = await findingsOf(nagleDelay, writeWriteRead(3, 0.04));
    expect(f!.count).toBe(3);
  });
});

describe("keepalive: a probe needs 0.5 s of quiet (KEEPALIVE_MIN_IDLE_SEC); 2 unanswered at the end is a dead peer (KEEPALIVE_UNANSWERED_DEAD)", () => {
  /** Data and its ACK (the last activity, at 1.2 s), then client probes at the given times, answered or not. */
  function idle(probes: readonly { at: number; answered: boolean }[]): TcpScript {
    const s = new TcpScript().handshake(1).data(1.1, "client", 10).ack(1.2, "server");
    for (const p of probes) {
      s.probe(p.at, "client");
      if (p.answered) s.ack(p.at + 0.001, "server");
    }
    return s;
  }

  it("a probe exactly 0.5 s after the last activity is a keep-alive, answered", async () => {
    expect(gap(1.2, 1.7)).toBeGreaterThanOrEqual(0.5);
    const [f, ...rest] = await findingsOf(keepalive, idle([{ at: 1.7, answered: true }]));
    expect(rest).toEqual([]);
    expect(f!.severity).toBe("info");
    expect(f!.side).toBe("client");
    expect(f!.frames).toEqual([6]);
    expect(f!.measure).toEqual({ probes: 1, answered: 1, unanswered: 0, idleMs: 500, maxIdleMs: 500 });
  });

  it("0.499999 s after it, the same segment is not a keep-alive", async () => {
    expect(await findingsOf(keepalive, idle([{ at: 1.699999, answered: true }]))).toEqual([]);
  });

  it("two probes unanswered when the capture ends: the peer is not responding (error); one: info", async () => {
    const [dead] = await findingsOf(
      keepalive,
      idle([
        { at: 3.2, answered: false },
        { at: 4.2, answered: false },
      ]),
    );
    expect(dead!.severity).toBe("error");
    expect(dead!.measure).toMatchObject({ probes: 2, answered: 0, unanswered: 2, idleMs: 2000, retryIntervalMs: 1000 });
    expect(dead!.summary).toContain("the last 2 were still unanswered when the capture ended");
    const [one] = await findingsOf(keepalive, idle([{ at: 3.2, answered: false }]));
    expect(one!.severity).toBe("info");
    expect(one!.measure).toMatchObject({ probes: 1, answered: 0, unanswered: 1 });
    expect(one!.summary).toContain("0 answered, 1 unanswered (the capture ended before an answer could show)");
  });

  it("not a probe-shaped segment after the prober's own FIN (an ACK carrying the FIN's sequence number)", async () => {
    const closed = new TcpScript().handshake(1).data(1.1, "client", 10).ack(1.2, "server").fin(1.3, "client");
    closed.ack(1.4, "server").probe(3, "client").ack(3.001, "server");
    expect(await findingsOf(keepalive, closed)).toEqual([]);
  });

  it("an answered probe ends the run: answered, then one unanswered, is info", async () => {
    const [f] = await findingsOf(
      keepalive,
      idle([
        { at: 3.2, answered: true },
        { at: 5.2, answered: false },
      ]),
    );
    expect(f!.severity).toBe("info");
    expect(f!.measure).toMatchObject({ probes: 2, answered: 1, unanswered: 1, intervalMs: 2000 });
  });
});

describe("small-segments: ≤ 100 bytes (SMALL_SEGMENT_MAX_BYTES), ≤ 50 ms apart (SMALL_SEGMENT_BATCH_SEC), 20 back to back (SMALL_SEGMENTS_MIN_COUNT), half the data segments (SMALL_SEGMENTS_MIN_FRACTION)", () => {
  /**
   * After the handshake, `n` client segments of `size` bytes 10 ms apart, but the gap
   * before the last one is `lastGap`; then `big` segments of 1000 bytes. `between`: what
   * the server sends 1 ms after the client's 11th segment (10 bytes of data, or a bare ACK).
   */
  function tiny(
    n: number,
    o: { size?: number; lastGap?: number; big?: number; between?: "data" | "ack" } = {},
  ): TcpScript {
    const s = new TcpScript().handshake(1);
    let t = 1.108;
    for (let i = 0; i < n; i++) {
      s.data(t, "client", o.size ?? 100);
      if (i === 10 && o.between === "data") s.data(t + 0.001, "server", 10);
      if (i === 10 && o.between === "ack") s.ack(t + 0.001, "server");
      t += i === n - 2 ? (o.lastGap ?? 0.01) : 0.01;
    }
    for (let i = 0; i < (o.big ?? 0); i++, t += 0.01) s.data(t, "client", 1000);
    return s;
  }

  it("21 segments of 100 bytes: 20 back to back, a finding", async () => {
    const [f, ...rest] = await findingsOf(smallSegments, tiny(21));
    expect(rest).toEqual([]);
    expect(f!.side).toBe("client");
    expect(f!.count).toBe(20);
    expect(f!.frames[0]).toBe(5); // the second data segment: the first follows nothing
    expect(f!.measure).toMatchObject({ dataSegments: 21, smallSegments: 21, backToBack: 20, avgPayloadBytes: 100 });
    // 40 bytes of IPv4 + TCP headers on 100 bytes of payload.
    expect(f!.measure.headerOverheadPct).toBe(29);
  });

  it("the server's data between two of them ends the run (19 back to back: none); its bare ACK does not", async () => {
    expect(await findingsOf(smallSegments, tiny(21, { between: "data" }))).toEqual([]);
    const [f] = await findingsOf(smallSegments, tiny(21, { between: "ack" }));
    expect(f!.count).toBe(20);
  });

  it("20 segments (19 back to back): none", async () => {
    expect(await findingsOf(smallSegments, tiny(20))).toEqual([]);
  });

  it("101-byte segments are not small: none", async () => {
    expect(await findingsOf(smallSegments, tiny(21, { size: 101 }))).toEqual([]);
  });

  it("the last segment exactly 50 ms after the previous one is back to back; 50.001 ms is not", async () => {
    expect(gap(1.298, 1.348)).toBeLessThanOrEqual(0.05);
    const [f] = await findingsOf(smallSegments, tiny(21, { lastGap: 0.05 }));
    expect(f!.count).toBe(20);
    expect(await findingsOf(smallSegments, tiny(21, { lastGap: 0.050001 }))).toEqual([]);
  });

  it("20 back to back among 40 data segments is half: a finding; among 41, none", async () => {
    const [f] = await findingsOf(smallSegments, tiny(21, { big: 19 }));
    expect(f!.measure).toMatchObject({ dataSegments: 40, backToBack: 20 });
    expect(await findingsOf(smallSegments, tiny(21, { big: 20 }))).toEqual([]);
  });
});

describe("window-full: a warning needs 5 window-full segments (WINDOW_FULL_MIN_EVENTS), 10 ms of waiting (WINDOW_FULL_MIN_STALL_SEC), and a fifth of the transfer or of the data segments (WINDOW_FULL_MIN_FRACTION)", () => {
  /**
   * The server offers 1000 bytes; after `fillers` client segments of 10 bytes (acknowledged
   * together), `rounds` times the client fills the window with 1000 bytes and the server
   * acknowledges at once, but after the last round it waits `lastWait`.
   */
  function rounds(n: number, lastWait: number, fillers = 0): TcpScript {
    const s = new TcpScript();
    s.win.server = 1000;
    s.handshake(1);
    let t = 1.1;
    for (let i = 0; i < fillers; i++, t += 0.01) s.data(t, "client", 10);
    if (fillers > 0) s.ack(t, "server");
    for (let i = 0; i < n; i++, t += 0.1) {
      s.data(t, "client", 1000).ack(i === n - 1 ? t + lastWait : t, "server");
    }
    return s;
  }

  it("5 window-full segments, 10 ms of waiting in all: a warning naming the reader", async () => {
    expect(gap(1.5, 1.51)).toBeGreaterThanOrEqual(0.01);
    const [f, ...rest] = await findingsOf(windowFull, rounds(5, 0.01));
    expect(rest).toEqual([]);
    expect(f!.severity).toBe("warning");
    expect(f!.side).toBe("server");
    expect(f!.frames).toEqual([4, 6, 8, 10, 12]);
    expect(f!.measure).toMatchObject({
      windowFullSegments: 5,
      dataSegments: 5,
      windowFullPct: 100,
      stallTotalMs: 10,
      stallMaxMs: 10,
      minWindowBytes: 1000,
      maxWindowBytes: 1000,
    });
  });

  it("4 window-full segments: info, too few", async () => {
    const [f] = await findingsOf(windowFull, rounds(4, 0.05));
    expect(f!.severity).toBe("info");
    expect(f!.measure).toMatchObject({ windowFullSegments: 4, stallTotalMs: 50 });
    expect(f!.summary).toContain("too rarely to limit the throughput");
  });

  it("9.999 ms of waiting: info, too short to notice", async () => {
    const [f] = await findingsOf(windowFull, rounds(5, 0.009999));
    expect(f!.severity).toBe("info");
    expect(f!.measure).toMatchObject({ windowFullSegments: 5, stallTotalMs: 9.999 });
  });

  it("5 of 25 data segments at the edge is a fifth: a warning; 5 of 26 is not (and 10 ms in 0.6 s is no fifth of the time)", async () => {
    const [fifth] = await findingsOf(windowFull, rounds(5, 0.01, 20));
    expect(fifth!.severity).toBe("warning");
    expect(fifth!.measure).toMatchObject({ windowFullSegments: 5, dataSegments: 25, windowFullPct: 20, stalledPct: 2 });
    const [less] = await findingsOf(windowFull, rounds(5, 0.01, 21));
    expect(less!.severity).toBe("info");
    expect(less!.measure).toMatchObject({ dataSegments: 26, windowFullPct: 19 });
    expect(less!.summary).toContain("too little to limit the throughput");
  });
});

describe("peer-unresponsive: 3 re-sends (PEER_UNRESPONSIVE_MIN_RETRIES) over 1 s unacknowledged (PEER_UNRESPONSIVE_MIN_SEC)", () => {
  /** 100 bytes sent at 2 s, re-sent unanswered at each of `at`. */
  function resent(...at: number[]): TcpScript {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client;
    s.data(2, "client", 100);
    for (const t of at) s.resend(t, "client", seq, 100);
    return s;
  }

  it("3 re-sends, the last exactly 1 s after the original: the peer stopped responding", async () => {
    expect(gap(2, 3)).toBeGreaterThanOrEqual(1);
    const [f, ...rest] = await findingsOf(peerUnresponsive, resent(2.2, 2.5, 3));
    expect(rest).toEqual([]);
    expect(f!.severity).toBe("error");
    expect(f!.side).toBe("client");
    expect(f!.frames).toEqual([4, 5, 6, 7]);
    expect(f!.measure).toMatchObject({
      unresponsiveMs: 1000,
      retries: 3,
      firstGapMs: 200,
      lastGapMs: 500,
      maxGapMs: 500,
      peerSegmentsDuring: 0,
      endedByRst: 0,
    });
  });

  it("the last re-send at 999.999 ms: none", async () => {
    expect(await findingsOf(peerUnresponsive, resent(2.2, 2.5, 2.999999))).toEqual([]);
  });

  it("2 re-sends, even over 1.2 s: none", async () => {
    expect(await findingsOf(peerUnresponsive, resent(2.4, 3.2))).toEqual([]);
  });

  it("an ACK of the data ends the run: 3 re-sends then the ACK is no finding", async () => {
    const s = resent(2.2, 2.5, 3).ack(3.1, "server");
    expect(await findingsOf(peerUnresponsive, s)).toEqual([]);
  });
});
