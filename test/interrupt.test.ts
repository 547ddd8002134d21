/**
 * Ctrl-C on `tcpdump -U -w - | sockscope analyze -` (issue 12): the shell sends SIGINT to
 * the whole pipeline; sockscope stops reading, analyses what arrived, prints the report,
 * says on stderr that it was interrupted and at which frame, and exits 0 (as tcpdump
 * does after Ctrl-C). A second signal exits at once. Each pipeline here is a real one
 * (a writer that sends part of a capture, then waits, | the built CLI) started in its
 * own process group, and the signal goes to the group, as a terminal sends it.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, ROOT } from "./helpers/paths.js";
import { pcapRecords, writeBigCapture, writeFirstRecords } from "./helpers/big-capture.js";

const tmp = mkdtempSync(join(tmpdir(), "sockscope-interrupt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bulk = join(ROOT, "fixtures", "healthy", "bulk-transfer.pcap");
/** bulk-transfer.pcap's records: the writer sends the header and the first 20, then waits. */
const SENT_FIRST = 20;
const firstBytes = pcapRecords(readFileSync(bulk))[SENT_FIRST - 1]![1];

interface Ended {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts `writer | sockscope args` in its own process group with TMPDIR set to `tmpDir`,
 * waits until `ready(stderr, stdout)` (or a delay), sends `signal` to the group.
 */
function pipeline(args: string[], signal: NodeJS.Signals, tmpDir: string, bytes = firstBytes): Promise<Ended> {
  // The writer: the capture's start, then it stays (as tcpdump does between packets).
  const writer = `head -c ${bytes} '${bulk}'; exec sleep 30`;
  const cli = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(" ");
  // bash stays to report the pipeline's status, as a shell would: its trap lets the
  // signal pass it by (a handler, unlike an ignored signal, is not inherited).
  const sh = spawn("bash", ["-c", `trap : INT TERM; (${writer}) | ${cli}`], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", TMPDIR: tmpDir },
  });
  let stdout = "",
    stderr = "";
  sh.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  sh.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // sockscope has read what was sent long before: it starts in a few hundred ms.
  const timer = setTimeout(() => process.kill(-sh.pid!, signal), 2500);
  return new Promise((resolve) =>
    sh.on("close", (code, sig) => {
      clearTimeout(timer);
      try {
        process.kill(-sh.pid!, "SIGKILL");
      } catch {
        /* the group is gone */
      }
      resolve({ code, signal: sig, stdout, stderr });
    }),
  );
}

const interruptedLine = (sig: string, frame: number) =>
  new RegExp(
    `^sockscope: \\(stdin\\): offset \\d+: interrupted \\(${sig}\\) after frame ${frame}: the report covers the ${frame} packets read until then$`,
    "m",
  );

describe("Ctrl-C on a pipe into sockscope prints the report of what arrived", () => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`analyze --brief - (${sig} to the process group)`, async () => {
      const r = await pipeline(["analyze", "--brief", "-"], sig, tmp);
      expect(r.stdout).toContain("Capture (stdin)");
      expect(r.stdout).toContain(`${SENT_FIRST} packets`);
      expect(r.stdout).toMatch(/^Flows/m);
      expect(r.stderr).toMatch(interruptedLine(sig, SENT_FIRST));
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(0);
    }, 20_000);
  }

  it("analyze -F json - keeps the interruption in the report's warnings", async () => {
    const r = await pipeline(["analyze", "-F", "json", "-q", "-"], "SIGINT", tmp);
    const report = JSON.parse(r.stdout);
    expect(report.capture.packets).toBe(SENT_FIRST);
    expect(report.warnings.join("\n")).toMatch(/interrupted \(SIGINT\) after frame 20/);
    expect(r.stderr).toMatch(interruptedLine("SIGINT", SENT_FIRST));
    expect(r.code).toBe(0);
  }, 20_000);

  it("flows -", async () => {
    const r = await pipeline(["flows", "-"], "SIGINT", tmp);
    expect(r.stdout).toMatch(/│ 1 +│ tcp/);
    expect(r.stderr).toMatch(interruptedLine("SIGINT", SENT_FIRST));
    expect(r.code).toBe(0);
  }, 20_000);

  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    it(`packets - prints the frames that arrived and leaves no spool behind (${sig})`, async () => {
      const spoolDir = join(tmp, `spool-${sig}`);
      mkdirSync(spoolDir);
      const r = await pipeline(["packets", "-"], sig, spoolDir);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(SENT_FIRST);
      expect(lines[SENT_FIRST - 1]).toMatch(/^\s*20 /);
      expect(r.stderr).toMatch(interruptedLine(sig, SENT_FIRST));
      expect(r.stderr).not.toContain(spoolDir);
      expect(readdirSync(spoolDir)).toEqual([]);
      expect(r.code).toBe(0);
    }, 20_000);
  }
});

