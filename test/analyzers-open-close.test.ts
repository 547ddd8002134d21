/**
 * The TCP opening and closing analyzers on the captures recorded from real Linux sockets
 * (fixtures/scenarios/*.py describe each case): each kind is found on its own fixtures,
 * on the frames read off the capture (`sockscope packets`), for the right side, with
 * measured values in sane bounds; and it stays silent on every other fixture and on the
 * healthy captures.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import type { Finding } from "../src/analyze/finding.js";
import type { Report } from "../src/report/model.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";
import { phenomenonFixtures } from "./helpers/fixtures.js";

const MINE = [
  "connect-timeout",
  "syn-retransmit",
  "time-wait-reuse",
  "abortive-close",
  "half-close",
  "close-wait",
  "time-wait",
  "reset-by-peer-reboot",
] as const;
type Kind = (typeof MINE)[number];

const reports = new Map<string, Promise<Report>>();
function report(rel: string): Promise<Report> {
  let r = reports.get(rel);
  if (r === undefined) reports.set(rel, (r = analyzeFile(join(FIXTURES, rel))));
  return r;
}

async function only(rel: string, kind: Kind): Promise<Finding> {
  const fs = (await report(rel)).findings.filter((f) => f.kind === kind);
  expect(fs, `${kind} findings in ${rel}`).toHaveLength(1);
  return fs[0]!;
}

function within(x: number | undefined, lo: number, hi: number): void {
  expect(x).toBeDefined();
  expect(x!).toBeGreaterThanOrEqual(lo);
  expect(x!).toBeLessThanOrEqual(hi);
}

describe("connect-timeout", () => {
  it("syncnt: 6 SYNs, Linux's fixed 1 s retries", async () => {
    const f = await only("connect-timeout/syncnt.pcap", "connect-timeout");
    expect(f.severity).toBe("error");
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([2, 3, 4, 5, 6]);
    expect(f.measure.synCount).toBe(6);
    expect(f.measure.fixedIntervalRetries).toBe(5);
    within(f.measure.firstRetryMs, 950, 1100);
    within(f.measure.spanMs, 5000, 5300);
    expect(f.summary).toMatch(/linear SYN retries/);
  });
  it("classic-backoff: 1 s then 2 s", async () => {
    const f = await only("connect-timeout/classic-backoff.pcap", "connect-timeout");
    expect(f.frames).toEqual([2, 3]);
    expect(f.measure.synCount).toBe(3);
    expect(f.measure.fixedIntervalRetries).toBe(0);
    within(f.measure.firstRetryMs, 950, 1100);
    within(f.measure.lastIntervalMs, 1950, 2100);
    expect(f.summary).toMatch(/doubling/);
  });
  it("app-timeout: 4 SYNs, then the program gave up", async () => {
    const f = await only("connect-timeout/app-timeout.pcap", "connect-timeout");
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([2, 3, 4]);
    expect(f.measure.synCount).toBe(4);
    within(f.measure.spanMs, 2900, 3200);
  });
});

describe("syn-retransmit", () => {
  it("a retry among hand-made SYNs on the 4-tuple is not blamed on loss alone", async () => {
    const f = await only("crafted-syn/syn-train.pcap", "syn-retransmit");
    expect(f.summary).toContain("hand-made SYN(s) from the client's address on the same 4-tuple");
    expect(f.summary).toContain("the capture cannot tell which");
    expect(f.summary).not.toContain("which points to loss");
  });

  it("a retry after a reset the client ignored says the reset may have prompted it", async () => {
    const f = await only("unacceptable-reset/syn-sent.pcap", "syn-retransmit");
    expect(f.summary).toContain(
      "a reset the client's stack ignored (frame 2, see unacceptable-reset) came before the retry",
    );
    expect(f.summary).not.toContain("which points to loss");
  });

  it("backlog-full: B's SYN ignored while A waits in the accept queue", async () => {
    const f = await only("syn-retransmit/backlog-full.pcap", "syn-retransmit");
    expect(f.severity).toBe("warning");
    expect(f.flow).toBe(2);
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([7, 13]);
    expect(f.measure.synRetries).toBe(2);
    expect(f.measure.queueAccepted).toBe(1);
    within(f.measure.connectMs, 1900, 2300);
    expect(f.summary).toMatch(/accept queue was full/);
  });
  it("first-syn-dropped: one retry after 1 s, nothing points to a full queue", async () => {
    const f = await only("syn-retransmit/first-syn-dropped.pcap", "syn-retransmit");
    expect(f.frames).toEqual([2]);
    expect(f.measure.synRetries).toBe(1);
    expect(f.measure.queueAccepted).toBe(0);
    within(f.measure.connectMs, 950, 1200);
  });
  it("first-synack-dropped: SYN-ACK timer, SYN retry and the SYN-ACK answering it", async () => {
    const f = await only("syn-retransmit/first-synack-dropped.pcap", "syn-retransmit");
    expect(f.frames).toEqual([3, 4, 6]);
    expect(f.measure.synRetries).toBe(1);
    expect(f.measure.synAckRetries).toBe(1);
    expect(f.measure.synAckAnswers).toBe(1);
    within(f.measure.connectMs, 950, 1200);
    // Frame 6 answers the re-sent SYN (frame 4): not evidence of an ignored ACK.
    expect(f.summary).not.toMatch(/ignored that ACK/);
  });
  it("formats/linktype-sll2-veth-vlan: four captured copies of each SYN are one transmission", async () => {
    const r = await analyzeFile(join(FIXTURES, "formats", "linktype-sll2-veth-vlan.pcap"));
    expect(r.findings.filter((f) => f.kind === "syn-retransmit" || f.kind === "connect-timeout")).toEqual([]);
  });
});

describe("time-wait-reuse", () => {
  it("server-tw-timestamps: the server's TIME_WAIT accepts the new SYN", async () => {
    const f = await only("time-wait-reuse/server-tw-timestamps.pcap", "time-wait-reuse");
    expect(f.severity).toBe("warning");
    expect(f.flow).toBe(2);
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([11]);
    within(f.measure.sinceCloseMs, 400, 700);
    expect(f.measure.timeWaitMs).toBe(60000);
    expect(f.measure.accepted).toBe(1);
    expect(f.measure.bareAckThenRst).toBe(0);
    expect(f.summary).toMatch(/server still held it in TIME_WAIT/);
  });
  it("server-tw-no-timestamps: bare ACK, RST, re-sent SYN accepted", async () => {
    const f = await only("time-wait-reuse/server-tw-no-timestamps.pcap", "time-wait-reuse");
    expect(f.frames).toEqual([321, 322, 323, 324]);
    within(f.measure.sinceCloseMs, 50, 300);
    expect(f.measure.bareAckThenRst).toBe(1);
    expect(f.measure.accepted).toBe(1);
  });
  it("client-tw-reuse: the client takes over its own TIME_WAIT", async () => {
    const f = await only("time-wait-reuse/client-tw-reuse.pcap", "time-wait-reuse");
    expect(f.frames).toEqual([11]);
    within(f.measure.sinceCloseMs, 150, 400);
    expect(f.measure.accepted).toBe(1);
    // Its own SYN on the 4-tuple it holds: its stack let connect() have it; nothing stood in the way.
    expect(f.severity).toBe("info");
    expect(f.summary).toMatch(/but this SYN is its own: Linux lets connect\(\) take over its own TIME_WAIT/);
  });
  it("an iOS client reusing its 4-tuple 26.6 s after closing (within iOS's 30 s): its stack let it, info (audit 7)", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "arkime--gtp-iphone.pcap"));
    const f = r.findings.find((x) => x.kind === "time-wait-reuse" && x.frames[0] === 95)!;
    expect(f.severity).toBe("info");
    expect(f.summary).toContain("but this SYN is its own: its stack let connect() have the 4-tuple");
    expect(f.summary).not.toContain("still held it");
    // Its packets name iOS: no Linux rule offered as the reason (audit 9: xnu refuses its own TIME_WAIT).
    expect(f.summary).not.toContain("Linux");
    expect(f.summary).toContain("the capture does not tell which");
  });
  it("--msl shorter than the gap: no reuse of a TIME_WAIT", async () => {
    const r = await analyzeFile(join(FIXTURES, "time-wait-reuse/server-tw-timestamps.pcap"), {
      analyzer: { mslSec: 0.2 },
    });
    expect(r.findings.filter((f) => f.kind === "time-wait-reuse")).toEqual([]);
  });
});

describe("abortive-close", () => {
  it("a client whose kernel sent window updates and acknowledged everything with its window back at its largest had read it: an abort after reading, info (audit 8)", async () => {
    const r = await analyzeFile(join(CORPUS, "captures", "zeek--http-206_example_b-zero-window.pcap"));
    const f = r.findings.find((x) => x.kind === "abortive-close")!;
    expect(f.severity).toBe("info");
    expect(f.summary).toContain("its program had read them, so this reset is an abort after reading");
    expect(f.summary).not.toContain("still unread");
    expect(f.measure.unreadDataEvidence).toBe(0);
  });
  it("no window update, no evidence of reading: never-read keeps its unread-data words", async () => {
    const f = await only("abortive-close/never-read.pcap", "abortive-close");
    expect(f.summary).toContain("close() with those bytes still unread is the classic cause");
    expect(f.measure.unreadDataEvidence).toBe(1);
  });
  it("so-linger-zero: the client's RST+ACK after the server's unanswered response", async () => {
    const f = await only("abortive-close/so-linger-zero.pcap", "abortive-close");
    // The exchange had finished (nothing in flight, the server's request answered): no program is known to have failed.
    expect(f.severity).toBe("warning");
    expect(f.summary).toMatch(/the exchange had finished/);
    expect(f.side).toBe("client");
    // The server's 20-byte response (frame 6) came after the client's last data and got
    // only the kernel's ACK (frame 7) and the reset: on the wire that is what unread data
    // looks like, though this client read it and aborted with SO_LINGER{1,0}.
    expect(f.frames).toEqual([6, 8]);
    expect(f.measure.unackedFromResetterBytes).toBe(0);
    expect(f.measure.unackedToResetterBytes).toBe(0);
    expect(f.measure.peerDataUnansweredBytes).toBe(20);
    expect(f.measure.unreadDataEvidence).toBe(1);
    expect(f.summary).toMatch(/SO_LINGER\{1,0\} looks the same on the wire/);
  });
  it("unread-data: the server answered, then reset with the body unread: the wire cannot show that", async () => {
    const f = await only("abortive-close/unread-data.pcap", "abortive-close");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([8]);
    expect(f.measure.unackedToResetterBytes).toBe(0);
    expect(f.measure.peerDataUnansweredBytes).toBe(0);
    expect(f.measure.unreadDataEvidence).toBe(0);
    expect(f.summary).toMatch(/all the client's data came before the server's last data \(frame 6\)/);
    expect(f.summary).toMatch(
      /never what its program read, so SO_LINGER\{1,0\} and close\(\) with earlier data left unread cannot be told apart/,
    );
    expect(f.summary).not.toMatch(/no unread data/);
  });
  it("abort-idle: SO_LINGER{1,0} with no data either way: nothing can be unread", async () => {
    const f = await only("abortive-close/abort-idle.pcap", "abortive-close");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([4]);
    expect(f.measure.peerDataUnansweredBytes).toBe(0);
    expect(f.measure.unreadDataEvidence).toBe(0);
    expect(f.summary).toMatch(
      /the client sent no data on this connection, so none can have been left unread: most likely a deliberate abort \(SO_LINGER\{1,0\} then close\(\)\)/,
    );
  });
  it("never-read: 26 bytes ACKed by the server's kernel (frame 5) are no read; they are the unread data", async () => {
    // Before: "the client sent no data after the server's last segment (frame 5), so the
    // wire shows no unread data", frame 5 being the pure ACK of those very bytes.
    const f = await only("abortive-close/never-read.pcap", "abortive-close");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([4, 6]);
    expect(f.measure.peerDataUnansweredBytes).toBe(26);
    expect(f.measure.unreadDataEvidence).toBe(1);
    expect(f.summary).toMatch(/the client sent 26 byte\(s\) \(from frame 4\) while the server had sent no data/);
    expect(f.summary).toMatch(
      /acknowledged them \(frame 5\), but an ACK is the kernel's receipt, not a read by the program/,
    );
    expect(f.summary).toMatch(/close\(\) with those bytes still unread is the classic cause/);
    expect(f.summary).not.toMatch(/no unread data/);
  });
  it("shutdown-unread: the server's FIN, then its RST+ACK from close() with the body unread: an abort after a FIN", async () => {
    const r = await report("abortive-close/shutdown-unread.pcap");
    expect(r.findings.filter((f) => f.kind === "rst-after-fin")).toEqual([]);
    const f = await only("abortive-close/shutdown-unread.pcap", "abortive-close");
    // Audit4: the client reads the whole reply and then EOF; only a write after that fails
    // (the recording's client did write, and got EPIPE): worth a look, not an error.
    expect(f.severity).toBe("warning");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([8, 10]);
    expect(f.measure.unackedFromResetterBytes).toBe(0); // its FIN was acknowledged (frame 9)
    // Recorded: the client's recv() got the response then 0 (EOF), its send() EPIPE.
    expect(f.summary).toMatch(/sent FIN \(frame 8\) and then reset the connection \(RST frame 10\)/);
    expect(f.summary).toMatch(
      /then end-of-file \(the FIN came first\), and its next write\(\) fails \(with EPIPE on Linux\); the exchange had finished/,
    );
    expect(f.summary).toMatch(/a program that does not write again sees only end-of-file$/);
    expect(f.explanation).toMatch(/Here a FIN came first/);
  });
});

describe("half-close", () => {
  it("shutdown-wr: client FIN, then 8 × 1000 bytes from the server", async () => {
    const f = await only("half-close/shutdown-wr.pcap", "half-close");
    expect(f.severity).toBe("info");
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([6, 7, 21, 23]);
    expect(f.measure.bytesAfterFin).toBe(8000);
    expect(f.measure.segmentsAfterFin).toBe(8);
    within(f.measure.dataAfterFinMs, 300, 600);
  });
});

describe("close-wait", () => {
  it("late-close: the server closes 3 s after the EOF", async () => {
    const f = await only("close-wait/late-close.pcap", "close-wait");
    expect(f.severity).toBe("warning");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([14, 15, 16]);
    within(f.measure.closeWaitMs, 2800, 3300);
    expect(f.measure.stillOpenAtEnd).toBe(0);
  });
  it("forked-child: the FIN waits for the child holding the descriptor", async () => {
    const f = await only("close-wait/forked-child.pcap", "close-wait");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([14, 15, 16]);
    within(f.measure.closeWaitMs, 2200, 2800);
  });
  it("pooled-client: a client closing 3 s after the server's idle-timeout FIN is a lazy close, not a leak", async () => {
    const f = await only("close-wait/pooled-client.pcap", "close-wait");
    expect(f.severity).toBe("info");
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([8, 9, 10]);
    within(f.measure.closeWaitMs, 2800, 3300);
    expect(f.summary).toMatch(/lazy close/);
  });
  it("capture-ends: 2 s of CLOSE_WAIT when the capture stops is too soon to call a leak", async () => {
    const f = await only("close-wait/capture-ends.pcap", "close-wait");
    expect(f.severity).toBe("info");
    expect(f.side).toBe("client");
    within(f.measure.closeWaitMs, 1800, 2300);
    expect(f.measure.stillOpenAtEnd).toBe(1);
    expect(f.summary).toMatch(/still there when the capture ended: the capture ended too soon/);
  });
});

describe("time-wait", () => {
  it("client-closes-first: the client holds TIME_WAIT", async () => {
    const f = await only("time-wait/client-closes-first.pcap", "time-wait");
    expect(f.severity).toBe("info");
    expect(f.side).toBe("client");
    expect(f.frames).toEqual([8, 9, 10]);
    expect(f.measure.timeWaitMs).toBe(60000);
    expect(f.measure.bothHold).toBe(0);
  });
  it("server-closes-first: the server holds TIME_WAIT", async () => {
    const f = await only("time-wait/server-closes-first.pcap", "time-wait");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([8, 9, 10]);
  });
  it("--msl sets the TIME_WAIT length", async () => {
    const r = await analyzeFile(join(FIXTURES, "time-wait/server-closes-first.pcap"), { analyzer: { mslSec: 120 } });
    expect(r.findings.find((f) => f.kind === "time-wait")?.measure.timeWaitMs).toBe(240000);
  });
});

describe("reset-by-peer-reboot", () => {
  it("idle-then-send: bare RST after 2 s of silence", async () => {
    const f = await only("reset-by-peer-reboot/idle-then-send.pcap", "reset-by-peer-reboot");
    expect(f.severity).toBe("error");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([6, 8, 9]);
    within(f.measure.silenceMs, 1900, 2300);
    expect(f.measure.unackedBytes).toBe(20);
    expect(f.measure.retransmissionsDuringSilence).toBe(0);
  });
  it("outage-idle: bare RST after 8 s of silence", async () => {
    const f = await only("reset-by-peer-reboot/outage-idle.pcap", "reset-by-peer-reboot");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([6, 8, 9]);
    within(f.measure.silenceMs, 7900, 8500);
  });
  it("outage-retransmit: the client retransmitted into the outage", async () => {
    const f = await only("reset-by-peer-reboot/outage-retransmit.pcap", "reset-by-peer-reboot");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([6, 8, 14, 15]);
    within(f.measure.silenceMs, 6500, 7800);
    expect(f.measure.retransmissionsDuringSilence).toBe(6);
    expect(f.measure.unackedBytes).toBe(20);
  });
  it("request-then-shutdown: a client that sent its FIN with the request still awaits the reply", async () => {
    const f = await only("reset-by-peer-reboot/request-then-shutdown.pcap", "reset-by-peer-reboot");
    expect(f.severity).toBe("error");
    expect(f.side).toBe("server");
    expect(f.frames).toEqual([6, 8, 9]);
    expect(f.measure.unackedBytes).toBe(20); // the FIN is no byte of data
    expect(f.summary).toMatch(
      /the client had sent its FIN \(frame 8\) after its request and still waited for the reply/,
    );
  });
});

/** Captures that end without a completed FIN exchange: no time-wait finding there. */
const NO_GRACEFUL_CLOSE = [
  "abortive-close/shutdown-unread.pcap",
  "abortive-close/so-linger-zero.pcap",
  "abortive-close/unread-data.pcap",
  "connect-timeout/syncnt.pcap",
  "connect-timeout/classic-backoff.pcap",
  "connect-timeout/app-timeout.pcap",
  "connection-refused/ipv4.pcap",
  "connection-refused/ipv6.pcap",
  "rst-after-fin/write-after-close.pcap",
  "reset-by-peer-reboot/idle-then-send.pcap",
  "reset-by-peer-reboot/outage-idle.pcap",
  "reset-by-peer-reboot/outage-retransmit.pcap",
  "reset-by-peer-reboot/request-then-shutdown.pcap",
];

