/**
 * The closing analyzers' time thresholds, pinned from packets at the value and one
 * microsecond under it (values written out, not imported, so a changed constant fails
 * here). The resets are judged by the engine's SideHistory, so these cases also check
 * that what it counts reaches the analyzers: which of abortive-close, reset-by-peer-reboot
 * and peer-unresponsive a reset belongs to turns on the silence before it.
 */
import { describe, expect, it } from "vitest";
import abortiveClose from "../src/analyze/analyzers/abortive-close.js";
import closeWait from "../src/analyze/analyzers/close-wait.js";
import resetByPeerReboot from "../src/analyze/analyzers/reset-by-peer-reboot.js";
import { ACK, findingsOf, gap, RST, runScript, TcpScript } from "./helpers/tcp-script.js";

/** Kinds found by abortive-close and reset-by-peer-reboot together on a script. */
async function resetKinds(s: TcpScript): Promise<string[]> {
  const { findings } = await runScript(s, { analyzers: [abortiveClose, resetByPeerReboot] });
  return findings.map((f) => f.kind);
}

describe("reset-by-peer-reboot: the resetting side silent for 1 s (REBOOT_MIN_SILENCE_SEC), else abortive-close", () => {
  /** The server's last segment at 1.5 s; the client's data at 2.2 s; a stateless RST from the server at `rstAt`. */
  function forgotten(rstAt: number): TcpScript {
    return new TcpScript()
      .handshake(1)
      .data(1.4, "client", 10)
      .ack(1.5, "server")
      .data(2.2, "client", 20)
      .rst(rstAt, "server");
  }

  it("1 s after its last segment: a forgotten connection", async () => {
    expect(gap(1.5, 2.5)).toBeGreaterThanOrEqual(1);
    const s = forgotten(2.5);
    expect(await resetKinds(s)).toEqual(["reset-by-peer-reboot"]);
    const [f] = await findingsOf(resetByPeerReboot, s);
    expect(f!.side).toBe("server");
    expect(f!.frames).toEqual([5, 6, 7]);
    expect(f!.measure).toEqual({
      silenceMs: 1000,
      idleBeforeMs: 700,
      unackedBytes: 20,
      retransmissionsDuringSilence: 0,
      hostConnectionsReset: 1,
    });
  });

  it("0.999999 s after it: an abortive close", async () => {
    expect(await resetKinds(forgotten(2.499999))).toEqual(["abortive-close"]);
  });

  it("the client's re-sends into the silence are counted (SideHistory.resendsSinceOther)", async () => {
    const s = new TcpScript().handshake(1).data(1.4, "client", 10).ack(1.5, "server");
    const seq = s.next.client;
    s.data(2.2, "client", 20).resend(2.4, "client", seq, 20).resend(2.8, "client", seq, 20).rst(3, "server");
    const [f] = await findingsOf(resetByPeerReboot, s);
    expect(f!.measure).toMatchObject({ silenceMs: 1500, retransmissionsDuringSilence: 2, unackedBytes: 20 });
    expect(f!.summary).toContain("the client had been retransmitting into the silence (2 retransmission(s)");
  });
});

describe("abortive-close: a RST after re-sends is giving up on a peer silent for 1 s (DEAD_PEER_SILENCE_SEC), not an abort", () => {
  /** The server's last segment at 1.5 s; the client's new data at 1.8 s, re-sent at 2.1 and 2.4 s; the client's RST+ACK at `rstAt`. */
  function givingUp(rstAt: number): TcpScript {
    const s = new TcpScript().handshake(1).data(1.4, "client", 10).ack(1.5, "server");
    const seq = s.next.client;
    s.data(1.8, "client", 30).resend(2.1, "client", seq, 30).resend(2.4, "client", seq, 30);
    return s.segment(rstAt, "client", { seq: s.next.client, ack: s.next.server, flags: RST | ACK, win: 0 });
  }

  it("the peer silent exactly 1 s: left to peer-unresponsive / keepalive", async () => {
    expect(gap(1.5, 2.5)).toBeGreaterThanOrEqual(1);
    expect(await resetKinds(givingUp(2.5))).toEqual([]);
  });

  it("silent 0.999999 s: an abortive close, the client's 30 bytes lost in flight", async () => {
    const [f, ...rest] = await findingsOf(abortiveClose, givingUp(2.499999));
    expect(rest).toEqual([]);
    expect(f!.side).toBe("client");
    expect(f!.frames).toEqual([9]);
    expect(f!.measure).toMatchObject({
      unackedFromResetterBytes: 30,
      unackedToResetterBytes: 0,
      peerDataUnansweredBytes: 0,
    });
  });

  it("without re-sends, a reset after a long silence is an abortive close all the same", async () => {
    const s = new TcpScript().handshake(1).data(1.4, "client", 10).ack(1.5, "server").data(1.8, "client", 30);
    s.segment(5, "client", { seq: s.next.client, ack: s.next.server, flags: RST | ACK, win: 0 });
    const [f] = await findingsOf(abortiveClose, s);
    expect(f!.measure).toMatchObject({ unackedFromResetterBytes: 30, sinceLastSegmentMs: 3200 });
  });
});

