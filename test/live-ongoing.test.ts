/**
 * `sockscope live` shows a stuck connection while it is stuck: conditions the analyzers
 * see holding on an open connection (zero window, unanswered connect(), unacknowledged
 * data, CLOSE_WAIT) are reported once as they cross their threshold, marked ongoing,
 * and the finding follows when the flow ends; findings a tick or Ctrl-C brings come out
 * in time order.
 *
 * First on synthetic packets through LiveSession (exact times, no root), then for real:
 * the built CLI in a private network namespace while real sockets get stuck there.
 */
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { LiveSession, type OngoingEvent } from "../src/run/live-session.js";
import { defineAnalyzer } from "../src/analyze/analyzer.js";
import { Engine } from "../src/run/packet-loop.js";
import type { Finding } from "../src/analyze/finding.js";
import { TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN } from "../src/decode/wire/packet.js";
import {
  ctrlC,
  findingsOf,
  killRunning,
  liveDescribe,
  scenario,
  startLive,
  waitFor,
  type LiveRun,
} from "./helpers/live.js";
import { Traffic } from "./helpers/traffic.js";
import { formatOngoing } from "../src/cli/live.js";
import { styleFor } from "../src/report/style.js";

afterEach(killRunning);

const T0 = 1_800_000_000;
const C_ISN = 1000,
  S_ISN = 0x10001000;

/** A session recording what it reports, and traffic into it. */
function session() {
  const ongoing: OngoingEvent[] = [],
    found: Finding[] = [],
    ended: number[] = [];
  const s = new LiveSession({
    onOngoing: (e) => ongoing.push(e),
    onFinding: (f) => found.push(f),
    onFlowEnd: (fr) => ended.push(fr.id),
  });
  return { s, tr: new Traffic(s.onPacket), ongoing, found, ended };
}

/** Handshake, then the client's 1000 bytes the server acknowledges with window 0 (frame +5), and one probe answered with 0. */
function zeroWindow(tr: Traffic, t: number, cport: number): void {
  tr.tcp(t, true, cport, 80, C_ISN, 0, TH_SYN);
  tr.tcp(t + 0.0001, false, cport, 80, S_ISN, C_ISN + 1, TH_SYN | TH_ACK);
  tr.tcp(t + 0.0002, true, cport, 80, C_ISN + 1, S_ISN + 1, TH_ACK);
  tr.tcp(t + 0.001, true, cport, 80, C_ISN + 1, S_ISN + 1, TH_ACK | TH_PSH, 1000);
  tr.tcp(t + 0.002, false, cport, 80, S_ISN + 1, C_ISN + 1001, TH_ACK, 0, 0);
  // Linux's zero-window probe: no data, one below the next sequence number.
  tr.tcp(t + 0.2, true, cport, 80, C_ISN + 1000, S_ISN + 1, TH_ACK);
  tr.tcp(t + 0.2001, false, cport, 80, S_ISN + 1, C_ISN + 1001, TH_ACK, 0, 0);
}

