/**
 * `analyze --sink` against a real ClickHouse server (Debian's clickhouse-server 18.16,
 * test/helpers/clickhouse.ts): the rows of real captures arrive and count as their JSON
 * reports do; a capture stored twice adds nothing; a write cut short (the server refusing a
 * batch; the server killed mid-insert) leaves nothing that the stored_* views count, and the
 * next run completes it; a server that is away fails the run with one line and exit 2; the
 * password is never printed. A directory of captures goes in with one command, each capture
 * stored by the thread that analysed it and counting as its part of the combined report.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Report } from "../src/report/model.js";
import { flowCommunityId } from "../src/report/community-id.js";
import { fileContentHash } from "../src/capture/content-hash.js";
import { CaptureSink } from "../src/sink/capture-sink.js";
import { parseSinkUrl, SinkError } from "../src/sink/clickhouse-target.js";
import { writeBigCapture } from "./helpers/big-capture.js";
import { clickHouseDescribe, clickHouseServer, SINK_PASSWORD, type ClickHouseServer } from "./helpers/clickhouse.js";
import { CLI, CORPUS, FIXTURES } from "./helpers/paths.js";

const CAPTURES = [
  "pcpp--example2-mixed.pcap",
  "zeek--http-206_example_b-zero-window.pcap",
  "suricata--http-mime-truncated-zwp.pcap",
].map((f) => join(CORPUS, "captures", f));

const env = { ...process.env, SOCKSCOPE_CLICKHOUSE_PASSWORD: SINK_PASSWORD, NO_COLOR: "1" };

function analyze(args: string[], e: NodeJS.ProcessEnv = env) {
  const r = spawnSync(process.execPath, [CLI, "analyze", ...args], { encoding: "utf8", env: e });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The sink's lines of stderr (not the capture's own problems: clock jumps, a truncated record). */
const sinkLines = (stderr: string) => stderr.split("\n").filter((l) => l.includes("ClickHouse"));

/** The combined JSON report of many captures (sockscope.reports/1), as far as these tests read it. */
interface Combined {
  captures: { file: string; contentHash: string; report: Report }[];
}

let server: ClickHouseServer;
let dir: string;

