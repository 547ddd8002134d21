/**
 * Whose TCP stack is speaking (issue 20): the guess from each side's initial TTL and SYN
 * option layout, on SYNs built byte for byte as each stack lays them out (the layouts of
 * the corpus's Linux, macOS/iOS and Windows hosts), and the words it changes: TIME_WAIT's
 * length and whether a reused 4-tuple was still held in it.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import timeWait from "../src/analyze/analyzers/time-wait.js";
import timeWaitReuse from "../src/analyze/analyzers/time-wait-reuse.js";
import { guessStack, initialTtl, stackCandidates, type StackProfile } from "../src/analyze/lib/stack-profile.js";
import { TcpEndpoint, type Flow } from "../src/decode/flow/record.js";
import type { Finding } from "../src/analyze/finding.js";
import { PacketRecord } from "../src/capture/record.js";
import { LiveSession } from "../src/run/live-session.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { FIXTURES } from "./helpers/paths.js";
import { ACK, runScript, SYN, TcpScript } from "./helpers/tcp-script.js";

const MSS = [2, 4, 5, 0xb4],
  NOP = [1],
  WS = [3, 3, 7],
  SACK_PERM = [4, 2],
  TS = [8, 10, 0, 0, 0, 1, 0, 0, 0, 0],
  EOL = [0];
/** SYN option layouts as the corpus's hosts send them (checked with tshark). */
const LINUX = [...MSS, ...SACK_PERM, ...TS, ...NOP, ...WS];
const MACOS = [...MSS, ...NOP, ...WS, ...NOP, ...NOP, ...TS, ...SACK_PERM, ...EOL, ...EOL];
const WINDOWS = [...MSS, ...NOP, ...WS, ...NOP, ...NOP, ...SACK_PERM];
/** Windows XP/2003's, and Linux's with timestamps and window scaling off. */
const MSS_SACK = [...MSS, ...NOP, ...NOP, ...SACK_PERM];
const FREEBSD = [...MSS, ...NOP, ...WS, ...SACK_PERM, ...TS, 0, 0];
const UNLISTED = [...NOP, ...NOP, ...TS, ...MSS, ...NOP, ...WS, 0, 0];

interface Side {
  layout?: number[];
  ttl: number;
}

/** A handshake (or, with `midstream`, one data segment each way) with each side's layout and TTL, run through the real decoder and tracker. */
async function flowOf(client: Side, server: Side, midstream = false): Promise<Flow> {
  const s = new TcpScript();
  if (midstream) {
    s.segment(0, "client", { seq: 100, ack: 900, flags: ACK, len: 10, ttl: client.ttl });
    s.segment(0.01, "server", { seq: 900, ack: 110, flags: ACK, len: 10, ttl: server.ttl });
  } else {
    s.segment(0, "client", { seq: 1000, ack: 0, flags: SYN, options: { raw: client.layout }, ttl: client.ttl });
    s.segment(0.01, "server", {
      seq: 5000,
      ack: 1001,
      flags: SYN | ACK,
      options: { raw: server.layout },
      ttl: server.ttl,
    });
  }
  let flow: Flow | null = null;
  await runScript(s, { onSegment: (step) => (flow = step.flow) });
  return flow!;
}

const name = (p: StackProfile | null): string => p?.name ?? "unknown";

async function guess(client: Side, server: Side = { ttl: 64 }, midstream = false): Promise<[string, string]> {
  const f = await flowOf(client, server, midstream);
  return [name(guessStack(f.ep[0], 4)), name(guessStack(f.ep[1], 4))];
}