describe("ongoing conditions in the streaming analysis (synthetic packets)", () => {
  it("a zero window is reported once past 1 s, again at 10x, 'over' when a window update reopens it; the finding waits for the flow's end", () => {
    const { s, tr, ongoing, found } = session();
    zeroWindow(tr, T0, 40000);
    s.tick(T0 + 0.5);
    expect(ongoing).toEqual([]);
    s.tick(T0 + 1.1);
    expect(ongoing).toHaveLength(1);
    const e = ongoing[0]!;
    expect([e.state, e.kind, e.severity, e.side, e.endpoint, e.sinceFrame, e.flow.id]).toEqual([
      "started",
      "zero-window",
      "warning",
      "server",
      "10.0.0.2:80",
      5,
      1,
    ]);
    expect(e.elapsedSec).toBe(1.098);
    expect(e.time).toBe(T0 + 1.1);
    expect(e.summary).toBe(
      "the server 10.0.0.2:80 has advertised window 0 since frame 5 (1 zero-window probe(s) so far): its program " +
        "is not reading; the client's write()/send() blocks (or returns EAGAIN) once its send buffer is full",
    );
    for (const t of [1.35, 2, 5, 10.9]) s.tick(T0 + t);
    expect(ongoing).toHaveLength(1); // quiet while it lasts
    s.tick(T0 + 11.5); // 10x the 1.098 s it was first reported at
    expect(ongoing.map((x) => x.state)).toEqual(["started", "still"]);
    s.tick(T0 + 20);
    expect(ongoing).toHaveLength(2);
    tr.tcp(T0 + 20.1, false, 40000, 80, S_ISN + 1, C_ISN + 1001, TH_ACK); // window update
    s.tick(T0 + 20.2);
    expect(ongoing.map((x) => x.state)).toEqual(["started", "still", "over"]);
    expect(ongoing[2]!.elapsedSec).toBe(19.998); // as last seen holding
    expect(ongoing[2]!.summary).toBe(
      "no longer holds (last seen 20.0 s after frame 5); its finding follows when the flow ends",
    );
    s.tick(T0 + 21);
    expect(ongoing).toHaveLength(3);
    expect(found.filter((f) => f.kind === "zero-window")).toEqual([]);
    s.finish();
    expect(found.filter((f) => f.kind === "zero-window").map((f) => f.time)).toEqual([T0 + 0.002]);
  });

  it("text lines: '[ongoing 1.1s]' with the summary, '[still ongoing …]', one '[over]' line", () => {
    const { s, tr, ongoing } = session();
    zeroWindow(tr, T0, 40000);
    for (const t of [1.1, 11.5]) s.tick(T0 + t);
    tr.tcp(T0 + 12, false, 40000, 80, S_ISN + 1, C_ISN + 1001, TH_ACK);
    s.tick(T0 + 12.1);
    const st = styleFor(process.stdout, true);
    const lines = ongoing.map((e) => formatOngoing(e, st).replace(/^\d\d:\d\d:\d\d\.\d{3} /, ""));
    expect(lines[0]).toBe(
      "[ongoing 1.1s] zero-window  flow 1 tcp 10.0.0.1:40000 → 10.0.0.2:80 (server)\n" +
        "  the server 10.0.0.2:80 has advertised window 0 since frame 5 (1 zero-window probe(s) so far):\n" +
        "  its program is not reading; the client's write()/send() blocks (or returns EAGAIN) once its\n" +
        "  send buffer is full",
    );
    expect(lines[1]).toMatch(/^\[still ongoing 11\.5s\] zero-window {2}flow 1 /);
    expect(lines[2]).toBe(
      "[over] zero-window  flow 1 tcp 10.0.0.1:40000 → 10.0.0.2:80 (server): no longer holds (last seen 11.5 s " +
        "after frame 5); its finding follows when the flow ends",
    );
  });

  it("a condition that keeps coming back on a flow is shown the 1st and 10th time, not every time", () => {
    const { s, tr, ongoing } = session();
    zeroWindow(tr, T0, 40000);
    for (let k = 0; k < 12; k++) {
      const t = T0 + k * 2;
      s.tick(t + 1.5); // shut for 1.5 s: past the threshold
      tr.tcp(t + 1.6, false, 40000, 80, S_ISN + 1, C_ISN + 1001, TH_ACK); // the reader reads a little
      s.tick(t + 1.7);
      tr.tcp(t + 2, false, 40000, 80, S_ISN + 1, C_ISN + 1001, TH_ACK, 0, 0); // and stops again
    }
    expect(ongoing.map((e) => `${e.state} ${e.episode}`)).toEqual(["started 1", "over 1", "started 10", "over 10"]);
    const st = styleFor(process.stdout, true);
    expect(formatOngoing(ongoing[2]!, st)).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} \[ongoing 1\.5s, 10th time on this flow\] zero-window {2}flow 1 /,
    );
  });

  it("CLOSE_WAIT of a side still sending after the peer's FIN (a half-close in use) is ongoing only after 10 s without data", () => {
    const { s, tr, ongoing } = session();
    tr.tcp(T0, true, 40005, 80, C_ISN, 0, TH_SYN);
    tr.tcp(T0 + 0.0001, false, 40005, 80, S_ISN, C_ISN + 1, TH_SYN | TH_ACK);
    tr.tcp(T0 + 0.0002, true, 40005, 80, C_ISN + 1, S_ISN + 1, TH_ACK);
    tr.tcp(T0 + 0.01, true, 40005, 80, C_ISN + 1, S_ISN + 1, TH_ACK | TH_FIN); // shutdown(SHUT_WR)
    tr.tcp(T0 + 0.05, false, 40005, 80, S_ISN + 1, C_ISN + 2, TH_ACK | TH_PSH, 100); // the answer streams
    tr.tcp(T0 + 2, false, 40005, 80, S_ISN + 101, C_ISN + 2, TH_ACK | TH_PSH, 100);
    for (const t of [1.5, 3.5, 11.9]) s.tick(T0 + t);
    expect(ongoing).toEqual([]);
    s.tick(T0 + 12.1);
    expect(ongoing.map((e) => [e.kind, e.side])).toEqual([["close-wait", "server"]]);
    expect(ongoing[0]!.summary).toMatch(
      /^the server 10\.0\.0\.2:80 has sat in CLOSE_WAIT since its last data after the client's FIN \(frame 4\)/,
    );
  });

  it("after a clock jump, a condition's age and start are real times, not the analysis clock's", () => {
    const { s, tr, ongoing } = session();
    tr.udp(T0 - 3 * 86400, true, 5353, 5353, 10); // a packet stamped days before: the clock jumps forward after it
    zeroWindow(tr, T0, 40000);
    s.tick(T0 + 1.5);
    expect(ongoing.map((e) => e.kind)).toEqual(["zero-window"]);
    expect(ongoing[0]!.elapsedSec).toBeCloseTo(1.498, 3);
    expect(ongoing[0]!.since).toBeCloseTo(T0 + 0.002, 3);
  });

  it("a reset ends the condition without an 'over' line: the finding follows within the linger", () => {
    const { s, tr, ongoing, found, ended } = session();
    zeroWindow(tr, T0, 40000);
    s.tick(T0 + 1.5);
    expect(ongoing.map((x) => x.state)).toEqual(["started"]);
    tr.tcp(T0 + 3, false, 40000, 80, S_ISN + 1, 0, TH_RST);
    s.tick(T0 + 3.1);
    expect(ongoing).toHaveLength(1);
    expect(found.some((f) => f.kind === "zero-window")).toBe(false);
    s.tick(T0 + 4.2); // closed and quiet for the 1 s linger: the flow ends
    expect(ended).toEqual([1]);
    const zw = found.filter((f) => f.kind === "zero-window");
    expect(zw).toHaveLength(1);
    // The reset ended the connection, not the capture (it once said "when the capture ended").
    expect(zw[0]!.summary).toContain("still zero when the connection ended (frame 8)");
    expect(ongoing).toHaveLength(1);
  });

  it("connect(): ongoing from the first SYN retransmission, over once the SYNs stop", () => {
    const { s, tr, ongoing } = session();
    tr.tcp(T0, true, 40001, 5002, C_ISN, 0, TH_SYN);
    s.tick(T0 + 0.9);
    expect(ongoing).toEqual([]);
    tr.tcp(T0 + 1.02, true, 40001, 5002, C_ISN, 0, TH_SYN);
    s.tick(T0 + 1.1);
    expect(ongoing.map((x) => [x.state, x.kind, x.side, x.sinceFrame])).toEqual([
      ["started", "connect-timeout", "client", 1],
    ]);
    expect(ongoing[0]!.summary).toMatch(
      /^connect\(\) to 10\.0\.0\.2:5002 unanswered: 2 SYNs since frame 1, no SYN-ACK and no RST/,
    );
    tr.tcp(T0 + 2.04, true, 40001, 5002, C_ISN, 0, TH_SYN);
    s.tick(T0 + 4.5); // next SYN due within 2 x 1.02 s + 0.5 s of the last: still waiting
    expect(ongoing).toHaveLength(1);
    s.tick(T0 + 4.7);
    expect(ongoing.map((x) => x.state)).toEqual(["started", "over"]);
  });

  it("CLOSE_WAIT: ongoing once the side that got the FIN has not closed for 1 s", () => {
    const { s, tr, ongoing } = session();
    tr.tcp(T0, true, 40002, 80, C_ISN, 0, TH_SYN);
    tr.tcp(T0 + 0.0001, false, 40002, 80, S_ISN, C_ISN + 1, TH_SYN | TH_ACK);
    tr.tcp(T0 + 0.0002, true, 40002, 80, C_ISN + 1, S_ISN + 1, TH_ACK);
    tr.tcp(T0 + 0.01, true, 40002, 80, C_ISN + 1, S_ISN + 1, TH_ACK | TH_FIN);
    tr.tcp(T0 + 0.05, false, 40002, 80, S_ISN + 1, C_ISN + 2, TH_ACK);
    s.tick(T0 + 0.9);
    expect(ongoing).toEqual([]);
    s.tick(T0 + 1.1);
    expect(ongoing.map((x) => [x.state, x.kind, x.side, x.sinceFrame])).toEqual([
      ["started", "close-wait", "server", 4],
    ]);
    expect(ongoing[0]!.summary).toBe(
      "the server 10.0.0.2:80 has sat in CLOSE_WAIT since the client's FIN (frame 4, acknowledged in frame 5): " +
        "its program has the EOF but has not called close()",
    );
  });

  it("only flows an analyzer watches are polled, until they end; reading files watches nothing", () => {
    const polled: number[] = [];
    const watcher = defineAnalyzer<null>({
      id: "test-watcher",
      title: "",
      severity: "info",
      family: "tcp-transfer",
      wire: "",
      explanation: "",
      references: [],
      onTcpSegment(_s, flow, seg, _p, out) {
        if (flow.clientPort === 40010 && seg.len > 0) out.watch(flow);
      },
      ongoing(_s, flow, dir) {
        if (dir === 0) polled.push(flow.id);
        return null;
      },
    });
    for (const live of [true, false]) {
      polled.length = 0;
      const engine = new Engine({ analyzers: [watcher], watchOngoing: live, retireClosedAfterSec: Infinity });
      const tr = new Traffic(engine.onPacket);
      for (let i = 0; i < 50; i++) tr.connection(T0 + i * 0.001, 40000 + i, 80, C_ISN + i * 1000, false); // flow 11 has port 40010
      const poll = (t: number) => engine.forEachOngoing(t, () => undefined);
      poll(T0 + 1);
      poll(T0 + 2);
      expect(polled).toEqual(live ? [11, 11] : []);
      engine.finish(); // every flow ends: none watched any more
      polled.length = 0;
      poll(T0 + 3);
      expect(polled).toEqual([]);
    }
  });

  it("findings that the end of the capture brings come out in time order, not flow by flow", () => {
    const { s, tr, found } = session();
    zeroWindow(tr, T0 + 5, 40003); // flow 1: its stall starts later
    zeroWindow(tr, T0 + 2, 40004); // flow 2
    s.finish();
    const times = found.map((f) => f.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(found.filter((f) => f.kind === "zero-window").map((f) => f.flow)).toEqual([2, 1]);
  });
});

