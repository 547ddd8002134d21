/**
 * The flow-table bound (--max-flows): when the table is full, closed flows and flows quiet
 * for EVICT_MIN_IDLE_SEC make room; busy flows are never evicted (they would come straight
 * back as new flows and the table would churn), so connections that come while every flow
 * is busy are not tracked, counted, and said in a warning. Memory stays bounded either way.
 * Closed connections retire after RETIRE_CLOSED_AFTER_SEC quiet, so a long capture's
 * analyzer state follows the connections still open.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFile } from "../src/run/pipeline.js";
import { Engine, RETIRE_CLOSED_AFTER_SEC } from "../src/run/packet-loop.js";
import { EVICT_MIN_IDLE_SEC, type FlowEndReason, type FlowListener } from "../src/decode/flow/lifecycle.js";
import type { Flow } from "../src/decode/flow/record.js";
import { FlowTable } from "../src/decode/flow/table.js";
import { DecodedPacket } from "../src/decode/wire/packet.js";
import { readCapture } from "../src/capture/reader.js";
import { defineAnalyzer } from "../src/analyze/analyzer.js";
import { ETH_IPV4, ethernet, ipv4, pcapFile, tcp, type PcapRecord } from "./helpers/build.js";
import { CLI } from "./helpers/paths.js";

const SYN = 0x02,
  ACK = 0x10,
  FIN = 0x01,
  PSH = 0x08;
const CLIENT = 0x0a000001,
  SERVER = 0x0a000002;
const dir = mkdtempSync(join(tmpdir(), "sockscope-flows-"));

/** One TCP segment as a pcap record at `t` seconds. */
function seg(
  t: number,
  port: number,
  fromClient: boolean,
  seq: number,
  ack: number,
  flags: number,
  data = 0,
): PcapRecord {
  const [src, dst, sport, dport] = fromClient ? [CLIENT, SERVER, port, 80] : [SERVER, CLIENT, 80, port];
  const payload = tcp({ srcPort: sport, dstPort: dport, seq, ack, flags, win: 65535, payload: new Uint8Array(data) });
  return {
    tsSec: Math.floor(t),
    tsFrac: Math.round((t % 1) * 1e6),
    data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 6, payload })),
  };
}

function handshake(t: number, port: number): PcapRecord[] {
  return [seg(t, port, true, 100, 0, SYN), seg(t, port, false, 500, 101, SYN | ACK), seg(t, port, true, 101, 501, ACK)];
}

function close(t: number, port: number): PcapRecord[] {
  return [
    seg(t, port, true, 101, 501, FIN | ACK),
    seg(t, port, false, 501, 102, FIN | ACK),
    seg(t, port, true, 102, 502, ACK),
  ];
}

function write(name: string, records: PcapRecord[]): string {
  const path = join(dir, name);
  writeFileSync(path, pcapFile(records));
  return path;
}

describe("a full flow table", () => {
  it("evicts closed flows to make room: every connection is tracked", async () => {
    const recs: PcapRecord[] = [];
    for (let i = 0; i < 300; i++) recs.push(...handshake(i * 0.01, 10000 + i), ...close(i * 0.01 + 0.005, 10000 + i));
    const r = await analyzeFile(write("sequential.pcap", recs), { maxFlows: 100 });
    expect(r.flows.length).toBe(300);
    expect(r.warnings.some((w) => /flow table full: \d+ idle flow\(s\) evicted early/.test(w))).toBe(true);
    expect(r.warnings.some((w) => /not analysed/.test(w))).toBe(false);
  });

  it(`evicts flows quiet for ${EVICT_MIN_IDLE_SEC} s, not busy ones: connections that come while all are busy go untracked`, async () => {
    const recs: PcapRecord[] = [];
    // 100 connections open and stay busy; 50 more arrive while they are.
    for (let i = 0; i < 100; i++) recs.push(...handshake(i * 0.001, 20000 + i));
    for (let i = 0; i < 50; i++) recs.push(...handshake(1 + i * 0.001, 30000 + i));
    for (let i = 0; i < 100; i++) recs.push(seg(2 + i * 0.001, 20000 + i, true, 101, 501, PSH | ACK, 10));
    const busy = await analyzeFile(write("busy.pcap", recs), { maxFlows: 100 });
    expect(busy.flows.length).toBe(100);
    // The first 100, all of them, and none of the late ones.
    expect(busy.flows.every((f) => Number(f.client.split(":")[1]) < 30000)).toBe(true);
    expect(busy.warnings).toContainEqual(
      expect.stringMatching(
        /^flow table full and no flow idle for 60 s: 150 packet\(s\) of connections that came then were not analysed/,
      ),
    );

    // The same 50 late connections, after the first 100 have been quiet long enough.
    const later = recs
      .slice(0, 300)
      .concat(...Array.from({ length: 50 }, (_, i) => handshake(1 + EVICT_MIN_IDLE_SEC + i * 0.001, 30000 + i)));
    const idle = await analyzeFile(write("idle.pcap", later), { maxFlows: 100 });
    expect(idle.flows.length).toBe(150);
    expect(idle.warnings.some((w) => /not analysed/.test(w))).toBe(false);
    expect(idle.warnings.some((w) => /idle flow\(s\) evicted early/.test(w))).toBe(true);
  });
});

