/**
 * A full accept queue, said on the findings it explains (analyze/lib/listener-queue.ts):
 * connect-timeout and syn-retransmit give the same counts per listener (connections
 * completed and waiting, clients whose SYNs it dropped, clients whose handshake ACK it
 * ignored) over the window the client was turned away, on captures recorded from real
 * sockets (fixtures/scenarios/accept-queue.py, syn-retransmit.py); they say "a firewall
 * or a dead host" only without that evidence; and `--jobs` counts the same as one thread
 * with the listener's connections split over the workers (runs dist/: workers load it).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding } from "../src/analyze/finding.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { ETH_IPV4, ethernet, ipv4, pcapFile, type PcapRecord, tcp } from "./helpers/build.js";
import { FIXTURES, ROOT } from "./helpers/paths.js";

async function findings(rel: string, kind: string): Promise<Finding[]> {
  return (await analyzeFile(join(FIXTURES, rel))).findings.filter((f) => f.kind === kind);
}

function counts(f: Finding): [number?, number?, number?] {
  return [f.measure.queueAccepted, f.measure.queueDropped, f.measure.queueIgnoredAcks];
}

describe("connect-timeout names a full accept queue from the listener's other connections", () => {
  it("accept-queue-full: two clients waiting in a listen(1) queue, two clients' SYNs dropped", async () => {
    const fs = await findings("connect-timeout/accept-queue-full.pcap", "connect-timeout");
    expect(fs.map((f) => f.flow)).toEqual([3, 4]);
    for (const f of fs) {
      expect(counts(f)).toEqual([2, 2, 0]);
      expect(f.summary).toContain("the listener 127.0.0.1:5006's accept queue was full");
      expect(f.summary).toContain(
        "it held 2 connection(s) that had completed the handshake before this client's first SYN",
      );
      expect(f.summary).toContain("left the SYNs of 2 clients, this one included, unanswered");
      expect(f.summary).not.toContain("firewall");
    }
    // The window: the client's first SYN to its last re-send.
    expect(fs[0]!.summary).toContain("from frame 11 to frame 15 (2.036 s)");
    expect(fs[1]!.summary).toContain("from frame 12 to frame 16 (2.028 s)");
  });

  it("says so the moment the finding is made (a live capture prints it then)", async () => {
    const said: string[] = [];
    await analyzeFile(join(FIXTURES, "connect-timeout/accept-queue-full.pcap"), {
      onFinding: (f: Finding) => {
        if (f.kind === "connect-timeout") said.push(f.summary);
      },
    });
    expect(said).toHaveLength(2);
    for (const summary of said) expect(summary).toContain("'s accept queue was full");
  });

  it("SYNs dropped by a firewall with no listener activity keep the firewall words and no queue", async () => {
    for (const rel of ["syncnt", "classic-backoff", "app-timeout"]) {
      const [f] = await findings(`connect-timeout/${rel}.pcap`, "connect-timeout");
      expect(counts(f!), rel).toEqual([0, 1, 0]);
      expect(f!.summary).toContain(
        "no other connection to 127.0.0.1:5002 in the capture was waiting to be served meanwhile: a firewall, a dead host",
      );
      expect(f!.summary).not.toContain("'s accept queue was full");
    }
  });
});

describe("syn-retransmit gives the same counts from the same registry", () => {
  it("backlog-full: B's SYNs dropped while A waits in a listen(0) queue", async () => {
    const [f] = await findings("syn-retransmit/backlog-full.pcap", "syn-retransmit");
    expect(counts(f!)).toEqual([1, 1, 0]);
    expect(f!.summary).toContain(
      "the listener 127.0.0.1:5003's accept queue was full: from frame 6 to frame 14 (2.028 s) it held 1 connection(s)",
    );
    expect(f!.summary).toContain("left this client's SYNs unanswered");
  });

  it("ack-ignored: one client's handshake ACK ignored, another's SYNs dropped, both while A waits", async () => {
    const fs = await findings("syn-retransmit/ack-ignored.pcap", "syn-retransmit");
    expect(fs.map((f) => f.flow)).toEqual([1, 3]);
    const [ackIgnored, synDropped] = fs as [Finding, Finding];
    // B: its ACK (frame 3) followed by a re-sent SYN-ACK (frame 10) while A (frame 6) waited.
    expect(counts(ackIgnored)).toEqual([1, 1, 1]);
    expect(ackIgnored.summary).toContain(
      "the server re-sent its SYN-ACK (frame 10) although the client had acknowledged it (frame 3)",
    );
    expect(ackIgnored.summary).toContain(
      "from frame 3 to frame 10 (1.003 s) it held 1 connection(s) that had completed the handshake before it re-sent this client its SYN-ACK",
    );
    expect(ackIgnored.summary).toContain(
      "left the SYNs of 1 other client(s) unanswered, and re-sent its SYN-ACK after this client's handshake ACK",
    );
    // C: first SYN (frame 9) to the SYN-ACK (frame 19); B's ignored ACK fell in that time.
    expect(counts(synDropped)).toEqual([1, 1, 1]);
    expect(synDropped.summary).toContain("from frame 9 to frame 19 (2.042 s)");
    expect(synDropped.summary).toContain(
      "left this client's SYNs unanswered, and ignored the handshake ACK of 1 client(s) (re-sent its SYN-ACK after their ACK)",
    );
  });

  it("ack-lost: a re-sent SYN-ACK after the client's ACK, nothing else on the listener: no full queue", async () => {
    const [f] = await findings("syn-retransmit/ack-lost.pcap", "syn-retransmit");
    expect(counts(f!)).toEqual([0, 0, 1]);
    expect(f!.summary).toContain(
      "the server re-sent its SYN-ACK (frame 4) although the client had acknowledged it (frame 3)",
    );
    expect(f!.summary).toContain(
      "no other connection in the capture was waiting on this listener, which points to loss",
    );
    expect(f!.summary).not.toContain("'s accept queue was full");
  });

  it("first-syn-dropped: one lost SYN and nothing else on the listener points to loss, not a full queue", async () => {
    const [f] = await findings("syn-retransmit/first-syn-dropped.pcap", "syn-retransmit");
    expect(counts(f!)).toEqual([0, 1, 0]);
    expect(f!.summary).toContain("which points to loss");
    expect(f!.summary).not.toContain("'s accept queue was full");
  });
});

describe("only a connection owed an answer waits in the queue (scenarios/accept-queue.py)", () => {
  it("idle-clients: three accept()ed keep-alive clients that have not spoken are no queue; the lost SYN is loss", async () => {
    const [f] = await findings("syn-retransmit/idle-clients-syn-lost.pcap", "syn-retransmit");
    // The server accept()ed A, B and C at once and ListenOverflows stayed 0: they were not queued.
    expect(counts(f!)).toEqual([0, 1, 0]);
    expect(f!.summary).toContain(
      "no other connection in the capture was waiting on this listener, which points to loss",
    );
    expect(f!.summary).not.toContain("'s accept queue was full");
  });

  it("server-first: on a listener whose server sent a banner first, a silent client with no banner is queued", async () => {
    const [f] = await findings("syn-retransmit/server-first-backlog-full.pcap", "syn-retransmit");
    expect(counts(f!)).toEqual([1, 1, 0]);
    expect(f!.summary).toContain(
      "the listener 127.0.0.1:5010's accept queue was full: from frame 15 to frame 26 (2.036 s) it held 1 connection(s)",
    );
    expect(f!.summary).toContain(
      "still had no byte from the server after their client's request (or, where the server speaks first, at all)",
    );
  });
});

describe("a deferred accept (TCP_DEFER_ACCEPT) is told from a full queue by its timing (scenarios/defer-accept.py)", () => {
  it("deferred-accept: one SYN-ACK re-sent 7 s after the client's ACK, no data between: info, no full queue", async () => {
    const fs = await findings("syn-retransmit/deferred-accept.pcap", "syn-retransmit");
    expect(fs).toHaveLength(1);
    const f = fs[0]!;
    expect(f.severity).toBe("info");
    expect(f.frames).toEqual([4]);
    // Not an ignored ACK: no queue evidence taken, nothing counted against the listener.
    expect(counts(f)).toEqual([undefined, undefined, undefined]);
    expect(f.summary).toContain(
      "deferred accept, not a slow connect(): the client completed the handshake (frame 3) and sent no data for 7.124 s, " +
        "then the server re-sent its SYN-ACK (frame 4), once",
    );
    expect(f.summary).toContain("the server set TCP_DEFER_ACCEPT on its listener, a Linux socket option");
    expect(f.summary).toContain("the client saw nothing of it: its connect() had returned in 0 s");
    expect(f.summary).not.toContain("accept queue was full");
    expect(f.summary).not.toContain("points to loss");
  });

  it("late-request: the client's data before the defer period ends is served, nothing re-sent or reported", async () => {
    const r = await analyzeFile(join(FIXTURES, "healthy/deferred-accept-request.pcap"));
    expect(r.findings.filter((f) => f.kind === "syn-retransmit" || f.severity !== "info")).toEqual([]);
  });

  it("one-second (nginx's `deferred`): a re-send at the first tick stays a warning, naming the option beside loss", async () => {
    const [f] = await findings("syn-retransmit/deferred-accept-one-second.pcap", "syn-retransmit");
    expect(f!.severity).toBe("warning");
    expect(counts(f!)).toEqual([0, 0, 1]);
    expect(f!.summary).toContain(
      "which points to loss, or to a listener with TCP_DEFER_ACCEPT of 1 s (what nginx's `listen … deferred` and " +
        "HAProxy's `defer-accept` set",
    );
  });

  it("acks-lost: the SYN-ACK re-sent again after the deferred one, no ACK between: loss, not an ignored ACK", async () => {
    const [f] = await findings("syn-retransmit/deferred-accept-acks-lost.pcap", "syn-retransmit");
    expect(f!.severity).toBe("warning");
    expect(f!.frames).toEqual([4, 5]);
    expect(counts(f!)).toEqual([undefined, undefined, undefined]);
    expect(f!.summary).toContain(
      "the server's SYN-ACK (frame 2) was retransmitted 2 time(s), 3.039, 7.231 s after it, on the ticks of Linux's SYN-ACK timer",
    );
    expect(f!.summary).toContain("the server re-sent its SYN-ACK (frame 4) 3.039 s after the client's ACK (frame 3)");
    expect(f!.summary).toContain(
      "the server re-sent it again (frame 5) with no ACK from the client in between: that SYN-ACK did not reach the client",
    );
    expect(f!.summary).not.toContain("although the client had acknowledged it");
  });

  it("ack-ignored: B's re-sent SYN-ACK at the first tick, while A waited, is still a full queue, not a deferral", async () => {
    const [f] = await findings("syn-retransmit/ack-ignored.pcap", "syn-retransmit");
    expect(f!.severity).toBe("warning");
    expect(f!.summary).toContain("'s accept queue was full");
    expect(f!.summary).not.toContain("TCP_DEFER_ACCEPT");
  });
});

/**
 * A SYN flood on one listener: `clients` clients 0.5 ms apart, each SYN (a Linux SYN's
 * options) re-sent 1 and 2 s later, none answered. Built, not recorded: only the counting
 * is under test, and a recorded flood would be megabytes of fixture.
 */
