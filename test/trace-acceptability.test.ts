/**
 * Acceptability and connection identity in the TCP tracker (src/decode/flow/tcp-tracker.ts):
 * a RST or FIN the receiving stack would ignore (RFC 9293 §3.10.7.3–4, RFC 5961 §3) changes
 * no endpoint state, comes out with `accepted = false`, and no analyzer but those that ask
 * (unacceptable-reset) makes anything of it; hand-made SYNs with foreign ISNs do not cut a
 * connection attempt into new incarnations, and a real new incarnation after a close still
 * is one. Each rule at its boundary: ack = ISN + 1 against ISN and no ACK, a RST at the
 * window's edge and one past it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import abortiveClose from "../src/analyze/analyzers/abortive-close.js";
import connectTimeout from "../src/analyze/analyzers/connect-timeout.js";
import connectionRefused from "../src/analyze/analyzers/connection-refused.js";
import craftedSyn from "../src/analyze/analyzers/crafted-syn.js";
import synRetransmit from "../src/analyze/analyzers/syn-retransmit.js";
import timeWaitReuse from "../src/analyze/analyzers/time-wait-reuse.js";
import unacceptableReset from "../src/analyze/analyzers/unacceptable-reset.js";
import { ANALYZERS } from "../src/analyze/registry.js";
import type { Flow } from "../src/decode/flow/record.js";
import { CLI, CORPUS } from "./helpers/paths.js";
import { ACK, FIN, findingsOf, RST, runScript, SYN, TcpScript } from "./helpers/tcp-script.js";

const ISN = { client: 1000, server: 5000 };

/** The client's SYN, then the given reset from the server 0.2 s later, then (optionally) the real SYN-ACK. */
function synSentReset(flags: number, ack: number, thenSynAck: boolean): TcpScript {
  const s = new TcpScript(ISN);
  s.segment(1, "client", { seq: ISN.client, ack: 0, flags: SYN });
  s.segment(1.2, "server", { seq: 0, ack, flags, win: 0 });
  if (thenSynAck) {
    s.segment(1.3, "server", { seq: ISN.server, ack: ISN.client + 1, flags: SYN | ACK });
    s.ack(1.301, "client");
    s.data(1.302, "client", 100);
    s.ack(1.303, "server");
  }
  return s;
}

/** Per frame: accepted, and the server's RST frame after it. */
async function acceptance(script: TcpScript): Promise<{ accepted: boolean[]; rstFrame: number[]; flows: Flow[] }> {
  const accepted: boolean[] = [],
    rstFrame: number[] = [];
  const { engine } = await runScript(script, {
    onSegment({ seg, flow }) {
      accepted.push(seg.accepted);
      rstFrame.push(flow.ep[1].rstFrame);
    },
  });
  return { accepted, rstFrame, flows: engine.flows.all };
}

describe("a RST to a client in SYN-SENT", () => {
  it("with ACK and ack = ISN + 1 is a refusal: accepted, the server's RST recorded, connection-refused", async () => {
    const s = synSentReset(RST | ACK, ISN.client + 1, false);
    const a = await acceptance(s);
    expect(a.accepted).toEqual([true, true]);
    expect(a.rstFrame).toEqual([0, 2]);
    expect(await findingsOf(connectionRefused, s)).toHaveLength(1);
    expect(await findingsOf(unacceptableReset, s)).toHaveLength(0);
  });

  for (const [what, flags, ack] of [
    ["acknowledging the ISN itself (one short)", RST | ACK, ISN.client],
    ["acknowledging ISN + 2", RST | ACK, ISN.client + 2],
    ["without ACK", RST, 0],
  ] as const) {
    it(`${what} is ignored: no state, no refusal, one unacceptable-reset when the handshake goes on`, async () => {
      const s = synSentReset(flags, ack, true);
      const a = await acceptance(s);
      expect(a.accepted).toEqual([true, false, true, true, true, true]);
      expect(a.rstFrame.every((f) => f === 0)).toBe(true);
      expect(a.flows).toHaveLength(1);
      expect(a.flows[0]!.endedFrame).toBe(0);
      expect(a.flows[0]!.ep[1].ignoredRstFrame).toBe(2);
      const { findings } = await runScript(s, { analyzers: ANALYZERS });
      expect(findings.map((f) => f.kind)).toEqual(["unacceptable-reset"]);
      expect(findings[0]!.frames).toEqual([2]);
      expect(findings[0]!.summary).toContain("SYN-ACK (frame 3) completed the handshake");
    });
  }
});