/** Kinds of this file a fixture of another kind shows too, because its scenario sets the stage or ends that way. */
const ALSO_HERE: Record<string, string[]> = {
  // The first SYN is dropped to hold the client in SYN-SENT while the resets are injected.
  "unacceptable-reset/syn-sent.pcap": ["syn-retransmit"],
  // The client's first SYN is dropped so that the hand-made SYNs interleave with its re-send.
  "crafted-syn/syn-train.pcap": ["syn-retransmit"],
  // The client's TCP_USER_TIMEOUT gives up on the black-holed connection and resets it.
  "path-mtu/pmtu-black-hole.pcap": ["abortive-close"],
  // Closing the listener resets the two connections it never accept()ed, their requests unread.
  "connect-timeout/accept-queue-full.pcap": ["abortive-close"],
};

describe("silence elsewhere", () => {
  const fixtures = phenomenonFixtures();
  for (const fx of fixtures) {
    const rel = `${fx.group}/${fx.name}${fx.path.slice(fx.path.lastIndexOf("."))}`;
    it(`${rel}: none of the other opening/closing kinds`, async () => {
      const r = await report(rel);
      const allowed = new Set<string>([fx.group, "time-wait", ...(ALSO_HERE[rel] ?? [])]);
      const stray = r.findings.filter((f) => (MINE as readonly string[]).includes(f.kind) && !allowed.has(f.kind));
      expect(stray.map((f) => `${f.kind}: ${f.summary}`)).toEqual([]);
      if (fx.group === "healthy") {
        const loud = r.findings.filter((f) => (MINE as readonly string[]).includes(f.kind) && f.severity !== "info");
        expect(loud.map((f) => `${f.kind}: ${f.summary}`)).toEqual([]);
      }
      if (NO_GRACEFUL_CLOSE.includes(rel)) expect(r.findings.filter((f) => f.kind === "time-wait")).toEqual([]);
    });
  }
  it("healthy captures: one time-wait per connection, nothing else of these kinds", async () => {
    const r = await report("healthy/many-short-connections.pcap");
    const tw = r.findings.filter((f) => f.kind === "time-wait");
    expect(tw).toHaveLength(5);
    for (const f of tw) expect(f.side).toBe("client");
  });
});

