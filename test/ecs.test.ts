/**
 * `analyze --format ndjson-ecs`: the Community ID against the spec's published vectors and
 * against tshark's own (its communityid post-dissector) on the corpus, and every record's
 * ECS fields against schema/ecs-fields.json (the ECS types and allowed values).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { communityId, flowCommunityId } from "../src/report/community-id.js";
import { ecsRecords, ecsTime } from "../src/report/ecs.js";
import { addressBytes } from "../src/decode/wire/address.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { CLI, CORPUS, FIXTURES, ROOT } from "./helpers/paths.js";
import { tsharkAvailable } from "./helpers/tshark.js";

const SCHEMA = JSON.parse(readFileSync(join(ROOT, "schema", "ecs-fields.json"), "utf8")) as {
  ecsVersion: string;
  fields: Record<string, string>;
  allowed: Record<string, string[]>;
};

describe("Community ID v1", () => {
  const v4 = (s: string) => addressBytes(s)!;
  it("the spec's published vectors, both directions, seeds 0 and 1", () => {
    const cases: [number, number, string][] = [
      [6, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="],
      [17, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="],
      [6, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="],
      [17, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="],
    ];
    for (const [proto, seed, want] of cases) {
      expect(communityId(proto, v4("1.2.3.4"), 1122, v4("5.6.7.8"), 3344, seed)).toBe(want);
      expect(communityId(proto, v4("5.6.7.8"), 3344, v4("1.2.3.4"), 1122, seed)).toBe(want);
    }
  });

  it("addresses parse back from the report's text forms, or not at all", () => {
    expect([...addressBytes("::ffff:10.1.2.3")!]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 1, 2, 3]);
    expect([...addressBytes("fe80::1")!]).toEqual([0xfe, 0x80, ...new Array(13).fill(0), 1]);
    expect(addressBytes("2001:db8::1::2")).toBeNull();
    expect(addressBytes("1.2.3.256")).toBeNull();
    expect(addressBytes("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(flowCommunityId("tcp", "[2001:db8::1]:80", "10.0.0.1:80")).toBeNull();
  });

  it.skipIf(!tsharkAvailable())(
    "the same ID as tshark's communityid for every plain TCP/UDP flow of the corpus (IPv4 and IPv6)",
    async () => {
      let compared = 0,
        v6 = 0;
      const differ: string[] = [];
      for (const name of readdirSync(join(CORPUS, "captures"))) {
        const file = join(CORPUS, "captures", name);
        const report = await analyzeFile(file).catch(() => null);
        // Captures with a few flows at least: one tshark run per capture is what costs.
        if (report === null || report.flows.length < 4) continue;
        const t = spawnSync(
          "tshark",
          [
            "-r",
            file,
            "--enable-protocol",
            "communityid",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "communityid",
            "-e",
            "frame.protocols",
          ],
          { encoding: "utf8", maxBuffer: 1 << 28 },
        );
        // Plain frames only: an ICMP error's ID is the ICMP flow's, a tunnel's the inner one's.
        const plain = new Map<number, string>();
        for (const line of t.stdout.split("\n")) {
          const [frame, id, protocols] = line.split("\t");
          if (!id || id.includes(",") || /icmp|vxlan|geneve|gre|gtp|erspan|teredo|:ipv?6?:.*:ip/.test(protocols ?? ""))
            continue;
          plain.set(Number(frame), id);
        }
        for (const f of report.flows) {
          const theirs = plain.get(f.firstFrame);
          if (theirs === undefined) continue;
          const mine = flowCommunityId(f.proto, f.client, f.server);
          compared++;
          if (f.client.startsWith("[")) v6++;
          if (mine !== theirs) differ.push(`${name} flow ${f.id} (frame ${f.firstFrame}): ${mine} vs tshark ${theirs}`);
        }
      }
      expect(compared).toBeGreaterThan(400);
      expect(v6).toBeGreaterThan(20);
      expect(differ).toEqual([]);
    },
    120_000,
  );
});

/** A record as the tests read it: nested objects of unknown shape. */
// biome-ignore lint/suspicious/noExplicitAny: records are plain JSON read by path
type Rec = any;

/** Every leaf path of a record, arrays as one path. */
function leaves(o: Record<string, unknown>, prefix = ""): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(o)) {
    const path = prefix + k;
    if (v !== null && typeof v === "object" && !Array.isArray(v))
      out.push(...leaves(v as Record<string, unknown>, `${path}.`));
    else out.push([path, v]);
  }
  return out;
}