describe("a RST to a side that sent a SYN-ACK (SYN-RECEIVED, not SYN-SENT)", () => {
  it("is judged by the window: the client's bare RST answering an unexpected SYN-ACK counts", async () => {
    const s = new TcpScript(ISN);
    s.segment(1, "server", { seq: ISN.server, ack: 77_777, flags: SYN | ACK });
    s.segment(1.001, "client", { seq: 77_777, ack: 0, flags: RST, win: 0 });
    const accepted: boolean[] = [];
    let clientRst = -1;
    await runScript(s, {
      onSegment({ seg, flow }) {
        accepted.push(seg.accepted);
        clientRst = flow.ep[0].rstFrame;
      },
    });
    expect(accepted).toEqual([true, true]);
    expect(clientRst).toBe(2);
  });
});

describe("a RST on an established connection", () => {
  /** Handshake, 100 bytes each way, then a RST from the server with sequence number `seq` (raw). */
  const script = (seq: (s: TcpScript) => number, win = 1000, after = false): TcpScript => {
    const s = new TcpScript(ISN);
    s.win.client = win;
    s.handshake(1);
    s.data(1.1, "client", 100);
    s.data(1.2, "server", 100);
    s.ack(1.3, "client");
    s.segment(1.4, "server", { seq: seq(s), ack: s.next.client, flags: RST | ACK, win: 0 });
    if (after) s.data(1.5, "server", 10);
    return s;
  };

  it("inside the client's window (its last ack + the window it advertised) is accepted: abortive-close", async () => {
    for (const off of [0, 999]) {
      const s = script((x) => x.next.server + off);
      const a = await acceptance(s);
      expect(a.accepted.at(-1), `offset ${off}`).toBe(true);
      expect(a.rstFrame.at(-1)).toBe(7);
      expect(await findingsOf(abortiveClose, s)).toHaveLength(1);
    }
  });

  it("one byte past the window, or below what the client acknowledged, is ignored: no abortive-close", async () => {
    for (const off of [1000, 100_000, -1]) {
      const s = script((x) => x.next.server + off);
      const a = await acceptance(s);
      expect(a.accepted.at(-1), `offset ${off}`).toBe(false);
      expect(a.rstFrame.at(-1)).toBe(0);
      expect(a.flows[0]!.endedFrame).toBe(0);
      // No analyzer sees it (the host hands it to those that readsUnaccepted); the server says
      // nothing after it, a stray rather than an injection: nothing at all names the reset.
      const { findings } = await runScript(s, { analyzers: ANALYZERS });
      expect(findings.filter((f) => f.frames.includes(7)).map((f) => f.kind)).toEqual([]);
    }
  });

  it("an ignored RST after which the server's stack goes on sending is reported as unacceptable-reset", async () => {
    const s = script((x) => x.next.server + 100_000, 1000, true);
    const [f] = await findingsOf(unacceptableReset, s);
    expect(f?.summary).toContain("outside the client's window");
    expect(f?.summary).toContain("the connection went on (the server's next segment, frame 8)");
  });

  it("a FIN past the window changes nothing: no FIN recorded", async () => {
    const s = new TcpScript(ISN);
    s.win.client = 1000;
    s.handshake(1);
    s.data(1.1, "server", 100);
    s.ack(1.2, "client");
    const next = s.next.server;
    s.segment(1.3, "server", { seq: next + 5000, ack: s.next.client, flags: FIN | ACK });
    s.segment(1.4, "server", { seq: next, ack: s.next.client, flags: FIN | ACK });
    const finFrames: number[] = [];
    const accepted: boolean[] = [];
    await runScript(s, {
      onSegment({ seg, flow }) {
        accepted.push(seg.accepted);
        finFrames.push(flow.ep[1].finFrame);
      },
    });
    expect(accepted.slice(-2)).toEqual([false, true]);
    expect(finFrames.slice(-2)).toEqual([0, 7]);
  });
});

