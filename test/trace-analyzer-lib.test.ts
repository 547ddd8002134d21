/**
 * The analyzers' shared helpers, driven directly and through the analyzers that read them:
 * segment-facts.ts's probe rules (which probe-shaped segment is a keep-alive, which a zero-window probe),
 * syn-retries.ts (naming a SYN retry schedule, telling a copy from a retransmission) and
 * measure.ts (units, evidence lists, when retries have stopped). Every boundary is
 * checked at its value and just either side.
 */
import { describe, expect, it } from "vitest";
import connectTimeout from "../src/analyze/analyzers/connect-timeout.js";
import { frameSpan, keepFrame, ms, NO_FRAMES, retriesStopped, roleOf, sec } from "../src/analyze/lib/measure.js";
import { isKeepAliveProbe, isZeroWindowProbe } from "../src/decode/flow/segment-facts.js";
import { describeRetries, isDuplicateCopy, SynRetries } from "../src/analyze/lib/syn-retries.js";
import { STACK_PROFILES } from "../src/analyze/lib/stack-profile.js";
import { TcpSegment } from "../src/decode/flow/tcp-tracker.js";
import { findingsOf, gap, TcpScript, SYN } from "./helpers/tcp-script.js";

const ACK = 0x10,
  FIN = 0x01,
  RST = 0x04;

describe("probes: keep-alive or zero-window probe", () => {
  function seg(o: { flags?: number; len: number; seqVsNext: number; peerWin: number }): TcpSegment {
    return Object.assign(new TcpSegment(), { flags: ACK, ...o });
  }
  const OPEN = 65535;
  // [what, segment, keep-alive, zero-window probe]
  const cases: [string, TcpSegment, boolean, boolean][] = [
    ["0 bytes one below the next, window open", seg({ len: 0, seqVsNext: -1, peerWin: OPEN }), true, false],
    ["1 byte one below the next, window open", seg({ len: 1, seqVsNext: -1, peerWin: OPEN }), true, false],
    ["2 bytes one below the next", seg({ len: 2, seqVsNext: -1, peerWin: OPEN }), false, false],
    ["0 bytes two below the next", seg({ len: 0, seqVsNext: -2, peerWin: OPEN }), false, false],
    ["0 bytes at the next byte (a bare ACK)", seg({ len: 0, seqVsNext: 0, peerWin: OPEN }), false, false],
    [
      "window unknown (peer not seen): shaped like a keep-alive",
      seg({ len: 0, seqVsNext: -1, peerWin: -1 }),
      true,
      false,
    ],
    ["Linux: 0 bytes one below the next, window 0", seg({ len: 0, seqVsNext: -1, peerWin: 0 }), false, true],
    ["1 byte one below the next, window 0", seg({ len: 1, seqVsNext: -1, peerWin: 0 }), false, true],
    ["BSD/Windows: 1 new byte, window 0", seg({ len: 1, seqVsNext: 0, peerWin: 0 }), false, true],
    ["1 new byte, window open (plain data)", seg({ len: 1, seqVsNext: 0, peerWin: OPEN }), false, false],
    ["2 new bytes, window 0", seg({ len: 2, seqVsNext: 0, peerWin: 0 }), false, false],
    ["1 byte past a gap, window 0", seg({ len: 1, seqVsNext: 1, peerWin: 0 }), false, false],
    ["0 bytes two below the next, window 0", seg({ len: 0, seqVsNext: -2, peerWin: 0 }), false, false],
    ["FIN one below the next", seg({ flags: FIN | ACK, len: 0, seqVsNext: -1, peerWin: OPEN }), false, false],
    ["FIN one below the next, window 0", seg({ flags: FIN | ACK, len: 0, seqVsNext: -1, peerWin: 0 }), false, false],
    ["FIN with 1 new byte, window 0", seg({ flags: FIN | ACK, len: 1, seqVsNext: 0, peerWin: 0 }), false, false],
    ["RST one below the next", seg({ flags: RST, len: 0, seqVsNext: -1, peerWin: OPEN }), false, false],
    ["SYN one below the next", seg({ flags: SYN, len: 0, seqVsNext: -1, peerWin: OPEN }), false, false],
    ["SYN with 1 byte, window 0", seg({ flags: SYN, len: 1, seqVsNext: 0, peerWin: 0 }), false, false],
  ];
  for (const [what, s, keepAlive, zeroWindow] of cases) {
    it(what, () => {
      expect([isKeepAliveProbe(s), isZeroWindowProbe(s)]).toEqual([keepAlive, zeroWindow]);
    });
  }
});