describe("stack profile: initial TTL and SYN option layout", () => {
  it("rounds the TTL seen up to the initial TTL it started from", () => {
    expect([1, 52, 64, 65, 113, 128, 129, 245, 255].map(initialTtl)).toEqual([
      64, 64, 64, 128, 128, 128, 255, 255, 255,
    ]);
  });

  it("the decoder keeps a SYN's option layout in order, EOL included, and none for other segments", async () => {
    const layouts: string[] = [];
    const s = new TcpScript()
      .segment(0, "client", { seq: 1000, ack: 0, flags: SYN, options: { raw: MACOS } })
      .segment(0.01, "server", { seq: 5000, ack: 1001, flags: SYN | ACK, options: { raw: [...MSS, 3, 9, 0, 0] } });
    s.ack(0.02, "client");
    await runScript(s, { onSegment: (step) => layouts.push(step.p.synOptionLayout) });
    // A bad length ends the walk with "?".
    expect(layouts).toEqual(["MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL", "MSS,WS,?", ""]);
  });

  it("names Linux, macOS/iOS and Windows when layout and TTL (after hops) agree", async () => {
    expect(await guess({ layout: LINUX, ttl: 58 }, { layout: WINDOWS, ttl: 118 })).toEqual(["Linux", "Windows"]);
    expect(await guess({ layout: MACOS, ttl: 61 }, { layout: LINUX, ttl: 64 })).toEqual(["macOS/iOS", "Linux"]);
  });

  it("a layout two stacks share is decided by the TTL", async () => {
    expect(await guess({ layout: MSS_SACK, ttl: 126 })).toEqual(["Windows", "unknown"]);
    expect(await guess({ layout: MSS_SACK, ttl: 50 })).toEqual(["Linux", "unknown"]);
  });

  it("evidence that disagrees, or a layout no profile writes, is unknown", async () => {
    // Windows' layout from TTL 64; Linux's from TTL 255 (a router, or something else again).
    expect(await guess({ layout: WINDOWS, ttl: 64 }, { layout: LINUX, ttl: 250 })).toEqual(["unknown", "unknown"]);
    expect(await guess({ layout: UNLISTED, ttl: 64 }, { layout: UNLISTED, ttl: 128 })).toEqual(["unknown", "unknown"]);
  });

  it("TTL 64 leaves Linux, macOS/iOS and FreeBSD, even under a layout none of them writes; TTL 255 any", () => {
    const ep = new TcpEndpoint();
    ep.ttl = 57;
    expect(stackCandidates(ep, 4)).toMatchObject({ agree: true });
    expect(stackCandidates(ep, 4).profiles.map((p) => p.name)).toEqual(["Linux", "macOS/iOS", "FreeBSD"]);
    // Windows' layout from TTL 64: still not Windows, and no stack named.
    ep.synOptionLayout = "MSS,NOP,WS,NOP,NOP,SACK_PERM";
    expect(stackCandidates(ep, 4).profiles.map((p) => p.name)).toEqual(["Linux", "macOS/iOS", "FreeBSD"]);
    expect(stackCandidates(ep, 4).agree).toBe(false);
    ep.ttl = 250;
    expect(stackCandidates(ep, 4).profiles).toHaveLength(4);
  });

  it("without a layout (no options, MSS alone, no SYN captured) only TTL 128 names a stack", async () => {
    expect(await guess({ layout: [], ttl: 120 }, { layout: MSS, ttl: 60 })).toEqual(["Windows", "unknown"]);
    expect(await guess({ ttl: 110 }, { ttl: 57 }, true)).toEqual(["Windows", "unknown"]);
  });

  it("the IPv6 hop limit is not evidence: hosts take it from the router advertisement", () => {
    const ep = new TcpEndpoint();
    ep.ttl = 255; // an iPhone on a cellular network
    ep.synOptionLayout = "MSS,NOP,WS,NOP,NOP,TS,SACK_PERM,EOL";
    expect(name(guessStack(ep, 6))).toBe("macOS/iOS");
    expect(name(guessStack(ep, 4))).toBe("unknown");
    ep.synOptionLayout = "";
    ep.ttl = 128;
    expect(name(guessStack(ep, 6))).toBe("unknown");
  });
});

