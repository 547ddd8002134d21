#!/usr/bin/env node
// node bench/many-captures.mjs [DIR] [--runs N]     (or: npm run bench -- --many)
//
// Many captures in one run: `sockscope analyze --format json DIR` with --jobs 1, 2 and
// every core, on a directory of captures. Without DIR, on two: the 296 third-party
// captures of test/corpus/captures (13 MB, a few packets to 2.9 MB each: mostly the cost
// per capture), and bench/out/rotated/ (made once: 6 files of 10 000 short connections
// each, 8.5 MB, as bench/sequential.mjs writes them: a server's rotated tcpdump -G files).
// A directory holding an unreadable capture exits 2, as documented, and is timed all the
// same. Runs are interleaved round-robin so
// outside load hits each setting alike; prints the median wall time, packets/s, the
// speed-up over one job, and peak RSS (/usr/bin/time), and checks that every setting
// printed the same report byte for byte.
import { execFileSync, spawnSync as spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "cli", "main.js");
const { values: opt, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { runs: { type: "string", default: "3" } },
});
const runs = Math.max(1, Number(opt.runs) || 3);
const cores = availableParallelism();
const settings = [...new Set([1, 2, cores])];
const timed = existsSync("/usr/bin/time");

/** bench/out/rotated/: six rotated files of a busy server, written once. */
function rotatedDir() {
  const dir = join(root, "bench", "out", "rotated");
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= 6; i++) {
    const f = join(dir, `server-${i}.pcap`);
    if (!existsSync(f)) execFileSync(process.execPath, [join(root, "bench", "sequential.mjs"), f, "10000"]);
  }
  return dir;
}

/** One run: wall seconds, peak RSS in MB (NaN without /usr/bin/time), the report. Exit 0 or 2 (an unreadable capture) is a run. */
function once(dir, jobs) {
  const args = [cli, "analyze", "--format", "json", "--quiet", "--jobs", String(jobs), dir];
  const t0 = process.hrtime.bigint();
  const r = timed
    ? spawn("/usr/bin/time", ["-f", "%M", process.execPath, ...args], { maxBuffer: 1 << 30 })
    : spawn(process.execPath, args, { maxBuffer: 1 << 30 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0 && r.status !== 2) throw new Error(`--jobs ${jobs} failed (${r.status}): ${r.stderr}`);
  const rss = timed ? Number(r.stderr.toString().trim().split("\n").pop()) / 1024 : NaN;
  return { seconds, rss, report: r.stdout.toString() };
}

function measure(dir) {
  const results = new Map(settings.map((j) => [j, []]));
  for (let k = 0; k < runs; k++) for (const j of settings) results.get(j).push(once(dir, j));

  const reference = results.get(1)[0].report;
  const doc = JSON.parse(reference);
  const packets = doc.captures.reduce((s, c) => s + (c.report?.capture.packets ?? 0), 0);
  const count = (key) => doc.captures.reduce((s, c) => s + (c.report?.[key].length ?? 0), 0);
  const unread = doc.captures.filter((c) => c.error !== null).length;
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `\n${doc.captures.length} captures in ${dir} (${unread} unreadable), ${packets} packets, ${count("flows")} flows, ${count("findings")} findings; ${runs} runs per setting, ${cores} cores\n`,
  );
  console.log("| --jobs | median wall s | min-max s | packets/s | speed-up | peak RSS MB |");
  console.log("|---|---|---|---|---|---|");
  const base = median(results.get(1).map((r) => r.seconds));
  let same = true;
  for (const j of settings) {
    const rs = results.get(j);
    const secs = rs.map((r) => r.seconds);
    const m = median(secs);
    same &&= rs.every((r) => r.report === reference);
    console.log(
      `| ${j} | ${m.toFixed(2)} | ${Math.min(...secs).toFixed(2)}-${Math.max(...secs).toFixed(2)} | ${Math.round(packets / m).toLocaleString("en-US")} | ${(base / m).toFixed(2)}x | ${Math.max(...rs.map((r) => r.rss)).toFixed(0)} |`,
    );
  }
  console.log(same ? "\nreports identical across --jobs settings" : "\nREPORTS DIFFER across --jobs settings");
  if (!same) process.exitCode = 1;
}

for (const dir of positionals.length > 0 ? positionals : [join(root, "test", "corpus", "captures"), rotatedDir()])
  measure(dir);
