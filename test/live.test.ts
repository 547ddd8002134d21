/**
 * `sockscope live`, for real: the built CLI captures inside a private network namespace
 * (`unshare -n`) while the scenario scripts of fixtures/scenarios drive real sockets in
 * the same namespace (`nsenter -n`); findings must arrive while the capture runs, with
 * the right kinds and sides, the immediate ones within a second. Both backends (cap and
 * --via tcpdump), -w files read back, SIGINT/SIGTERM, -c and --duration, start-up and
 * lost-interface errors, the delivery-stamp drift against tcpdump's kernel timestamps,
 * and, on synthetic packets, flow retirement and flat memory over a simulated hour.
 *
 * Tests that need root, unshare/nsenter, tcpdump or a loadable cap skip with the reason
 * printed, except in CI (CI set), where a missing precondition fails instead.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { newCaptureInfo, readCapture } from "../src/capture/reader.js";
import { LiveSession } from "../src/run/live-session.js";
import { LiveClock } from "../src/capture/live/clock.js";
import { PcapWriter } from "../src/capture/live/pcap-writer.js";
import type { Finding } from "../src/analyze/finding.js";
import { CLI, ROOT } from "./helpers/paths.js";
import { Traffic } from "./helpers/traffic.js";
import {
  built,
  capError,
  ctrlC,
  findingsOf,
  killRunning,
  liveDescribe,
  scenario,
  sleep,
  startLive,
  waitFor,
} from "./helpers/live.js";

const ARTIFACTS = join(ROOT, "test", "artifacts");

afterEach(killRunning);

async function readPcap(path: string) {
  const recs: { time: number; bytes: Buffer; origLen: number; linkType: number }[] = [];
  const info = await readCapture(path, (r) => {
    recs.push({
      time: r.tsSec + r.tsNsec / 1e9,
      bytes: Buffer.from(r.bytes),
      origLen: r.origLen,
      linkType: r.linkType,
    });
  });
  return { info, recs };
}

mkdirSync(ARTIFACTS, { recursive: true });

// ------------------------------------------------------------------ cap backend, real sockets

liveDescribe("live capture with cap: findings as they happen", true, () => {
  it("reports each scenario's kinds and sides while capturing, immediate kinds within a second; -w is readable; SIGINT ends it with exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-live-"));
    const pcap = join(dir, "live.pcap");
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "-w", pcap, "--udp-timeout", "1"]);
    const steps: [string, string, string, string][] = [
      // script, case, kind, side
      ["rst-after-fin.py", "write-after-close", "rst-after-fin", "server"],
      ["connection-refused.py", "ipv4", "connection-refused", "client"],
      ["connection-refused.py", "ipv6", "connection-refused", "client"],
      ["zero-window.py", "stalled-reader", "zero-window", "server"],
      ["nagle-delay.py", "ipv4", "nagle-delay", "client"],
      ["time-wait-reuse.py", "server-tw-timestamps", "time-wait-reuse", "client"],
      ["ip-fragmentation.py", "ipv4", "ip-fragmentation", "client"], // last: it lowers lo's MTU
    ];
    for (const [script, kase, kind, side] of steps) {
      const before = findingsOf(run).filter((f) => f.kind === kind).length;
      const r = await scenario(run, script, kase);
      // Findings of flows that end print once the flow is closed and quiet for the linger
      // (1 s), or idle (UDP here: 1 s), checked every 250 ms: well within 5 s.
      const f = await waitFor(
        `${kind} after ${script} ${kase} (exit ${r.code}: ${r.stderr})`,
        () =>
          findingsOf(run)
            .filter((x) => x.kind === kind)
            .slice(before)[0],
        5000,
      );
      expect(f.side, `${kind} side`).toBe(side);
    }
    const findings = findingsOf(run);
    // Immediate kinds: printed within a second of the packet that completed the evidence.
    // rst-after-fin waits for the writer's FIN, which may follow the reset on the wire (it
    // then had closed: a warning); without one it is decided when the flow ends, after the
    // linger (1 s) and the next sweep (0.25 s). connection-refused is decided when the flow
    // ends too: a re-sent SYN may still be accepted (first SYN to flow end: linger + sweep).
    for (const f of findings.filter((x) => x.kind === "rst-after-fin" || x.kind === "connection-refused")) {
      expect(f.at - f.time, `${f.kind} delay`).toBeLessThan(1.8);
      expect(f.at - f.time).toBeGreaterThan(-0.05);
    }
    expect(findings.filter((f) => f.kind === "connection-refused")).toHaveLength(4);
    expect(findings.find((f) => f.kind === "connection-refused" && f.client!.startsWith("[::1]"))).toBeDefined();
    const reuse = findings.find((f) => f.kind === "time-wait-reuse")!;
    expect(reuse.measure.previousFlow).toBeGreaterThan(0);
    // Ended flows are reported as they end, not kept to the end.
    const flows = run.json().filter((j) => j.type === "flow");
    expect(flows.length).toBeGreaterThan(5);
    expect(flows.every((f) => f.why === "closed" || f.why === "idle" || f.why === "replaced")).toBe(true);

    process.kill(run.pid, "SIGINT");
    const x = await run.exited;
    expect(x.code, run.stderr()).toBe(0);
    const end = run.json().at(-1)!;
    expect(end.type).toBe("end");
    expect(end.stoppedBy).toBe("SIGINT");
    const live = end.live as { timestamps: string; packets: number; saved: { packets: number } };
    expect(live.timestamps).toBe("delivery");
    expect(live.saved.packets).toBe(live.packets);

    // The -w file: a classic pcap with every packet analysed, that analyze reads to the same kinds.
    const { info, recs } = await readPcap(pcap);
    expect(info.variant).toBe("pcap-us-le");
    expect(info.error).toBeNull();
    expect(recs.length).toBe(live.packets);
    expect(recs.every((r) => r.linkType === 1 && r.bytes.length <= r.origLen)).toBe(true);
    for (let i = 1; i < recs.length; i++) expect(recs[i]!.time).toBeGreaterThanOrEqual(recs[i - 1]!.time);
    const offline = JSON.parse(
      spawnSync(process.execPath, [CLI, "analyze", "-F", "json", pcap], { maxBuffer: 64 << 20 }).stdout.toString(),
    );
    const kinds = (fs: { kind: string; side: string | null }[]) => fs.map((f) => `${f.kind}/${f.side}`).sort();
    expect(kinds(findings)).toEqual(kinds(offline.findings));
    rmSync(dir, { recursive: true, force: true });
  });

  it("text output: findings with explanations, then at Ctrl-C (SIGINT to the process group) the summary report, saying timestamps are taken on delivery", async () => {
    const run = await startLive(["--via", "cap", "-i", "lo", "tcp port 5020"]);
    expect((await scenario(run, "rst-after-fin.py", "write-after-close")).code).toBe(0);
    await waitFor("the finding", () => run.lines.some((l) => /ERROR rst-after-fin/.test(l.text)));
    await waitFor("the flow's end", () => run.lines.some((l) => /ended \(closed\)/.test(l.text)), 5000);
    ctrlC(run);
    expect((await run.exited).code).toBe(0);
    const text = run.lines.map((l) => l.text).join("\n");
    expect(text).toMatch(/ERROR rst-after-fin {2}flow 1 tcp 127\.0\.0\.1:\d+ → 127\.0\.0\.1:5020 \(server\)/);
    expect(text).toMatch(/One program called close\(\) on its socket/); // the explanation, streamed
    expect(text).toMatch(
      /Summary \(Ctrl-C\)\nCapture lo \(live, filter "tcp port 5020"\) {2}\(live via cap, timestamps taken on delivery, EN10MB\)/,
    );
    expect(text).toMatch(/11 packets/);
    expect(text).toMatch(/Findings \(1\)/);
    expect(text).toMatch(/timestamps: taken when each packet was delivered to sockscope, not by the kernel/);
    expect(text).toMatch(/the kernel's drops: not counted, libpcap's counters are not available through cap/);
    expect(text).toMatch(/cap cannot read the kernel's drop counter: packets the kernel dropped are not counted here/);
  });

  it("SIGTERM, -c and --duration end the capture cleanly with the summary", async () => {
    const a = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "-c", "3"]);
    await scenario(a, "connection-refused.py", "ipv4");
    expect((await a.exited).code).toBe(0);
    const endA = a.json().at(-1)!;
    expect(endA.stoppedBy).toBe("count");
    expect((endA.capture as { packets: number }).packets).toBe(3);

    const t0 = Date.now();
    const b = await startLive(["--via", "cap", "-i", "lo", "--duration", "1"]);
    expect((await b.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(b.lines.map((l) => l.text).join("\n")).toMatch(/Summary \(duration\)/);

    const c = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl"]);
    process.kill(c.pid, "SIGTERM");
    expect((await c.exited).code).toBe(0);
    expect(c.json().at(-1)!.stoppedBy).toBe("SIGTERM");
  });

  it("display filters (--port) pick the flows shown; every packet is still analysed", async () => {
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "--port", "5001"]);
    await scenario(run, "connection-refused.py", "ipv4");
    await scenario(run, "connection-refused.py", "ipv6");
    await waitFor("two findings", () => findingsOf(run).length === 2);
    process.kill(run.pid, "SIGINT");
    await run.exited;
    const fs = findingsOf(run);
    expect(fs.every((f) => f.server === "[::1]:5001")).toBe(true);
    expect((run.json().at(-1)!.capture as { packets: number }).packets).toBe(8);
  });
});

// ------------------------------------------------------------------ tcpdump backend

liveDescribe("live capture --via tcpdump", false, () => {
  it("same findings from tcpdump's stream, kernel timestamps and libpcap's counters in the summary", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-live-"));
    const pcap = join(dir, "via.pcap");
    const run = await startLive(["--via", "tcpdump", "-i", "lo", "-F", "jsonl", "-w", pcap]);
    await scenario(run, "rst-after-fin.py", "write-after-close");
    await scenario(run, "connection-refused.py", "ipv4");
    await waitFor("findings", () => findingsOf(run).length >= 3);
    const fs = findingsOf(run);
    const rst = fs.find((f) => f.kind === "rst-after-fin")!;
    expect(rst.side).toBe("server");
    // Decided when the flow ends (no FIN from the writer): linger 1 s, then the next sweep.
    expect(rst.at - rst.time).toBeLessThan(2.5);
    expect(fs.filter((f) => f.kind === "connection-refused").map((f) => f.side)).toEqual(["client", "client"]);
    process.kill(run.pid, "SIGINT");
    expect((await run.exited).code).toBe(0);
    const end = run.json().at(-1)!;
    const live = end.live as { timestamps: string; packets: number; counters: Record<string, number | null> };
    expect(live.timestamps).toBe("kernel");
    expect(live.counters.droppedByKernel).toBe(0);
    expect(live.counters.receivedByFilter).toBeGreaterThanOrEqual(live.packets);
    const { recs } = await readPcap(pcap);
    expect(recs.length).toBe(live.packets);
    rmSync(dir, { recursive: true, force: true });
  });

  it("Ctrl-C (SIGINT to the process group, tcpdump included): text summary names kernel timestamps and tcpdump's counters", async () => {
    const run = await startLive(["--via", "tcpdump", "-i", "lo", "tcp port 5000"]);
    await scenario(run, "connection-refused.py", "ipv4");
    await waitFor("findings", () => run.lines.filter((l) => /ERROR connection-refused/.test(l.text)).length === 2);
    ctrlC(run);
    expect((await run.exited).code).toBe(0);
    const text = run.lines.map((l) => l.text).join("\n");
    expect(text).toMatch(/\(live via tcpdump, kernel timestamps, EN10MB\)/);
    expect(text).toMatch(/packets: 4 analysed; tcpdump: 4 captured, \d+ received by filter, 0 dropped by kernel/);
  });
});

// ------------------------------------------------------------------ errors

liveDescribe("live capture errors: one line, exit 2", false, () => {
  const oneLine = (stderr: string) => {
    const lines = stderr
      .trim()
      .split("\n")
      .filter((l) => !/listening on/.test(l));
    expect(lines, stderr).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
    return lines[0]!;
  };
  const live = (args: string[], pre: string[] = []) => {
    const r = spawnSync(
      pre[0] ?? process.execPath,
      [...pre.slice(1), ...(pre.length ? [process.execPath] : []), CLI, "live", ...args],
      { timeout: 20_000 },
    );
    return { code: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString() };
  };
  const backends = capError === null ? ["cap", "tcpdump"] : ["tcpdump"];
  for (const via of backends) {
    it(`--via ${via}: bad filter shows libpcap's error`, () => {
      const r = live(["--via", via, "-i", "lo", "tcp port"]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/bad capture filter "tcp port": .*can't parse filter expression: syntax error/);
    });
    it(`--via ${via}: no such interface`, () => {
      const r = live(["--via", via, "-i", "nosuch0"]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/cannot capture on nosuch0: no such interface .*sockscope interfaces/);
    });
    it(`--via ${via}: permission denied says how to fix it`, () => {
      const r = live(["--via", via, "-i", "lo"], ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(
        /cannot capture on lo: permission denied .*run as root \(sudo\), or give \w+ the capture capabilities: sudo setcap cap_net_raw,cap_net_admin\+eip/,
      );
    });
    it(`--via ${via}: a lost interface ends the capture with one line, after the summary`, async () => {
      const run = await startLive(
        ["--via", via, "-i", "va"],
        "ip link set lo up && ip link add va type veth peer name vb && ip link set va up && ip link set vb up",
      );
      await run.inNs("ip", ["link", "del", "va"]);
      const x = await run.exited;
      expect(x.code).toBe(2);
      expect(oneLine(run.stderr())).toMatch(/^sockscope: capture on va stopped: the interface went away/);
      expect(run.lines.map((l) => l.text).join("\n")).toMatch(/Summary/);
    });
  }
  it("unknown --via and bad numbers are usage errors", () => {
    expect(live(["--via", "wireshark"]).code).toBe(2);
    expect(live(["-c", "many"]).code).toBe(2);
    expect(live(["--duration", "-1"]).code).toBe(2);
  });
});

// ------------------------------------------------------------------ timestamp drift

liveDescribe("delivery timestamps against the kernel's", true, () => {
  it("cap's delivery stamps trail tcpdump's kernel timestamps of the same packets by well under a few ms", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-drift-"));
    const ours = join(dir, "cap.pcap"),
      kernel = join(dir, "kernel.pcap");
    const run = await startLive(["--via", "cap", "-i", "lo", "-F", "jsonl", "-w", ours, "tcp"]);
    const td = spawn(
      "nsenter",
      [
        "-t",
        String(run.pid),
        "-n",
        "tcpdump",
        "-i",
        "lo",
        "--immediate-mode",
        "-U",
        "-B",
        "8192",
        "--time-stamp-precision=nano",
        "-w",
        kernel,
        "tcp",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let tdErr = "";
    td.stderr!.on("data", (d) => {
      tdErr += d;
    });
    const tdClosed = new Promise((r) => td.on("close", r));
    try {
      await waitFor("tcpdump", () => /listening on/.test(tdErr));
      await sleep(300);
      for (const [s, k] of [
        ["nagle-delay.py", "ipv4"],
        ["rst-after-fin.py", "write-after-close"],
        ["nagle-delay.py", "ipv6"],
      ] as const) {
        await scenario(run, s, k); // traffic only: the scripts' own timing checks do not matter here
      }
      await sleep(500);
    } finally {
      td.kill("SIGINT");
      await tdClosed;
    }
    const early = await Promise.race([run.exited, sleep(10).then(() => null)]);
    expect(early, `live ended early: ${run.stderr()} ${JSON.stringify(early)} ${run.lines.at(-1)?.text}`).toBeNull();
    process.kill(run.pid, "SIGINT");
    expect((await run.exited).code, run.stderr()).toBe(0);
    const a = (await readPcap(ours)).recs,
      b = (await readPcap(kernel)).recs;
    // Same packets (loopback frames are unique by their TCP timestamps and sequence numbers).
    const byBytes = new Map<string, number[]>();
    for (const r of b) {
      const k = r.bytes.toString("hex");
      byBytes.set(k, [...(byBytes.get(k) ?? []), r.time]);
    }
    const d: number[] = [];
    for (const r of a) {
      const t = byBytes.get(r.bytes.toString("hex"))?.shift();
      if (t !== undefined) d.push((r.time - t) * 1000);
    }
    expect(a.length).toBeGreaterThan(100);
    expect(d.length).toBe(a.length);
    const s = [...d].sort((x, y) => x - y);
    const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
    // How far the wall clock (the kernel's stamps) moved against the monotonic clock ours
    // follow during the capture: a VM's clock is adjusted in steps of a fraction of a ms.
    const end = run.json().find((l) => l.type === "end") as
      | { live?: { counters?: { wallOffsetMs?: number | null } } }
      | undefined;
    const wallOffsetMs = end?.live?.counters?.wallOffsetMs ?? 0;
    const stats = {
      packets: s.length,
      minMs: s[0]!,
      medianMs: q(0.5),
      p95Ms: q(0.95),
      maxMs: s[s.length - 1]!,
      wallOffsetMs,
    };
    console.log(
      `cap delivery stamp - kernel timestamp over ${stats.packets} packets: min ${stats.minMs.toFixed(3)} ms, ` +
        `median ${stats.medianMs.toFixed(3)} ms, p95 ${stats.p95Ms.toFixed(3)} ms, max ${stats.maxMs.toFixed(3)} ms; wall clock moved ${wallOffsetMs.toFixed(3)} ms`,
    );
    writeFileSync(join(ARTIFACTS, "live-drift.json"), JSON.stringify(stats, null, 2) + "\n");
    // Never noticeably before the kernel saw the packet. The mapping itself is exact to µs
    // (the LiveClock test below); what the wall clock moved ahead meanwhile, which the
    // kernel's stamps follow, is allowed for, and a fraction of a ms more for what these
    // VMs' clocks were once seen to disagree by within one run (median −0.3 ms in CI) ...
    expect(stats.minMs).toBeGreaterThan(-0.5 - Math.max(0, wallOffsetMs));
    // ... and shortly after: docs/PERFORMANCE.md states the measured figures. The tail is the
    // scheduler on a busy machine (tens of ms seen on 2 shared cores); bound it loosely.
    expect(stats.medianMs).toBeLessThan(5);
    expect(stats.maxMs).toBeLessThan(1000);
    rmSync(dir, { recursive: true, force: true });
  });
});

// ------------------------------------------------------------------ no root needed

describe("the live clock", () => {
  it("maps the monotonic clock onto the wall clock to within tens of µs, not to Date.now()'s whole ms", () => {
    // wallOffsetMs anchors again on a Date.now() millisecond edge: right after the start the
    // two anchors agree to their brackets' width. An anchor on Date.now() alone would be
    // off by up to a whole millisecond (it truncates), and so would every packet stamp.
    const spin = (ms: number) => {
      const t = performance.now();
      while (performance.now() - t < ms);
    };
    // Start each clock at a different point of a millisecond (0.1-0.9 ms past an edge).
    const offsets = Array.from({ length: 5 }, (_, i) => {
      spin(0.1 + 0.2 * i);
      return Math.abs(new LiveClock().wallOffsetMs());
    }).sort((a, b) => a - b);
    expect(offsets[2], offsets.join(" ")).toBeLessThan(0.05);
  });
});

describe("live without libpcap", () => {
  it("a missing or unbuilt cap is explained with the commands that fix it, not a stack trace", () => {
    if (!built) {
      console.log("skipping: npm run build first");
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "sockscope-nocap-"));
    cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
    cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
    mkdirSync(join(dir, "node_modules"));
    for (const m of readdirSync(join(ROOT, "node_modules"))) {
      if (m !== "cap" && !m.startsWith(".")) symlinkSync(join(ROOT, "node_modules", m), join(dir, "node_modules", m));
    }
    const cli = join(dir, "dist", "cli", "main.js");
    const r1 = spawnSync(process.execPath, [cli, "live", "--via", "cap", "-i", "lo"], { timeout: 20_000 });
    expect(r1.status).toBe(2);
    const e1 = r1.stderr.toString();
    expect(e1.trim().split("\n")).toHaveLength(1);
    expect(e1).toMatch(
      /optional package "cap" .* not installed.*apt-get install libpcap-dev.*npm install \(or npm rebuild cap\).*--via tcpdump/,
    );
    // Installed but its addon not built (install scripts blocked, or no compiler).
    mkdirSync(join(dir, "node_modules", "cap", "lib"), { recursive: true });
    cpSync(join(ROOT, "node_modules", "cap", "lib"), join(dir, "node_modules", "cap", "lib"), { recursive: true });
    cpSync(join(ROOT, "node_modules", "cap", "package.json"), join(dir, "node_modules", "cap", "package.json"));
    const r2 = spawnSync(process.execPath, [cli, "live", "--via", "cap", "-i", "lo"], { timeout: 20_000 });
    expect(r2.status).toBe(2);
    expect(r2.stderr.toString()).toMatch(/native addon, which was not built.*npm rebuild cap/);
    // Reading files does not need it.
    expect(
      spawnSync(process.execPath, [cli, "analyze", join(ROOT, "fixtures", "rst-after-fin", "write-after-close.pcap")])
        .status,
    ).toBe(0);
    // interfaces falls back to the system's list, and says why.
    const r3 = spawnSync(process.execPath, [cli, "interfaces"]);
    expect(r3.status).toBe(0);
    expect(r3.stdout.toString()).toMatch(/^lo\s/m);
    expect(r3.stderr.toString()).toMatch(/listed from the system, not libpcap/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("interfaces lists lo as the loopback with its addresses", () => {
    if (!built) {
      console.log("skipping: npm run build first");
      return;
    }
    const r = spawnSync(process.execPath, [CLI, "interfaces", "-F", "json"]);
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout.toString()) as {
      interfaces: { name: string; loopback: boolean; addresses: string[] }[];
    };
    const lo = list.interfaces.find((i) => i.name === "lo");
    expect(lo?.loopback).toBe(true);
    expect(lo?.addresses).toContain("127.0.0.1");
  });
});

// ------------------------------------------------------------------ the streaming analysis, on synthetic packets

describe("live streaming analysis (FlowTable.expire through LiveSession)", () => {
  it("ends closed flows after the linger and idle ones after the timeout; findings come while capturing", () => {
    const ended: [number, string][] = [];
    const found: Finding[] = [];
    const s = new LiveSession({ onFlowEnd: (fr, why) => ended.push([fr.id, why]), onFinding: (f) => found.push(f) });
    const tr = new Traffic(s.onPacket);
    const t0 = 1_800_000_000;
    tr.connection(t0, 40000, 80, 1000);
    tr.connection(t0 + 0.01, 40001, 80, 2000, false); // left open
    tr.udp(t0 + 0.02, true, 50000, 53, 40);
    expect(s.tick(t0 + 0.5)).toBe(0); // closed, but not quiet for the linger yet
    expect(s.tick(t0 + 1.1)).toBe(1);
    expect(ended).toEqual([[1, "closed"]]);
    expect(found.map((f) => `${f.kind}/${f.flow}`)).toEqual(["time-wait/1"]);
    expect(s.engine.flows.all.map((f) => f.id)).toEqual([2, 3]); // the ended flow is forgotten
    s.tick(t0 + 61);
    expect(ended.at(-1)).toEqual([3, "idle"]); // UDP: 60 s
    s.tick(t0 + 301);
    expect(ended.at(-1)).toEqual([2, "idle"]); // TCP: 300 s
    expect(s.activeFlows).toBe(0);
    expect(s.engine.flows.all).toHaveLength(0);
  });

  it("a new SYN on the 4-tuple of a flow ended seconds ago is still its new incarnation (time-wait-reuse)", () => {
    const found: Finding[] = [];
    const s = new LiveSession({ onFinding: (f) => found.push(f) });
    const tr = new Traffic(s.onPacket);
    const t0 = 1_800_000_000;
    tr.connection(t0, 40000, 80, 1000);
    s.tick(t0 + 2);
    expect(s.activeFlows).toBe(0);
    tr.connection(t0 + 10, 40000, 80, 5_000_000);
    s.tick(t0 + 12);
    const reuse = found.find((f) => f.kind === "time-wait-reuse");
    expect(reuse?.flow).toBe(2);
    expect(reuse?.measure.previousFlow).toBe(1);
    expect(reuse?.measure.sinceCloseMs).toBeGreaterThan(9000);
    // Beyond 2·MSL (60 s) it is just a new connection.
    tr.connection(t0 + 100, 40000, 80, 9_000_000);
    s.finish();
    expect(found.filter((f) => f.kind === "time-wait-reuse")).toHaveLength(1);
  });

  it("memory stays flat over a simulated hour of traffic (10 connections a second, some left open, UDP)", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    let findings = 0;
    const s = new LiveSession({
      onFinding: () => {
        findings++;
      },
    });
    const tr = new Traffic(s.onPacket);
    const t0 = 1_800_000_000;
    let heapAt10 = 0,
      maxActive = 0,
      maxAll = 0;
    let isn = 1;
    for (let sec = 0; sec < 3600; sec++) {
      for (let k = 0; k < 10; k++) {
        const n = sec * 10 + k;
        // Client ports cycle through 20000 values: 4-tuples are reused every ~33 minutes.
        tr.connection(t0 + sec + k * 0.1, 30000 + (n % 20000), 8080, (isn += 100_003) >>> 0, n % 97 !== 0);
      }
      tr.udp(t0 + sec, true, 50000 + (sec % 300), 53, 60);
      tr.udp(t0 + sec + 0.001, false, 50000 + (sec % 300), 53, 120);
      for (let q = 1; q <= 4; q++) s.tick(t0 + sec + q * 0.25);
      maxActive = Math.max(maxActive, s.activeFlows);
      maxAll = Math.max(maxAll, s.engine.flows.all.length);
      if (sec === 600) {
        gc();
        heapAt10 = process.memoryUsage().heapUsed;
      }
    }
    gc();
    const heapAt60 = process.memoryUsage().heapUsed;
    console.log(
      `simulated hour: ${tr.frame} packets, ${s.tcpFlows + s.udpFlows} flows, ${findings} findings; ` +
        `active flows at most ${maxActive}; heap ${(heapAt10 / 1048576).toFixed(1)} MB at 10 min, ${(heapAt60 / 1048576).toFixed(1)} MB at 60 min`,
    );
    // Open connections (1 in 97) live for the idle timeout (300 s), UDP flows 60 s, closed ones ~1 s.
    expect(maxActive).toBeLessThan((10 * 300) / 97 + 60 + 30 + 50);
    expect(maxAll).toBeLessThan(maxActive + 50);
    expect(heapAt60 - heapAt10).toBeLessThan(8 * 1048576);
  });
});

describe("-w writer", () => {
  it("writes a classic pcap the reader reads back, header only when nothing was captured", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-w-"));
    const w = new PcapWriter(join(dir, "a.pcap"), 65535);
    const tr = new Traffic((r) => w.write(r));
    tr.connection(1_800_000_000.123456, 40000, 80, 7);
    w.close(1);
    const { info, recs } = await readPcap(join(dir, "a.pcap"));
    expect(info.variant).toBe("pcap-us-le");
    expect(recs).toHaveLength(8);
    expect(recs[0]!.time).toBeCloseTo(1_800_000_000.123456, 6);
    const empty = new PcapWriter(join(dir, "b.pcap"), 96);
    empty.close(113);
    const b = await readPcap(join(dir, "b.pcap"));
    expect(b.recs).toHaveLength(0);
    expect(b.info.interfaces[0]).toMatchObject({ linkType: 113, snapLen: 96 });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("findings on flows open while the capture dropped packets", () => {
  it("say their evidence is incomplete, with the count in measure.captureDroppedPackets; other flows' findings stay as they are", () => {
    const printed: Finding[] = [];
    const s = new LiveSession({ onFinding: (f) => printed.push(f) });
    const tr = new Traffic(s.onPacket);
    const t0 = 1_800_000_000;
    tr.connection(t0, 40000, 80, 1000);
    s.tick(t0 + 2);
    s.noteDrops(t0 + 99.5, t0 + 100.5, 7);
    tr.connection(t0 + 100, 40001, 80, 2000);
    s.tick(t0 + 102);
    // As printed while capturing: the drops were known before the second flow's finding.
    expect(printed.map((f) => f.measure.captureDroppedPackets)).toEqual([undefined, 7]);
    s.finish();
    const r = s.report(newCaptureInfo("synthetic"));
    const tw = r.findings.filter((f) => f.kind === "time-wait");
    expect(tw.map((f) => f.flow)).toEqual([1, 2]);
    expect(tw[0]!.measure.captureDroppedPackets).toBeUndefined();
    expect(tw[0]!.summary).not.toMatch(/evidence incomplete/);
    expect(tw[1]!.measure.captureDroppedPackets).toBe(7);
    expect(tw[1]!.summary).toMatch(
      /evidence incomplete: the capture dropped 7 packet\(s\) while this flow was open or within a second of it/,
    );
    expect(
      r.warnings.some((w) => /1 finding\(s\) are on flows that were open while the capture dropped packets/.test(w)),
    ).toBe(true);
  });
});