describe("closed connections retire", () => {
  it(`after ${RETIRE_CLOSED_AFTER_SEC} s quiet: analyzers conclude and free their state; later packets only count`, async () => {
    const recs = [...handshake(0, 40000), ...close(0.5, 40000), ...handshake(RETIRE_CLOSED_AFTER_SEC + 5, 40001)];
    const path = write("retire.pcap", recs);
    const engine = new Engine();
    await readCapture(path, engine.onPacket);
    const [first, second] = engine.flows.all;
    expect(first!.retired).toBe(true);
    expect(first!.attachment.length).toBe(0); // state freed before the capture ended
    expect(second!.retired).toBe(false);
    expect(engine.findings.map((f) => [f.flow, f.kind])).toEqual([[1, "time-wait"]]);
    engine.finish();

    // A stray segment on the retired 4-tuple joins its flow, counted, but analysed no more:
    // the report is the one without it, but for the packet counts.
    const late = await analyzeFile(
      write("late.pcap", [...recs, seg(RETIRE_CLOSED_AFTER_SEC + 6, 40000, false, 502, 102, PSH | ACK, 10)]),
    );
    const plain = await analyzeFile(path);
    expect(late.flows[0]!.packets.server).toBe(plain.flows[0]!.packets.server + 1);
    expect(late.findings).toEqual(plain.findings);
  });

  it("its analyzers conclude at the moment it became retirable, by the run's own quiet time; later packets keep theirs", async () => {
    // Each record's frame and time as the analyzers see them (FindingSink.frame / time).
    const seen: [string, number, number, number][] = [];
    const probe = defineAnalyzer<null>({
      id: "clock-probe",
      title: "",
      severity: "info",
      family: "tcp-closing",
      wire: "",
      explanation: "",
      references: [],
      onTcpSegment(_s, flow, _seg, _p, out) {
        seen.push(["segment", flow.id, out.frame, out.time]);
      },
      onFlowEnd(_s, flow, out) {
        seen.push(["end", flow.id, out.frame, out.time]);
      },
    });
    // Flow 1 closes at 0.5 s (frames 4-6); flow 2 opens at 20 s, 14.5 s later than quiet enough.
    const path = write("retire-clock.pcap", [...handshake(0, 40000), ...close(0.5, 40000), ...handshake(20, 40001)]);
    for (const quiet of [RETIRE_CLOSED_AFTER_SEC, 5]) {
      seen.length = 0;
      const engine = new Engine({ analyzers: [probe], retireClosedAfterSec: quiet });
      await readCapture(path, engine.onPacket);
      engine.finish();
      expect(seen.filter((e) => e[0] === "end")).toEqual([
        ["end", 1, 6, 0.5 + quiet], // retired while frame 8 was analysed: the clock of its last packet plus the quiet
        ["end", 2, Infinity, 20], // ended with the capture
      ]);
      expect(seen.filter((e) => e[0] === "segment" && e[2] >= 7)).toEqual([
        ["segment", 2, 7, 20],
        ["segment", 2, 8, 20],
        ["segment", 2, 9, 20],
      ]);
    }
  });

  it("not on one far-future timestamp (captures merged from several interfaces)", async () => {
    const recs = [
      ...handshake(0, 40000),
      ...close(0.5, 40000),
      seg(100, 40001, true, 100, 0, SYN),
      seg(0.6, 40000, false, 501, 102, FIN | ACK),
      seg(0.61, 40000, true, 102, 502, ACK),
    ]; // the FIN again, its ACK lost
    const engine = new Engine();
    await readCapture(write("future.pcap", recs), engine.onPacket);
    expect(engine.flows.all[0]!.retired).toBe(false); // one record at t=100 does not move the clock
  });

  it("not a connect attempt its client reset: connect-timeout measures it to the capture's end", async () => {
    const recs = [
      seg(1, 40002, true, 100, 0, SYN),
      seg(1.1, 40002, true, 101, 0, 0x04),
      ...handshake(40, 40003),
      ...handshake(41, 40004),
    ];
    const engine = new Engine();
    await readCapture(write("reset-connect.pcap", recs), engine.onPacket);
    expect(engine.flows.all[0]!.endedFrame).not.toBe(0);
    expect(engine.flows.all[0]!.retired).toBe(false);
  });
});

