/**
 * `live --sink` against a real ClickHouse server started in the live capture's network
 * namespace (so the capture sees real loopback traffic and reaches the server on its lo):
 * the server is away at the start and killed mid-capture; rows are spooled, the outage is
 * said once each time, the spool is sent when the server is back, and in the end the store
 * holds every flow and finding the capture reported. At exit with the server away, the spool
 * stays, its path is said, and the next run sends it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import {
  clickHouseDescribe,
  clickHouseServer,
  SINK_PASSWORD,
  SINK_USER,
  type ClickHouseServer,
} from "./helpers/clickhouse.js";
import {
  ctrlC,
  findingsOf,
  killRunning,
  precondition,
  scenario,
  startLive,
  waitFor,
  type LiveRun,
} from "./helpers/live.js";

const servers: ClickHouseServer[] = [];
afterEach(async () => {
  killRunning();
  for (const s of servers.splice(0)) await s.dispose();
});

/** In the namespace the server listens on 8123 (test/helpers/clickhouse.ts). */
const URL = `clickhouse://${SINK_USER}@127.0.0.1:8123/live`;

async function startSinkLive(spool: string): Promise<LiveRun> {
  process.env.SOCKSCOPE_CLICKHOUSE_PASSWORD = SINK_PASSWORD;
  // The server's own traffic is left out of the capture: it is not what is studied.
  return startLive([
    "-i",
    "lo",
    "-F",
    "jsonl",
    "--udp-timeout",
    "1",
    "--sink",
    URL,
    "--sink-spool",
    spool,
    "not port 8123",
  ]);
}

const said = (run: LiveRun, re: RegExp) =>
  run
    .stderr()
    .split("\n")
    .filter((l) => re.test(l)).length;

clickHouseDescribe(
  "live --sink clickhouse://",
  () => {
    it("server away at the start and killed mid-capture: spooled, said once per outage, caught up; every flow and finding stored", async () => {
      const dir = mkdtempSync(join(tmpdir(), "sockscope-live-sink-"));
      const spool = join(dir, "rows.spool");
      const run = await startSinkLive(spool);
      await waitFor("the first outage said", () => said(run, /warning: ClickHouse .* spooling rows to/) === 1, 10_000);
      const server = await clickHouseServer(run.pid);
      servers.push(server);
      await waitFor("the catch-up said", () => said(run, /is back.*caught up [1-9]\d* spooled row/) === 1, 15_000);
      await scenario(run, "connection-refused.py", "ipv4");
      await scenario(run, "rst-after-fin.py", "write-after-close");
      const stored = async () => Number(await server.query("SELECT count() FROM flows", "live"));
      const until = Date.now() + 15_000;
      while ((await stored()) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(await stored()).toBeGreaterThan(0);
      // The server dies; the capture goes on.
      await server.stop("SIGKILL");
      await scenario(run, "connection-refused.py", "ipv6");
      await scenario(run, "rst-after-fin.py", "write-after-close");
      await waitFor("the second outage said", () => said(run, /spooling rows to/) === 2, 15_000);
      await server.start();
      await waitFor("the second catch-up", () => said(run, /is back/) === 2, 40_000);
      await scenario(run, "connection-refused.py", "ipv4");
      ctrlC(run);
      expect((await run.exited).code, run.stderr()).toBe(0);
      const end = run.json().find((j) => j.type === "end") as unknown as {
        capture: { flows: { tcp: number; udp: number } };
      };
      const flows = end.capture.flows.tcp + end.capture.flows.udp;
      const findings = findingsOf(run).length;
      expect(flows).toBeGreaterThan(4);
      expect(findings).toBeGreaterThanOrEqual(4);
      expect(Number(await server.query("SELECT count() FROM stored_flows", "live"))).toBe(flows);
      expect(Number(await server.query("SELECT count() FROM stored_findings", "live"))).toBe(findings);
      expect(
        Number(await server.query("SELECT count() FROM stored_findings WHERE kind = 'connection-refused'", "live")),
      ).toBe(findingsOf(run).filter((f) => f.kind === "connection-refused").length);
      expect(await server.query("SELECT source, flows, findings FROM captures FINAL FORMAT TabSeparated", "live")).toBe(
        `live\t${flows}\t${findings}`,
      );
      expect(existsSync(spool)).toBe(false);
      expect(run.stderr()).not.toContain(SINK_PASSWORD);
      rmSync(dir, { recursive: true, force: true });
    }, 180_000);

    it("exit with the server away: the spool stays and is said; the next run sends it first", async () => {
      const dir = mkdtempSync(join(tmpdir(), "sockscope-live-sink-"));
      const spool = join(dir, "rows.spool");
      const first = await startSinkLive(spool);
      await scenario(first, "connection-refused.py", "ipv4");
      await waitFor("a finding", () => findingsOf(first).length > 0, 10_000);
      ctrlC(first);
      expect((await first.exited).code, first.stderr()).toBe(0);
      const left = first.stderr().match(/still away: (\d+) row\(s\) stay in (\S+);/);
      expect(left, first.stderr()).not.toBeNull();
      expect(left![2]).toBe(spool);
      expect(existsSync(spool)).toBe(true);
      const end = first.json().find((j) => j.type === "end") as unknown as {
        capture: { flows: { tcp: number; udp: number } };
      };
      // A second run, its server up: the first run's rows go in before its own.
      const second = await startSinkLive(spool);
      const earlier = new RegExp(`${left![1]} row\\(s\\) left by an earlier run in ${spool}`);
      await waitFor("the earlier rows said", () => earlier.test(second.stderr()), 5000);
      const server = await clickHouseServer(second.pid);
      servers.push(server);
      await waitFor("the spool sent", () => said(second, /is back.*caught up/) === 1, 20_000);
      ctrlC(second);
      await second.exited;
      const firstId = await server.query("SELECT capture_id FROM captures FINAL ORDER BY start LIMIT 1", "live");
      expect(
        Number(await server.query(`SELECT count() FROM stored_flows WHERE capture_id = '${firstId}'`, "live")),
      ).toBe(end.capture.flows.tcp + end.capture.flows.udp);
      expect(
        Number(await server.query(`SELECT count() FROM stored_findings WHERE capture_id = '${firstId}'`, "live")),
      ).toBe(findingsOf(first).length);
      expect(existsSync(spool)).toBe(false);
      rmSync(dir, { recursive: true, force: true });
    }, 180_000);
  },
  precondition(false),
);
