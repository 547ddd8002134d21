#!/usr/bin/env node
// Reports byte for byte: runs `analyze --format json` and `--format text` of one built CLI
// over every capture under fixtures/ and test/corpus/captures/, and either saves the
// outputs as a baseline or compares them with a saved one. A performance change must leave
// every report as it was; this is how that is checked before each commit.
//
//   node scripts/report-identity.mjs save    DIR [--cli dist/cli/main.js] [--jobs N]
//   node scripts/report-identity.mjs compare DIR [--cli dist/cli/main.js] [--jobs N]
//
// Make the baseline from the tree before the change (build it, or copy its dist/ aside and
// pass --cli), then compare after. stdout, stderr and the exit code of every run are kept;
// compare prints each capture whose output differs and exits 1 if any does.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { availableParallelism } from "node:os";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    cli: { type: "string", default: join(root, "dist", "cli", "main.js") },
    jobs: { type: "string", default: String(availableParallelism()) },
  },
});
const [mode, dir] = positionals;
if (!["save", "compare"].includes(mode) || !dir) {
  console.error("usage: report-identity.mjs save|compare DIR [--cli PATH] [--jobs N]");
  process.exit(2);
}

const CAPTURE = /\.(pcap|pcapng|cap)$/;
function capturesUnder(top) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (CAPTURE.test(e.name)) found.push(p);
    }
  };
  walk(top);
  return found.sort();
}
const captures = [...capturesUnder(join(root, "fixtures")), ...capturesUnder(join(root, "test", "corpus", "captures"))];
const formats = ["json", "text"];

/** One run: stdout, stderr and exit status as one buffer, so every byte of it counts. */
function run(file, format) {
  return new Promise((resolve) => {
    // --jobs 1: the default is one thread for every file here (all far below the
    // parallel threshold), and the same whatever machine the check runs on.
    const c = spawn(process.execPath, [opt.cli, "analyze", "--format", format, "--jobs", "1", "--no-color", file], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    const out = [];
    const err = [];
    c.stdout.on("data", (d) => out.push(d));
    c.stderr.on("data", (d) => err.push(d));
    c.on("close", (code, signal) =>
      resolve(
        Buffer.concat([
          Buffer.concat(out),
          Buffer.from(`\n--- stderr ---\n`),
          Buffer.concat(err),
          Buffer.from(`\n--- exit ${code ?? signal} ---\n`),
        ]),
      ),
    );
  });
}

const tasks = captures.flatMap((file) => formats.map((format) => ({ file, format })));
const nameOf = ({ file, format }) => `${relative(root, file).replaceAll("/", "__")}.${format}`;
if (mode === "save") mkdirSync(dir, { recursive: true });
else if (!existsSync(dir)) {
  console.error(`${dir}: no baseline there (make one with: report-identity.mjs save ${dir})`);
  process.exit(2);
}
let next = 0;
let differ = 0;
let missing = 0;
async function worker() {
  while (next < tasks.length) {
    const t = tasks[next++];
    const got = await run(t.file, t.format);
    const path = join(dir, nameOf(t));
    if (mode === "save") writeFileSync(path, got);
    else if (!existsSync(path)) {
      missing++;
      console.log(`NEW (not in the baseline): ${relative(root, t.file)} ${t.format}`);
    } else if (!readFileSync(path).equals(got)) {
      differ++;
      writeFileSync(`${path}.now`, got);
      console.log(`DIFFERS: ${relative(root, t.file)} ${t.format} (compare ${path} with ${path}.now)`);
    }
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: Math.max(1, Number(opt.jobs)) }, worker));
const took = ((Date.now() - t0) / 1000).toFixed(0);
if (mode === "save") console.log(`saved ${tasks.length} reports of ${captures.length} captures in ${dir} (${took} s)`);
else {
  console.log(
    `${tasks.length - differ - missing} of ${tasks.length} reports (${captures.length} captures, json and text) identical to ${dir}; ${differ} differ, ${missing} new (${took} s)`,
  );
  process.exit(differ || missing ? 1 : 0);
}