describe("the flow table's owner (FlowListener)", () => {
  /** A TCP segment of one connection (client port 40100 to port 80) as the decoders leave it. */
  function decoded(fromClient: boolean, seq: number, ack: number, flags: number): DecodedPacket {
    const p = new DecodedPacket();
    p.ipVersion = 4;
    p.l4 = p.ipProto = 6;
    p.ipTotalLen = 40;
    [p.src0, p.dst0, p.srcPort, p.dstPort] = fromClient ? [CLIENT, SERVER, 40100, 80] : [SERVER, CLIENT, 80, 40100];
    [p.seq, p.ack, p.tcpFlags, p.win] = [seq, ack, flags, 65535];
    return p;
  }

  /** Keeps a label on each flow and logs what the table tells and asks it. */
  class Owner implements FlowListener<string> {
    readonly log: string[] = [];
    letRetire = false;
    flowStarted(flow: Flow<string>): void {
      flow.attachment = `state of flow ${flow.id}`;
    }
    flowEnded(flow: Flow<string>, why: FlowEndReason): void {
      this.log.push(`ended ${flow.attachment} (${why})`);
    }
    flowRetired(flow: Flow<string>): void {
      this.log.push(`retired ${flow.attachment}`);
    }
    mayRetire(flow: Flow<string>): boolean {
      this.log.push(`asked for ${flow.attachment}`);
      return this.letRetire;
    }
  }

  it("keeps the owner's state on the flow and lets the owner keep a closed flow from retiring", () => {
    const owner = new Owner();
    const table = new FlowTable(owner, { maxFlows: 10, retireAfterSec: 15 });
    const segments = [
      decoded(true, 100, 0, SYN),
      decoded(false, 500, 101, SYN | ACK),
      decoded(true, 101, 501, ACK),
      decoded(true, 101, 501, FIN | ACK),
      decoded(false, 501, 102, FIN | ACK),
      decoded(true, 102, 502, ACK),
    ];
    segments.forEach((p, i) => {
      table.advanceClock(i * 0.1);
      const flow = table.lookup(p, i + 1, i * 0.1)!;
      table.trackTcp(flow, table.dir, p, i + 1, i * 0.1);
    });
    const flow = table.all[0]!;
    expect(flow.attachment).toBe("state of flow 1");
    expect(flow.endedFrame).toBe(6);

    table.advanceClock(20); // quiet for 15 s: the owner is asked, and says no
    expect(flow.retired).toBe(false);
    expect(owner.log).toEqual(["asked for state of flow 1"]);

    owner.letRetire = true;
    table.advanceClock(22); // a refused flow leaves the sweep's queue: it is asked again when a packet comes
    expect(flow.retired).toBe(false);
    table.lookup(decoded(false, 502, 102, ACK), 7, 22);
    expect(flow.retired).toBe(true);
    table.finish();
    expect(owner.log).toEqual([
      "asked for state of flow 1",
      "asked for state of flow 1",
      "retired state of flow 1",
      "ended state of flow 1 (capture-end)",
    ]);
  });
});