/** A connection opened with the given layouts and TTLs, closed by the client first at t = 1 s (final ACK at 1.02 s). */
function closedByClient(s: TcpScript, client: Side, server: Side, t0 = 0): TcpScript {
  s.segment(t0, "client", { seq: s.next.client, ack: 0, flags: SYN, options: { raw: client.layout }, ttl: client.ttl });
  s.segment(t0 + 0.01, "server", {
    seq: s.next.server,
    ack: s.next.client,
    flags: SYN | ACK,
    options: { raw: server.layout },
    ttl: server.ttl,
  });
  s.segment(t0 + 0.02, "client", { seq: s.next.client, ack: s.next.server, flags: ACK, ttl: client.ttl });
  s.segment(t0 + 1, "client", { seq: s.next.client, ack: s.next.server, flags: 0x11, ttl: client.ttl });
  s.segment(t0 + 1.01, "server", { seq: s.next.server, ack: s.next.client, flags: 0x11, ttl: server.ttl });
  s.segment(t0 + 1.02, "client", { seq: s.next.client, ack: s.next.server, flags: ACK, ttl: client.ttl });
  return s;
}

const MAC = { layout: MACOS, ttl: 64 },
  WIN = { layout: WINDOWS, ttl: 128 },
  LIN = { layout: LINUX, ttl: 64 },
  BARE = { layout: [], ttl: 64 },
  NO_FIT = { layout: LINUX, ttl: 250 };

describe("time-wait: the closer's own stack's TIME_WAIT", () => {
  const summaryOf = async (client: Side, mslSec: number | null = null) => {
    const { findings } = await runScript(closedByClient(new TcpScript(), client, LIN), {
      analyzers: [timeWait],
      analyzer: { mslSec },
    });
    expect(findings).toHaveLength(1);
    return findings[0]!;
  };

  it("names the stack and its length when the capture tells it", async () => {
    const mac = await summaryOf(MAC);
    expect(mac.summary).toContain(
      "the client (10.0.0.1:40000) holds TIME_WAIT: a macOS/iOS host keeps it 30 s (MSL 15 s)",
    );
    expect(mac.measure.timeWaitMs).toBe(30000);
    const win = await summaryOf(WIN);
    expect(win.summary).toContain("a Windows host keeps it 120–240 s (TcpTimedWaitDelay)");
    expect(win.measure.timeWaitMs).toBe(120000);
    expect((await summaryOf(LIN)).summary).toContain("a Linux host keeps it 60 s (TCP_TIMEWAIT_LEN)");
  });

  it("states no single length when the stack is unknown: the range over the stacks it may be", async () => {
    // TTL 64 and no options: Linux, macOS/iOS or FreeBSD, not Windows.
    const f = await summaryOf(BARE);
    expect(f.summary).toContain(
      "holds TIME_WAIT: the closing side's TCP keeps it for 2·MSL (60 s on Linux and FreeBSD, 30 s on macOS/iOS; " +
        "the capture does not tell which stack this is)",
    );
    expect(f.measure.timeWaitMs).toBeUndefined();
    // A TTL no profile starts from allows every stack.
    expect((await summaryOf(NO_FIT)).summary).toContain(
      "(60 s on Linux and FreeBSD, 30 s on macOS/iOS, 120–240 s on Windows; no stack known here starts from TTL 255)",
    );
    // Windows' TTL, FreeBSD's layout: the TTL's stack, not named, and only the shortest TIME_WAIT of all is sure.
    expect((await summaryOf({ layout: FREEBSD, ttl: 128 })).summary).toContain(
      "(120–240 s on Windows; its TTL and its SYN options point at different stacks)",
    );
  });

  it("the user's --msl overrides the profile", async () => {
    const f = await summaryOf(MAC, 45);
    expect(f.summary).toContain("holds TIME_WAIT: it lasts 2·MSL = 90 s (--msl 45)");
    expect(f.measure.timeWaitMs).toBe(90000);
  });
});

