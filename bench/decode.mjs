#!/usr/bin/env node
// In-process decode cost per packet: the capture's records read into memory once, then
// decoded by PacketDecoder with and without its fast path, alternating, several rounds;
// median ns per packet. Start-up, framing and everything after decoding are left out.
//   node bench/decode.mjs [capture] [--rounds N]     (after npm run build)
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: "string", default: "7" } },
});
const capture = positionals[0] ?? join(root, "bench", "out", "bench.pcap");
const { PacketRecord } = await import(join(root, "dist", "capture", "record.js"));
const { PacketDecoder } = await import(join(root, "dist", "decode", "wire", "decoder.js"));
const { recordsInMemory } = await import("./records-in-memory.mjs");
const { n, load } = await recordsInMemory(root, capture);

function time(fastPath) {
  const d = new PacketDecoder(fastPath);
  const r = new PacketRecord();
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    load(i, r);
    sink += d.decode(r).payloadLen;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  return { perPacket: ns / n, sink };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fast = [];
const general = [];
for (let i = 0; i < Number(opt.rounds); i++) {
  general.push(time(false).perPacket);
  fast.push(time(true).perPacket);
}
const f = (xs) => `${median(xs).toFixed(0)} ns (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
console.log(`${n} packets of ${capture}, ${opt.rounds} rounds each, median (min–max) per packet:`);
console.log(`general decoders: ${f(general)}`);
console.log(`with the fast path: ${f(fast)}`);
