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
//   W  ring writes: a packet entry for each record handed to a worker, a tick entry for
//      each record of another shard (RingWriter, with a worker consuming)
//   D  the worker's side of the ring: replaying the entries and reading the packets'
//      bytes from the file (RingReader, FileWindow), per record handed over
// The model (flows spread evenly, the shard of the reader's own thread included):
//   reader thread per record: F + R + (Wpacket + (N−1)·Wtick)·(N−1)/N + (A + C·(N−1))/N
//   worker thread per record: (A + D + C·(N−1))/N
// and the run takes the slower of the two, plus start-up and merge (measured apart).
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
// bytes from the file and replays onto an empty listener. Tick entries cost as much to
// write as the head of a packet entry: measured apart, alternating.
const worker = `
  const { workerData, parentPort } = require("node:worker_threads");
  const { readFileSync } = require("node:fs");
  const cpu = () => { const f = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) / 100; };
  Promise.all([import(workerData.ring), import(workerData.window)]).then(([{ RingReader }, { FileWindow }]) => {
    const file = new FileWindow(workerData.capture);
    let sum = 0;
    const t = cpu();
    new RingReader(workerData.buffer).replay({
      packet(rec, at, len) { const i = file.locate(at, len); sum += file.u8[i]; },
      tick() {}, facts() {}, end() {},
    }, {});
    parentPort.postMessage({ cpu: cpu() - t, sum });
  });`;
async function handOver(asTicks) {
  let min = Infinity,
    replay = Infinity;
  for (let i = 0; i < Number(opt.runs); i++) {
    const buffer = newRing();
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
    const ring = new RingWriter(buffer);
    let chunk = null,
      chunkAt = 0;
    const t = threadCpu();
    await readCapture(
      capture,
      (rec) => {
        if (asTicks) ring.tick(rec.frame, rec.tsSec);
        else ring.packet(rec, chunkAt + rec.start);
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
const packets = await handOver(false);
const tickWrites = await handOver(true);

const ns = (s) => (s * 1e9) / records;
const F = ns(framing),
  R = ns(routing - framing),
  A = ns(analysis - framing),
  C = ns(ticks - framing),
  Wp = ns(packets.write),
  Wt = ns(tickWrites.write),
  D = ns(packets.replay);
console.log(`capture: ${capture}: ${records} records; CPU per record, best of ${opt.runs} runs:`);
console.log(
  `| stage | ns/record |\n|---|---|\n| F framing | ${F.toFixed(0)} |\n| R routing | ${R.toFixed(0)} |\n| A analysis | ${A.toFixed(0)} |\n| C clock tick (another shard's record) | ${C.toFixed(0)} |\n| W ring write, packet entry | ${Wp.toFixed(0)} |\n| W ring write, tick entry | ${Wt.toFixed(0)} |\n| D worker: replay and read the bytes | ${D.toFixed(0)} |`,
);
console.log("\nmodel, one core per thread, flows spread evenly (ns per record on the slower thread):");
console.log("| threads | reader thread | each worker | speed-up over one thread |\n|---|---|---|---|");
for (const n of [1, 2, 4, 8, 16]) {
  const one = F + A;
  const reader = n === 1 ? one : F + R + ((Wp + (n - 1) * Wt) * (n - 1)) / n + (A + C * (n - 1)) / n;
  const each = n === 1 ? 0 : (A + D + C * (n - 1)) / n;
  console.log(
    `| ${n} | ${reader.toFixed(0)} | ${n === 1 ? "-" : each.toFixed(0)} | ${(one / Math.max(reader, each)).toFixed(2)}x |`,
  );
}