/** A few captures from the corpus (other stacks, other networks) where these kinds show. */
describe("corpus captures", () => {
  const corpus = (file: string) => analyzeFile(join(CORPUS, "captures", file));
  it("tcp-rst-with-data: abortive close answering the peer's unread data", async () => {
    const fs = (await corpus("suricata--tcp-rst-with-data.pcap")).findings.filter((f) => f.kind === "abortive-close");
    expect(fs).toHaveLength(1);
    expect(fs[0]!.side).toBe("client");
    expect(fs[0]!.frames).toEqual([4, 8]);
    expect(fs[0]!.measure.unreadDataEvidence).toBe(1);
    expect(fs[0]!.measure.peerDataUnansweredBytes).toBe(17);
    // The RST carries 13 bytes; a reset's payload is no data sent on the connection (the
    // tracker does not advance the sequence for resets), so nothing was left unacknowledged.
    expect(fs[0]!.measure.unackedFromResetterBytes).toBe(0);
  });
  // Audit4 judged the abortive-close here wrong: the client's two FINs are no stack's (one
  // without ACK, one on the SYN's own sequence number), no receiver accepts them, and the
  // server's bare RST rejects the broken handshake; no program aborted anything.
  it("tcp-fin_retransmission: FINs no receiver accepts, then the reset of a broken handshake: no abortive-close", async () => {
    const r = await corpus("zeek--tcp-fin_retransmission.pcap");
    expect(r.findings.filter((f) => f.kind === "abortive-close" || f.kind === "retransmission")).toEqual([]);
    expect(r.flows[0]!.close).toMatchObject({ first: "server", how: "RST" });
  });
  it("bug-3844-refused-then-reuse: reuse after a refused SYN is info, not TIME_WAIT", async () => {
    const r = await corpus("suricata--bug-3844-refused-then-reuse.pcap");
    const f = r.findings.find((x) => x.kind === "time-wait-reuse")!;
    expect(f.severity).toBe("info");
    expect(f.frames).toEqual([3]);
    expect(f.measure.accepted).toBe(1);
    // The client's bare RST 1.5 ms after its own data is no reboot.
    expect(r.findings.filter((x) => x.kind === "reset-by-peer-reboot")).toEqual([]);
  });
  it("dns-tcp-half-close: queries, FIN, then 20 responses", async () => {
    const fs = (await corpus("suricata--dns-tcp-half-close.pcap")).findings.filter((f) => f.kind === "half-close");
    expect(fs).toHaveLength(1);
    expect(fs[0]!.side).toBe("client");
    expect(fs[0]!.measure.segmentsAfterFin).toBe(20);
  });
  it("ipv6-kill-router6: SYNs answered by ICMP are icmp-unreachable, not connect-timeout; the re-sent ones are its evidence", async () => {
    const r = await corpus("suricata--ipv6-kill-router6.pcap");
    expect(r.findings.filter((f) => f.kind === "connect-timeout")).toEqual([]);
    // Flow 1: one SYN (frame 1), no route (frame 2), no retry. Flow 2: the SYN (frame 3)
    // re-sent 1 s apart (frames 9, 13, 15) through no route (frames 4, 10, 14, 16): a stack
    // taking the errors as soft ones. tshark flags 9, 13, 15 as retransmissions.
    const icmp = r.findings.filter((f) => f.kind === "icmp-unreachable");
    expect(icmp.map((f) => [f.flow, f.frames, f.measure.resentSyns])).toEqual([
      [1, [2], undefined],
      [2, [4, 9, 10, 13, 14, 15, 16], 3],
    ]);
    expect(icmp[1]!.summary).toMatch(
      /re-sent its SYN 3 time\(s\) after an error \(frames 9, 13, 15\): its kernel took the error as a soft one/,
    );
  });
  it("bug-5437-02-syn-timeout-reuse: segments from the server's address that acknowledge nothing are no answer to the SYNs", async () => {
    const r = await corpus("suricata--bug-5437-02-syn-timeout-reuse.pcap");
    // Flow 8: SYN frame 30, re-sent at 1, 2, 4, 8 s; the FINs from 196.25.212.207:80 at 66 s
    // and 116 s (frames 57, 59) acknowledge 3208555173, nothing the client (ISN 3524690798) sent.
    const f = r.findings.find((x) => x.kind === "connect-timeout" && x.flow === 8)!;
    expect(f.frames).toEqual([34, 36, 38, 40]);
    expect(f.measure.straySegments).toBe(2);
    expect(f.summary).toMatch(/first frame 57\) that are no answer/);
  });
});

