/**
 * connection-refused judged across the flow and across connections: the refused SYN's
 * retries and when ECONNREFUSED reached the program, a refused SYN re-sent and then
 * accepted, the listener's history (nothing listening, closed after serving, restarted),
 * getaddrinfo()'s address loop moving on, and the same report with `--jobs 2`. Runs the
 * built code (dist/): worker threads load compiled modules.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";

const dist = (m: string) => import(join(ROOT, "dist", m));
const { analyzeFile } = await dist("run/pipeline.js");
const { readCapture } = await dist("capture/reader.js");
const { ShardRouter } = await dist("run/parallel/router.js");
const { RefusalEvidence, Refusal, Attempt, mergeEvidence, resolveEvidence, OUTCOME_ACCEPTED } = await dist(
  "analyze/lib/refusal-evidence.js",
);

interface F {
  kind: string;
  severity: string;
  flow: number;
  frames: number[];
  summary: string;
  explanation: string;
  measure: Record<string, number>;
  facts?: Record<string, unknown>;
}

const fixture = (name: string) => join(FIXTURES, "connection-refused", `${name}.pcap`);
const corpus = (name: string) => join(CORPUS, "captures", name);

async function findings(path: string, kind = "connection-refused", jobs = 1): Promise<F[]> {
  const r = await analyzeFile(path, { jobs });
  return (r.findings as F[]).filter((f) => f.kind === kind);
}

describe("retries of a refused SYN", () => {
  it("counts Windows' two re-sent SYNs and times connect() to the last RST (pop3-refused-retries)", async () => {
    const [f1, f2] = await findings(corpus("zeek--pop3-refused-retries.pcap"));
    expect(f1!.flow).toBe(1);
    expect(f1!.frames).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f1!.measure).toMatchObject({ refusals: 3, synCount: 3, accepted: 0, connectMs: 1160.756 });
    expect(f1!.summary).toContain("refused 3 time(s): SYNs (frames 1, 3, 5) answered by RST (frames 2, 4, 6)");
    expect(f1!.summary).toContain(
      "(0.50, 0.50 s after each RST: its stack retries a refused connect() before failing it (Windows does",
    );
    expect(f1!.summary).toContain(
      "ECONNREFUSED reached the program at the last RST (frame 6), 1.161 s after the first SYN",
    );
    expect(f2!.frames).toEqual([7, 8, 9, 10, 11, 12]);
    // The retransmission kind tags the same re-sent SYNs and points here.
    const rt = await findings(corpus("zeek--pop3-refused-retries.pcap"), "retransmission");
    expect(rt.filter((f) => f.flow === 1).map((f) => [f.frames, f.measure.refusedSynRetries])).toEqual([[[3, 5], 2]]);
  });

  it("says one refusal for a Linux client, which never re-sends a refused SYN", async () => {
    const fs = await findings(fixture("ipv4"));
    expect(fs).toHaveLength(2);
    for (const f of fs) {
      expect(f.measure.refusals).toBe(1);
      expect(f.summary).toMatch(
        /^connect\(\) to 127\.0\.0\.1:5000 refused: SYN \(frame \d\) answered by RST \(frame \d\)/,
      );
      expect(f.summary).not.toContain("re-sent");
    }
  });

  it("gives no cause for a re-send that did not happen (audit 9: a macOS client refused once)", async () => {
    const [f] = await findings(corpus("zeek--irc-353-null-refused.pcap"));
    expect(f!.measure.refusals).toBe(1);
    expect(f!.facts).toMatchObject({ retryIntervals: null, retryCause: null });
    const [retried] = await findings(corpus("zeek--pop3-refused-retries.pcap"));
    expect(retried!.facts!.retryCause).toContain("Windows");
  });
});

describe("refused, retried by the stack, then accepted (issue 21)", () => {
  it("is info: connect() succeeded late, when the listener came up", async () => {
    const [f] = await findings(fixture("late-listener"));
    expect(f!.severity).toBe("info");
    expect(f!.frames).toEqual([1, 2, 3, 4]);
    expect(f!.measure).toMatchObject({ accepted: 1, programConnected: 1, refusals: 1 });
    expect(f!.measure.connectMs).toBeGreaterThan(1000);
    expect(f!.summary).toContain("refused, re-sent, then accepted");
    // Audit5: a Linux client does not retry a refusal; the RST (dropped by nftables after
    // tcpdump saw it) never reached its socket, and the SYN timer re-sent the SYN.
    expect(f!.summary).toContain("Linux does not retry a refused connect(): the RST did not reach the client's socket");
    expect(f!.summary).toContain("SYN-ACK (frame 4)");
    expect(f!.summary).toContain("the listener started during the retries");
    expect(f!.explanation).toMatch(/^The program's connect\(\) did not fail/);
    const [rt] = await findings(fixture("late-listener"), "retransmission");
    expect(rt!.summary).toContain("after the server's RST (frame 2) refused it");
    expect(rt!.summary).toContain("the server then accepted it, so connect() succeeded that much later");
  });

  it("the RST that refused the first SYN does not end the connection the SYN-ACK began", async () => {
    const r = await analyzeFile(fixture("late-listener"));
    expect(r.flows[0].close).toEqual({ first: "client", how: "FIN", frame: 10 });
    expect(r.flows[0].state).toEqual({ client: "TIME-WAIT", server: "CLOSED" });
    expect((r.findings as F[]).map((f) => f.kind)).toContain("time-wait");
  });
});

describe("the listener across connections", () => {
  it("nothing listening: no SYN to it accepted anywhere in the capture", async () => {
    for (const f of await findings(fixture("ipv4"))) {
      expect(f.summary).toContain("no SYN to 127.0.0.1:5000 was accepted anywhere in the capture");
      expect(f.measure).toMatchObject({ listenerAcceptedBeforeMs: -1, listenerAcceptedAfterMs: -1 });
    }
  });

  it("refused after serving: says when it last accepted", async () => {
    const [f] = await findings(fixture("closed"));
    expect(f!.severity).toBe("error");
    expect(f!.summary).toContain("had accepted connections before (last SYN-ACK frame 2,");
    expect(f!.summary).toContain("closed the listening socket or exited");
    expect(f!.measure.listenerAcceptedBeforeMs).toBeGreaterThan(90);
    expect(f!.measure.listenerAcceptedAfterMs).toBe(-1);
  });

  it("refused for a while, then served again: restarted, with the window it was down", async () => {
    const fs = await findings(fixture("restart"));
    expect(fs).toHaveLength(2);
    for (const f of fs) {
      expect(f.severity).toBe("error");
      expect(f.summary).toMatch(/\(SYN-ACK frame 2\) and accepted again .* \(SYN-ACK frame 16\): it was restarted/);
      expect(f.summary).toMatch(/down for at most 0\.6\d\d s/);
    }
  });
});

describe("getaddrinfo()'s address loop", () => {
  it("refused on ::1, accepted on 127.0.0.1 straight after: the program connected (irc-353-null-refused)", async () => {
    const [f] = await findings(corpus("zeek--irc-353-null-refused.pcap"));
    expect(f!.severity).toBe("info");
    expect(f!.measure).toMatchObject({ programConnected: 1, fallbackGapMs: 0.099, accepted: 0 });
    expect(f!.summary).toContain("connected to 127.0.0.1:6666 (SYN frame 3), another address of the same host");
    expect(f!.summary).toContain("accepted (SYN-ACK frame 4)");
  });

  it("the same on a recorded loop (fallback fixture)", async () => {
    const [f] = await findings(fixture("fallback"));
    expect(f!.severity).toBe("info");
    expect(f!.summary).toContain("connected to 127.0.0.1:5012 (SYN frame 3)");
  });

  it("accepted on another remote address: a warning, hedged (fallback-remote fixture)", async () => {
    const [f] = await findings(fixture("fallback-remote"));
    expect(f!.severity).toBe("warning");
    expect(f!.measure.programConnected).toBe(1);
    expect(f!.summary).toContain("connected to 10.9.0.2:5014 (SYN frame 3), likely the next address of the same name");
    expect(f!.summary).toContain("if so, the program's connect loop succeeded");
    expect(f!.explanation).toContain("nothing listens at one of them (10.9.0.3:5014)");
  });

  it("another remote address refused too: still an error, and says so (pop3-refused-retries)", async () => {
    const [f1, f2] = await findings(corpus("zeek--pop3-refused-retries.pcap"));
    expect(f1!.severity).toBe("error");
    expect(f1!.summary).toContain(
      "0.429 ms after the refusal the client connected to 212.227.15.171:110 (SYN frame 7)",
    );
    expect(f1!.summary).toContain("likely the next address of the same name");
    expect(f1!.summary).toContain("refused too (RST frame 8)");
    // The next attempt, 28 s later to a third address, is no fallback.
    expect(f2!.measure.fallbackGapMs).toBe(-1);
  });

  it("a later connection to the same host's other port is no fallback (web-refused)", async () => {
    const [f] = await findings(corpus("zeek--web-refused.pcap"));
    expect(f!.severity).toBe("error");
    expect(f!.measure.fallbackGapMs).toBe(-1);
  });
});

/** Flows of a capture (by their address/port pair) per worker of a 2-way split. */
async function workersOf(path: string): Promise<Set<number>> {
  const router = new ShardRouter(2);
  const used = new Set<number>();
  await readCapture(path, (rec: unknown) => {
    used.add(router.route(rec));
  });
  return used;
}

