/**
 * `--jobs`'s one reader: the ring every worker reads (run/parallel/record-ring.ts: each
 * record for its owner to analyse and the others to take as a clock tick, the file's
 * sections and interfaces, packets' processes, the end), with the reader going on into
 * private slots when the ring is full and waiting for room between chunks; the worker's window on the file
 * (file-window.ts); and a pcapng whose sections, interfaces and per-packet processes must
 * cross the ring for the report of N threads to stay the report of one. Runs the built code
 * (dist/): worker threads load compiled modules.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { pcapngFile, type NgBlock } from "./helpers/build.js";
import { Traffic } from "./helpers/traffic.js";
import { ROOT } from "./helpers/paths.js";

const dist = (m: string) => join(ROOT, "dist", m);
const { RingWriter, newRing } = await import(dist("run/parallel/record-ring.js"));
const { FileWindow } = await import(dist("run/parallel/file-window.js"));
const { analyzeFile } = await import(dist("run/pipeline.js"));
const { ShardRouter } = await import(dist("run/parallel/router.js"));
const { readCapture } = await import(dist("capture/reader.js"));

const tmp = mkdtempSync(join(tmpdir(), "sockscope-ring-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What a worker thread saw replaying `ring`. */
interface Replayed {
  packets: number;
  ticks: number;
  inOrder: boolean;
  /** Sums over the packets, to check every field crossed. */
  fields: number;
  facts: [number, unknown][];
  processes: [number, unknown][];
  lastTime: number;
}

