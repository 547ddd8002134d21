// The --jobs model: measures, on one capture and in one process, what each stage of a
// --jobs run costs per record, then says what N threads would take if each had a core
// of its own. Used for the README's table of 4, 8 and 16 cores.
//
//   node bench/jobs-model.mjs CAPTURE.pcap [--runs 3]
//
// Stages (CPU time of the thread doing them, /proc/thread-self/stat, best of the runs):
//   F  framing: the reader handing out every record (readCapture, empty sink)
//   R  routing: ShardRouter.route on every record
//   A  analysis: Engine.onPacket on every record (decode, flows, analyzers), one thread
//   C  a clock tick: Engine.advanceClock, for every record of another shard
//   W  the ring write: one entry per record, whatever the number of workers (RingWriter,
//      with a worker consuming)
//   D  a worker's own record: replaying its entry and reading its bytes from the file
//      (RingReader, FileWindow)
//   S  a worker's record of another shard: replaying its entry (the tick itself is C)
// The model (flows spread evenly; the reader's own shard takes a share w of the packets,
// 1/N today, the workers the rest, s = (1−w)/(N−1) each):
//   reader thread per record: F + R + W + w·A + (1−w)·C
//   worker thread per record: s·(A + D) + (1−s)·(C + S)
// and the run takes the slower of the two, plus start-up and merge (not modelled). It also
// prints the share w that would even the threads out, and what that would give.
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: "string", default: "3" } },
});
const capture = positionals[0];
if (capture === undefined) {
  console.error("usage: node bench/jobs-model.mjs CAPTURE [--runs N]");
  process.exit(2);
}
const dist = (m) => import(pathToFileURL(join(root, "dist", m)).href);
const { readCapture } = await dist("capture/reader.js");
const { ShardRouter } = await dist("run/parallel/router.js");
const { Engine } = await dist("run/packet-loop.js");
const { RingWriter, newRing } = await dist("run/parallel/record-ring.js");

/** CPU seconds this thread has used (user + system). */
function threadCpu() {
  const f = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function best(fn) {
  let min = Infinity;
  for (let i = 0; i < Number(opt.runs); i++) {
    const t = threadCpu();
    await fn();
    min = Math.min(min, threadCpu() - t);
  }
  return min;
}

let records = 0;
const framing = await best(async () => {
  records = 0;
  await readCapture(capture, () => {
    records++;
  });
});
const routing = await best(async () => {
  const router = new ShardRouter(2);
  await readCapture(capture, (rec) => {
    router.route(rec);
  });
});
const analysis = await best(async () => {
  const engine = new Engine({});
  await readCapture(capture, engine.onPacket);
  engine.finish();
});
const ticks = await best(async () => {
  const engine = new Engine({ sharded: true });
  await readCapture(capture, (rec) => engine.advanceClock(rec.tsSec + rec.tsNsec / 1e9, rec.frame));
});

// Ring writes and the worker's replay: every record handed to one worker, which reads its
// bytes from the file and replays onto an empty listener; then every record another
// shard's, which the worker replays as ticks onto an empty listener.
const worker = `
  const { workerData, parentPort } = require("node:worker_threads");
  const { readFileSync } = require("node:fs");
  const cpu = () => { const f = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) / 100; };
  Promise.all([import(workerData.ring), import(workerData.window)]).then(([{ RingReader }, { FileWindow }]) => {
    const file = new FileWindow(workerData.capture);
    let sum = 0;
    const t = cpu();
    new RingReader(workerData.buffer, 1, 0, 1).replay({
      packet(rec, at, len) { const i = file.locate(at, len); sum += file.u8[i]; },
      tick() {}, facts() {}, end() {},
    }, {});
    parentPort.postMessage({ cpu: cpu() - t, sum });
  });`;
async function handOver(owner) {
  let min = Infinity,
    replay = Infinity;
  for (let i = 0; i < Number(opt.runs); i++) {
    const buffer = newRing(1);
    const w = new Worker(worker, {
      eval: true,
      workerData: {
        buffer,
        capture,
        ring: pathToFileURL(join(root, "dist/run/parallel/record-ring.js")).href,
        window: pathToFileURL(join(root, "dist/run/parallel/file-window.js")).href,
      },
    });
    const done = new Promise((resolve) => w.once("message", resolve));
    const ring = new RingWriter(buffer, 1);
    let chunk = null,
      chunkAt = 0;
    const t = threadCpu();
    await readCapture(
      capture,
      (rec) => {
        ring.record(rec, owner, chunkAt + rec.start);
      },
      {
        onChunk: (buf, at) => {
          chunk = buf;
          chunkAt = at;
        },
        afterChunk: async () => {
          ring.publish();
          await ring.drain(() => null);
        },
      },
    );
    ring.end(0);
    await ring.drain(() => null, 0);
    min = Math.min(min, threadCpu() - t);
    replay = Math.min(replay, (await done).cpu);
    void chunk;
  }
  return { write: min - framing, replay };
}
const own = await handOver(1);
const others = await handOver(2);

const ns = (s) => (s * 1e9) / records;
const F = ns(framing),
  R = ns(routing - framing),
  A = ns(analysis - framing),
  C = ns(ticks - framing),
  W = ns(Math.min(own.write, others.write)),
  D = ns(own.replay),
  S = ns(others.replay);
console.log(`capture: ${capture}: ${records} records; CPU per record, best of ${opt.runs} runs:`);
console.log(
  `| stage | ns/record |\n|---|---|\n| F framing | ${F.toFixed(0)} |\n| R routing | ${R.toFixed(0)} |\n| A analysis | ${A.toFixed(0)} |\n| C clock tick (another shard's record) | ${C.toFixed(0)} |\n| W ring write | ${W.toFixed(0)} |\n| D worker, own record: replay and read the bytes | ${D.toFixed(0)} |\n| S worker, another shard's record: replay | ${S.toFixed(0)} |`,
);
/**
 * ns per record on the reader's thread and on each worker when the reader's own shard
 * takes a share `w` of the packets and the n−1 workers split the rest evenly.
 */
function threads(n, w) {
  if (n === 1) return { reader: F + A, each: 0 };
  const s = (1 - w) / (n - 1);
  return {
    reader: F + R + W + w * A + (1 - w) * C,
    each: s * (A + D) + (1 - s) * (C + S),
  };
}
console.log("\nmodel, one core per thread, flows spread evenly (ns per record on the slower thread):");
console.log(
  "| threads | reader thread | each worker | speed-up over one thread | reader's share for balance | speed-up then |\n|---|---|---|---|---|---|",
);
for (const n of [1, 2, 4, 8, 16]) {
  const one = F + A;
  const even = threads(n, 1 / n);
  // The share of the reader's own shard that evens the threads out (none: a reader only).
  let lo = 0,
    hi = 1 / n;
  for (let i = 0; i < 40; i++) {
    const mid = (lo + hi) / 2;
    const t = threads(n, mid);
    if (t.reader > t.each) hi = mid;
    else lo = mid;
  }
  const balanced = threads(n, lo);
  console.log(
    `| ${n} | ${even.reader.toFixed(0)} | ${n === 1 ? "-" : even.each.toFixed(0)} | ${(one / Math.max(even.reader, even.each)).toFixed(2)}x | ${n === 1 ? "-" : `${(100 * lo).toFixed(0)}%`} | ${(one / Math.max(balanced.reader, balanced.each)).toFixed(2)}x |`,
  );
}
