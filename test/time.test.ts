/**
 * Timestamps a capture can hold but a calendar cannot, and clocks that jump.
 *
 * - Every output prints every timestamp: beyond a JavaScript Date (2^64−1 µs, or
 *   if_tsresol 2^0 with a large count) it prints as seconds "beyond the calendar".
 * - A jump (back more than BACKWARD_JUMP_SEC, forward more than FORWARD_JUMP_SEC) is warned
 *   about once, naming its frame, in the text summary, on stderr and in the JSON; no
 *   duration or timer is measured across it (analyze/clock.ts).
 * Captures are built here (test/helpers/build.ts), plus two corpus captures with jumps.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AnalysisClock, BACKWARD_JUMP_SEC, FORWARD_JUMP_SEC, rawTime } from "../src/analyze/clock.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { isoTime } from "../src/report/time.js";
import {
  ETH_IPV4,
  ethernet,
  ipv4,
  pcapFile,
  pcapngFile,
  pcapRecord,
  tcp,
  udp,
  type PcapRecord,
} from "./helpers/build.js";
import { pcapRecords } from "./helpers/big-capture.js";
import { CLI, CORPUS, FIXTURES } from "./helpers/paths.js";

const tmp = mkdtempSync(join(tmpdir(), "sockscope-time-"));
const CLIENT = 0x0a000001,
  SERVER = 0x0a000002;
const SYN = 0x02,
  ACK = 0x10,
  FIN = 0x01,
  PSH = 0x08;

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** One TCP segment of a connection 10.0.0.1:40000 → 10.0.0.2:80, as an Ethernet frame. */
function segment(fromClient: boolean, flags: number, seq: number, ack: number, payload = 0): Uint8Array {
  const t = tcp({
    srcPort: fromClient ? 40000 : 80,
    dstPort: fromClient ? 80 : 40000,
    seq,
    ack,
    flags,
    win: 65535,
    payload: new Uint8Array(payload).fill(0x61),
  });
  return ethernet(
    ETH_IPV4,
    ipv4({ src: fromClient ? CLIENT : SERVER, dst: fromClient ? SERVER : CLIENT, proto: 6, payload: t }),
  );
}

/**
 * A connection the server closes first; the client closes back `closeAfter` s later.
 * `jumpBy`: added to the times of the client's FIN and the last ACK (frames 7, 8).
 */
function closingConnection(t0: number, closeAfter: number, jumpBy: number): PcapRecord[] {
  const c = 1000,
    s = 5000;
  const frames: [number, Uint8Array][] = [
    [0, segment(true, SYN, c, 0)],
    [0.001, segment(false, SYN | ACK, s, c + 1)],
    [0.002, segment(true, ACK, c + 1, s + 1)],
    [0.01, segment(true, PSH | ACK, c + 1, s + 1, 10)],
    [0.011, segment(false, FIN | ACK, s + 1, c + 11)],
    [0.012, segment(true, ACK, c + 11, s + 2)],
    [0.012 + closeAfter + jumpBy, segment(true, FIN | ACK, c + 11, s + 2)],
    [0.013 + closeAfter + jumpBy, segment(false, ACK, s + 2, c + 12)],
  ];
  return frames.map(([dt, data]) => {
    const t = t0 + dt;
    const sec = Math.floor(t);
    return { tsSec: sec, tsFrac: Math.round((t - sec) * 1e6), data };
  });
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, bytes);
  return path;
}

const T0 = 1_700_000_000;
const YEAR = 365 * 86_400;