describe("syn-retries: naming the schedule", () => {
  const text = (times: number[]) => describeRetries(times).text;

  it("no retry, one retry (about 1 s or not: 0.8 and 1.3 s are the open bounds)", () => {
    expect(describeRetries([5])).toEqual({ intervalsSec: [], fixedRetries: 0, text: "no retry" });
    expect(text([0, 1])).toBe(
      "interval 1.00 s: one retry after 1.00 s (the initial retransmission timeout: 1 s, RFC 6298 §2)",
    );
    expect(text([0, 0.8])).toBe("interval 0.80 s: one retry after 0.80 s");
    expect(text([0, 0.801])).toContain("(the initial retransmission timeout");
    expect(text([0, 1.3])).toBe("interval 1.30 s: one retry after 1.30 s");
    expect(text([0, 1.299])).toContain("(the initial retransmission timeout");
  });

  it("fixed, doubling, fixed then doubling", () => {
    expect(describeRetries([0, 1, 2, 3])).toEqual({
      intervalsSec: [1, 1, 1],
      fixedRetries: 3,
      text:
        "intervals 1.00, 1.00, 1.00 s: every retry a fixed 1 s apart: the sender's TCP retries at a fixed interval " +
        "first, not the textbook doubling",
    });
    expect(describeRetries([0, 2, 4, 6])).toMatchObject({
      fixedRetries: 3,
      text: "intervals 2.00, 2.00, 2.00 s: every retry a fixed 2.00 s apart",
    });
    expect(describeRetries([0, 1, 3, 7, 15])).toEqual({
      intervalsSec: [1, 2, 4, 8],
      fixedRetries: 0,
      text:
        "intervals 1.00, 2.00, 4.00, 8.00 s: doubling each time: exponential backoff from an initial timeout of 1.00 s " +
        "(the initial retransmission timeout: 1 s, RFC 6298 §2)",
    });
    expect(describeRetries([0, 1, 2, 3, 5, 9])).toEqual({
      intervalsSec: [1, 1, 1, 2, 4],
      fixedRetries: 3,
      text:
        "intervals 1.00, 1.00, 1.00, 2.00, 4.00 s: the first 3 retries a fixed 1.00 s apart, then doubling: " +
        "the sender's TCP retries at a fixed interval first, then exponential backoff",
    });
    expect(text([0, 3, 6, 12])).toBe(
      "intervals 3.00, 3.00, 6.00 s: the first 2 retries a fixed 3.00 s apart, then doubling",
    );
  });

  it("names a stack's setting only for that stack: Linux's sysctl, macOS's schedule, Windows' 3 s timeout", () => {
    const { linux, macos, windows } = STACK_PROFILES;
    expect(text([0, 1, 2, 3])).not.toContain("Linux");
    expect(describeRetries([0, 1, 2, 3], linux).text).toContain(
      "Linux's linear SYN retries (net.ipv4.tcp_syn_linear_timeouts, kernel 6.5 and later), not the textbook doubling",
    );
    expect(describeRetries([0, 1, 2, 3, 4, 5, 7], macos).text).toContain(
      "the first 5 retries a fixed 1.00 s apart, then doubling: the SYN schedule of macOS/iOS (1 s five times, then doubling)",
    );
    expect(describeRetries([0, 1, 2, 3], windows).text).toContain("the sender's TCP retries at a fixed interval first");
    expect(describeRetries([0, 2.91, 8.92], windows).text).toBe(
      "intervals 2.91, 6.01 s: doubling each time: exponential backoff from an initial timeout of 2.91 s " +
        "(the initial retransmission timeout of Windows: 3 s)",
    );
    // 3 s is Windows' only when the sender is Windows.
    expect(text([0, 3])).toBe("interval 3.00 s: one retry after 3.00 s");
    expect(describeRetries([0, 3], linux).text).toBe("interval 3.00 s: one retry after 3.00 s");
  });

  it("the same interval within 25 % either way; 1.5 to 2.6 times is doubling; anything else irregular", () => {
    const IRREGULAR = "irregular: not a single kernel timer";
    expect(describeRetries([0, 1, 2.25]).fixedRetries).toBe(2); // 1.25 × the previous
    expect(describeRetries([0, 1, 1.75]).fixedRetries).toBe(2); // 0.75 ×
    expect(text([0, 1, 2.26])).toContain(IRREGULAR); // 1.26 ×: neither the same nor doubled
    expect(text([0, 1, 1.74])).toContain(IRREGULAR);
    expect(text([0, 1, 2.5])).toContain("doubling each time"); // 1.5 ×
    expect(text([0, 1, 2.49])).toContain(IRREGULAR);
    expect(text([0, 1, 3.6])).toContain("doubling each time"); // 2.6 ×
    expect(text([0, 1, 3.61])).toContain(IRREGULAR);
    expect(text([0, 1, 2, 4, 5])).toContain(IRREGULAR); // doubling does not go back to fixed
  });
});