function synFlood(clients: number): string {
  const records: { t: number; data: Uint8Array }[] = [];
  for (let i = 0; i < clients; i++) {
    const syn = ethernet(
      ETH_IPV4,
      ipv4({
        src: 0x0a010000 + i,
        dst: 0x0a000001,
        proto: 6,
        ttl: 64,
        dontFragment: true,
        payload: tcp({
          srcPort: 40000 + (i % 20000),
          dstPort: 80,
          seq: 1000 + i,
          ack: 0,
          flags: 0x02,
          win: 64240,
          options: { mss: 1460, sackPermitted: true, ts: [i, 0], wscale: 7 },
        }),
      }),
    );
    for (const dt of [0, 1, 2]) records.push({ t: i * 0.0005 + dt, data: syn });
  }
  records.sort((a, b) => a.t - b.t);
  const pcap: PcapRecord[] = records.map((r) => ({
    tsSec: 1_700_000_000 + Math.floor(r.t),
    tsFrac: Math.round((r.t % 1) * 1e6),
    data: r.data,
  }));
  const path = join(mkdtempSync(join(tmpdir(), "sockscope-flood-")), "flood.pcap");
  writeFileSync(path, pcapFile(pcap));
  return path;
}

describe("a SYN flood's counts stay bounded", () => {
  it("each finding counts at most 1000 dropped clients, walking only the part of the list that can reach its window", async () => {
    const fs = (await analyzeFile(synFlood(6000))).findings.filter((f) => f.kind === "connect-timeout");
    expect(fs).toHaveLength(6000);
    const dropped = fs.map((f) => f.measure.queueDropped!);
    // Some 6000 clients overlap a mid-flood client's 2 s window: the count stops at 1000.
    expect(Math.max(...dropped)).toBe(1000);
    expect(dropped[3000]).toBe(1000);
    // The first client's window (0 to 2 s) reaches clients up to 2 s later: 4001, counted to the cap;
    // the last one's reaches back 3 s (the others' re-sends): also over 1000.
    expect(dropped[0]).toBe(1000);
    expect(dropped[5999]).toBe(1000);
  }, 60_000);

  it("below the cap the count is exact: 300 clients, all within reach of every window, count 300 each", async () => {
    const fs = (await analyzeFile(synFlood(300))).findings.filter((f) => f.kind === "connect-timeout");
    const dropped = fs.map((f) => f.measure.queueDropped!);
    // Client i's window [i·0.5 ms, i·0.5 ms + 2 s]: everyone (300 clients span 0.15 s + 2 s).
    expect(new Set(dropped)).toEqual(new Set([300]));
  });
});