// ------------------------------------------------------------------ real sockets

/** A receiver that never reads, and a sender writing until it blocks (4 KiB buffers). */
const STUCK_RECEIVER = `
import socket, threading, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", 5300)); ls.listen(1)
def never_read():
    conn, _ = ls.accept()
    time.sleep(600)
threading.Thread(target=never_read, daemon=True).start()
c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
c.connect(("127.0.0.1", 5300))
while True:
    c.send(b"x" * 4096)
`;

const lineIndex = (run: LiveRun, re: RegExp) => run.lines.findIndex((l) => re.test(l.text));

liveDescribe("live: stuck connections reported while they are stuck", true, () => {
  it("a receiver that stops reading: '[ongoing …] zero-window' while the sender is blocked, the finding after the process is gone", async () => {
    const run = await startLive(["-i", "lo", "tcp port 5300"]);
    const py = spawn("nsenter", ["-t", String(run.pid), "-n", "python3", "-c", STUCK_RECEIVER], { stdio: "ignore" });
    const ongoingRe =
      /^\d\d:\d\d:\d\d\.\d{3} \[ongoing (\d+\.\d)s\] zero-window {2}flow 1 tcp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:5300 \(server\)$/;
    const line = await waitFor(
      "the ongoing zero-window line",
      () => run.lines.find((l) => ongoingRe.test(l.text)),
      10_000,
    );
    expect(py.exitCode, "the stuck program is still running when the line arrives").toBeNull();
    const elapsed = Number(ongoingRe.exec(line.text)![1]);
    expect(elapsed).toBeGreaterThanOrEqual(1);
    expect(elapsed).toBeLessThan(3); // polled every 250 ms
    const killedAt = Date.now() / 1000;
    py.kill("SIGKILL"); // its sockets close with unread data: a reset ends the flow
    const final = await waitFor(
      "the zero-window finding",
      () => run.lines.find((l) => /WARNING zero-window {2}flow 1/.test(l.text)),
      10_000,
    );
    expect(final.at).toBeGreaterThan(killedAt);
    ctrlC(run);
    expect((await run.exited).code).toBe(0);
    const text = run.lines
      .map((l) => l.text)
      .join(" ")
      .replace(/\s+/g, " "); // as if unwrapped
    expect(text).toMatch(
      /\(server\) the server 127\.0\.0\.1:5300 has advertised window 0 since frame \d+ \(\d+ zero-window probe\(s\) so far\): its program is not reading; the client's write\(\)\/send\(\) blocks/,
    );
    expect(text).toMatch(/the server's receive window stayed at zero for \d+\.\d+ ms \(from frame \d+/);
    expect(lineIndex(run, ongoingRe)).toBeLessThan(lineIndex(run, /WARNING zero-window/));
    expect(run.lines.filter((l) => /\[(still )?ongoing/.test(l.text))).toHaveLength(1); // once, not every poll
  });

  it("blackholed connect(), CLOSE_WAIT and a peer that vanished: jsonl 'ongoing' events while they last, before their findings, findings in time order", async () => {
    const run = await startLive(["-i", "lo", "-F", "jsonl"]);
    const events = () =>
      run.json().filter((j) => j.type === "ongoing") as unknown as (OngoingEvent & {
        at: number;
        ongoing: boolean;
        flow: number;
      })[];
    const startedOf = (kind: string) => events().find((e) => e.kind === kind && e.state === "started");

    // connect() to 127.0.0.1:5002, SYNs dropped by nftables; the program gives up after 3.5 s.
    const connect = scenario(run, "connect-timeout.py", "app-timeout");
    const c = await waitFor("ongoing connect-timeout", () => startedOf("connect-timeout"), 8000);
    expect(c.ongoing).toBe(true);
    expect(c.side).toBe("client");
    expect(c.at - c.since, "reported within a few seconds of the first SYN").toBeLessThan(3);
    expect(c.elapsedSec).toBeGreaterThanOrEqual(1);
    expect((await connect).code).toBe(0);
    const over = await waitFor(
      "connect-timeout over",
      () => events().find((e) => e.kind === "connect-timeout" && e.state === "over"),
      8000,
    );
    expect(over.ongoing).toBe(false);

    // The server holds CLOSE_WAIT for 3 s before it close()s.
    expect((await scenario(run, "close-wait.py", "late-close")).code).toBe(0);
    const cw = await waitFor("close-wait finding", () => findingsOf(run).find((f) => f.kind === "close-wait"), 5000);
    const cwOngoing = startedOf("close-wait")!;
    expect(cwOngoing.side).toBe("server");
    expect(cwOngoing.at).toBeLessThan(cw.at); // while it lasted, before the FIN ended it
    // The wait is counted from the server's ACK of the client's FIN (the finding's time is the FIN's): at most a delayed ACK later.
    expect(cwOngoing.since).toBeGreaterThanOrEqual(cw.time);
    expect(cwOngoing.since - cw.time).toBeLessThan(0.25);

    // The server vanishes (nftables drops both ways); the client keeps re-sending until TCP_USER_TIMEOUT.
    expect((await scenario(run, "peer-unresponsive.py", "user-timeout")).code).toBe(0);
    const pu = startedOf("peer-unresponsive")!;
    expect(pu.side).toBe("client");
    expect(pu.elapsedSec).toBeGreaterThanOrEqual(3);
    await waitFor(
      "peer-unresponsive over",
      () => events().find((e) => e.kind === "peer-unresponsive" && e.state === "over"),
      10_000,
    );

    const stoppedAt = Date.now() / 1000;
    ctrlC(run);
    expect((await run.exited).code).toBe(0);
    const fs = findingsOf(run);
    for (const kind of ["connect-timeout", "peer-unresponsive"]) {
      const f = fs.find((x) => x.kind === kind)!;
      expect(f.at, `${kind}: the finding at Ctrl-C`).toBeGreaterThan(stoppedAt);
      expect(startedOf(kind)!.at).toBeLessThan(f.at);
    }
    const atEnd = fs.filter((f) => f.at > stoppedAt).map((f) => f.time);
    expect(atEnd.length).toBeGreaterThanOrEqual(2);
    expect(atEnd).toEqual([...atEnd].sort((a, b) => a - b));
    // Each condition reported as started once; events in the order they happened.
    const started = events().filter((e) => e.state === "started");
    expect(started.map((e) => e.kind)).toEqual(["connect-timeout", "close-wait", "peer-unresponsive"]);
    const times = events().map((e) => e.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