describe("syn-retries: a copy or a retransmission (200 ms apart is the shortest timer)", () => {
  it("isDuplicateCopy at 200 ms and just under, either way in time", () => {
    expect(isDuplicateCopy(2.2, 2)).toBe(false);
    expect(isDuplicateCopy(2.199999, 2)).toBe(true);
    expect(isDuplicateCopy(10, 10)).toBe(true);
    expect(isDuplicateCopy(9.9, 10)).toBe(true); // reordered copies (an `any` capture)
    expect(isDuplicateCopy(9.7, 10)).toBe(false);
  });

  it("SynRetries keeps the first 64 retries", () => {
    const r = new SynRetries();
    for (let i = 1; i <= 70; i++) r.add(i, i * 1.5);
    expect(r.frames.length).toBe(64);
    expect(r.times.length).toBe(64);
    expect([r.frames[0], r.frames[63], r.times[63]]).toEqual([1, 64, 96]);
  });

  /** An unanswered connect: the client's SYN sent at each of `times` (the same ISN). */
  function unanswered(times: number[], captureEnd?: number): TcpScript {
    const s = new TcpScript();
    for (const t of times) s.segment(t, "client", { seq: 1000, ack: 0, flags: SYN });
    if (captureEnd !== undefined) {
      // Another connection's packet: the capture runs until then.
      const other = new TcpScript({ client: 1, server: 2 }, 40001).data(captureEnd, "client", 1);
      s.records.push(...other.records);
    }
    return s;
  }

  it("connect-timeout: a SYN 200 ms after the previous one is a retry, 199.999 ms a copy", async () => {
    expect(gap(2, 2.2)).toBeGreaterThanOrEqual(0.2);
    const [retry] = await findingsOf(connectTimeout, unanswered([2, 2.2, 3.2]));
    expect(retry!.frames).toEqual([2, 3]);
    expect(retry!.measure).toMatchObject({ synCount: 3, retries: 2, firstRetryMs: 200, lastIntervalMs: 1000 });
    const [copy] = await findingsOf(connectTimeout, unanswered([2, 2.199999, 3.2]));
    expect(copy!.frames).toEqual([3]);
    expect(copy!.measure).toMatchObject({ synCount: 2, retries: 1, firstRetryMs: 1200 });
  });

  it("connect-timeout names the schedule from the SYN times", async () => {
    const [f] = await findingsOf(connectTimeout, unanswered([1, 2, 3, 4, 6]));
    expect(f!.measure).toMatchObject({ synCount: 5, fixedIntervalRetries: 3, spanMs: 5000, lastIntervalMs: 2000 });
    expect(f!.summary).toContain(
      "intervals 1.00, 1.00, 1.00, 2.00 s: the first 3 retries a fixed 1.00 s apart, then doubling",
    );
  });

  it("connect-timeout: the SYNs have stopped only past twice the last interval plus 0.5 s", async () => {
    // SYNs at 1 and 2 s: the next retry is due by 2 + 2·1 + 0.5 = 4.5 s.
    const [waiting] = await findingsOf(connectTimeout, unanswered([1, 2], 4.5));
    expect(waiting!.summary).toContain(
      "the capture ends 2.5 s after the last SYN: connect() may still have been waiting",
    );
    const [stopped] = await findingsOf(connectTimeout, unanswered([1, 2], 4.500001));
    expect(stopped!.summary).toContain("then nothing for the last 2.5 s of the capture: connect() had failed");
  });
});

describe("measure", () => {
  it("ms: milliseconds to the microsecond; sec: seconds to the millisecond", () => {
    expect(ms(1.2345678)).toBe(1234.568);
    expect(ms(0.1)).toBe(100);
    expect(ms(0.0000004)).toBe(0);
    expect(ms(0.000002)).toBe(0.002);
    expect(sec(1.2345)).toBe(1.235);
    expect(sec(1.2344)).toBe(1.234);
    expect(sec(86400)).toBe(86400);
  });

  it("roleOf and frameSpan", () => {
    expect([roleOf(0), roleOf(1)]).toEqual(["client", "server"]);
    expect(frameSpan(3, 3)).toBe("frame 3");
    expect(frameSpan(3, 0)).toBe("frame 3");
    expect(frameSpan(3, 7)).toBe("frames 3–7");
  });

  it("keepFrame: the shared empty list is never written to; a frame once, in order; no more than the cap", () => {
    let frames = keepFrame(NO_FRAMES, 5, 3);
    expect(frames).toEqual([5]);
    expect(frames).not.toBe(NO_FRAMES);
    expect(NO_FRAMES).toEqual([]);
    frames = keepFrame(frames, 5, 3); // the same frame again (two findings' hooks): once
    expect(frames).toEqual([5]);
    frames = keepFrame(keepFrame(frames, 7, 3), 9, 3);
    expect(frames).toEqual([5, 7, 9]);
    const full = frames;
    frames = keepFrame(frames, 11, 3);
    expect(frames).toBe(full);
    expect(frames).toEqual([5, 7, 9]);
    // The default cap is the tagging bound: 100 000 frames.
    let many: readonly number[] = NO_FRAMES;
    for (let i = 1; i <= 100_001; i++) many = keepFrame(many, i);
    expect(many.length).toBe(100_000);
  });

  it("retriesStopped: strictly more than twice the last interval plus 0.5 s", () => {
    expect(retriesStopped(2, 1, 4.5)).toBe(false);
    expect(retriesStopped(2, 1, 4.500001)).toBe(true);
    expect(retriesStopped(10, 3, 16.5)).toBe(false);
    expect(retriesStopped(10, 3, 16.500001)).toBe(true);
  });
});
