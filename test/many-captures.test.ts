/**
 * `sockscope analyze` over several captures (issue 18): which words are captures
 * (run/captures/inputs.ts, cli/args.ts), the combined report in every format against each
 * capture's own report, a damaged and an unreadable capture among good ones, --jobs,
 * progress, and the combined JSON schema (derived from the one-capture schema).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { analyzeInputs, UsageError } from "../src/cli/args.js";
import { directoryCaptures, expandCaptureInputs, expandGlob } from "../src/run/captures/inputs.js";
import { CLI, CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";

const schemaOf = (name: string) => JSON.parse(readFileSync(join(ROOT, "schema", name), "utf8"));
const validateReports = new Ajv({ allErrors: true, strict: false })
  .addSchema(schemaOf("report.schema.json"))
  .compile(schemaOf("reports.schema.json"));

function run(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", TZ: "UTC" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CORPUS_PICKS = ["arkime--adb.pcap", "arkime--bt-tcp.pcap", "pcapng-testgen--be-test001-basic.pcapng"];

/** A capture cut inside its fifth record's header with an absurd length: four packets, then damage. */
function damagedCopy(src: string, dst: string): void {
  const b = readFileSync(src);
  let off = 24;
  for (let i = 0; i < 4; i++) off += 16 + b.readUInt32LE(off + 8);
  const cut = Buffer.from(b.subarray(0, off + 16));
  cut.writeUInt32LE(0x7fffffff, off + 8);
  cut.writeUInt32LE(0x7fffffff, off + 12);
  writeFileSync(dst, cut);
}

/** A directory of real captures: three from the corpus, a fixture, a damaged copy, a text file, a subdirectory. */
function captureDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sockscope-many-"));
  for (const f of CORPUS_PICKS) copyFileSync(join(CORPUS, "captures", f), join(dir, f));
  copyFileSync(join(FIXTURES, "healthy", "graceful-close.pcap"), join(dir, "graceful-close.pcap"));
  damagedCopy(join(FIXTURES, "healthy", "bulk-transfer.pcap"), join(dir, "damaged.pcap"));
  writeFileSync(join(dir, "notes.txt"), "not a capture\n");
  mkdirSync(join(dir, "older"));
  copyFileSync(join(FIXTURES, "healthy", "graceful-close.pcap"), join(dir, "older", "x.pcap"));
  return dir;
}

describe("which words are captures", () => {
  it("reads a directory's captures, not its subdirectories, and says what it skipped", () => {
    const dir = captureDir();
    const d = directoryCaptures(dir);
    expect(d.captures.map((p) => p.slice(dir.length + 1))).toEqual([
      "arkime--adb.pcap",
      "arkime--bt-tcp.pcap",
      "damaged.pcap",
      "graceful-close.pcap",
      "pcapng-testgen--be-test001-basic.pcapng",
    ]);
    expect(d.skipped.join("\n")).toMatch(/1 subdirectory not entered \(older\)/);
    expect(d.skipped.join("\n")).toMatch(/1 file not named .pcap, .pcapng or .cap skipped \(notes.txt\)/);
  });

  it("expands a glob the shell left quoted, as bash would", () => {
    const dir = captureDir();
    expect(expandGlob(join(dir, "arkime--*.pcap"))).toEqual([
      join(dir, "arkime--adb.pcap"),
      join(dir, "arkime--bt-tcp.pcap"),
    ]);
    expect(expandGlob(join(dir, "*", "x.pca[p]"))).toEqual([join(dir, "older", "x.pcap")]);
    const none = expandCaptureInputs([join(dir, "*.pcapng"), join(dir, "nothing-*.pcap")]);
    expect(none.captures).toEqual([join(dir, "pcapng-testgen--be-test001-basic.pcapng")]);
    expect(none.skipped).toEqual([`${join(dir, "nothing-*.pcap")}: matches no .pcap, .pcapng or .cap file`]);
  });

  it("keeps one capture and its filter words as before, and asks for -f after several", () => {
    const dir = captureDir();
    const a = join(dir, "arkime--adb.pcap"),
      b = join(dir, "graceful-close.pcap");
    expect(analyzeInputs("analyze", {}, [a]).kind).toBe("one");
    const one = analyzeInputs("analyze", {}, [a, "tcp", "port", "80"]);
    expect(one.kind === "one" && one.select?.filter?.expression).toBe("tcp port 80");
    expect(analyzeInputs("analyze", {}, [a, b])).toEqual({ kind: "many", words: [a, b], filter: null, count: null });
    expect(analyzeInputs("analyze", {}, [dir]).kind).toBe("many");
    expect(analyzeInputs("analyze", {}, [join(dir, "*.pcap")]).kind).toBe("many");
    expect(analyzeInputs("analyze", { filter: "tcp", count: "3" }, [a, b])).toMatchObject({ filter: "tcp", count: 3 });
    expect(() => analyzeInputs("analyze", {}, [a, b, "tcp", "port", "80"])).toThrow(
      /"tcp port 80" names no capture file, directory or glob match; with several captures, give a capture filter with -f/,
    );
    expect(() => analyzeInputs("analyze", {}, [a, b, "-"])).toThrow(UsageError);
    // A mistyped second capture is named as such, not compiled as a filter.
    expect(() => analyzeInputs("analyze", {}, [a, join(dir, "nope.pcap")])).toThrow(
      `${join(dir, "nope.pcap")}: no such capture file (and a file name is no capture filter)`,
    );
  });
});