clickHouseDescribe("analyze --sink clickhouse://", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sockscope-sink-"));
    server = await clickHouseServer();
  }, 90_000);
  afterAll(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = async (sql: string, db: string) => Number(await server.query(sql, db));

  it("stores every flow and finding of real captures, as the JSON report has them; a second run adds no row", async () => {
    const db = "corpus";
    for (const [i, capture] of CAPTURES.entries()) {
      const json = join(dir, `r${i}.json`);
      const r = analyze([
        capture,
        "-F",
        "json",
        "-o",
        json,
        "--sink",
        server.sinkUrl(db),
        "--capture-host",
        `host${i}`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(readFileSync(json, "utf8")) as Report;
      const id = await fileContentHash(capture);
      expect(sinkLines(r.stderr)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^sockscope: stored ${report.flows.length} flow\\(s\\) and ${report.findings.length} finding\\(s\\) of capture ${id.slice(0, 12)} in ClickHouse`,
          ),
        ),
      ]);
      const where = `WHERE capture_id = '${id}'`;
      expect(await count(`SELECT count() FROM stored_flows ${where}`, db)).toBe(report.flows.length);
      expect(await count(`SELECT count() FROM stored_findings ${where}`, db)).toBe(report.findings.length);
      // Per kind and severity, and bytes in all: the same numbers as the report's.
      const kinds = new Map<string, number>();
      for (const f of report.findings)
        kinds.set(`${f.kind} ${f.severity}`, (kinds.get(`${f.kind} ${f.severity}`) ?? 0) + 1);
      const stored = await server.query(
        `SELECT kind, severity, count() FROM stored_findings ${where} GROUP BY kind, severity FORMAT TabSeparated`,
        db,
      );
      expect(
        new Map(
          stored === ""
            ? []
            : stored
                .split("\n")
                .map((l) => l.split("\t"))
                .map(([k, s, n]) => [`${k} ${s}`, Number(n)]),
        ),
      ).toEqual(kinds);
      const bytes = report.flows.reduce((n, f) => n + f.bytes.client + f.bytes.server, 0);
      expect(await count(`SELECT sum(client_bytes + server_bytes) FROM stored_flows ${where}`, db)).toBe(bytes);
      // One flow in full: its key, Community ID and finding count.
      const f = report.flows.find((x) => report.findings.some((y) => y.flow === x.id))!;
      const row = JSON.parse(
        await server.query(`SELECT * FROM stored_flows ${where} AND flow_id = ${f.id} FORMAT JSONEachRow`, db),
      ) as Record<string, unknown>;
      expect(row).toMatchObject({
        capture_file: capture,
        host: `host${i}`,
        transport: f.proto,
        client_port: Number(f.client.split(":").pop()),
        server_port: Number(f.server.split(":").pop()),
        community_id: flowCommunityId(f.proto, f.client, f.server),
        finding_count: report.findings.filter((y) => y.flow === f.id).length,
        start_epoch: f.start,
      });
    }
    expect(await count("SELECT count() FROM captures FINAL", db)).toBe(CAPTURES.length);
    // Again: nothing is written, and the run says so.
    const rawBefore = await count("SELECT count() FROM flows", db);
    const again = analyze([CAPTURES[0]!, "-F", "json", "-o", join(dir, "again.json"), "--sink", server.sinkUrl(db)]);
    expect(again.code, again.stderr).toBe(0);
    expect(sinkLines(again.stderr)).toEqual([
      expect.stringMatching(/already stored in ClickHouse .*: nothing written$/),
    ]);
    expect(await count("SELECT count() FROM flows", db)).toBe(rawBefore);
  }, 120_000);

  it("a write the server refuses half-way counts for nothing; the next run stores the capture once", async () => {
    const db = "halfway";
    const target = parseSinkUrl(server.sinkUrl(db), undefined, env);
    const capture = CAPTURES[0]!;
    const json = join(dir, "half.json");
    expect(analyze([capture, "-q", "-F", "json", "-o", json]).code).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8")) as Report;
    const id = { captureId: await fileContentHash(capture), file: capture, host: "" };
    // The flows go in, then the server rejects the findings' batch (a severity its Enum lacks).
    const broken = { ...report, findings: report.findings.map((f) => ({ ...f, severity: "fatal" as "error" })) };
    const sink = await CaptureSink.open(target, "test");
    await expect(sink.writeCapture(id, broken)).rejects.toThrow(SinkError);
    await sink.close();
    expect(await count(`SELECT count() FROM flows WHERE capture_id = '${id.captureId}'`, db)).toBe(report.flows.length);
    expect(await count("SELECT count() FROM stored_flows", db)).toBe(0);
    expect(await count("SELECT count() FROM captures", db)).toBe(0);
    // The CLI's run completes it: every flow once (the half-way rows folded into the new ones).
    const r = analyze([capture, "-q", "--sink", server.sinkUrl(db)]);
    expect(r.code, r.stderr).toBe(0);
    expect(await count("SELECT count() FROM stored_flows", db)).toBe(report.flows.length);
    expect(await count("SELECT count() FROM stored_findings", db)).toBe(report.findings.length);
    expect(await count("SELECT count() FROM flows FINAL", db)).toBe(report.flows.length);
  }, 60_000);

  it("the server killed mid-insert: exit 2 with one line, nothing counted for the capture; restarted, the same command stores it all", async () => {
    const db = "killed";
    const big = join(dir, "big.pcap");
    writeBigCapture(join(FIXTURES, "healthy", "many-short-connections.pcap"), big, 25_000, 5081);
    const id = await fileContentHash(big);
    // NDJSON: the JSON report of 125 000 flows would be one string too long to parse back.
    const records = join(dir, "big.ndjson");
    const args = [big, "-q", "-F", "ndjson-ecs", "-o", records, "--sink", server.sinkUrl(db)];
    const child = spawn(process.execPath, [CLI, "analyze", ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const done = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
    // Kill the server as soon as the first batch of flows is in.
    let finished = false;
    void done.then(() => (finished = true));
    for (;;) {
      const n = await server
        .query(`SELECT count() FROM flows WHERE capture_id = '${id}'`, db)
        .then(Number)
        .catch(() => 0);
      if (n > 0 || finished) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(finished, "the analysis ended before its first batch was seen: the capture is too small").toBe(false);
    await server.stop("SIGKILL");
    const code = await done;
    expect(code, stderr).toBe(2);
    const said = stderr.split("\n").filter((l) => l !== "");
    expect(said, stderr).toHaveLength(1);
    expect(said[0]).toMatch(
      /^sockscope: ClickHouse http:\/\/127\.0\.0\.1:\d+\/killed as sockscope_writer: inserting into (flows|findings|captures): /,
    );
    await server.start();
    expect(await count("SELECT count() FROM captures", db)).toBe(0);
    expect(await count(`SELECT count() FROM stored_flows WHERE capture_id = '${id}'`, db)).toBe(0);
    const r = analyze(args);
    expect(r.code, r.stderr).toBe(0);
    const lines = (dataset: string) =>
      Number(spawnSync("grep", ["-c", `"dataset":"sockscope.${dataset}"`, records], { encoding: "utf8" }).stdout);
    expect(lines("flow")).toBe(125_000);
    expect(await count("SELECT count() FROM stored_flows", db)).toBe(lines("flow"));
    expect(await count("SELECT count() FROM stored_findings", db)).toBe(lines("finding"));
  }, 300_000);

  it("an analysis cut short by Ctrl-C stores nothing, and says so", async () => {
    const db = "interrupted";
    const big = join(dir, "big-interrupted.pcap");
    writeBigCapture(join(FIXTURES, "healthy", "many-short-connections.pcap"), big, 25_000, 5081);
    const child = spawn(
      process.execPath,
      [CLI, "analyze", big, "-F", "json", "-o", join(dir, "interrupted.json"), "--sink", server.sinkUrl(db)],
      { env, stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const done = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
    // Once the server has been asked for its tables the analysis runs: interrupt it then.
    const until = Date.now() + 30_000;
    while (Number(await server.query(`SELECT count() FROM system.tables WHERE database = '${db}'`)) < 5) {
      if (Date.now() > until) throw new Error(`the tables never appeared: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    expect(await done, stderr).toBe(0);
    expect(stderr).toMatch(/interrupted/);
    expect(sinkLines(stderr)).toEqual([
      expect.stringMatching(
        /^sockscope: the analysis was interrupted: nothing stored in ClickHouse .*\/interrupted as sockscope_writer/,
      ),
    ]);
    expect(await count("SELECT count() FROM flows", db)).toBe(0);
    expect(await count("SELECT count() FROM captures", db)).toBe(0);
  }, 120_000);

  it("a server that is away: one line naming it, exit 2, no report lost on stdout's file", async () => {
    const port = server.httpPort + 1; // nothing listens there (the server's is taken, the next is not ours)
    const r = analyze([CAPTURES[0]!, "-F", "json", "--sink", `clickhouse://sockscope_writer@127.0.0.1:${port}/x`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(""); // asked before the analysis: nothing analysed, nothing printed
    expect(r.stderr.trim().split("\n")).toEqual([
      `sockscope: ClickHouse http://127.0.0.1:${port}/x as sockscope_writer: looking for the tables: connect ECONNREFUSED 127.0.0.1:${port}`,
    ]);
  });

  it("clickhouses:// speaks HTTPS: rows arrive when the server's certificate is trusted; an untrusted one fails in one line", async () => {
    const tlsServer = await clickHouseServer(undefined, true);
    try {
      const url = `clickhouses://sockscope_writer@127.0.0.1:${tlsServer.httpsPort}/tls`;
      const untrusted = analyze([CAPTURES[1]!, "-q", "--sink", url]);
      expect(untrusted.code).toBe(2);
      expect(untrusted.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^sockscope: ClickHouse https://127\\.0\\.0\\.1:${tlsServer.httpsPort}/tls as sockscope_writer: looking for the tables: self[- ]signed certificate`,
          ),
        ),
      ]);
      const trusted = analyze([CAPTURES[1]!, "-q", "--sink", url], {
        ...env,
        NODE_EXTRA_CA_CERTS: tlsServer.certFile!,
      });
      expect(trusted.code, trusted.stderr).toBe(0);
      expect(Number(await tlsServer.query("SELECT count() FROM stored_flows", "tls"))).toBeGreaterThan(0);
    } finally {
      await tlsServer.dispose();
    }
  }, 90_000);

  it("never prints the password: not for a wrong one, not for one in the URL, not from a password file", async () => {
    const pwFile = join(dir, "pw");
    writeFileSync(pwFile, `${SINK_PASSWORD}-wrong\n`);
    const runs = [
      analyze([CAPTURES[0]!, "-q", "--sink", server.sinkUrl("pw"), "--sink-password-file", pwFile]),
      analyze([CAPTURES[0]!, "-q", "--sink", server.sinkUrl("pw")], { ...env, SOCKSCOPE_CLICKHOUSE_PASSWORD: "nope" }),
      analyze([
        CAPTURES[0]!,
        "-q",
        "--sink",
        `clickhouse://sockscope_writer:${encodeURIComponent(SINK_PASSWORD)}@127.0.0.1:${server.httpPort}/pw`,
      ]),
    ];
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout + r.stderr).not.toContain(SINK_PASSWORD);
      expect(r.stdout + r.stderr).not.toContain(encodeURIComponent(SINK_PASSWORD));
    }
    expect(runs[0]!.stderr).toMatch(/Wrong password for user sockscope_writer/);
    expect(runs[2]!.stderr).toMatch(/a password in the URL is refused/);
    // The right one from a file works.
    writeFileSync(pwFile, `${SINK_PASSWORD}\n`);
    const ok = analyze([CAPTURES[0]!, "--sink", server.sinkUrl("pw"), "--sink-password-file", pwFile, "-F", "json"], {
      ...process.env,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(SINK_PASSWORD);
  }, 60_000);

  /** A directory of captures, as rotated files of one night land in one. */
  const night = (): string => {
    const d = join(dir, "night");
    if (!existsSync(d)) {
      mkdirSync(d);
      for (const c of CAPTURES) copyFileSync(c, join(d, basename(c)));
    }
    return d;
  };

  for (const jobs of ["1", "2"])
    it(`stores each capture of a directory as its part of the combined report (--jobs ${jobs}); again, nothing`, async () => {
      const db = `many${jobs}`;
      const json = join(dir, `many${jobs}.json`);
      const args = [night(), "-j", jobs, "-F", "json", "-o", json, "--sink", server.sinkUrl(db)];
      const r = analyze([...args, "--capture-host", "web-1"]);
      expect(r.code, r.stderr).toBe(0);
      const combined = JSON.parse(readFileSync(json, "utf8")) as Combined;
      expect(combined.captures).toHaveLength(CAPTURES.length);
      for (const c of combined.captures) {
        const where = `WHERE capture_id = '${c.contentHash}'`;
        expect(await count(`SELECT count() FROM stored_flows ${where}`, db)).toBe(c.report.flows.length);
        expect(await count(`SELECT count() FROM stored_findings ${where}`, db)).toBe(c.report.findings.length);
        expect(await server.query(`SELECT DISTINCT host FROM stored_flows ${where}`, db)).toBe("web-1");
        expect(r.stderr).toContain(
          `sockscope: stored ${c.report.flows.length} flow(s) and ${c.report.findings.length} finding(s) of ${c.file} in ClickHouse`,
        );
      }
      expect(await count("SELECT count() FROM captures FINAL", db)).toBe(CAPTURES.length);
      const raw = await count("SELECT count() FROM flows", db);
      const again = analyze(args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr.match(/already stored: nothing written/g)).toHaveLength(CAPTURES.length);
      expect(await count("SELECT count() FROM flows", db)).toBe(raw);
    }, 120_000);

  it("one capture's {dir} in --capture-host is its directory in the store, as in its ECS records", async () => {
    const db = "dirhost";
    const capture = join(night(), basename(CAPTURES[0]!));
    const r = analyze([
      capture,
      "-q",
      "-F",
      "json",
      "-o",
      join(dir, "dirhost.json"),
      "--capture-host",
      "{dir}",
      "--sink",
      server.sinkUrl(db),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await server.query("SELECT DISTINCT host FROM stored_flows", db)).toBe("night");
  }, 60_000);

  it("a server that is away fails the run before any capture: one line, exit 2, nothing on stdout", async () => {
    const away = server.sinkUrl("away").replace(/:(\d+)\//, ":1/");
    const r = analyze([night(), "-F", "json", "--sink", away]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^sockscope: ClickHouse http:\/\/127\.0\.0\.1:1\/away/);
    expect(r.stderr).not.toContain(SINK_PASSWORD);
  }, 60_000);
});