describe("--jobs counts the listener's queue as one thread does", () => {
  const dist = (m: string) => import(join(ROOT, "dist", m));

  it("with the waiting and the turned-away connections on different workers", async () => {
    const { analyzeFile: analyzeBuilt } = await dist("run/pipeline.js");
    const { readCapture } = await dist("capture/reader.js");
    const { ShardRouter } = await dist("run/parallel/router.js");
    for (const rel of [
      "connect-timeout/accept-queue-full.pcap",
      "syn-retransmit/ack-ignored.pcap",
      "syn-retransmit/backlog-full.pcap",
      "syn-retransmit/idle-clients-syn-lost.pcap",
      "syn-retransmit/server-first-backlog-full.pcap",
    ]) {
      const path = join(FIXTURES, rel);
      const one = JSON.stringify(await analyzeBuilt(path, { jobs: 1 }), null, 2);
      expect(one).toContain("queueAccepted");
      let split = 0;
      for (const jobs of [2, 3, 4]) {
        // Meaningful only where the shards really split the listener's flows: count those.
        const router = new ShardRouter(jobs);
        const owners = new Set<number>();
        await readCapture(path, (rec: unknown) => {
          owners.add(router.route(rec));
        });
        if (owners.size > 1) split++;
        expect(JSON.stringify(await analyzeBuilt(path, { jobs }), null, 2), `${rel} --jobs ${jobs}`).toBe(one);
      }
      expect(split, `${rel}: runs whose workers each got some of the flows`).toBeGreaterThan(0);
    }
  }, 60_000);
});