describe("connection identity by ISN", () => {
  const REAL = 4_291_095_205;
  /** Hand-made SYNs (random ISN, an ack field without ACK) every 0.16 s, a real client's SYN retried among them. */
  const scanAndClient = (): TcpScript => {
    const s = new TcpScript({ client: REAL, server: 7000 });
    // 18 hand-made SYNs every 0.16 s from 0.16 s; the stack's SYN at 0.85 s (frame 6), re-sent at
    // 1.87 s (frame 13) and 2.89 s (frame 21); the SYN-ACK at 2.895 s (frame 22).
    const real = [0.85, 1.87, 2.89];
    const times = [...Array.from({ length: 18 }, (_, k) => 0.16 * (k + 1)), ...real].sort((a, b) => a - b);
    for (const [i, t] of times.entries()) {
      if (real.includes(t)) s.segment(t, "client", { seq: REAL, ack: 0, flags: SYN, options: { mss: 1460 } });
      else s.segment(t, "client", { seq: 100_000 * (i + 1), ack: 31_337 * (i + 1), flags: SYN });
    }
    s.segment(2.895, "server", { seq: 7000, ack: REAL + 1, flags: SYN | ACK });
    s.ack(2.896, "client");
    s.data(2.897, "client", 50);
    return s;
  };

  it("hand-made SYNs with foreign ISNs stay in one flow, ignored; the real SYN's retries are syn-retransmit's", async () => {
    const accepted: boolean[] = [];
    const { engine, findings } = await runScript(scanAndClient(), {
      analyzers: [timeWaitReuse, synRetransmit, connectTimeout, craftedSyn],
      onSegment({ seg }) {
        accepted.push(seg.accepted);
      },
    });
    expect(engine.flows.all).toHaveLength(1);
    const client = engine.flows.all[0]!.ep[0];
    expect(client.isn).toBe(REAL);
    expect(client.synFrame).toBe(6);
    expect(client.synCount).toBe(3);
    // The first hand-made SYN opened the flow and the stack's SYN took its place; the other 17 were ignored.
    expect(accepted.filter((a) => !a)).toHaveLength(17);
    expect(findings.map((f) => f.kind).sort()).toEqual(["crafted-syn", "syn-retransmit"]);
    const [retries, crafted] = ["syn-retransmit", "crafted-syn"].map((k) => findings.find((f) => f.kind === k)!);
    expect(retries!.frames).toEqual([13, 21]);
    expect(crafted!.count).toBe(18);
    expect(crafted!.summary).toContain("with 18 different ISNs");
    expect(crafted!.summary).toContain("its SYN (frame 6, the same ISN on every re-send) was answered");
  });

  it("two SYNs from a stack with different ISNs, the first unanswered, are two attempts (as before)", async () => {
    const s = new TcpScript(ISN);
    s.segment(1, "client", { seq: 1000, ack: 0, flags: SYN });
    s.segment(3, "client", { seq: 900_000, ack: 0, flags: SYN });
    const { engine } = await runScript(s);
    expect(engine.flows.all).toHaveLength(2);
  });

  it("a new SYN after the connection closed with FINs is still a new incarnation: time-wait-reuse", async () => {
    const s = new TcpScript(ISN);
    s.handshake(1);
    s.data(1.1, "client", 10);
    s.ack(1.2, "server");
    s.fin(1.3, "client");
    s.fin(1.4, "server");
    s.ack(1.5, "client");
    s.segment(2, "client", { seq: 900_000, ack: 0, flags: SYN });
    s.segment(2.001, "server", { seq: 800_000, ack: 900_001, flags: SYN | ACK });
    const { engine, findings } = await runScript(s, { analyzers: [timeWaitReuse] });
    expect(engine.flows.all).toHaveLength(2);
    expect(findings.map((f) => [f.kind, f.frames[0]])).toEqual([["time-wait-reuse", 9]]);
  });

  it("a hand-made SYN after the close opens a new flow but is no reuse by a program: no time-wait-reuse", async () => {
    const s = new TcpScript(ISN);
    s.handshake(1);
    s.fin(1.3, "client");
    s.fin(1.4, "server");
    s.ack(1.5, "client");
    s.segment(2, "client", { seq: 900_000, ack: 12_345, flags: SYN });
    const { engine, findings } = await runScript(s, { analyzers: [timeWaitReuse, craftedSyn] });
    expect(engine.flows.all).toHaveLength(2);
    expect(findings.map((f) => [f.kind, f.flow])).toEqual([["crafted-syn", 2]]);
  });
});

describe("hand-made SYNs are no connect()", () => {
  /** The same SYN four times, unanswered, with or without SACK blocks in it. */
  const resent = (sack: boolean): TcpScript => {
    const s = new TcpScript(ISN);
    for (const t of [0, 1, 3, 7])
      s.segment(t, "client", { seq: 1000, ack: 0, flags: SYN, options: sack ? { sack: [[1, 2]] } : { mss: 1460 } });
    return s;
  };

  it("SYNs carrying SACK blocks draw no connect-timeout; the same SYNs without them do", async () => {
    expect(await findingsOf(connectTimeout, resent(true))).toHaveLength(0);
    expect(await findingsOf(connectTimeout, resent(false))).toHaveLength(1);
  });
});

describe("the per-frame tags", () => {
  it("mark an ignored segment not-accepted in `packets`", () => {
    const r = spawnSync(process.execPath, [CLI, "packets", join(CORPUS, "captures", "zeek--tcp-rst-inject-rae.pcap")], {
      encoding: "utf8",
    });
    const lines = r.stdout.split("\n");
    expect(lines[1]).toMatch(/\[R\.\] .*\[.*not-accepted.*\]$/);
    expect(lines.filter((l) => l.includes("not-accepted"))).toHaveLength(1);
  });
});