function typeOk(type: string, v: unknown): boolean {
  const values = Array.isArray(v) ? v : [v];
  return values.every((x) =>
    type === "long"
      ? Number.isSafeInteger(x)
      : type === "date"
        ? typeof x === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(x)
        : type === "ip"
          ? typeof x === "string" && addressBytes(x) !== null
          : typeof x === "string",
  );
}

describe("ndjson-ecs records", () => {
  const captures = [
    join(FIXTURES, "close-wait", "pooled-client.pcap"),
    join(FIXTURES, "connection-refused", "ipv6.pcap"),
    join(CORPUS, "captures", "arkime--gtp-iphone.pcap"),
    join(CORPUS, "captures", "zeek--vlan-collisions.pcap"),
    join(CORPUS, "captures", "pcpp--example2-mixed.pcap"),
  ];
  it("ECS fields are in the schema with their ECS type and allowed values; the rest is under sockscope.*", async () => {
    let records = 0;
    for (const file of captures) {
      const r = await analyzeFile(file);
      for (const rec of ecsRecords(r, { version: "0.0.0", hostName: "web-1" })) {
        records++;
        for (const [path, v] of leaves(rec)) {
          if (path.startsWith("sockscope.")) continue;
          const type = SCHEMA.fields[path];
          expect(type, `${path} is no field of schema/ecs-fields.json`).toBeDefined();
          expect(typeOk(type!, v), `${path} = ${JSON.stringify(v)} is not ${type}`).toBe(true);
          const allowed = SCHEMA.allowed[path];
          if (allowed !== undefined) for (const x of [v].flat()) expect(allowed).toContain(x);
        }
        expect((rec.ecs as { version: string }).version).toBe(SCHEMA.ecsVersion);
      }
    }
    expect(records).toBeGreaterThan(50);
  });

  it("one record per flow, then one per finding, carrying its words, severity and flow", async () => {
    const r = await analyzeFile(join(FIXTURES, "close-wait", "pooled-client.pcap"));
    const recs = [...ecsRecords(r, { version: "0.0.0" })] as Rec[];
    expect(recs).toHaveLength(r.flows.length + r.findings.length);
    const [flow, ...findings] = recs;
    expect(flow.event.dataset).toBe("sockscope.flow");
    expect(flow.source).toEqual({
      ip: "127.0.0.1",
      port: Number(r.flows[0]!.client.split(":")[1]),
      bytes: 340,
      packets: 6,
    });
    expect(flow.destination.port).toBe(5052);
    expect(flow.network.bytes).toBe(flow.source.bytes + flow.destination.bytes);
    expect(flow.event.duration).toBe(Math.round(r.flows[0]!.durationSec * 1e9));
    for (const [i, f] of findings.entries()) {
      expect(f.event.dataset).toBe("sockscope.finding");
      expect(f.message).toBe(r.findings[i]!.summary);
      expect(f.rule.name).toBe(r.findings[i]!.kind);
      expect(f.network.community_id).toBe(flow.network.community_id);
      // Info is no alert: a query for alerts must not drown in lazy closes and TIME_WAIT.
      expect(f.event.kind).toBe("event");
      expect(f.log.level).toBe("info");
    }
  });

  it("an error finding is an alert with outcome failure, and so is its flow", async () => {
    const r = await analyzeFile(join(FIXTURES, "connection-refused", "ipv6.pcap"));
    const recs = [...ecsRecords(r, { version: "0.0.0" })] as Rec[];
    const err = recs.find((x) => x.event.dataset === "sockscope.finding" && x.log.level === "error");
    expect(err.event).toMatchObject({ kind: "alert", severity: 3, outcome: "failure" });
    const flow = recs.find(
      (x) => x.event.dataset === "sockscope.flow" && x.sockscope.flow.id === err.sockscope.finding.flow,
    );
    expect(flow.event.outcome).toBe("failure");
  });

  it("timestamps to the microsecond, none beyond the calendar", () => {
    expect(ecsTime(1_700_000_000.000001)).toBe("2023-11-14T22:13:20.000001Z");
    expect(ecsTime(1_700_000_000.5)).toBe("2023-11-14T22:13:20.500000Z");
    expect(ecsTime(1e13)).toBeUndefined();
  });

  it("the CLI writes one parseable line per record", () => {
    const file = join(FIXTURES, "close-wait", "pooled-client.pcap");
    const r = spawnSync("node", [CLI, "analyze", "-F", "ndjson-ecs", "--capture-host", "web-1", file], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l.host).toEqual({ name: "web-1" });
  });
});