describe("memory per open flow", () => {
  it("a concurrently open TCP connection costs under 5.2 KB of heap (analyzers that cannot fire yet keep no state)", async () => {
    // Heap after minus heap before, over 10 000 connections open at once (handshake and a
    // request and answer each): the open-flow part of what a connection costs (the whole,
    // report included, is docs/PERFORMANCE.md's figure). About 4.8 KB here since the segment
    // facts moved to one pool per table (decode/flow/segment-facts.ts: its 536 B a
    // connection are an array buffer, not heap) and analyzer slots are made at their final
    // length; 5.4 KB before. The bound keeps headroom: the figure moves by a few hundred
    // bytes with the machine's load. Analyzers that kept state before their event (a FIN,
    // RST, URG, zero window, reused 4-tuple) would add about 1 KB.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const n = 10_000,
      records: PcapRecord[] = [];
    for (let i = 0; i < n; i++) records.push(...handshake(i * 1e-4, 10_000 + i));
    for (let i = 0; i < n; i++) {
      records.push(
        seg(1 + i * 1e-4, 10_000 + i, true, 101, 501, PSH | ACK, 64),
        seg(1 + i * 1e-4, 10_000 + i, false, 501, 165, PSH | ACK, 64),
      );
    }
    const path = write("open-flows.pcap", records);
    const engine = new Engine({});
    gc();
    const before = process.memoryUsage().heapUsed;
    await readCapture(path, engine.onPacket);
    gc();
    const perFlow = (process.memoryUsage().heapUsed - before) / n;
    expect(engine.flows.all.length).toBe(n);
    expect(perFlow, `${perFlow.toFixed(0)} B per flow`).toBeLessThan(5.2 * 1024);
    engine.finish();
  });
});

describe("memory per closed connection", () => {
  /** `n` short connections one after another, 1 ms apart: handshake, request, answer, FIN both ways. */

  it("ended flows handed over mid-capture keep their ids, order and the 4-tuple's earlier connection", async () => {
    // 1 500 ports used twice: the second connection on each replaces the first (a new ISN
    // after a FIN exchange), so flows end out of id order, many batches before the end.
    const ports = 1_500,
      records: PcapRecord[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < ports; i++) {
        const t = round * 2 + i * 1e-3,
          port = 10_000 + i,
          isn = 100 + round * 10_000;
        records.push(
          seg(t, port, true, isn, 0, SYN),
          seg(t + 1e-4, port, false, 500, isn + 1, SYN | ACK),
          seg(t + 2e-4, port, true, isn + 1, 501, FIN | ACK),
          seg(t + 3e-4, port, false, 501, isn + 2, FIN | ACK),
          seg(t + 4e-4, port, true, isn + 2, 502, ACK),
        );
      }
    }
    const r = await analyzeFile(write("reused-ports.pcap", records));
    expect(r.flows.map((f) => f.id)).toEqual(Array.from({ length: 2 * ports }, (_, i) => i + 1));
    expect(r.flows.slice(0, ports).every((f) => f.previous === null)).toBe(true);
    expect(r.flows.slice(ports).map((f) => f.previous)).toEqual(Array.from({ length: ports }, (_, i) => i + 1));
    expect(r.flows[ports]!.isn).toEqual({ client: 10_100, server: 500 });
    expect(r.findings.filter((f) => f.kind === "time-wait-reuse").length).toBe(ports);
  });

  it("a connection that has ended costs under 1 KB to the report, its time-wait finding included", async () => {
    // What the engine holds after the capture, per connection: a ClosedFlows row (140 B,
    // off the JS heap) and its time-wait finding (about 0.67 KB), no longer the Flow
    // (1.2 KB of heap and its facts). Measured as the slope between 10 000 and 30 000
    // connections, so the engine's fixed costs do not count. About 0.8 KB here, 1.9 KB
    // (heap only) when ended flows stayed Flows.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const held = async (path: string): Promise<{ bytes: number; engine: Engine }> => {
      const engine = new Engine({});
      gc();
      const before = process.memoryUsage().heapUsed;
      await readCapture(path, engine.onPacket);
      engine.finish();
      gc();
      // Array buffers are freed some time after the GC: the store's columns are counted as they are.
      return { bytes: process.memoryUsage().heapUsed - before + engine.closedFlows.bytes, engine };
    };
    const small = sequentialCapture(10_000),
      big = sequentialCapture(30_000);
    const a = await held(small);
    a.engine = null as unknown as Engine; // let it go before the next run
    const b = await held(big);
    expect(b.engine.flows.all.length).toBe(0); // every flow ended and was handed to ClosedFlows
    expect(b.engine.closedFlows.size).toBe(30_000);
    expect(b.engine.findings.filter((f) => f.kind === "time-wait").length).toBe(30_000);
    const perConnection = (b.bytes - a.bytes) / 20_000;
    expect(perConnection, `${perConnection.toFixed(0)} B per connection`).toBeLessThan(1024);
  });
});

