#!/usr/bin/env node
// Where a packet's time goes, in-process, one thread: the capture's records in memory
// (no I/O), then the same records through ever more of the pipeline, alternating, several
// rounds, median nanoseconds per packet:
//   records   handing out the records alone (the loop's own cost)
//   decode    + link, IP and TCP/UDP decoding
//   flows     + the engine with no analyzer: flow lookup, TCP tracking, segment facts, retirement
//   full      + the 22 analyzers, and the report model built from the result
// and, with --each, every analyzer alone on top of `flows` (its own cost, as far as one
// analyzer alone can show it: V8 inlines differently when all run together).
//   node bench/stages.mjs [capture] [--rounds N] [--each]     (after npm run build)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: "string", default: "7" }, each: { type: "boolean", default: false } },
});
const capture = positionals[0] ?? join(root, "bench", "out", "bench.pcap");
const { PacketRecord } = await import(join(root, "dist", "capture", "record.js"));
const { PacketDecoder } = await import(join(root, "dist", "decode", "wire", "decoder.js"));
const { Engine } = await import(join(root, "dist", "run", "packet-loop.js"));
const { ANALYZERS } = await import(join(root, "dist", "analyze", "registry.js"));
const { buildReport } = await import(join(root, "dist", "report", "model.js"));
const { newCaptureInfo } = await import(join(root, "dist", "capture", "reader.js"));
const { recordsInMemory } = await import("./records-in-memory.mjs");
const { n, time, load } = await recordsInMemory(root, capture);

/** Points `r` at record i with its frame number and timestamp, as a reader would. */
function next(i, r) {
  load(i, r);
  r.frame = i + 1;
  const t = time[i];
  r.tsSec = Math.floor(t);
  r.tsNsec = Math.round((t - r.tsSec) * 1e9);
}

function timed(body) {
  const t0 = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - t0) / n;
}

const stages = {
  records: () =>
    timed(() => {
      const r = new PacketRecord();
      for (let i = 0; i < n; i++) next(i, r);
    }),
  decode: () =>
    timed(() => {
      const r = new PacketRecord();
      const d = new PacketDecoder();
      for (let i = 0; i < n; i++) {
        next(i, r);
        d.decode(r);
      }
    }),
  flows: () => engineRun([]),
  full: () => engineRun(ANALYZERS, true),
};

function engineRun(analyzers, report = false) {
  return timed(() => {
    const r = new PacketRecord();
    const engine = new Engine({ analyzers });
    engine.sink.capture = newCaptureInfo(capture);
    for (let i = 0; i < n; i++) {
      next(i, r);
      engine.onPacket(r);
    }
    engine.finish();
    if (report) buildReport(engine.sink.capture, engine);
  });
}

const runs = Object.fromEntries(Object.keys(stages).map((k) => [k, []]));
const each = opt.each ? ANALYZERS.map((a) => ({ id: a.id, ns: [] })) : [];
for (let round = 0; round < Number(opt.rounds); round++) {
  for (const [name, run] of Object.entries(stages)) runs[name].push(run());
  for (const a of each) a.ns.push(engineRun([ANALYZERS.find((d) => d.id === a.id)]));
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const span = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
console.log(`${n} packets of ${capture}, ${opt.rounds} rounds, ns per packet (median, min–max):`);
let before = 0;
for (const [name, xs] of Object.entries(runs)) {
  const m = median(xs);
  const added = name === "records" ? "" : `  (+${(m - before).toFixed(0)})`;
  console.log(`  ${name.padEnd(8)} ${m.toFixed(0).padStart(5)} ns  ${span(xs).padStart(11)}${added}`);
  before = m;
}
if (each.length > 0) {
  const base = median(runs.flows);
  console.log(`each analyzer alone, above 'flows' (${base.toFixed(0)} ns):`);
  const rows = each.map((a) => ({ id: a.id, extra: median(a.ns) - base })).sort((x, y) => y.extra - x.extra);
  for (const row of rows) console.log(`  ${row.id.padEnd(24)} ${row.extra.toFixed(0).padStart(5)} ns`);
  const sum = rows.reduce((s, row) => s + row.extra, 0);
  console.log(`  sum of the parts ${sum.toFixed(0)} ns; all together ${(median(runs.full) - base).toFixed(0)} ns`);
}