describe("close-wait: 1 s from the peer's FIN, or from this side's last data after it (CLOSE_WAIT_MIN_SEC)", () => {
  /** The client's FIN at 2 s, acknowledged at once; the server's data at `dataAt` (if any), its FIN at `finAt`. */
  function closing(finAt: number, dataAt?: number): TcpScript {
    const s = new TcpScript().handshake(1).data(1.5, "client", 10).ack(1.5, "server");
    s.fin(2, "client").ack(2, "server");
    if (dataAt !== undefined) s.data(dataAt, "server", 10).ack(dataAt, "client");
    return s.fin(finAt, "server");
  }

  it("the server's FIN exactly 1 s after the client's: CLOSE_WAIT reported", async () => {
    expect(gap(2, 3)).toBeGreaterThanOrEqual(1);
    const [f, ...rest] = await findingsOf(closeWait, closing(3));
    expect(rest).toEqual([]);
    expect(f!.side).toBe("server");
    expect(f!.frames).toEqual([6, 7, 8]);
    expect(f!.measure).toEqual({ closeWaitMs: 1000, stillOpenAtEnd: 0 });
  });

  it("0.999999 s: a program closing in time, nothing", async () => {
    expect(await findingsOf(closeWait, closing(2.999999))).toEqual([]);
  });

  it("data the server sent after the FIN (a half-close in use) moves the start of the wait", async () => {
    const [f] = await findingsOf(closeWait, closing(3.5, 2.5));
    expect(f!.measure).toEqual({ closeWaitMs: 1000, stillOpenAtEnd: 0 });
    expect(f!.summary).toContain("after its last data after the client's FIN");
    expect(await findingsOf(closeWait, closing(3.499999, 2.5))).toEqual([]);
  });

  it("never closed: measured to the end of the capture", async () => {
    // The client's bare ACK at 4 s: the capture runs to then.
    const s = new TcpScript().handshake(1).fin(2, "client").ack(2, "server").ack(4, "client");
    const [f] = await findingsOf(closeWait, s);
    expect(f!.measure).toEqual({ closeWaitMs: 2000, stillOpenAtEnd: 1 });
  });
});

describe("abortive-close: a reset whose TTL is more than 2 hops (SAME_SENDER_TTL_HOPS) from the side's own data came from the path", () => {
  /** Client data at TTL 64, the server's answer, then a RST+ACK in the client's name at `ttl` that leaves it unacknowledged. */
  function resetAt(ttl: number): TcpScript {
    const s = new TcpScript().handshake(1).data(1.1, "client", 50).data(1.2, "server", 20);
    return s.segment(200, "client", { seq: s.next.client, ack: (s.next.server - 20) >>> 0, flags: RST | ACK, ttl });
  }

  it("TTL 251 against 64: another device sent it; a warning that blames no close()", async () => {
    const [f] = await findingsOf(abortiveClose, resetAt(251));
    expect(f!.severity).toBe("warning");
    expect(f!.summary).toContain("came with IP TTL 251, while the client's own data came with TTL 64 (frame 4)");
    expect(f!.summary).toContain("after 198.8 s of silence");
    expect(f!.summary).not.toContain("close()");
  });

  it("TTL 61, three hops off: from the path too", async () => {
    expect((await findingsOf(abortiveClose, resetAt(61)))[0]!.summary).toContain("another device on the path");
  });

  it("TTL 62, two hops off (a route change): the client's own abort, an error", async () => {
    const [f] = await findingsOf(abortiveClose, resetAt(62));
    expect(f!.severity).toBe("error");
    expect(f!.summary).toMatch(/^the client \(.*\) reset the connection/);
  });
});