/** `n` short connections one after another, 1 ms apart, each closed by a FIN exchange. */
function sequentialCapture(n: number): string {
  const records: PcapRecord[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 1e-3,
      port = 10_000 + i;
    records.push(
      ...handshake(t, port),
      seg(t + 1e-4, port, true, 101, 501, PSH | ACK, 100),
      seg(t + 2e-4, port, false, 501, 201, PSH | ACK, 200),
      seg(t + 3e-4, port, true, 201, 701, FIN | ACK),
      seg(t + 4e-4, port, false, 701, 202, FIN | ACK),
      seg(t + 5e-4, port, true, 202, 702, ACK),
    );
  }
  return write(`sequential-${n}.pcap`, records);
}

describe("memory follows the flows in the table", () => {
  it("a flow that has ended gives its per-segment facts back: the pool holds the table's flows, not the capture's", async () => {
    // 30 000 short connections through a table of 2 000: closed flows are evicted to make
    // room (and end), so at most about 2 000 TCP flows hold facts at once. Before, every
    // flow's run (67 numbers, 536 B) stayed in the pool to the end of the capture.
    const engine = new Engine({ maxFlows: 2_000 });
    await readCapture(sequentialCapture(30_000), engine.onPacket);
    engine.finish();
    expect(engine.findings.filter((f) => f.kind === "time-wait").length).toBe(30_000);
    expect(engine.flows.facts.inUse).toBe(0); // every flow has ended
    expect(engine.flows.facts.capacity).toBeLessThanOrEqual(4_096);
  });
});

describe("a full flow table is said even with --quiet", () => {
  // 40 connections open at once, all busy: with --max-flows 10, 30 go untracked.
  const file = () =>
    write("full-cli.pcap", Array.from({ length: 40 }, (_, i) => handshake(1 + i * 0.001, 41000 + i)).flat());
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: "1" } });
    return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  };
  const FULL =
    /flow table full and no flow idle for 60 s: 90 packet\(s\) of connections that came then were not analysed/;

  it("-F json -q: on stderr and in the report's warnings", () => {
    const r = run(["analyze", "-F", "json", "-q", "--max-flows", "10", file()]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^sockscope: warning: ${FULL.source}`, "m"));
    expect(JSON.parse(r.stdout).warnings.some((w: string) => FULL.test(w))).toBe(true);
  });

  it("text -q: in the report's Warnings section", () => {
    const r = run(["analyze", "-q", "--max-flows", "10", file()]);
    expect(r.stdout).toMatch(FULL);
  });

  it("flows -q (text and JSON): on stderr", () => {
    for (const format of ["text", "json"]) {
      const r = run(["flows", "-q", "-F", format, "--max-flows", "10", file()]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^sockscope: warning: ${FULL.source}`, "m"));
    }
  });
});