describe("a record the interruption cut is not damage", () => {
  // The writer stops 10 bytes into record 21, as a capture cut by Ctrl-C mid-record.
  for (const cmd of ["analyze", "packets"]) {
    it(`${cmd} - says only where it stopped, no "truncated" line`, async () => {
      const spoolDir = join(tmp, `spool-cut-${cmd}`);
      mkdirSync(spoolDir);
      const r = await pipeline([cmd, "-"], "SIGINT", spoolDir, firstBytes + 10);
      expect(r.stderr).toMatch(interruptedLine("SIGINT", SENT_FIRST));
      expect(r.stderr).not.toMatch(/truncated|damage/);
      expect(r.code).toBe(0);
    }, 20_000);
  }
});

describe("-c N on a pipe whose writer goes quiet", () => {
  it("analyze -c 3 - reports and exits without waiting for more bytes", async () => {
    const child = spawn(process.execPath, [CLI, "analyze", "--brief", "-c", "3", "-"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    // This process is the writer: five records, then the pipe stays open and quiet.
    child.stdin.write(readFileSync(bulk).subarray(0, pcapRecords(readFileSync(bulk))[4]![1]));
    const ended = await new Promise<number | null | "still running">((resolve) => {
      const timer = setTimeout(() => resolve("still running"), 3000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    const writerOpen = !child.stdin.writableEnded;
    child.kill("SIGKILL");
    expect(ended).toBe(0);
    expect(writerOpen).toBe(true);
    expect(stdout).toContain("3 packets");
  }, 20_000);
});

describe("packets - names standard input and cleans up however it ends", () => {
  it("a truncated final record is reported on stderr as (stdin), not as the spool file", () => {
    const spoolDir = join(tmp, "spool-trunc");
    mkdirSync(spoolDir);
    const whole = readFileSync(bulk);
    const r = spawnSync(process.execPath, [CLI, "packets", "-"], {
      input: whole.subarray(0, whole.length - 10),
      env: { ...process.env, TMPDIR: spoolDir },
    });
    expect(r.stderr.toString()).toMatch(
      /^sockscope: \(stdin\): offset \d+: truncated final record: it needs \d+ bytes, the file has \d+$/m,
    );
    expect(r.stderr.toString()).not.toContain(spoolDir);
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(r.status).toBe(0);
  });

  it("a closed stdout (EPIPE) removes the spool", async () => {
    const spoolDir = join(tmp, "spool-epipe");
    mkdirSync(spoolDir);
    const child = spawn(process.execPath, [CLI, "packets", "-"], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, TMPDIR: spoolDir },
    });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.end(readFileSync(bulk));
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});

describe("text reports print capture damage on stderr, as the README says", () => {
  const whole = readFileSync(bulk);
  const cut = whole.subarray(0, whole.length - 10);
  for (const cmd of ["analyze", "flows", "packets"]) {
    it(`${cmd} (text)`, () => {
      const r = spawnSync(process.execPath, [CLI, cmd, "-"], { input: cut });
      expect(r.stderr.toString()).toMatch(/^sockscope: \(stdin\): offset \d+: truncated final record/m);
      expect(r.status).toBe(0);
    });
  }
});

describe("a second signal exits at once", () => {
  it("the first aborts, the second exits with 130", async () => {
    // The handlers as the CLI installs them, in a process that stays busy after the first.
    const script = `
      import { stopOnSignal } from ${JSON.stringify(join(ROOT, "dist", "cli", "interrupt.js"))};
      const s = stopOnSignal();
      s.addEventListener("abort", () => console.log("stopping: " + s.reason));
      setInterval(() => {}, 1000);
      console.log("ready");`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const seen = (s: string) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (out.includes(s)) resolve();
          else
            child.stdout.once("data", (d: Buffer) => {
              out += d.toString();
              check();
            });
        };
        check();
      });
    await seen("ready");
    child.kill("SIGINT");
    await seen("stopping: SIGINT");
    const ended = new Promise<[number | null, string | null]>((resolve) =>
      child.on("close", (c, s) => resolve([c, s])),
    );
    child.kill("SIGINT");
    expect(await ended).toEqual([130, null]);
  }, 20_000);
});

/** A 108 MB capture of 1 M packets (100 000 connections), written once. */
let bigCapture: { path: string; packets: number } | null = null;
function big(): { path: string; packets: number } {
  if (bigCapture === null) {
    const path = join(tmp, "big.pcap");
    bigCapture = {
      path,
      packets: writeBigCapture(join(ROOT, "fixtures", "healthy", "many-short-connections.pcap"), path, 20_000, 5081),
    };
  }
  return bigCapture;
}

describe("Ctrl-C while packets prints", () => {
  it("ends the listing, says after which frame, exit 0", async () => {
    const { path, packets } = big();
    const child = spawn(process.execPath, [CLI, "packets", path], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    // The first lines come once the first pass (the analysis) is over: interrupt the second.
    child.stdout.once("data", () => child.kill("SIGINT"));
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    const m =
      /^sockscope: .*big\.pcap: offset \d+: interrupted \(SIGINT\) after frame (\d+): the report covers the \d+ packets read until then$/m.exec(
        stderr,
      );
    expect(m, stderr).not.toBeNull();
    const lines = Buffer.concat(chunks).toString().trimEnd().split("\n");
    expect(lines.length).toBe(Number(m![1]));
    expect(lines.length).toBeLessThan(packets);
  }, 120_000);
});

describe("Ctrl-C under --jobs: every thread stops at the same frame", () => {
  it("the report is the one of the frames read before the interruption", async () => {
    const { path: capture, packets: total } = big();
    /** Runs `analyze --jobs 2` and sends SIGINT after `delayMs`. */
    const interruptAfter = async (delayMs: number) => {
      const child = spawn(process.execPath, [CLI, "analyze", "-F", "json", "-q", "--jobs", "2", capture], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      const chunks: Buffer[] = [];
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => chunks.push(d));
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const timer = setTimeout(() => child.kill("SIGINT"), delayMs);
      const code = await new Promise((resolve) => child.on("close", resolve));
      clearTimeout(timer);
      return { code, stderr, stdout: Buffer.concat(chunks).toString() };
    };
    // The signal must land while the threads read: an idle machine reads the whole file
    // in under 1.5 s (CI once did), so a run that got to the end is tried again sooner.
    const readAll = (stderr: string) =>
      Number(/interrupted \(SIGINT\) after frame (\d+)/.exec(stderr)?.[1] ?? total) >= total;
    let run = await interruptAfter(1500);
    for (let delay = 700; delay >= 50 && readAll(run.stderr); delay = Math.floor(delay / 2))
      run = await interruptAfter(delay);
    const { code, stderr, stdout } = run;
    expect(code).toBe(0);
    const m = /interrupted \(SIGINT\) after frame (\d+)/.exec(stderr);
    expect(m, `not interrupted while reading (stderr: ${stderr})`).not.toBeNull();
    const frame = Number(m![1]);
    expect(frame).toBeGreaterThan(0);
    expect(frame).toBeLessThan(total);
    const interrupted = JSON.parse(stdout);
    // The same frames, written out and analysed on one thread from start to end.
    const head = join(tmp, "head.pcap");
    writeFirstRecords(capture, head, frame);
    const whole = JSON.parse(
      spawnSync(process.execPath, [CLI, "analyze", "-F", "json", "-q", "--jobs", "1", head], {
        maxBuffer: 1 << 30,
      }).stdout.toString(),
    );
    expect(interrupted.capture.packets).toBe(frame);
    const strip = (r: { capture: { file: string }; warnings: string[] }) => ({
      ...r,
      capture: { ...r.capture, file: "", bytes: 0 },
      warnings: r.warnings.filter((w) => !/interrupted/.test(w)),
    });
    expect(strip(interrupted)).toEqual(strip(whole));
  }, 120_000);
});

describe("the stop line (shared by --jobs threads)", () => {
  it("stops every thread at the furthest frame any has claimed, none past it", async () => {
    const { StopLine } = await import(join(ROOT, "dist", "run", "parallel", "stop-line.js"));
    const main = StopLine.create(2);
    const worker = new StopLine(main.buffer, 1);
    for (let f = 1; f <= 5000; f++) expect(main.take(f)).toBe(true); // the main thread is ahead
    for (let f = 1; f <= 10; f++) expect(worker.take(f)).toBe(true);
    const line = main.draw();
    expect(line).toBeGreaterThanOrEqual(5000);
    let last = 0;
    for (let f = 11; worker.take(f); f++) last = f;
    expect(last).toBe(line); // the worker catches up to the line and stops there
    expect(main.take(line)).toBe(true);
    expect(main.take(line + 1)).toBe(false);
  });
});

describe("the ends of a reading: requested or interrupted (the library)", () => {
  it("lastFrame is a requested end: no interruption, no warning", async () => {
    const { runCapture } = await import(join(ROOT, "dist", "run", "pipeline.js"));
    const { info } = await runCapture(bulk, { lastFrame: 5 });
    expect(info.packets).toBe(5);
    expect(info.interrupted).toBeUndefined();
    expect(info.warnings).toEqual([]);
  });

  it("a pass whose signal fired before it began reads to lastFrame, where it was interrupted", async () => {
    const { runCapture } = await import(join(ROOT, "dist", "run", "pipeline.js"));
    const c = new AbortController();
    c.abort("SIGINT");
    const { info } = await runCapture(bulk, { lastFrame: 5, signal: c.signal });
    expect(info.packets).toBe(5);
    expect(info.interrupted).toMatch(/interrupted \(SIGINT\) after frame 5:/);
  });

  it("--jobs: a capture found unsplittable after Ctrl-C is read on one thread up to the line drawn", async () => {
    const { analyzeCapture } = await import(join(ROOT, "dist", "run", "pipeline.js"));
    // r5_vlancap: a second VLAN at frame 2 (unsplittable); then 1100 copies of frame 1,
    // so the capture goes past the line (the main thread's first claim: frames 1-1024).
    const src = readFileSync(join(ROOT, "fixtures", "parallel", "r5_vlancap.pcap"));
    const spans = pcapRecords(src);
    const first = src.subarray(spans[0]![0], spans[0]![1]);
    const path = join(tmp, "unsplittable-late.pcap");
    writeFileSync(path, Buffer.concat([src, ...Array.from({ length: 1100 }, () => first)]));
    const c = new AbortController();
    // Chunks of one record: Ctrl-C once frame 1 is read, before frame 2 shows the VLANs.
    const { info } = await analyzeCapture(path, {
      jobs: 2,
      signal: c.signal,
      chunkSize: spans[0]![1] - spans[0]![0],
      onProgress: (_bytes: number, packets: number) => {
        if (packets >= 1) c.abort("SIGINT");
      },
    });
    expect(info.error).toBeNull();
    expect(info.packets).toBe(1024);
    expect(info.interrupted).toMatch(/interrupted \(SIGINT\) after frame 1024:/);
  }, 30_000);
});

describe("one signal for many reads (the library)", () => {
  it("each read stops listening to the signal when it ends: no listener leak warning", async () => {
    const { runCapture } = await import(join(ROOT, "dist", "run", "pipeline.js"));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    const c = new AbortController();
    for (let i = 0; i < 20; i++) await runCapture(bulk, { signal: c.signal });
    await new Promise(setImmediate);
    process.off("warning", onWarning);
    expect(warnings.filter((w) => /listener/i.test(w))).toEqual([]);
  });
});
