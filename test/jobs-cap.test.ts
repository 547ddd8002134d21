/**
 * `--jobs N` is capped at what the file and the machine can use (issue 13: `--jobs 64` on
 * a 5 KB file started 64 threads, took 5.9 s and 753 MB, and printed
 * MaxListenersExceededWarning), and the CLI says when it used fewer.
 */
import { spawnSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  ftruncateSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { jobsFor, MIN_BYTES_PER_JOB } from "../src/run/pipeline.js";
import { CLI, FIXTURES } from "./helpers/paths.js";

const small = join(FIXTURES, "healthy", "bulk-transfer.pcap");
const tmp = mkdtempSync(join(tmpdir(), "sockscope-jobs-cap-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const run = (args: string[], input?: Buffer) =>
  spawnSync(process.execPath, [CLI, ...args], { input, env: { ...process.env, NO_COLOR: "1" } });

describe("--jobs is capped by file size and cores", () => {
  it("--jobs 64 on a 13 KB capture runs one thread, says so, and reports as --jobs 1", () => {
    const started = Date.now();
    const r = run(["analyze", "-F", "json", "--jobs", "64", small]);
    const took = Date.now() - started;
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toBe(
      "sockscope: --jobs 64: using 1 thread (a 13.2 KB capture gets one thread per 32 MB)\n",
    );
    expect(r.stdout.toString()).toBe(run(["analyze", "-F", "json", "--jobs", "1", small]).stdout.toString());
    expect(took).toBeLessThan(5000); // 64 threads took 5.9 s unloaded
  });

  it("-q keeps it quiet; a --jobs that stands says nothing", () => {
    expect(run(["analyze", "-q", "--jobs", "64", small]).stderr.toString()).toBe("");
    expect(run(["analyze", "--jobs", "1", small]).stderr.toString()).toBe("");
  });

  it("standard input is one thread", () => {
    const r = run(["analyze", "--jobs", "4", "-"], readFileSync(small));
    expect(r.stderr.toString()).toBe(
      "sockscope: --jobs 4: using 1 thread (standard input is read once, by one thread)\n",
    );
    expect(r.status).toBe(0);
  });

  it("a file gets one thread per 32 MB, at most one per core; jobsFor says what capped it, as data", () => {
    const f = join(tmp, "sparse.pcap");
    const fd = openSync(f, "w");
    const size = 3 * MIN_BYTES_PER_JOB + 1;
    ftruncateSync(fd, size); // sparse: only its size is read
    closeSync(fd);
    const cores = availableParallelism();
    expect(jobsFor(f, 64)).toEqual({ jobs: Math.min(cores, 3), cappedBy: cores < 3 ? "cores" : "size", size, cores });
    expect(jobsFor(f, 2)).toEqual({ jobs: Math.min(2, cores), cappedBy: cores >= 2 ? null : "cores", size, cores });
    expect(jobsFor(f, 3).cappedBy).toBe(cores >= 3 ? null : "cores");
    expect(jobsFor(f, 1)).toEqual({ jobs: 1, cappedBy: null, size: null, cores });
    expect(jobsFor("-", 4)).toEqual({ jobs: 1, cappedBy: "stdin", size: null, cores });
    expect(jobsFor(small, 64)).toEqual({
      jobs: 1,
      cappedBy: cores > 1 ? "size" : "cores",
      size: statSync(small).size,
      cores,
    });
  });

  it("the CLI words a cap by cores", () => {
    const cores = availableParallelism();
    const f = join(tmp, "big.pcap");
    writeFileSync(f, readFileSync(small));
    truncateSync(f, (cores + 1) * MIN_BYTES_PER_JOB); // sparse, zero-filled past the capture: one thread per core at most
    const r = run(["analyze", "-F", "json", "-c", "1", "--jobs", String(cores + 1), f]); // -c 1: read no further than the first packet
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toMatch(
      new RegExp(`^sockscope: --jobs ${cores + 1}: using ${cores} threads? \\(this machine has ${cores} cores?\\)\n`),
    );
  });
});