describe("--jobs 2", () => {
  const files = [
    fixture("restart"),
    fixture("closed"),
    fixture("late-listener"),
    fixture("fallback"),
    fixture("fallback-remote"),
    corpus("zeek--pop3-refused-retries.pcap"),
    corpus("zeek--irc-353-null-refused.pcap"),
  ];
  it("gives the same JSON report as one thread, with a listener's connections on both workers", async () => {
    // The cross-flow evidence must come from the other worker's flows for the test to mean anything.
    expect(await workersOf(fixture("restart"))).toEqual(new Set([0, 1]));
    expect(await workersOf(fixture("fallback"))).toEqual(new Set([0, 1]));
    for (const f of files) {
      const one = JSON.stringify(await analyzeFile(f, { jobs: 1 }), null, 2);
      const two = JSON.stringify(await analyzeFile(f, { jobs: 2 }), null, 2);
      expect(two, f).toBe(one);
    }
  }, 60_000);
});

describe("refusal evidence learnt after the finding (a flow that ended early: live capture, a replaced 4-tuple)", () => {
  const listener = "0 127.0.0.1:80";
  const key = "0 loopback 80";
  /** A refusal at frame 5 (RST at 1.0 s) whose finding was already reported. */
  const refusal = () => {
    const r = new Refusal(listener, key, "::1", 5);
    r.addReset(5, 1.0);
    r.finding = {};
    return r;
  };
  /** The client's next connect(): 127.0.0.1, 2 ms after the RST, and the listener's SYN-ACK to it. */
  const next = () => new Attempt(6, 1.002, "127.0.0.1:80", "127.0.0.1", true);

  it("one engine revises the finding when the next accept and the fallback come; a sharded resolve finds the same", () => {
    const one = new RefusalEvidence(false);
    const revised: unknown[] = [];
    const r1 = refusal();
    one.accepted(listener, 2, 0.5, () => {});
    one.refused(r1);
    const a1 = next();
    one.attempted(key, a1, (r: unknown) => revised.push(r));
    a1.outcome = OUTCOME_ACCEPTED;
    one.accepted(listener, 7, 1.003, (r: unknown) => revised.push(r));
    expect(revised).toEqual([r1, r1]);
    expect(a1.dependents).toEqual([r1]);

    // Two workers: the refusal on one, the accepts and the next attempt on the other.
    const w1 = structuredClone(new RefusalEvidence(true));
    const w2 = new RefusalEvidence(true);
    const r2 = refusal();
    w1.refusals.push(r2);
    w2.accepted(listener, 7, 1.003, () => {});
    w2.accepted(listener, 2, 0.5, () => {});
    const a2 = next();
    a2.outcome = OUTCOME_ACCEPTED;
    w2.attempted(key, a2, () => {});
    mergeEvidence(w1, structuredClone(w2));
    const rewritten: unknown[] = [];
    resolveEvidence(w1, (r: unknown) => rewritten.push(r));
    expect(rewritten).toEqual([r2]);
    const facts = (r: typeof r1) => [
      r.acceptedBeforeFrame,
      r.acceptedAfterFrame,
      r.fallback?.synFrame,
      r.fallback?.outcome,
      r.fallbackGapSec,
    ];
    expect(facts(r2)).toEqual(facts(r1));
    expect(facts(r1)).toEqual([2, 7, 6, OUTCOME_ACCEPTED, expect.closeTo(0.002, 9)]);
  });

  it("no fallback to the same address, nor to another one later than 0.1 s", () => {
    for (const a of [
      new Attempt(6, 1.002, "[::1]:80", "::1", true),
      new Attempt(6, 1.2, "127.0.0.1:80", "127.0.0.1", true),
    ]) {
      const ev = new RefusalEvidence(false);
      const r = refusal();
      ev.refused(r);
      ev.attempted(key, a, () => {});
      expect(r.fallback).toBeNull();
    }
  });
});