describe("time-wait-reuse: still in TIME_WAIT by the closer's profile", () => {
  /** The client closes first, then connects again from the same port `gap` seconds after its final ACK. */
  const reuse = async (client: Side, gap: number) => {
    const s = closedByClient(new TcpScript(), client, LIN);
    s.next.client = (s.next.client + 100000) >>> 0; // a new ISN: a new incarnation
    closedByClient(s, client, LIN, 1.02 + gap);
    const { findings } = await runScript(s, { analyzers: [timeWaitReuse] });
    return findings;
  };

  // The holder is the client, whose own SYN shows its stack let connect() have the 4-tuple:
  // within its TIME_WAIT that is a takeover (info); the stack's length still decides "within".
  it("macOS/iOS: within 30 s its own TIME_WAIT, taken over; past it, nothing stood in the way (info)", async () => {
    const [inside] = await reuse(MAC, 25);
    expect(inside!.severity).toBe("info");
    expect(inside!.summary).toContain(
      "the client had closed first (FIN frame 4), and a macOS/iOS host keeps it 30 s (MSL 15 s); but this SYN is its own",
    );
    const [past] = await reuse(MAC, 32);
    expect(past!.severity).toBe("info");
    expect(past!.summary).toContain("the client's TIME_WAIT had already ended");
    expect(past!.summary).not.toContain("still held");
  });

  it("Windows: within 120 s, and up to 240 s, its own TIME_WAIT", async () => {
    expect((await reuse(WIN, 100))[0]!.summary).toContain("a Windows host keeps it 120–240 s");
    const [late] = await reuse(WIN, 200);
    expect(late!.severity).toBe("info");
    expect(late!.summary).toContain("but this SYN is its own");
  });

  it("unknown stack: claimed only within the shortest TIME_WAIT it may keep, 'may' up to the longest", async () => {
    // TTL 64: Linux, macOS/iOS or FreeBSD, so 30 to 60 s.
    expect((await reuse(BARE, 20))[0]!.summary).toContain("but this SYN is its own");
    const [maybe] = await reuse(BARE, 45);
    expect(maybe!.summary).toContain("but this SYN is its own");
    expect(maybe!.measure.timeWaitMs).toBeUndefined();
    expect(await reuse(BARE, 65)).toEqual([]);
    // TTL 255: any stack, so 30 to 240 s.
    expect((await reuse(NO_FIT, 200))[0]!.summary).toContain("but this SYN is its own");
    expect(await reuse(NO_FIT, 250)).toEqual([]);
    // Disagreeing evidence: linked up to the longest TIME_WAIT the TTL's stack keeps.
    expect((await reuse({ layout: FREEBSD, ttl: 128 }, 45))[0]!.summary).toContain("but this SYN is its own");
  });
});

describe("a real recording from a Windows-like stack", () => {
  it("fixtures/time-wait/windows-like-client-closes-first: TTL 128 and Windows XP's SYN layout make the closer Windows", async () => {
    // Recorded by fixtures/scenarios/time-wait.py with ip_default_ttl=128, no timestamps, no window scaling.
    const r = await analyzeFile(join(FIXTURES, "time-wait", "windows-like-client-closes-first.pcap"));
    const tw = r.findings.filter((f) => f.kind === "time-wait");
    expect(tw).toHaveLength(1);
    expect(tw[0]!.summary).toContain("holds TIME_WAIT: a Windows host keeps it 120–240 s (TcpTimedWaitDelay)");
    expect(tw[0]!.measure.timeWaitMs).toBe(120000);
  });
});

describe("live capture links a reuse as late as analyze does", () => {
  it("a Windows closer's 4-tuple reused 100 s later (past Linux's 60 s) is still its TIME_WAIT's, live too", () => {
    const s = closedByClient(new TcpScript(), WIN, LIN);
    s.next.client = (s.next.client + 100000) >>> 0;
    closedByClient(s, WIN, LIN, 101.02);
    const found: Finding[] = [];
    const live = new LiveSession({ onFinding: (f) => found.push(f) });
    const rec = new PacketRecord();
    const t0 = 1_800_000_000;
    s.records.forEach((r, i) => {
      live.tick(t0 + r.tsSec + r.tsFrac / 1e6);
      rec.frame = i + 1;
      rec.tsSec = t0 + r.tsSec;
      rec.tsNsec = r.tsFrac * 1000;
      rec.bytes = r.data;
      rec.capLen = rec.origLen = r.data.length;
      rec.linkType = 1;
      live.onPacket(rec);
    });
    live.finish();
    const reuse = found.filter((f) => f.kind === "time-wait-reuse");
    expect(reuse).toHaveLength(1);
    expect(reuse[0]!.summary).toContain(
      "a Windows host keeps it 120–240 s (TcpTimedWaitDelay); but this SYN is its own",
    );
  });
});
