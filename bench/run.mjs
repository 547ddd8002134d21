#!/usr/bin/env node
// npm run bench [-- capture.pcap] [--scale]
//
// Runs, on the same file in the same run: sockscope analyze --format json (every analyzer
// on), tshark -q -z expert (when installed), a plain framing loop (the JavaScript floor)
// and pcap-parser. Prints packets/s for each, the ratios that count, and peak RSS.
// Without a capture argument it records one with ../shared/bench/record-capture.sh
// (needs root and tcpdump) into bench/out/. --scale adds the 1x/4x/8x concatenation run.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, openSync, readSync, writeSync, closeSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bench", "out");
mkdirSync(out, { recursive: true });
const args = process.argv.slice(2);
const scale = args.includes("--scale");
let capture = args.find((a) => !a.startsWith("--"));
if (!capture) {
  capture = join(out, "bench.pcap");
  if (!existsSync(capture)) {
    console.log("recording the benchmark capture (8 s of loopback traffic)…");
    execFileSync("bash", [join(root, "..", "shared", "bench", "record-capture.sh"), capture, "8"], { stdio: "inherit" });
  }
}

const hasTime = existsSync("/usr/bin/time");
/** Runs a command, returns { seconds, maxRssMb, stdout }. */
function measure(cmd, cmdArgs) {
  const t0 = process.hrtime.bigint();
  const r = hasTime
    ? spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...cmdArgs], { maxBuffer: 1 << 30 })
    : spawnSync(cmd, cmdArgs, { maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(" ")} failed: ${r.stderr}`);
  const rssKb = hasTime ? Number(r.stderr.toString().trim().split("\n").pop()) : NaN;
  return { seconds, maxRssMb: rssKb / 1024, stdout: r.stdout.toString() };
}

function which(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}

function benchOne(file) {
  const floor = measure(process.execPath, [join(root, "bench", "framing-floor.mjs"), file]);
  // Wall time of the whole process for every contender, so node's start-up counts alike.
  const packets = Number(floor.stdout.trim().split(" ")[0]);
  const floorSec = floor.seconds;
  const ppSec = measure(process.execPath, [join(root, "bench", "pcap-parser-floor.mjs"), file]).seconds;
  const ss = measure(process.execPath, [join(root, "dist", "cli", "main.js"), "analyze", "--format", "json", "--quiet", file]);
  const findings = JSON.parse(ss.stdout).findings.length;
  let ts = null;
  if (which("tshark")) ts = measure("tshark", ["-n", "-q", "-r", file, "-z", "expert", "-o", "tcp.analyze_sequence_numbers:TRUE"]);
  return { file, packets, bytes: statSync(file).size, floorSec, ppSec, ss, findings, ts };
}

function rate(packets, sec) {
  return `${(packets / sec / 1e6).toFixed(2)} M pkt/s`;
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`machine: ${cpus().length} cores, ${cpu}, node ${process.version}`);
const r = benchOne(capture);
console.log(`capture: ${r.file}: ${r.packets} packets, ${(r.bytes / 1048576).toFixed(1)} MB`);
console.log("");
console.log("| reader | time | rate | peak RSS |");
console.log("|---|---|---|---|");
console.log(`| framing floor (plain chunked loop) | ${r.floorSec.toFixed(2)} s | ${rate(r.packets, r.floorSec)} | - |`);
console.log(`| pcap-parser (framing only) | ${r.ppSec.toFixed(2)} s | ${rate(r.packets, r.ppSec)} | - |`);
console.log(`| sockscope analyze --format json | ${r.ss.seconds.toFixed(2)} s | ${rate(r.packets, r.ss.seconds)} | ${r.ss.maxRssMb.toFixed(0)} MB |`);
if (r.ts) console.log(`| tshark -q -z expert | ${r.ts.seconds.toFixed(2)} s | ${rate(r.packets, r.ts.seconds)} | ${r.ts.maxRssMb.toFixed(0)} MB |`);
console.log("");
console.log(`sockscope / framing floor: ${(r.floorSec / r.ss.seconds).toFixed(3)} (target ≥ 0.5)`);
if (r.ts) console.log(`sockscope / tshark: ${(r.ts.seconds / r.ss.seconds).toFixed(1)}x faster (target ≥ 25x)`);
console.log(`findings: ${r.findings}`);

if (scale) {
  console.log("\nscaling (the capture concatenated, timestamps shifted):");
  console.log("| copies | packets | time | rate | peak RSS |");
  console.log("|---|---|---|---|---|");
  for (const n of [1, 4, 8]) {
    const file = n === 1 ? capture : concatenate(capture, n);
    const s = measure(process.execPath, [join(root, "dist", "cli", "main.js"), "analyze", "--format", "json", "--quiet", file]);
    const packets = JSON.parse(s.stdout).capture.packets;
    console.log(`| ${n}x | ${packets} | ${s.seconds.toFixed(2)} s | ${rate(packets, s.seconds)} | ${s.maxRssMb.toFixed(0)} MB |`);
  }
}

/** Writes n copies of a classic pcap, each shifted past the previous one's last packet. */
function concatenate(src, n) {
  const dst = join(out, `bench-x${n}.pcap`);
  if (existsSync(dst)) return dst;
  const data = Buffer.alloc(statSync(src).size);
  const fd = openSync(src, "r");
  readSync(fd, data, 0, data.length, 0);
  closeSync(fd);
  const le = data.readUInt32BE(0) === 0xd4c3b2a1;
  const rd = (o) => (le ? data.readUInt32LE(o) : data.readUInt32BE(o));
  let first = -1, last = 0;
  for (let pos = 24; pos + 16 <= data.length; pos += 16 + rd(pos + 8)) {
    if (first < 0) first = rd(pos);
    last = rd(pos);
  }
  const span = last - first + 1;
  const w = openSync(dst, "w");
  writeSync(w, data, 0, 24);
  for (let i = 0; i < n; i++) {
    const copy = Buffer.from(data.subarray(24));
    for (let pos = 0; pos + 16 <= copy.length; ) {
      const cap = le ? copy.readUInt32LE(pos + 8) : copy.readUInt32BE(pos + 8);
      const sec = (le ? copy.readUInt32LE(pos) : copy.readUInt32BE(pos)) + i * span;
      if (le) copy.writeUInt32LE(sec, pos); else copy.writeUInt32BE(sec, pos);
      pos += 16 + cap;
    }
    writeSync(w, copy);
  }
  closeSync(w);
  return dst;
}