describe("timestamps beyond the calendar", () => {
  const handshake = [
    segment(true, SYN, 1000, 0),
    segment(false, SYN | ACK, 5000, 1001),
    segment(true, ACK, 1001, 5001),
  ];
  const files: [string, string][] = [
    // 2^64−1 µs: 18 446 744 073 709.55 s, past Date's 8.64e12 s.
    [
      "2^64-1 µs",
      write(
        "max-us.pcapng",
        pcapngFile([
          {
            le: true,
            interfaces: [{ linkType: 1 }],
            blocks: handshake.map((data, i) => ({
              kind: "epb" as const,
              iface: 0,
              ts: 0xffffffffffffffffn - BigInt(2 - i),
              data,
            })),
          },
        ]).bytes,
      ),
    ],
    // if_tsresol 2^-0: a tick is a second, so 2^63 ticks is 9.2e18 s.
    [
      "tsresol 2^0",
      write(
        "tsresol-2p0.pcapng",
        pcapngFile([
          {
            le: false,
            interfaces: [{ linkType: 1, tsresol: 0x80 }],
            blocks: handshake.map((data, i) => ({ kind: "epb" as const, iface: 0, ts: (1n << 63n) + BigInt(i), data })),
          },
        ]).bytes,
      ),
    ],
    // if_tsresol 2^-30 with the top bit set: 8.6e9 s, past 2038 but within the calendar.
    [
      "tsresol 2^-30",
      write(
        "tsresol-2p30.pcapng",
        pcapngFile([
          {
            le: true,
            interfaces: [{ linkType: 1, tsresol: 0x80 | 30 }],
            blocks: handshake.map((data, i) => ({
              kind: "epb" as const,
              iface: 0,
              ts: (1n << 63n) + BigInt(i) * 1000n,
              data,
            })),
          },
        ]).bytes,
      ),
    ],
  ];

  for (const [name, file] of files) {
    it(`${name}: every output prints, exit 0`, () => {
      for (const args of [
        ["analyze"],
        ["analyze", "-F", "json"],
        ["flows"],
        ["flows", "-F", "json"],
        ["packets"],
        ["packets", "-F", "jsonl"],
      ]) {
        const r = run([...args, file]);
        expect(r.stderr, `${args.join(" ")}`).not.toMatch(/RangeError|Invalid time|\n\s+at /);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
        expect(r.stdout.length).toBeGreaterThan(0);
      }
      const report = JSON.parse(run(["analyze", "-F", "json", file]).stdout);
      expect(report.capture.packets).toBe(3);
      expect(report.flows).toHaveLength(1);
    });
  }

  it("beyond-calendar times print as seconds in the text report and flows", () => {
    for (const cmd of ["analyze", "flows"]) {
      const r = run([cmd, files[0]![1]]);
      expect(r.stdout).toMatch(/from 18446744073709\.\d+ s since the epoch \(beyond the calendar\)/);
    }
    // `check --update` writes a baseline from the same capture: it reads the times too.
    const r = run(["check", "--update", files[1]![1]]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("isoTime: a calendar date within Date's range, seconds beyond it, never a throw", () => {
    expect(isoTime(T0)).toBe("2023-11-14 22:13:20.000 UTC");
    expect(isoTime(8.64e12)).toMatch(/^\+275760-09-13/);
    expect(isoTime(8.64e12 + 1)).toBe("8640000000001 s since the epoch (beyond the calendar)");
    expect(isoTime(-1e13)).toContain("beyond the calendar");
    expect(isoTime(Number.NaN)).toContain("beyond the calendar");
    expect(isoTime(null)).toBe("-");
  });
});

describe("clock jumps", () => {
  it("a jump forward: warned once with its frame; no CLOSE_WAIT or duration across it", async () => {
    // The client closes 0.5 s after the server, but its FIN is stamped a year later.
    const file = write("jump-forward.pcap", pcapFile(closingConnection(T0, 0.5, YEAR)));
    const report = await analyzeFile(file);
    expect(report.capture.clockJumps).toEqual([{ frame: 7, fromTime: T0 + 0.012, toTime: T0 + 0.512 + YEAR }]);
    const w = report.warnings.filter((x) => x.includes("clock jumps"));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(
      /^the capture's clock jumps forward 31536000\.500 s at frame 7 \(from 2023-11-14 22:13:20\.012 UTC to 2024-11-13 22:13:20\.512 UTC\)/,
    );
    // Durations add up the stretches: 12 ms before the jump, 1 ms after it (and the 1 µs step).
    expect(report.capture.durationSec).toBeCloseTo(0.013, 5);
    expect(report.flows[0]!.durationSec).toBeCloseTo(0.013, 5);
    expect(report.capture.start).toBe(T0);
    expect(report.capture.end).toBeCloseTo(T0 + 0.513 + YEAR, 5);
    expect(report.findings.filter((f) => f.kind === "close-wait")).toEqual([]);
    for (const f of report.findings) {
      // A year is 3.2e10 ms; TIME_WAIT's assumed 60 000 ms is not measured.
      for (const [k, v] of Object.entries(f.measure))
        if (/Ms$/.test(k)) expect(Math.abs(v), `${f.kind} ${k}`).toBeLessThanOrEqual(60_000);
    }
  });

  it("a jump back: the same, and no negative duration or time", async () => {
    const file = write("jump-back.pcap", pcapFile(closingConnection(T0, 0.5, -YEAR)));
    const report = await analyzeFile(file);
    expect(report.capture.clockJumps.map((j) => j.frame)).toEqual([7]);
    expect(report.warnings.some((x) => /clock jumps back 31535999\.500 s at frame 7/.test(x))).toBe(true);
    expect(report.capture.durationSec).toBeCloseTo(0.013, 5);
    expect(report.flows[0]!.durationSec).toBeCloseTo(0.013, 5);
    for (const f of report.findings) {
      for (const [k, v] of Object.entries(f.measure))
        if (/Ms$/.test(k)) expect(v, `${f.kind} ${k}`).toBeGreaterThanOrEqual(-1);
    }
  });

  it("a CLOSE_WAIT still open at a jump into a later recording lasts, as far as the capture shows, until that part ended", async () => {
    const syn = (t: number, port: number): PcapRecord => {
      const data = ethernet(
        ETH_IPV4,
        ipv4({
          src: CLIENT,
          dst: SERVER,
          proto: 6,
          payload: tcp({ srcPort: port, dstPort: 80, seq: 1, ack: 0, flags: SYN, win: 65535 }),
        }),
      );
      return { tsSec: Math.floor(t), tsFrac: Math.round((t - Math.floor(t)) * 1e6), data };
    };
    // The server's FIN (frame 5) acknowledged at 12 ms (frame 6); the client never closes. Other
    // connections' SYNs at 12 s, then a year later (frame 8: the jump).
    const recs = [...closingConnection(T0, 3, 0).slice(0, 6), syn(T0 + 12, 40001), syn(T0 + YEAR + 1, 40002)];
    const report = await analyzeFile(write("close-wait-at-jump.pcap", pcapFile(recs)));
    expect(report.capture.clockJumps.map((j) => j.frame)).toEqual([8]);
    const [cw, ...more] = report.findings.filter((f) => f.kind === "close-wait");
    expect(more).toEqual([]);
    expect(cw!.severity).toBe("warning");
    expect(cw!.measure.closeWaitMs).toBeCloseTo(11_988, 0); // from its ACK (12 ms) to the last record before the jump (12 s)
    expect(cw!.measure.stillOpenAtEnd).toBe(1);
    expect(cw!.summary).toContain("for at least 11.988 s");
    expect(cw!.summary).toContain("still there when that part of the capture ended (its clock jumps at frame 8");
  });

  it("the same connection without the jump: CLOSE_WAIT measured as it was (the analysis is unchanged)", async () => {
    const report = await analyzeFile(write("no-jump.pcap", pcapFile(closingConnection(T0, 3, 0))));
    expect(report.capture.clockJumps).toEqual([]);
    expect(report.warnings.filter((x) => x.includes("clock"))).toEqual([]);
    const cw = report.findings.filter((f) => f.kind === "close-wait");
    expect(cw).toHaveLength(1);
    expect(cw[0]!.measure.closeWaitMs).toBeCloseTo(3000, 0); // from the client's ACK of the server's FIN (12 ms) to its own FIN (3.012 s)
    expect(report.capture.durationSec).toBeCloseTo(3.013, 5);
  });

  it("small reordering (back less than BACKWARD_JUMP_SEC) and long quiet (less than FORWARD_JUMP_SEC) are no jump", async () => {
    const recs = closingConnection(T0, 3, 0);
    recs[3]!.tsSec -= BACKWARD_JUMP_SEC - 1; // data stamped a second early
    const quiet = closingConnection(T0, FORWARD_JUMP_SEC - 10, 0); // CLOSE_WAIT for most of a day
    for (const file of [write("reorder.pcap", pcapFile(recs)), write("quiet.pcap", pcapFile(quiet))]) {
      const report = await analyzeFile(file);
      expect(report.capture.clockJumps).toEqual([]);
    }
    const report = await analyzeFile(join(tmp, "quiet.pcap"));
    expect(report.findings.find((f) => f.kind === "close-wait")!.measure.closeWaitMs).toBeCloseTo(
      (FORWARD_JUMP_SEC - 10) * 1000,
      -1,
    );
  });

  it("the CLI: the text summary, stderr (even with -q) and the JSON name the jump", () => {
    const file = write("jump-cli.pcap", pcapFile(closingConnection(T0, 0.5, YEAR)));
    const text = run(["analyze", file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      "the clock jumps once (first at frame 7): the duration adds up the stretches between jumps",
    );
    expect(text.stdout).toMatch(/Warnings \(1\)\n {2}the capture's clock jumps forward/);
    const flows = run(["flows", file]);
    expect(flows.stdout).toContain("the clock jumps once (first at frame 7)");
    expect(flows.stderr).toMatch(/^sockscope: warning: the capture's clock jumps forward .* at frame 7/m);
    const json = run(["analyze", "-F", "json", "-q", file]);
    expect(json.stderr).toMatch(/^sockscope: warning: the capture's clock jumps forward .* at frame 7/m);
    expect(JSON.parse(json.stdout).warnings.some((w: string) => w.includes("frame 7"))).toBe(true);
  });

  it("many jumps: the first ten named, the rest counted", async () => {
    // Every other packet a year later: each one a jump forward, the next one back.
    const recs = closingConnection(T0, 0.5, 0);
    for (let i = 0; i < 8; i++)
      recs.push(...closingConnection(T0 + 1, 0.5, 0).map((r, k) => ({ ...r, tsSec: r.tsSec + (k % 2 ? YEAR : 0) })));
    const report = await analyzeFile(write("jumpy.pcap", pcapFile(recs)));
    expect(report.capture.clockJumps.length).toBeGreaterThan(10);
    const w = report.warnings.filter((x) => x.includes("clock jump"));
    expect(w).toHaveLength(11);
    expect(w[10]).toMatch(/^… and \d+ more clock jumps/);
  });

  it("--jobs 2 finds the same jumps and the same report", async () => {
    const file = join(CORPUS, "captures", "pcpp--example2-mixed.pcap");
    const one = await analyzeFile(file, { jobs: 1 });
    const two = await analyzeFile(file, { jobs: 2 });
    expect(two.capture).toEqual(one.capture);
    expect(two.warnings).toEqual(one.warnings);
    expect(two.flows).toEqual(one.flows);
    expect(two.findings.map((f) => [f.kind, f.flow, f.time, f.measure])).toEqual(
      one.findings.map((f) => [f.kind, f.flow, f.time, f.measure]),
    );
  });
});

describe("clock jumps in the corpus", () => {
  // A fresh-eyes review: one stray packet stamped two days ahead (then the clock back) made
  // every later re-send of a connection a "copy from before the jump". A stack's re-send
  // carries a new IP id; only the same packet recorded again is the capture's repeat.
  it("one stray timestamp elsewhere hides no re-send: peer-unresponsive and the timeouts stand", async () => {
    const original = readFileSync(join(FIXTURES, "peer-unresponsive", "user-timeout.pcap"));
    const spans = pcapRecords(original);
    const at = spans[10]![1];
    const sec = original.readUInt32LE(spans[10]![0]);
    const stray = pcapRecord({
      tsSec: sec + 2 * 86_400,
      tsFrac: 0,
      data: ethernet(
        ETH_IPV4,
        ipv4({ src: 0x0a000009, dst: 0x0a00000a, proto: 17, payload: udp(5000, 5001, new Uint8Array(4)) }),
      ),
    });
    const file = write(
      "stray-timestamp.pcap",
      new Uint8Array(Buffer.concat([original.subarray(0, at), stray, original.subarray(at)])),
    );
    const r = await analyzeFile(file);
    expect(r.capture.clockJumps.length).toBeGreaterThan(0);
    expect(r.findings.map((f) => [f.kind, f.severity])).toEqual(
      expect.arrayContaining([
        ["peer-unresponsive", "error"],
        ["retransmission", "warning"],
      ]),
    );
  });
  // Audit4: frames 7-10 repeat frame 3's and 5's bytes (edited copies) 15 years later;
  // they were "re-sent after a timeout" with a wait measured across the jump.
  it("pcpp--Ftp-retransmissions: bytes recorded before a jump and again after it are no re-sends", async () => {
    const report = await analyzeFile(join(CORPUS, "captures", "pcpp--Ftp-retransmissions.pcap"));
    const re = report.findings.filter((f) => f.kind === "retransmission");
    expect(re.map((f) => [f.severity, f.frames, f.measure.retransmissions, f.measure.duplicates])).toEqual([
      ["info", [7, 8], 0, 2],
      ["info", [9, 10], 0, 2],
    ]);
    expect(re[0]!.summary).toContain("recorded again after a clock jump, in captures stitched together");
  });
  it("pcpp--example2-mixed: its first 26 packets are 4.5 years early; the duration is the 83 s of the rest", async () => {
    const report = await analyzeFile(join(CORPUS, "captures", "pcpp--example2-mixed.pcap"));
    expect(report.capture.clockJumps.map((j) => j.frame)).toEqual([27]);
    expect(report.capture.clockJumps[0]!.toTime - report.capture.clockJumps[0]!.fromTime).toBeGreaterThan(4 * YEAR);
    // Without the jump: 142 449 834 s.
    expect(report.capture.durationSec).toBeGreaterThan(80);
    expect(report.capture.durationSec).toBeLessThan(90);
    for (const f of report.flows) expect(f.durationSec).toBeLessThan(90);
    // Flows after the jump start at their real time, not the analysis clock's.
    const late = report.flows.find((f) => f.firstFrame > 27)!;
    expect(late.start).toBeGreaterThan(report.capture.clockJumps[0]!.toTime - 1);
    for (const f of report.findings) expect(f.time).toBeGreaterThanOrEqual(report.capture.start! - 1);
  });

  it("pcpp--Ftp-retransmissions: three captures in one file, two jumps; no timer spans them", async () => {
    const report = await analyzeFile(join(CORPUS, "captures", "pcpp--Ftp-retransmissions.pcap"));
    expect(report.capture.clockJumps.map((j) => j.frame)).toEqual([3, 7]);
    expect(report.capture.durationSec).toBeLessThan(10);
    for (const f of report.findings) {
      for (const [k, v] of Object.entries(f.measure))
        if (/Ms$/.test(k)) expect(Math.abs(v), `${f.kind} ${k}`).toBeLessThan(10_000);
    }
  });
});

describe("AnalysisClock", () => {
  it("continues 1 µs after the latest time at a jump, and rawTime undoes it", () => {
    const c = new AnalysisClock();
    expect(c.toAnalysis(1, 100)).toBe(100);
    expect(c.toAnalysis(2, 99)).toBe(99); // reordered, within BACKWARD_JUMP_SEC
    expect(c.toAnalysis(3, 101)).toBe(101);
    const a4 = c.toAnalysis(4, 101 + FORWARD_JUMP_SEC + 1);
    expect(a4).toBeCloseTo(101.000001, 9);
    expect(c.toAnalysis(5, 101 + FORWARD_JUMP_SEC + 3)).toBeCloseTo(103.000001, 9);
    const a6 = c.toAnalysis(6, 50);
    expect(a6).toBeCloseTo(103.000002, 9);
    expect(c.jumps.map((j) => j.frame)).toEqual([4, 6]);
    expect(rawTime(100, c.jumps)).toBe(100);
    expect(rawTime(a4, c.jumps)).toBeCloseTo(101 + FORWARD_JUMP_SEC + 1, 6);
    expect(rawTime(a6, c.jumps)).toBeCloseTo(50, 6);
    expect(rawTime(a6 + 5, c.jumps)).toBeCloseTo(55, 6);
    expect(c.peek(52)).toBeCloseTo(a6 + 2, 6);
  });

  it("one record minutes ahead (interfaces merged) is no jump; one record a year back is two, and the clock goes on", () => {
    const ahead = new AnalysisClock();
    for (const [f, t] of [
      [1, 0],
      [2, 0.5],
      [3, 300],
      [4, 0.6],
      [5, 0.7],
    ] as const)
      expect(ahead.toAnalysis(f, t)).toBe(t);
    expect(ahead.jumps).toEqual([]);
    const back = new AnalysisClock();
    back.toAnalysis(1, 1000);
    back.toAnalysis(2, 1001);
    back.toAnalysis(3, 1001 - YEAR);
    expect(back.toAnalysis(4, 1002)).toBeCloseTo(1001.000002, 6);
    expect(back.jumps.map((j) => j.frame)).toEqual([3, 4]);
  });
});