/** Replays `ring` as worker `worker` of `workers`, for shard `worker` + 1, on a worker thread, as a `--jobs` worker does. */
function replayOnWorker(ring: SharedArrayBuffer, workers: number, worker: number): Promise<Replayed> {
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(workerData.module).then(({ RingReader }) => {
      const seen = { packets: 0, ticks: 0, inOrder: true, fields: 0, facts: [], processes: [], lastTime: 0 };
      let last = 0;
      const next = (frame) => { if (frame !== last + 1) seen.inOrder = false; last = frame; };
      new RingReader(workerData.ring, workerData.workers, workerData.worker, workerData.worker + 1).replay({
        packet(r, at, len) {
          next(r.frame);
          seen.packets++;
          seen.fields += r.capLen + r.origLen + r.linkType + r.iface + r.tsNsec + (r.tsSec - 1.7e9) + r.fileOffset + at + len;
          if (r.process !== null) seen.processes.push([r.frame, r.process]);
        },
        tick(frame, time) { next(frame); seen.ticks++; seen.fields += time - 1.7e9; },
        facts(f) { seen.facts.push([last, f]); },
        end(t) { seen.lastTime = t; },
      }, {});
      parentPort.postMessage(seen);
    });`;
  const w = new Worker(code, {
    eval: true,
    workerData: { ring, workers, worker, module: pathToFileURL(dist("run/parallel/record-ring.js")).href },
  });
  return new Promise((resolve, reject) => {
    w.once("message", resolve);
    w.once("error", reject);
  });
}

/** The fields of a record the reader writes to the ring, all 0 (the bytes' span, start and end, included). */
function blankRecord() {
  return {
    frame: 0,
    tsSec: 0,
    tsNsec: 0,
    capLen: 0,
    origLen: 0,
    linkType: 1,
    iface: 0,
    fileOffset: 0,
    start: 0,
    end: 0,
    process: null as unknown,
  };
}

describe("the --jobs record ring", () => {
  it("hands every worker every record in order, its own as packets, the rest as clock ticks, also many times what the ring holds", async () => {
    // Three shards: the reader's (0) and two workers (1, 2), records owned in turn.
    const ring = newRing(2);
    const replayed = [replayOnWorker(ring, 2, 0), replayOnWorker(ring, 2, 1)];
    const writer = new RingWriter(ring, 2);
    // 600 000 records of 56-byte entries: about 34 MB, the ring holds 8; the writer goes
    // on into private slots.
    const N = 600_000;
    const rec = blankRecord();
    rec.start = 3;
    const fields = [0, 0, 0];
    const proc = { pid: 4242, tid: 0, command: "python3", args: "python3 server.py", inbound: false };
    for (let f = 1; f <= N; f++) {
      if (f === 5 || f === 400_001) writer.facts({ sections: [], interfaces: [{ linkType: 1, name: `if${f}` }] });
      const owner = f % 3;
      Object.assign(rec, {
        frame: f,
        tsSec: 1.7e9 + f,
        tsNsec: f % 1000,
        capLen: 60 + (f % 7),
        origLen: 1514,
        iface: f % 5,
        fileOffset: f * 90,
        end: 3 + 60 + (f % 7),
        process: f === 7 || f === 500_002 || f === 500_003 ? proc : null,
      });
      writer.record(rec, owner, f * 90 + 16);
      for (const shard of [1, 2]) {
        fields[shard]! +=
          shard === owner
            ? rec.capLen + rec.origLen + 1 + rec.iface + rec.tsNsec + f + rec.fileOffset + (f * 90 + 16) + rec.capLen
            : f + rec.tsNsec / 1e9;
      }
      // A chunk of the file read: what is written is handed over.
      if (f % 100_000 === 0) writer.publish();
    }
    writer.end(1.7e9 + N);
    await writer.drain(() => null, 0);
    const [one, two] = await Promise.all(replayed);
    for (const [shard, seen] of [
      [1, one!],
      [2, two!],
    ] as const) {
      expect(seen.inOrder).toBe(true);
      expect([seen.packets, seen.ticks]).toEqual([N / 3, (2 * N) / 3]);
      expect(seen.fields).toBeCloseTo(fields[shard]!, -1);
      expect(seen.facts).toEqual([
        [4, { sections: [], interfaces: [{ linkType: 1, name: "if5" }] }],
        [400_000, { sections: [], interfaces: [{ linkType: 1, name: "if400001" }] }],
      ]);
      expect(seen.lastTime).toBe(1.7e9 + N);
    }
    // A process goes with its record, to the worker that owns it only.
    expect(one!.processes).toEqual([
      [7, proc],
      [500_002, proc],
    ]);
    expect(two!.processes).toEqual([[500_003, proc]]);
  }, 60_000);

  it("runs ahead of workers still starting, up to a bound, then waits; a failed worker's error ends the wait", async () => {
    const writer = new RingWriter(newRing(1), 1);
    const rec = blankRecord();
    for (let f = 1; f <= 300_000; f++) writer.record({ ...rec, frame: f }, 0, 0); // 16 MB: twice the ring
    writer.publish();
    let asked = 0;
    await writer.drain(() => {
      asked++;
      return null;
    });
    expect(asked).toBe(0); // no wait: the reader goes on reading
    for (let f = 300_001; f <= 900_000; f++) writer.record({ ...rec, frame: f }, 0, 0); // 48 MB in all
    writer.publish();
    await expect(writer.drain(() => new Error("worker 1: out of memory"))).rejects.toThrow("worker 1: out of memory");
  });
});

describe("a --jobs worker's window on the capture file", () => {
  const file = join(tmp, "bytes.bin");
  const bytes = new Uint8Array(10 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 16)) & 0xff);
  writeFileSync(file, bytes);

  it("gives the file's bytes wherever they are: moving forward, back, and larger than the window", () => {
    const w = new FileWindow(file);
    for (const [at, len] of [
      [0, 100],
      [5_000_000, 1514],
      [5_001_514, 60],
      [1234, 7],
      [2_000_000, 6 * 1024 * 1024],
      [bytes.length - 10, 10],
    ] as const) {
      const i = w.locate(at, len);
      expect(Buffer.compare(w.u8.subarray(i, i + len), bytes.subarray(at, at + len)), `${at}+${len}`).toBe(0);
    }
    w.close();
  });

  it("says the file changed when the bytes the reader framed are no longer there", () => {
    const w = new FileWindow(file);
    expect(() => w.locate(bytes.length - 10, 20)).toThrow(
      `${file}: the file changed while it was read (20 bytes at offset ${bytes.length - 10} are gone)`,
    );
    w.close();
  });
});

describe("--jobs with a pcapng whose facts and processes cross the ring", () => {
  it("reports what one thread reports: a second section and interface mid-capture, per-packet processes", async () => {
    // 40 connections over two sections (the second from another host, named by its OS),
    // each packet naming its process; the connections spread over the shards.
    const blocks: NgBlock[][] = [[], []];
    let section = 0;
    const tr = new Traffic((r) => {
      const fromServer = r.bytes[29] === 2;
      blocks[section]!.push({
        kind: "epb",
        iface: 0,
        ts: BigInt(r.tsSec) * 1_000_000n + BigInt(Math.round(r.tsNsec / 1000)),
        data: r.bytes.slice(),
        comment: fromServer
          ? "PID: 4242\nCmd: python3\nArgs: python3 server.py"
          : `PID: ${100 + (r.frame % 40)}\nCmd: curl`,
        pidTid: [fromServer ? 4242 : 100 + (r.frame % 40), 0],
      });
    });
    for (let c = 0; c < 40; c++) {
      if (c === 20) section = 1;
      tr.connection(1_800_000_000 + c * 0.01, 40000 + c, 80, 1000 * c);
    }
    const { bytes } = pcapngFile([
      {
        le: true,
        os: "Linux 6.1.0-18-amd64",
        userAppl: "Dumpcap (Wireshark) 4.0.17",
        interfaces: [{ linkType: 1, os: "Linux 6.1.0-18-amd64" }],
        blocks: blocks[0]!,
      },
      {
        le: true,
        os: "FreeBSD 14.0",
        userAppl: "Dumpcap (Wireshark) 4.2.0",
        interfaces: [{ linkType: 1, os: "FreeBSD 14.0" }],
        blocks: blocks[1]!,
      },
    ]);
    const file = join(tmp, "processes.pcapng");
    writeFileSync(file, bytes);
    // Both shards own flows of both sections.
    const owners = new Set<string>();
    const router = new ShardRouter(2);
    let frame = 0;
    await readCapture(file, (rec: unknown) => {
      owners.add(`${++frame <= 160 ? 0 : 1}:${router.route(rec)}`);
    });
    expect([...owners].sort()).toEqual(["0:0", "0:1", "1:0", "1:1"]);
    const one = await analyzeFile(file, { jobs: 1 });
    expect(one.capture.pcapng.sections).toHaveLength(2);
    expect(one.flows.filter((f: { process: unknown }) => f.process !== null)).toHaveLength(40);
    const json = JSON.stringify(one, null, 2);
    expect(JSON.stringify(await analyzeFile(file, { jobs: 2 }), null, 2)).toBe(json);
    expect(JSON.stringify(await analyzeFile(file, { jobs: 3 }), null, 2)).toBe(json);
  }, 30_000);

  it("a worker's analyzers read the file's interfaces: the recording host's stack in a finding's words", async () => {
    const midstream = join(ROOT, "fixtures", "time-wait", "midstream-recorded-on-linux.pcapng");
    // Its one connection falls to a worker, not to the reader's own shard.
    const owners: number[] = [];
    for (const n of [2, 3, 4]) {
      const router = new ShardRouter(n);
      const seen = new Set<number>();
      await readCapture(midstream, (rec: unknown) => {
        seen.add(router.route(rec));
      });
      owners.push(Math.max(...seen));
    }
    const n = [2, 3, 4][owners.findIndex((o) => o > 0)];
    expect(n, `workers owning the connection for --jobs 2, 3, 4: ${owners}`).toBeDefined();
    const [tw] = (await analyzeFile(midstream, { jobs: n })).findings.filter(
      (f: { kind: string }) => f.kind === "time-wait",
    );
    expect(tw?.summary).toMatch(/the capture file says it was recorded on Linux/);
  }, 30_000);
});
