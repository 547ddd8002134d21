#!/usr/bin/env node
// Start-up cost: CPU time (user+sys) and wall time of the whole process for an empty Node,
// and for `analyze --format json` of a tiny capture by each CLI given, interleaved
// round-robin, median and spread over the runs. On a tiny capture nearly all of it is
// starting Node and loading sockscope.
//
//   node bench/startup.mjs [--runs 30] [--capture FILE] [CLI.js ...]   (default dist/cli/main.js)
//
// Times come from bash's `time` (getrusage of the child, in ms), not /usr/bin/time's 10 ms.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadavg } from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: "string", default: "30" },
    capture: { type: "string", default: join(root, "fixtures", "healthy", "graceful-close.pcap") },
  },
});
const runs = Number(opt.runs);
const clis = positionals.length ? positionals : [join(root, "dist", "cli", "main.js")];
const node = process.execPath;
const contenders = [
  { label: "node -e 0 (Node alone)", args: ["-e", "0"] },
  ...clis.map((cli) => ({ label: `${cli} analyze -F json`, args: [cli, "analyze", "-F", "json", opt.capture] })),
];

/** One run: { wall, cpu } in seconds, from bash's time builtin. */
function once(args) {
  const quoted = [node, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `TIMEFORMAT='%3R %3U %3S'; time ${quoted} >/dev/null`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${quoted} failed: ${r.stderr}`);
  const [wall, user, sys] = r.stderr.trim().split("\n").pop().split(" ").map(Number);
  return { wall, cpu: user + sys };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const samples = contenders.map(() => []);
for (let r = 0; r < runs; r++) {
  contenders.forEach((c, i) => {
    samples[i].push(once(c.args));
  });
}
console.log(
  `${runs} runs each, interleaved; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
console.log("| process | cpu user+sys (median) | cpu spread (min–max) | wall (median) |");
console.log("|---|---|---|---|");
contenders.forEach((c, i) => {
  const cpu = samples[i].map((s) => s.cpu);
  console.log(
    `| ${c.label} | ${median(cpu).toFixed(3)} s | ${Math.min(...cpu).toFixed(3)}–${Math.max(...cpu).toFixed(3)} s | ${median(samples[i].map((s) => s.wall)).toFixed(3)} s |`,
  );
});