describe("analyze with several captures", () => {
  it("JSON: each capture's own report as it prints alone, with its file, host and content hash; validates", () => {
    const dir = captureDir();
    const r = run(["analyze", "-F", "json", "-j", "2", dir]);
    expect(r.code).toBe(0);
    const combined = JSON.parse(r.stdout);
    expect(validateReports(combined), JSON.stringify(validateReports.errors)).toBe(true);
    expect(combined.captures).toHaveLength(5);
    for (const c of combined.captures) {
      const own = run(["analyze", "-F", "json", c.file]);
      expect(c.report).toEqual(JSON.parse(own.stdout));
      expect(c.contentHash).toBe(createHash("sha256").update(readFileSync(c.file)).digest("hex"));
      expect(c).toMatchObject({ host: null, error: null });
      // Byte for byte, but for the indentation under "report".
      expect(r.stdout).toContain(own.stdout.trimEnd().replaceAll("\n", "\n      "));
    }
    expect(combined.skipped.join("\n")).toMatch(/notes\.txt/);
    expect(combined.skipped.join("\n")).toMatch(/subdirectory not entered \(older\)/);
  });

  it("a damaged capture: its packets before the damage analysed, its one line on stderr, the others unaffected, exit 0", () => {
    const dir = captureDir();
    const r = run(["analyze", "-F", "json", dir]);
    expect(r.code).toBe(0);
    const damaged = JSON.parse(r.stdout).captures.find((c: { file: string }) => c.file.endsWith("damaged.pcap"));
    expect(damaged.report.capture.partial).toBe(true);
    expect(damaged.report.capture.packets).toBe(4);
    expect(r.stderr).toMatch(/damaged\.pcap: offset \d+: .*\n/);
    const alone = run(["analyze", "-F", "json", join(dir, "damaged.pcap")]);
    expect(damaged.report).toEqual(JSON.parse(alone.stdout));
  });

  it("an unreadable capture among good ones: the others' report, its one line, exit 2", () => {
    const dir = captureDir();
    writeFileSync(join(dir, "broken.pcap"), "garbage, not a capture\n");
    const r = run(["analyze", "-F", "json", dir]);
    expect(r.code).toBe(2);
    const combined = JSON.parse(r.stdout);
    const broken = combined.captures.find((c: { file: string }) => c.file.endsWith("broken.pcap"));
    expect(broken).toMatchObject({ report: null, contentHash: null });
    expect(validateReports(combined), JSON.stringify(validateReports.errors)).toBe(true);
    expect(broken.error).toMatch(/broken\.pcap: offset 0: not a pcap or pcapng file/);
    expect(combined.captures.filter((c: { report: object | null }) => c.report !== null)).toHaveLength(5);
    expect(r.stderr).toMatch(/sockscope: .*broken\.pcap: offset 0: not a pcap or pcapng file/);
    expect(r.stderr).toMatch(/sockscope: 1 of 6 captures could not be read\n/);
  });

  it("the same report with one job as with two, and with the captures named one by one", () => {
    const dir = captureDir();
    const one = run(["analyze", "-F", "json", "-j", "1", dir]);
    const two = run(["analyze", "-F", "json", "-j", "2", dir]);
    expect(two.stdout).toBe(one.stdout);
    const names = CORPUS_PICKS.map((f) => join(dir, f));
    const listed = JSON.parse(run(["analyze", "-F", "json", ...names]).stdout);
    expect(listed.captures.map((c: { file: string }) => c.file)).toEqual(names);
  });

  it("text: each capture's own report under its heading, then the table of captures", () => {
    const dir = captureDir();
    const r = run(["analyze", "--brief", dir]);
    expect(r.code).toBe(0);
    const own = run(["analyze", "--brief", join(dir, "graceful-close.pcap")]).stdout;
    expect(r.stdout).toContain(`=== capture 4 of 5: ${join(dir, "graceful-close.pcap")} (sha256 `);
    expect(r.stdout).toContain(own);
    expect(r.stdout).toMatch(
      /Captures \(5\): \d+ packets, \d+ findings\n#\s+capture\s+host\s+packets\s+flows\s+err\/warn\/info\s+status\n/,
    );
    expect(r.stdout).toMatch(/damaged\.pcap\s+-\s+4\s+1\s+\d+\/\d+\/\d+\s+partial/);
  });

  it("ndjson-ecs: every record names its capture's file and hash, and the host from --capture-host {dir}", () => {
    const root = mkdtempSync(join(tmpdir(), "sockscope-hosts-"));
    for (const host of ["db1", "web2"]) {
      mkdirSync(join(root, host));
      copyFileSync(join(FIXTURES, "healthy", "graceful-close.pcap"), join(root, host, `${host}-0001.pcap`));
    }
    const r = run(["analyze", "-F", "ndjson-ecs", "--capture-host", "{dir}", join(root, "*", "*.pcap")]);
    expect(r.code).toBe(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const one = run(["analyze", "-F", "ndjson-ecs", join(root, "db1", "db1-0001.pcap")])
      .stdout.trim()
      .split("\n");
    expect(records).toHaveLength(2 * one.length);
    const hash = createHash("sha256")
      .update(readFileSync(join(root, "db1", "db1-0001.pcap")))
      .digest("hex");
    for (const rec of records) {
      const host = rec.sockscope.capture.file.includes("/db1/") ? "db1" : "web2";
      expect(rec.host).toEqual({ name: host });
      expect(rec.observer.hostname).toBe(host);
      expect(rec.sockscope.capture.hash).toBe(hash);
    }
    // One capture: {dir} names its host too (and, as before, no hash).
    const alone = run(["analyze", "-F", "ndjson-ecs", "--capture-host", "{dir}", join(root, "web2", "web2-0001.pcap")]);
    const first = JSON.parse(alone.stdout.split("\n")[0]!);
    expect(first.host).toEqual({ name: "web2" });
    expect(first.sockscope.capture).toEqual({ file: join(root, "web2", "web2-0001.pcap") });
  });

  it("HTML: one page holding each capture's own page in a sandboxed frame", () => {
    const dir = captureDir();
    const out = join(dir, "report.html");
    expect(run(["analyze", "-F", "html", "-o", out, dir]).code).toBe(0);
    const page = readFileSync(out, "utf8");
    expect(page.match(/<iframe sandbox="allow-scripts"/g)).toHaveLength(5);
    expect(page).not.toMatch(/<script/); // the outer page runs nothing; the frames' scripts are escaped in srcdoc
    expect(page).toContain("&#60;script");
  });

  it("progress: captures done of the total, packets, rate and findings with --progress; none with -q", () => {
    const dir = captureDir();
    const r = run(["analyze", "--progress", "-F", "json", dir]);
    expect(r.stderr).toMatch(/ {2}5 of 5 captures, [\d,]+ packets, [\d.]+ M pkt\/s, \d+ findings\n/);
    expect(run(["analyze", "--progress", "-q", "-F", "json", dir]).stderr).not.toMatch(/captures,/);
  });

  it("says the errors plainly: filter words after several captures, --flow across captures, an empty directory", () => {
    const dir = captureDir();
    const a = join(dir, "arkime--adb.pcap");
    expect(run(["analyze", a, a.replace("adb", "bt-tcp"), "tcp", "port", "80"]).stderr).toMatch(
      /with several captures, give a capture filter with -f "EXPR"/,
    );
    expect(run(["analyze", "--flow", "1", dir]).stderr).toMatch(/--flow names a flow of one capture/);
    const empty = mkdtempSync(join(tmpdir(), "sockscope-empty-"));
    const r = run(["analyze", empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no capture files in /);
  });
});

describe("check with several captures", () => {
  /** Three captures with expectations (one failing: another capture's), one unreadable, one without any. */
  function checkDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "sockscope-check-many-"));
    for (const [from, to] of [
      ["healthy/graceful-close", "a-graceful"],
      ["icmp-unreachable/tcp-ipv4", "b-icmp"],
      ["healthy/graceful-close", "c-wrong"],
    ]) {
      copyFileSync(join(FIXTURES, `${from}.pcap`), join(dir, `${to}.pcap`));
      copyFileSync(join(FIXTURES, `${from}.expect.json`), join(dir, `${to}.expect.json`));
    }
    copyFileSync(join(FIXTURES, "icmp-unreachable", "tcp-ipv4.expect.json"), join(dir, "c-wrong.expect.json"));
    copyFileSync(join(FIXTURES, "healthy", "graceful-close.pcap"), join(dir, "d-unpaired.pcap"));
    return dir;
  }

  it("each capture against its own expectations, one summary, exit 1 for a failure; the same with 1 or 2 jobs", () => {
    const dir = checkDir();
    const one = run(["check", "-j", "1", dir]);
    const two = run(["check", "-j", "2", dir]);
    expect(two.code).toBe(1);
    expect(two.stdout).toBe(one.stdout);
    expect(two.stdout).toMatch(new RegExp(`PASS ${join(dir, "a-graceful.pcap")}`));
    expect(two.stdout).toMatch(new RegExp(`PASS ${join(dir, "b-icmp.pcap")}`));
    expect(two.stdout).toMatch(new RegExp(`FAIL ${join(dir, "c-wrong.pcap")}`));
    expect(two.stdout).toMatch(/3 captures checked: 2 passed, 1 failed/);
  });

  it("an unreadable capture among them: named, exit 2; a quoted glob is expanded, captures without expectations not checked", () => {
    const dir = checkDir();
    writeFileSync(join(dir, "e-broken.pcap"), "garbage, not a capture\n");
    copyFileSync(join(dir, "a-graceful.expect.json"), join(dir, "e-broken.expect.json"));
    const r = run(["check", "-j", "2", join(dir, "*.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/e-broken\.pcap: offset 0: not a pcap or pcapng file/);
    expect(r.stdout).toMatch(/not checked \(no expectations file\): 1 capture: .*d-unpaired\.pcap/);
    expect(r.stdout).toMatch(/4 captures checked: 2 passed, 1 failed, 1 error/);
  });

  it("progress lines with --progress", () => {
    const r = run(["check", "--progress", checkDir()]);
    expect(r.stderr).toMatch(/ {2}3 of 3 captures, [\d,]+ packets, [\d.]+ M pkt\/s, \d+ findings\n/);
  });
});

describe("Ctrl-C in a many-capture run", () => {
  it.each(["1", "2"])(
    "--jobs %s: the captures being read end there, the rest are not started, the report is printed, exit 0",
    async (jobs) => {
      const dir = mkdtempSync(join(tmpdir(), "sockscope-many-int-"));
      // Long enough to be interrupted mid-read: 20 000 short connections (bench/sequential.mjs), three copies.
      spawnSync(process.execPath, [join(ROOT, "bench", "sequential.mjs"), join(dir, "a.pcap"), "20000"]);
      for (const n of ["b", "c"]) copyFileSync(join(dir, "a.pcap"), join(dir, `${n}.pcap`));
      const child = spawn(process.execPath, [CLI, "analyze", "-F", "json", "-j", jobs, "--progress", dir]);
      let stdout = "",
        stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      const sent = new Promise<void>((resolve) =>
        child.stderr.on("data", (d) => {
          stderr += d;
          // The first progress line with packets read: the first capture is being read.
          if (/0 of 3 captures, [1-9]/.test(stderr) && !child.killed) {
            child.kill("SIGINT");
            resolve();
          }
        }),
      );
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      await sent;
      expect(code).toBe(0);
      const combined = JSON.parse(stdout);
      expect(validateReports(combined), JSON.stringify(validateReports.errors)).toBe(true);
      const [a, b, c] = combined.captures;
      expect(a.report.warnings.join("\n")).toMatch(/interrupted \(SIGINT\) after frame \d+/);
      // With two threads the second capture was being read too, or not yet started.
      if (jobs === "2" && b.report !== null) expect(b.report.warnings.join("\n")).toMatch(/interrupted \(SIGINT\)/);
      else expect(b.error).toMatch(/not read: SIGINT came before its turn/);
      expect(c.error).toMatch(/not read: SIGINT came before its turn/);
    },
    60_000,
  );
});
