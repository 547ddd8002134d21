#!/usr/bin/env node
// In-process cost of flow lookup per packet: the capture's records in memory, decoded
// alone and decoded then looked up in a FlowTable (no TCP tracking, no analyzers),
// alternating, several rounds; the difference of the medians is the lookup's. Also how
// often a packet's flow is the previous packet's (what the table's one-entry cache catches)
// or the one before (what a second entry would add).
//   node bench/flow-lookup.mjs [capture] [--rounds N]     (after npm run build)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: "string", default: "9" } },
});
const capture = positionals[0] ?? join(root, "bench", "out", "bench.pcap");
const { PacketRecord } = await import(join(root, "dist", "capture", "record.js"));
const { PacketDecoder } = await import(join(root, "dist", "decode", "wire", "decoder.js"));
const { FlowTable } = await import(join(root, "dist", "decode", "flow", "table.js"));
const { recordsInMemory } = await import("./records-in-memory.mjs");
const { n, time, load } = await recordsInMemory(root, capture);
const listener = { flowStarted() {}, flowEnded() {}, flowRetired() {}, mayRetire: () => true };

function run(lookup) {
  const d = new PacketDecoder();
  const r = new PacketRecord();
  const table = new FlowTable(listener, { maxFlows: 75_000 });
  const seen = { last: 0, second: 0 };
  let last = null;
  let second = null;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    load(i, r);
    const p = d.decode(r);
    if (!lookup) continue;
    const f = table.lookup(p, i + 1, time[i]);
    if (f === null) continue;
    if (f === last) seen.last++;
    else {
      if (f === second) seen.second++;
      second = last;
      last = f;
    }
  }
  return { ns: Number(process.hrtime.bigint() - t0) / n, seen };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const decodeOnly = [];
const withLookup = [];
let seen;
for (let i = 0; i < Number(opt.rounds); i++) {
  decodeOnly.push(run(false).ns);
  const w = run(true);
  withLookup.push(w.ns);
  seen = w.seen;
}
const pct = (x) => `${((100 * x) / n).toFixed(1)}%`;
console.log(`${n} packets of ${capture}, ${opt.rounds} rounds each, median ns per packet:`);
console.log(
  `decode ${median(decodeOnly).toFixed(0)}, decode + lookup ${median(withLookup).toFixed(0)}: lookup about ${(median(withLookup) - median(decodeOnly)).toFixed(0)} ns`,
);
console.log(`flow of the previous packet: ${pct(seen.last)}; of the one before: ${pct(seen.second)}`);