/**
 * The close phase on other people's captures (issue 15, the blind audit's rows): what each
 * program saw decides the severity, and no side is given a state the packets refute.
 */
describe("close phase: severity follows what the programs saw", () => {
  const corpus = (file: string) => analyzeFile(join(CORPUS, "captures", file));
  const kinds = async (file: string, kind: string) => (await corpus(file)).findings.filter((f) => f.kind === kind);

  it("smtp-originating: the server's 221 and FIN drew the client's RST: a close race, no EPIPE promised", async () => {
    const [f, ...more] = await kinds("arkime--smtp-originating.pcap", "rst-after-fin");
    expect(more).toEqual([]);
    expect(f!.severity).toBe("warning");
    expect(f!.frames).toEqual([21, 22, 24]);
    expect(f!.measure.writerClosed).toBe(1);
    expect(f!.summary).toMatch(/the server had closed too \(its FIN, frame 23,/);
    expect(f!.summary).not.toMatch(/gets EPIPE/);
  });
  it("example2 flow 118: the writer's FIN after the RST on the wire still means it had closed", async () => {
    const f = (await kinds("pcpp--example2-mixed.pcap", "rst-after-fin")).find((x) => x.flow === 118)!;
    expect(f.severity).toBe("warning");
    expect(f.frames).toEqual([1128, 1134, 1135]);
    expect(f.summary).toMatch(/its FIN, frame 1140,/);
  });
  it("smtp-quit: the late bytes are the client's QUIT, its goodbye: no EPIPE promised, a warning", async () => {
    const [f] = await kinds("suricata--smtp-quit.pcap", "rst-after-fin");
    expect(f!.severity).toBe("warning");
    expect(f!.measure.writerClosed).toBe(0);
    expect(f!.summary).toMatch(/those bytes begin with a QUIT command: the client's goodbye/);
    expect(f!.summary).not.toMatch(/gets EPIPE\/SIGPIPE$/);
  });
  it("smtp-decrypted: the server's FIN then RST after the client's pipelined QUIT is no error: the client was done", async () => {
    const f = (await kinds("arkime--smtp-decrypted.pcap", "abortive-close")).find((x) => x.flow === 1)!;
    expect(f.severity).toBe("warning");
    expect(f.frames).toEqual([34, 36]);
    expect(f.summary).toMatch(/the client's last data carried its goodbye \(a QUIT command\)/);
  });
  it("ldap-ssl and websocket: a TLS alert or a WebSocket close frame answering the FIN is a goodbye: info", async () => {
    const [tls] = await kinds("arkime--ldap-ssl.pcap", "rst-after-fin");
    expect(tls!.severity).toBe("info");
    expect(tls!.summary).toMatch(/begin with a TLS alert record/);
    const [ws] = await kinds("zeek--websocket-wstunnel-http.pcap", "rst-after-fin");
    expect(ws!.severity).toBe("info");
    expect(ws!.summary).toMatch(/begin with a WebSocket close frame/);
  });
  it("example2 flow 116: a RST answering the client's FIN on an unused connection is a warning saying why", async () => {
    const f = (await kinds("pcpp--example2-mixed.pcap", "abortive-close")).find((x) => x.flow === 116)!;
    expect(f.severity).toBe("warning");
    expect(f.summary).toMatch(
      /the client had already sent its FIN \(frame 1572\): a program that called close\(\) sees nothing/,
    );
  });
  it("bug-5437-02 flow 4: a client whose request got no answer but the reset still fails (error)", async () => {
    const f = (await kinds("suricata--bug-5437-02-syn-timeout-reuse.pcap", "abortive-close")).find(
      (x) => x.flow === 4,
    )!;
    expect(f.severity).toBe("error");
    expect(f.summary).toMatch(/had sent its FIN \(frame 19\) after its request: if it was waiting for the reply/);
  });
  it("example2 flow 156 and CVE-2018-6794: an unacknowledged FIN is the close phase, not a writer's ETIMEDOUT", async () => {
    const f = (await kinds("pcpp--example2-mixed.pcap", "peer-unresponsive")).find((x) => x.flow === 156)!;
    expect(f.severity).toBe("warning");
    expect(f.measure.senderClosed).toBe(1);
    expect(f.measure.unackedDataBytes).toBe(0);
    expect(f.summary).toMatch(/re-sent its FIN \(frame 4211\) 5 times, and old data without the FIN 2 more time/);
    expect(f.summary).toMatch(/kept the connection in LAST_ACK/);
    expect(f.summary).not.toMatch(/writes still succeed|ETIMEDOUT/);
    // Data and FIN re-sent to a server that had closed first (FIN frame 4): nobody wanted those bytes.
    const cve = await kinds("arkime--CVE-2018-6794.pcap", "peer-unresponsive");
    expect(cve.map((x) => [x.flow, x.severity, x.measure.unackedDataBytes])).toEqual([
      [1, "warning", 409],
      [2, "warning", 383],
    ]);
  });
  it("no TIME_WAIT for a side that reset, nor for a second FIN never acknowledged", async () => {
    for (const file of ["arkime--https2-301-get.pcap", "arkime--CVE-2018-6794.pcap", "zeek--tcp-ctu-64702-888.pcap"])
      expect(await kinds(file, "time-wait"), file).toEqual([]);
    const tw = (await kinds("pcpp--example2-mixed.pcap", "time-wait")).map((f) => f.flow);
    for (const flow of [96, 99, 156, 162]) expect(tw).not.toContain(flow);
    expect(tw).toContain(230); // crossed FINs, both acknowledged: a simultaneous close stays
  });
  it("one_tcp_stream_fin_rst_close: FIN then RST+ACK from the client is an abort, nothing unread", async () => {
    const r = await corpus("pcpp--one_tcp_stream_fin_rst_close.pcap");
    expect(r.findings.filter((f) => f.kind === "rst-after-fin")).toEqual([]);
    const [f, ...more] = r.findings.filter((x) => x.kind === "abortive-close");
    expect(more).toEqual([]);
    expect(f!.side).toBe("client");
    expect(f!.frames).toEqual([10, 12]);
    expect(f!.measure.unreadDataEvidence).toBe(0);
    expect(f!.summary).toMatch(
      /sent FIN \(frame 10\) and then reset the connection \(RST frame 12\); nothing was in flight/,
    );
  });
  it("rfb-vnc-scanner: FIN then RST+ACK with the server's bytes unread, to a server that had closed", async () => {
    const [f] = await kinds("zeek--rfb-vnc-scanner-small-segments.pcap", "abortive-close");
    expect(f!.side).toBe("client");
    expect(f!.severity).toBe("warning");
    expect(f!.frames).toEqual([13, 17, 18]);
    expect(f!.measure.unreadDataEvidence).toBe(1);
    expect(f!.measure.unackedFromResetterBytes).toBe(0); // its FIN is no byte of data
    expect(f!.measure.unackedToResetterBytes).toBe(41);
  });
  it("reset-by-peer-reboot: not to a server re-sending its close, nor when the capture missed the resetter's FIN", async () => {
    for (const file of ["suricata--tcp-empty-sack-rawip.pcap", "arkime--aerospike.pcap"]) {
      const r = await corpus(file);
      const resets = r.findings.filter((f) => f.kind === "reset-by-peer-reboot" || f.kind === "abortive-close");
      expect(
        resets.filter((f) => f.flow === 1),
        file,
      ).toEqual([]);
    }
  });
});
