/**
 * `sockscope check`: the project's own fixtures checked against their *.expect.json
 * through the built CLI (npm run build first), the expectations format (hand-written
 * validator and schema/expect.schema.json agree), the matching rules, the diff a failure
 * prints, JUnit and JSON output, --update (idempotent, deterministic, keeps what was
 * written by hand), exit codes and directory mode.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import { CLI, FIXTURES, ROOT } from "./helpers/paths.js";
import { phenomenonFixtures } from "./helpers/fixtures.js";
import { findAll, parseXml } from "./helpers/xml.js";
import { ANALYZERS } from "../src/analyze/registry.js";
import { analyzeFile } from "../src/run/pipeline.js";
import { ExpectError, knownKinds, parseExpectations, readExpectations } from "../src/check/expect.js";
import { schemaKinds, schemaWithKinds } from "../src/check/expect-schema.js";
import type { AnalyzerDescriptor } from "../src/analyze/analyzer.js";
import { matchReport } from "../src/check/match.js";
import { formatExpectations, updateExpectations } from "../src/check/baseline.js";
import type { Finding } from "../src/analyze/finding.js";
import type { FlowReport } from "../src/analyze/result.js";
import { flowReport } from "./helpers/flow-report.js";

const schemaText = readFileSync(join(ROOT, "schema", "expect.schema.json"), "utf8");
const schema = JSON.parse(schemaText);
const validate = new Ajv({ allErrors: true }).compile(schema);

function run(args: string[], opts: { cwd?: string; input?: Buffer } = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    input: opts.input,
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const tmp = mkdtempSync(join(tmpdir(), "sockscope-check-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let tmpN = 0;
/** A fresh directory holding copies of the given fixture captures. */
function workdir(...captures: string[]): string {
  const d = join(tmp, `w${tmpN++}`);
  mkdirSync(d, { recursive: true });
  for (const c of captures) copyFileSync(join(FIXTURES, c), join(d, c.replace(/\//g, "_")));
  return d;
}

const fixtures = phenomenonFixtures();
const expectFileOf = (capture: string) => capture.replace(/\.pcap(ng)?$/, ".expect.json");
const nagle = join(FIXTURES, "nagle-delay", "ipv4.pcap");

// ---------------------------------------------------------------- the project's fixtures

describe("the project's fixtures pass their own expectations", () => {
  it("sockscope check fixtures/ exits 0 and checks every phenomenon fixture", () => {
    const r = run(["check", "fixtures/"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/^(FAIL|ERROR) /m);
    for (const fx of fixtures) expect(r.stdout).toContain(`PASS ${relative(ROOT, fx.path)} `);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe(
      `${fixtures.length} captures checked: ${fixtures.length} passed, 0 failed`,
    );
  });

  it("every kind and healthy fixture has an expectations file (an unpaired one would go unchecked)", () => {
    const missing = fixtures.filter((fx) => !existsSync(expectFileOf(fx.path))).map((fx) => relative(ROOT, fx.path));
    expect(missing, "write them with: sockscope check <capture> --update, then review").toEqual([]);
  });

  it("they say what the fixture is for: its kind present, nothing above info on healthy ones", () => {
    for (const fx of fixtures) {
      const x = parseExpectations(readFileSync(expectFileOf(fx.path), "utf8"), fx.path);
      expect(x.strict, fx.path).toBe(true);
      if (fx.group === "healthy") {
        const absent = x.absent.map((a) => a.value);
        expect(absent, fx.path).toContainEqual(expect.objectContaining({ severity: "warning" }));
        expect(absent, fx.path).toContainEqual(expect.objectContaining({ severity: "error" }));
        expect(
          x.expect.filter((e) => e.value.severity !== "info"),
          fx.path,
        ).toEqual([]);
      } else {
        const own = x.expect.filter((e) => e.value.kind === fx.group);
        expect(own.length, `${fx.path} expects no ${fx.group}`).toBeGreaterThan(0);
        for (const e of own) expect(e.value.findings?.min ?? 1, fx.path).toBeGreaterThan(0);
      }
    }
  });

  it("they are in the form --update writes (stable, sorted, nothing volatile)", async () => {
    for (const fx of fixtures) {
      const file = expectFileOf(fx.path);
      const text = readFileSync(file, "utf8");
      const report = await analyzeFile(fx.path);
      const up = updateExpectations(report, parseExpectations(text, file), file);
      expect(up.text, `${file}: run sockscope check fixtures/ --update`).toBe(text);
      expect(up.after.ok).toBe(true);
      // Nothing that changes when the same scenario is recorded again.
      for (const e of x(text)) {
        expect(
          Object.keys(e).filter((k) => !["kind", "severity", "side", "flow", "findings", "note"].includes(k)),
          file,
        ).toEqual([]);
        if (e.flow)
          expect(
            Object.keys(e.flow).filter((k) => k !== "proto" && k !== "serverPort"),
            file,
          ).toEqual([]);
      }
    }
    function x(text: string): { flow?: Record<string, unknown> }[] {
      return JSON.parse(text).expect;
    }
  });

  it("they validate against schema/expect.schema.json", () => {
    const files = [
      ...fixtures.map((fx) => expectFileOf(fx.path)),
      ...readdirSync(join(ROOT, "examples"))
        .filter((f) => f.endsWith(".expect.json"))
        .map((f) => join(ROOT, "examples", f)),
    ];
    for (const f of files) {
      const ok = validate(JSON.parse(readFileSync(f, "utf8")));
      expect(validate.errors ?? [], f).toEqual([]);
      expect(ok).toBe(true);
    }
  });
});

// ---------------------------------------------------------------- the format

describe("expectations format: hand-written validator and JSON Schema agree", () => {
  it("the schema lists exactly the registry's kinds, in its order (generated, not kept by hand)", () => {
    expect(
      schemaKinds(schemaText),
      "schema/expect.schema.json is generated from the registry: run npm run build",
    ).toEqual(ANALYZERS.map((a) => a.id));
    expect(knownKinds()).toEqual(ANALYZERS.map((a) => a.id));
  });

  it("a kind added to the registry is accepted by both, an unknown kind refused naming it", () => {
    const added: AnalyzerDescriptor<unknown> = {
      id: "added-kind",
      title: "A kind registered by this test only",
      severity: "info",
      family: "tcp-closing",
      wire: "nothing",
      explanation: "nothing",
      references: [],
    };
    const doc = (kind: string) => ({ schema: "sockscope.expect/1", expect: [{ kind }], allow: [kind] });
    ANALYZERS.push(added);
    try {
      // The hand-written validator reads the registry, no list of its own.
      expect(() => readExpectations(doc("added-kind"), "x.expect.json")).not.toThrow();
      expect(() => readExpectations(doc("unheard-of-kind"), "x.expect.json")).toThrow(
        'x.expect.json: $.expect[0].kind: unknown finding kind "unheard-of-kind"',
      );
      // The schema as `npm run build` writes it with the kind registered.
      const generated = new Ajv({ allErrors: true }).compile(
        JSON.parse(
          schemaWithKinds(
            schemaText,
            ANALYZERS.map((a) => a.id),
          ),
        ),
      );
      expect(generated(doc("added-kind")), JSON.stringify(generated.errors)).toBe(true);
      expect(generated(doc("unheard-of-kind"))).toBe(false);
      expect(generated.errors?.map((e) => e.instancePath)).toContain("/expect/0/kind");
    } finally {
      ANALYZERS.pop();
    }
    expect(() => readExpectations(doc("added-kind"), "x.expect.json")).toThrow(/unknown finding kind "added-kind"/);
  });

  const S = "sockscope.expect/1";
  const valid: unknown[] = [
    { schema: S },
    { schema: S, expect: [] },
    {
      schema: S,
      expect: ["rst-after-fin"],
      allow: ["time-wait", { severity: "info" }],
      absent: [{ severity: "error" }],
    },
    { $schema: "../schema/expect.schema.json", schema: S, description: "d", capture: "x.pcap", strict: false },
    {
      schema: S,
      expect: [
        {
          kind: "nagle-delay",
          severity: "warning",
          side: "client",
          flow: { proto: "tcp", serverPort: 5110, serverHost: "127.0.0.1" },
          findings: { min: 0 },
          count: { max: 20 },
          measure: { stallMaxMs: { max: 5 }, events: 9 },
          frames: [10, 11],
          note: "n",
        },
      ],
    },
    {
      schema: S,
      expect: [{ kind: "connection-refused", flow: null, side: null }],
      absent: [{ flow: { host: "::1", port: 5000 } }],
    },
    { schema: S, absent: [{ kind: "zero-window", measure: { longestMs: { min: 1000 } } }] },
    { schema: S, allow: [{ flow: { id: 3 } }, { count: { min: 2 } }] },
  ];
  for (const [i, doc] of valid.entries()) {
    it(`valid #${i}`, () => {
      expect(() => readExpectations(doc, "x.expect.json")).not.toThrow();
      expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    });
  }

  // [document, JSON path the message must name, words it must contain]
  const invalid: [unknown, string, RegExp][] = [
    [[], "$", /must be an object/],
    [{}, "$", /no "schema" key/],
    [{ schema: "sockscope.expect/2" }, "$.schema", /must be "sockscope\.expect\/1"/],
    [{ schema: S, bogus: 1 }, "$.bogus", /unknown key/],
    [{ schema: S, strict: "yes" }, "$.strict", /true or false/],
    [{ schema: S, expect: {} }, "$.expect", /must be an array/],
    [{ schema: S, expect: [{ severity: "error" }] }, "$.expect[0]", /needs "kind"/],
    [
      { schema: S, expect: [{ kind: "nagle-dely" }] },
      "$.expect[0].kind",
      /unknown finding kind "nagle-dely" \(did you mean "nagle-delay"\?\)/,
    ],
    [{ schema: S, expect: ["rst-after-fin", "zero-windows"] }, "$.expect[1]", /unknown finding kind/],
    [
      { schema: S, expect: [{ kind: "zero-window", severity: "fatal" }] },
      "$.expect[0].severity",
      /one of info, warning, error/,
    ],
    [{ schema: S, expect: [{ kind: "zero-window", side: "both" }] }, "$.expect[0].side", /"client", "server" or null/],
    [
      { schema: S, expect: [{ kind: "zero-window", flow: { serverport: 80 } }] },
      "$.expect[0].flow.serverport",
      /did you mean "serverPort"/,
    ],
    [
      { schema: S, expect: [{ kind: "zero-window", flow: { serverPort: 70000 } }] },
      "$.expect[0].flow.serverPort",
      /port number/,
    ],
    [
      { schema: S, expect: [{ kind: "zero-window", flow: { serverPort: "80" } }] },
      "$.expect[0].flow.serverPort",
      /port number/,
    ],
    [{ schema: S, expect: [{ kind: "zero-window", flow: {} }] }, "$.expect[0].flow", /empty flow selector/],
    [
      { schema: S, expect: [{ kind: "zero-window", flow: { host: "localhost" } }] },
      "$.expect[0].flow.host",
      /IPv4 or IPv6 address/,
    ],
    [{ schema: S, expect: [{ kind: "zero-window", findings: -1 }] }, "$.expect[0].findings", /whole number/],
    [{ schema: S, expect: [{ kind: "zero-window", findings: 1.5 }] }, "$.expect[0].findings", /whole number/],
    [{ schema: S, expect: [{ kind: "zero-window", count: {} }] }, "$.expect[0].count", /needs "min", "max" or both/],
    [
      { schema: S, expect: [{ kind: "zero-window", count: { min: 1, most: 3 } }] },
      "$.expect[0].count.most",
      /unknown key/,
    ],
    [
      { schema: S, expect: [{ kind: "zero-window", measure: { longestMs: "5ms" } }] },
      "$.expect[0].measure.longestMs",
      /number or \{"min"/,
    ],
    [
      { schema: S, expect: [{ kind: "zero-window", measure: { longestMs: { max: "1" } } }] },
      "$.expect[0].measure.longestMs.max",
      /must be a number/,
    ],
    [{ schema: S, expect: [{ kind: "zero-window", measure: {} }] }, "$.expect[0].measure", /names no measure/],
    [{ schema: S, expect: [{ kind: "zero-window", frames: [0] }] }, "$.expect[0].frames[0]", /frame number/],
    [{ schema: S, expect: [{ kind: "zero-window", frames: 3 }] }, "$.expect[0].frames", /array of frame numbers/],
    [{ schema: S, absent: [{}] }, "$.absent[0]", /says nothing/],
    [{ schema: S, allow: [{ note: "just a note" }] }, "$.allow[0]", /says nothing/],
    [{ schema: S, allow: [{ kind: "time-wait", findings: 2 }] }, "$.allow[0].findings", /unknown key/],
  ];
  for (const [doc, path, words] of invalid) {
    it(`invalid: ${path} ${words.source.slice(0, 40)}`, () => {
      let err: unknown;
      try {
        readExpectations(doc, "x.expect.json");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ExpectError);
      const e = err as ExpectError;
      expect(e.path).toBe(path);
      expect(e.message).toMatch(words);
      expect(e.message.startsWith(`x.expect.json: ${path}: `)).toBe(true);
      expect(validate(doc)).toBe(false);
    });
  }
  it("an unknown measure name is an invalid file, not a failed check (JSON Schema cannot say which kind has which)", () => {
    // It would fail every run as "not measured": the file is wrong, not the capture.
    const cases: [unknown, RegExp][] = [
      [
        { schema: S, expect: [{ kind: "nagle-delay", measure: { stallmaxms: { max: 50 } } }] },
        /^f: \$\.expect\[0\]\.measure\.stallmaxms: unknown measure for nagle-delay \(did you mean "stallMaxMs"\?\); its measures: events, stallAvgMs, stallMaxMs, stallTotalMs$/,
      ],
      [
        { schema: S, expect: [{ kind: "zero-window", measure: { "capture-end": 1 } }] },
        /^f: \$\.expect\[0\]\.measure\["capture-end"\]: unknown measure for zero-window;/,
      ],
      [
        { schema: S, allow: [{ kind: "time-wait", measure: { stallMaxMs: 1 } }] },
        /^f: \$\.allow\[0\]\.measure\.stallMaxMs: unknown measure for time-wait; its measures: bothHold, closeMs, timeWaitMs$/,
      ],
      [
        { schema: S, absent: [{ severity: "error", measure: { stallMs: 1 } }] },
        /^f: \$\.absent\[0\]\.measure\.stallMs: unknown measure \(did you mean "stalls"\?\): no finding kind has it$/,
      ],
    ];
    for (const [doc, message] of cases) expect(() => readExpectations(doc, "f")).toThrow(message);
    expect(() => readExpectations({ schema: S, absent: [{ measure: { stallMaxMs: 1 } }] }, "f")).not.toThrow();
  });
  it("min above max is caught by sockscope (JSON Schema cannot say it)", () => {
    expect(() =>
      readExpectations({ schema: S, expect: [{ kind: "zero-window", count: { min: 3, max: 1 } }] }, "f"),
    ).toThrow(/\$\.expect\[0\]\.count: min \(3\) is above max \(1\)/);
  });
  it("JSON syntax errors give line and column", () => {
    expect(() => parseExpectations('{\n  "schema": "sockscope.expect/1",\n  "expect": [,]\n}', "f.json")).toThrow(
      /^f\.json: not valid JSON at line 3 column 14/,
    );
    expect(() => parseExpectations("", "f.json")).toThrow(/^f\.json: not valid JSON: the file ends too early/);
  });
});

// ---------------------------------------------------------------- matching rules

function finding(kind: string, flow: number | null, extra: Partial<Finding> = {}): Finding {
  const a = ANALYZERS.find((x) => x.id === kind)!;
  return {
    kind,
    severity: a.severity,
    flow,
    frames: [1],
    count: 1,
    time: 0,
    side: "client",
    endpoint: null,
    summary: `${kind} here`,
    explanation: "",
    references: [],
    measure: {},
    ...extra,
  };
}
function flow(id: number, client: string, server: string, proto: "tcp" | "udp" = "tcp"): FlowReport {
  return flowReport(id, { client, server, proto, rolesGuessed: proto === "udp", close: null, state: null });
}
const doc = (d: Record<string, unknown>) => readExpectations({ schema: "sockscope.expect/1", ...d }, "t.json");

describe("matching rules", () => {
  const flows = [
    flow(1, "10.0.0.2:40000", "10.0.0.1:8080"),
    flow(2, "[2001:db8::2]:40001", "[2001:db8::1]:5432"),
    flow(3, "10.0.0.2:50000", "10.0.0.9:53", "udp"),
  ];
  const findings = [
    finding("nagle-delay", 1, { measure: { stallMaxMs: 41.6 }, count: 9, frames: [10, 11, 12] }),
    finding("time-wait", 1),
    finding("time-wait", 2),
    finding("zero-window", 2, { side: "server", measure: { longestMs: 1500 } }),
    finding("udp-fixed-retry", 3),
  ];
  const report = { flows, findings };
  const result = (d: Record<string, unknown>) => matchReport(report, doc(d));

  it("strict: everything must be accounted for", () => {
    const r = result({ expect: ["nagle-delay", "zero-window", "udp-fixed-retry"] });
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => c.type === "unexpected").map((c) => c.findings[0]!.kind)).toEqual([
      "time-wait",
      "time-wait",
    ]);
    expect(result({ expect: ["nagle-delay", "zero-window", "udp-fixed-retry"], allow: ["time-wait"] }).ok).toBe(true);
    expect(
      result({ expect: ["nagle-delay", "zero-window", "udp-fixed-retry"], allow: [{ severity: "info" }] }).ok,
    ).toBe(true);
    const loose = result({ strict: false, expect: ["nagle-delay"] });
    expect(loose.ok).toBe(true);
    expect(loose.uncovered.map((f) => f.kind)).toEqual(["time-wait", "time-wait", "zero-window", "udp-fixed-retry"]);
  });

  it("flow selectors: ports, hosts (IPv6 in any spelling), proto, id, capture-wide", () => {
    const count = (flowSel: unknown, kind = "time-wait") =>
      matchReport(report, doc({ strict: false, expect: [{ kind, flow: flowSel, findings: { min: 0 } }] })).checks[0]!
        .findings.length;
    expect(count({ serverPort: 8080 })).toBe(1);
    expect(count({ clientPort: 40001 })).toBe(1);
    expect(count({ port: 40000 })).toBe(1);
    expect(count({ proto: "tcp" })).toBe(2);
    expect(count({ proto: "udp" })).toBe(0);
    expect(count({ serverHost: "2001:0db8:0:0::1" })).toBe(1);
    expect(count({ host: "[2001:DB8::2]" })).toBe(1);
    expect(count({ host: "10.0.0.2", serverPort: 5432 })).toBe(0);
    expect(count({ id: 2 })).toBe(1);
    expect(count(null)).toBe(0);
    expect(count({ id: 3 }, "udp-fixed-retry")).toBe(1);
  });

  it("expect: identity chooses, bounds are checked on what was chosen", () => {
    const r = result({
      strict: false,
      expect: [
        {
          kind: "nagle-delay",
          flow: { serverPort: 8080 },
          count: { max: 3 },
          measure: { stallMaxMs: { max: 5 } },
          frames: [11, 99],
        },
      ],
    });
    const c = r.checks[0]!;
    expect(c.ok).toBe(false);
    expect(c.problems.map((p) => `${p.what}: ${p.expected} / ${p.found}`)).toEqual([
      "count: ≤ 3 / 9",
      "measure stallMaxMs: ≤ 5 / 41.6",
      "frames: 11, 99 among the evidence / 99 not among 10, 11, 12",
    ]);
    expect(c.problems[1]!.finding!.server).toBe("10.0.0.1:8080");
  });

  it("expect with findings {min: 0} and a bound: 'no zero window longer than 1 s'", () => {
    const r = result({
      strict: false,
      expect: [{ kind: "zero-window", findings: { min: 0 }, measure: { longestMs: { max: 1000 } } }],
    });
    expect(r.checks[0]!.problems.map((p) => p.found)).toEqual(["1500"]);
    expect(
      result({
        strict: false,
        expect: [{ kind: "rst-after-fin", findings: { min: 0 }, measure: { bytesAfterFin: { max: 0 } } }],
      }).ok,
    ).toBe(true);
  });

  it("a measure of the kind that this finding lacks is named, with the ones the finding has", () => {
    const r = result({ strict: false, expect: [{ kind: "nagle-delay", measure: { events: { max: 50 } } }] });
    expect(r.checks[0]!.problems[0]!.found).toMatch(/^not measured; this finding has stallMaxMs/);
  });

  it("a missing expectation shows the findings of its kind it did not choose", () => {
    const r = result({ strict: false, expect: [{ kind: "time-wait", side: "server" }] });
    const c = r.checks[0]!;
    expect(c.problems[0]).toMatchObject({ what: "findings", expected: "at least 1", found: "0" });
    expect(c.nearby.map((f) => f.flow)).toEqual([1, 2]);
  });

  it("absent: forbidden unless expected; wins over allow; measure chooses", () => {
    expect(result({ strict: false, absent: ["time-wait"] }).checks[0]!.findings.map((f) => f.flow)).toEqual([1, 2]);
    const exempt = result({
      strict: false,
      expect: [{ kind: "time-wait", flow: { serverPort: 8080 } }],
      absent: ["time-wait"],
    });
    expect(exempt.checks[1]!.findings.map((f) => f.flow)).toEqual([2]);
    expect(result({ strict: false, allow: ["time-wait"], absent: [{ kind: "time-wait", flow: { id: 2 } }] }).ok).toBe(
      false,
    );
    expect(result({ strict: false, absent: [{ kind: "zero-window", measure: { longestMs: { min: 1000 } } }] }).ok).toBe(
      false,
    );
    expect(result({ strict: false, absent: [{ kind: "zero-window", measure: { longestMs: { min: 2000 } } }] }).ok).toBe(
      true,
    );
  });

  it("--update groups by kind, severity, side and server port; the id only for guessed roles on ephemeral ports", () => {
    const up = updateExpectations(report, null, "t.json");
    expect(JSON.parse(up.text).expect).toEqual([
      {
        kind: "nagle-delay",
        severity: "warning",
        side: "client",
        flow: { proto: "tcp", serverPort: 8080 },
        findings: 1,
      },
      { kind: "time-wait", severity: "info", side: "client", flow: { proto: "tcp", serverPort: 5432 }, findings: 1 },
      { kind: "time-wait", severity: "info", side: "client", flow: { proto: "tcp", serverPort: 8080 }, findings: 1 },
      {
        kind: "udp-fixed-retry",
        severity: "warning",
        side: "client",
        flow: { proto: "udp", serverPort: 53 },
        findings: 1,
      },
      {
        kind: "zero-window",
        severity: "warning",
        side: "server",
        flow: { proto: "tcp", serverPort: 5432 },
        findings: 1,
      },
    ]);
    expect(up.after.ok).toBe(true);
    const ephemeral = {
      flows: [flow(1, "10.0.0.2:50000", "10.0.0.9:40000", "udp")],
      findings: [finding("udp-fixed-retry", 1), finding("ip-fragmentation", null)],
    };
    expect(
      JSON.parse(updateExpectations(ephemeral, null, "t.json").text).expect.map((e: { flow: unknown }) => e.flow),
    ).toEqual([null, { id: 1 }]);
  });

  it("--update does not bless what an absent rule forbids, and keeps entries that hold", () => {
    const x = doc({
      expect: [
        { kind: "nagle-delay", measure: { stallMaxMs: { max: 100 } }, note: "hand-written" },
        { kind: "zero-window", findings: 3 },
      ],
      absent: [{ kind: "time-wait", flow: { serverPort: 5432 } }],
    });
    const up = updateExpectations(report, x, "t.json");
    const written = JSON.parse(up.text);
    expect(written.expect).toContainEqual({
      kind: "nagle-delay",
      measure: { stallMaxMs: { max: 100 } },
      note: "hand-written",
    });
    expect(written.expect.filter((e: { kind: string }) => e.kind === "zero-window")).toEqual([
      {
        kind: "zero-window",
        severity: "warning",
        side: "server",
        flow: { proto: "tcp", serverPort: 5432 },
        findings: 1,
      },
    ]);
    expect(up.removed.map((r) => r.text)).toEqual(['{ "kind": "zero-window", "findings": 3 }']);
    expect(
      written.expect
        .filter((e: { kind: string; flow?: { serverPort?: number } }) => e.kind === "time-wait")
        .map((e: { flow?: { serverPort?: number } }) => e.flow?.serverPort),
    ).toEqual([8080]);
    expect(written.absent).toEqual(x.absent.map((a) => a.raw));
    expect(up.after.ok).toBe(false);
    expect(up.after.checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(["absent[0]"]);
  });

  it("the file layout: one entry per line, fixed key order", () => {
    const text = formatExpectations({
      expect: [{ findings: 1, flow: { serverPort: 1, proto: "tcp" }, kind: "time-wait" }],
      schema: "sockscope.expect/1",
      allow: ["x"],
    });
    expect(text).toBe(
      '{\n  "schema": "sockscope.expect/1",\n  "expect": [\n    { "kind": "time-wait", "flow": { "proto": "tcp", "serverPort": 1 }, "findings": 1 }\n  ],\n  "allow": [\n    "x"\n  ]\n}\n',
    );
  });
});

// ---------------------------------------------------------------- the command line

/** A fixture's expectations with one change, written to a temporary file. */
function mutated(
  capture: string,
  change: (doc: { expect: Record<string, unknown>[] } & Record<string, unknown>) => void,
): string {
  const d = JSON.parse(readFileSync(expectFileOf(capture), "utf8"));
  change(d);
  const f = join(tmp, `m${tmpN++}.expect.json`);
  writeFileSync(f, JSON.stringify(d, null, 2));
  return f;
}

describe("sockscope check: failures and their diff", () => {
  it("a bound that no longer holds: exit 1, expected / found / where with frames", () => {
    const f = mutated(nagle, (d) => {
      d.expect[0]!.measure = { stallMaxMs: { max: 5 } };
    });
    const r = run(["check", nagle, "--expect", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    const out = r.stdout;
    expect(out).toMatch(/^FAIL .*nagle-delay\/ipv4\.pcap {2}\(1 of 3 checks failed; expectations .*\.expect\.json\)/);
    expect(out).toContain(
      "  ✗ expect[0]  nagle-delay warning, client side, tcp to port 5110, stallMaxMs ≤ 5\n      measure stallMaxMs: expected ≤ 5, found 41.612\n        where: flow 1 tcp 127.0.0.1:50894 → 127.0.0.1:5110, frames 10, 11, 12, 15, 16, 17, 20, 21, … (27 frames)\n",
    );
    expect(out).toContain(
      "  ✓ expect[1]  time-wait info, client side, tcp to port 5110 — 1 finding: flow 1, frames 55, 56, 57",
    );
    expect(out).toContain(`accept it with: sockscope check ${nagle} --expect ${f} --update`);
    expect(out.trimEnd().split("\n").at(-1)).toBe("1 capture checked: 0 passed, 1 failed");
  });

  it("a finding the expectations do not mention is unexpected (strict), with the entry that would expect it", () => {
    const f = mutated(nagle, (d) => {
      d.expect = d.expect.filter((e) => e.kind !== "time-wait");
    });
    const r = run(["check", nagle, "-e", f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "  ✗ unexpected  time-wait info, client side\n        where: flow 1 tcp 127.0.0.1:50894 → 127.0.0.1:5110, frames 55, 56, 57\n",
    );
    expect(r.stdout).toContain(
      'expect it with: { "kind": "time-wait", "severity": "info", "side": "client", "flow": { "proto": "tcp", "serverPort": 5110 } }',
    );
    const allowed = mutated(nagle, (d) => {
      d.expect = d.expect.filter((e) => e.kind !== "time-wait");
      d.allow = ["time-wait"];
    });
    expect(run(["check", nagle, "-e", allowed]).code).toBe(0);
  });

  it("a finding that disappeared: found 0, and the same kind elsewhere", () => {
    const f = mutated(nagle, (d) => {
      d.expect[1]!.side = "server";
    });
    const r = run(["check", nagle, "-e", f]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "  ✗ expect[1]  time-wait info, server side, tcp to port 5110\n      findings: expected 1, found 0\n        not chosen: time-wait info, client side at flow 1 tcp 127.0.0.1:50894 → 127.0.0.1:5110, frames 55, 56, 57\n",
    );
  });

  it("--format json: the same verdict for tools", () => {
    const f = mutated(nagle, (d) => {
      d.expect[0]!.findings = 2;
    });
    const r = run(["check", nagle, "-e", f, "--format", "json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      schema: "sockscope.check/1",
      ok: false,
      summary: { captures: 1, passed: 0, failed: 1, errors: 0, unchecked: 0 },
    });
    const c = j.results[0].checks[0];
    expect(c).toMatchObject({
      id: "expect[0]",
      type: "expect",
      path: "$.expect[0]",
      ok: false,
      problems: [{ what: "findings", expected: "2", found: "1" }],
    });
    expect(c.findings[0]).toMatchObject({
      kind: "nagle-delay",
      flow: 1,
      client: "127.0.0.1:50894",
      server: "127.0.0.1:5110",
    });
  });
});

describe("sockscope check --format junit", () => {
  it("is well-formed XML with a testsuite per capture, a testcase per check and failures where they failed", () => {
    const f = mutated(nagle, (d) => {
      d.expect[0]!.measure = { stallMaxMs: { max: 5 } };
      d.expect.pop();
      d.absent = [{ severity: "error" }];
    });
    const r = run(["check", nagle, "-e", f, "--format", "junit"]);
    expect(r.code).toBe(1);
    const root = parseXml(r.stdout);
    expect(root.name).toBe("testsuites");
    const suites = findAll(root, "testsuite");
    expect(suites).toHaveLength(1);
    const cases = findAll(suites[0]!, "testcase");
    expect(cases.map((c) => c.attrs.name)).toEqual([
      "expect[0] nagle-delay warning, client side, tcp to port 5110, stallMaxMs ≤ 5",
      "absent[0] no error finding",
      "no unexpected findings",
    ]);
    expect(
      cases.every(
        (c) => c.attrs.classname === "fixtures.nagle-delay.ipv4" || c.attrs.classname!.endsWith(".nagle-delay.ipv4"),
      ),
    ).toBe(true);
    const failures = findAll(suites[0]!, "failure");
    expect(failures).toHaveLength(2);
    expect(failures[0]!.attrs.message).toBe("measure stallMaxMs: expected ≤ 5, found 41.612");
    expect(failures[0]!.text).toContain("where: flow 1 tcp 127.0.0.1:50894 → 127.0.0.1:5110, frames 10, 11, 12");
    expect(failures[1]!.attrs.message).toBe("1 unexpected finding: time-wait");
    expect(suites[0]!.attrs).toMatchObject({ tests: "3", failures: "2", errors: "0" });
    expect(root.attrs).toMatchObject({ tests: "3", failures: "2", errors: "0", skipped: "0" });
  });

  it("directory mode: errors, skipped captures, and --output beside the text report", () => {
    const d = workdir("nagle-delay/ipv4.pcap", "rst-after-fin/write-after-close.pcap", "healthy/graceful-close.pcap");
    copyFileSync(
      expectFileOf(join(FIXTURES, "rst-after-fin/write-after-close.pcap")),
      join(d, "rst-after-fin_write-after-close.expect.json"),
    );
    writeFileSync(
      join(d, "nagle-delay_ipv4.expect.json"),
      '{ "schema": "sockscope.expect/1", "expect": [ "zero-window" ] }',
    );
    writeFileSync(join(d, "orphan.expect.json"), '{ "schema": "sockscope.expect/1" }');
    const xml = join(d, "report.xml");
    const r = run(["check", d, "--format", "junit", "-o", xml]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^FAIL .*nagle-delay_ipv4\.pcap/m);
    expect(r.stderr).toMatch(/orphan\.expect\.json: no capture orphan\.pcap/);
    const root = parseXml(readFileSync(xml, "utf8"));
    expect(root.attrs).toMatchObject({ failures: "2", errors: "1", skipped: "1" });
    expect(findAll(root, "testsuite").map((s) => s.attrs.name!.replace(d + "/", ""))).toEqual([
      "healthy_graceful-close.pcap",
      "nagle-delay_ipv4.pcap",
      "orphan",
      "rst-after-fin_write-after-close.pcap",
    ]);
    expect(findAll(root, "skipped")).toHaveLength(1);
    expect(findAll(root, "error")[0]!.attrs.message).toMatch(/no capture/);
  });

  it("escapes what XML cannot hold as it is", async () => {
    const { renderJunit } = await import("../src/check/render.js");
    const xml = renderJunit([
      {
        capture: "a&b<c>.pcap",
        expectations: "q\"'.json",
        status: "error",
        error: "bad \u0001 char & <tag> ]]> \ud800",
        warnings: [],
        result: null,
      },
    ]);
    const root = parseXml(xml);
    expect(findAll(root, "error")[0]!.attrs.message).toBe("bad  char & <tag> ]]> ");
    expect(findAll(root, "testsuite")[0]!.attrs.name).toBe("a&b<c>.pcap");
  });
});

describe("sockscope check --update", () => {
  it("turns a capture into a baseline with one command, then passes; a second run changes nothing", () => {
    const d = workdir("zero-window/stalled-reader.pcap");
    const cap = join(d, "zero-window_stalled-reader.pcap");
    const first = run(["check", cap, "--update"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^wrote .*zero-window_stalled-reader\.expect\.json {2}\(3 expectations\)\n {2}\+ \{ "kind": "time-wait"/,
    );
    const text = readFileSync(join(d, "zero-window_stalled-reader.expect.json"), "utf8");
    expect(run(["check", cap]).code).toBe(0);
    const second = run(["check", cap, "--update"]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^unchanged /);
    expect(readFileSync(join(d, "zero-window_stalled-reader.expect.json"), "utf8")).toBe(text);
    // Deterministic: the same capture elsewhere gives the same bytes (and no paths, times or client ports).
    const d2 = workdir("zero-window/stalled-reader.pcap");
    run(["check", join(d2, "zero-window_stalled-reader.pcap"), "-u"]);
    expect(readFileSync(join(d2, "zero-window_stalled-reader.expect.json"), "utf8")).toBe(text);
    expect(text).not.toMatch(/46618|"time"|"frames"|"id"|127\.0\.0\.1/);
  });

  it("refreshes: failing entries replaced, hand-written ones that hold kept, as a +/- list", () => {
    const d = workdir("nagle-delay/ipv4.pcap");
    const cap = join(d, "nagle-delay_ipv4.pcap");
    const file = join(d, "nagle-delay_ipv4.expect.json");
    writeFileSync(
      file,
      JSON.stringify({
        schema: "sockscope.expect/1",
        description: "kept",
        expect: [{ kind: "nagle-delay", measure: { stallMaxMs: { max: 100 } } }, { kind: "zero-window" }],
        allow: ["small-segments"],
      }),
    );
    const r = run(["check", cap, "--update"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("(2 expectations: 1 new, 1 removed, 1 kept)");
    expect(r.stdout).toContain('  - { "kind": "zero-window" }  (findings: expected at least 1, found 0)');
    expect(r.stdout).toContain(
      '  + { "kind": "time-wait", "severity": "info", "side": "client", "flow": { "proto": "tcp", "serverPort": 5110 }, "findings": 1 }',
    );
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      schema: "sockscope.expect/1",
      description: "kept",
      expect: [
        { kind: "nagle-delay", measure: { stallMaxMs: { max: 100 } } },
        { kind: "time-wait", severity: "info", side: "client", flow: { proto: "tcp", serverPort: 5110 }, findings: 1 },
      ],
      allow: ["small-segments"],
    });
  });

  it("does not overwrite an invalid file, and refreshes a whole directory", () => {
    const d = workdir("nagle-delay/ipv4.pcap", "time-wait/client-closes-first.pcap");
    writeFileSync(
      join(d, "nagle-delay_ipv4.expect.json"),
      '{ "schema": "sockscope.expect/1", "expect": [ { "kind": 1 } ] }',
    );
    const bad = run(["check", join(d, "nagle-delay_ipv4.pcap"), "--update"]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/\$\.expect\[0\]\.kind: must be a string, got 1 \(not overwritten/);
    writeFileSync(join(d, "nagle-delay_ipv4.expect.json"), '{ "schema": "sockscope.expect/1" }');
    const all = run(["check", d, "--update"]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(
      /^updated .*nagle-delay_ipv4\.expect\.json {2}\(2 expectations: 2 new, 0 removed, 0 kept\)/,
    );
    expect(all.stdout).toContain("1 capture without an expectations file left alone");
    expect(existsSync(join(d, "time-wait_client-closes-first.expect.json"))).toBe(false);
  });
});

describe("sockscope check: exit 2 on what cannot be used", () => {
  const cases: [string, string, RegExp][] = [
    [
      "unknown kind",
      '{ "schema": "sockscope.expect/1", "expect": [ { "kind": "nagle" } ] }',
      /: \$\.expect\[0\]\.kind: unknown finding kind "nagle"/,
    ],
    [
      "bad range",
      '{ "schema": "sockscope.expect/1", "expect": [ { "kind": "nagle-delay", "measure": { "stallMaxMs": { "max": "5" } } } ] }',
      /: \$\.expect\[0\]\.measure\.stallMaxMs\.max: must be a number, got "5"/,
    ],
    ["not JSON", "{ schema: 1 }", /: not valid JSON at line 1 column 3/],
    ["old version", '{ "schema": "sockscope.expect/0" }', /: \$\.schema: must be "sockscope\.expect\/1"/],
  ];
  for (const [name, text, message] of cases) {
    it(`${name}: one line naming the file and the JSON path`, () => {
      const f = join(tmp, `bad${tmpN++}.expect.json`);
      writeFileSync(f, text);
      const r = run(["check", nagle, "--expect", f]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]!.startsWith(`sockscope: ${f}: `)).toBe(true);
      expect(lines[0]).toMatch(message);
    });
  }
  it("missing expectations file says how to write one", () => {
    const d = workdir("nagle-delay/ipv4.pcap");
    const r = run(["check", join(d, "nagle-delay_ipv4.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /nagle-delay_ipv4\.expect\.json: no such file; write one with: sockscope check .*nagle-delay_ipv4\.pcap --update/,
    );
  });
  it("unreadable capture", () => {
    const f = join(tmp, "text.pcap");
    writeFileSync(f, "not a capture at all, just text\n");
    writeFileSync(join(tmp, "text.expect.json"), '{ "schema": "sockscope.expect/1" }');
    const r = run(["check", f]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/text\.pcap: offset 0/);
    expect(run(["check", f, "--update"]).code).toBe(2);
  });
  it("usage errors", () => {
    expect(run(["check"]).code).toBe(2);
    expect(run(["check", nagle, "--format", "xml"]).code).toBe(2);
    expect(run(["check", "fixtures/", "--expect", "x.json"]).code).toBe(2);
    expect(run(["check", "-"]).code).toBe(2);
    expect(run(["check", nagle, "--update", "--format", "junit"]).code).toBe(2);
    expect(run(["check", workdir()]).stderr).toMatch(/no expectations files under/);
    const h = run(["check", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: sockscope check/);
    expect(run(["help", "check"]).stdout).toBe(h.stdout);
    expect(run(["--help"]).stdout).toMatch(/\n {2}check {5}/);
  });
  it("standard input with --expect", () => {
    const r = run(["check", "-", "--expect", expectFileOf(nagle)], { input: readFileSync(nagle) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS \(stdin\)/);
  });
});

describe("directory mode", () => {
  it("pairs captures with expectations, by name or by the capture key, and summarises", () => {
    const d = workdir("nagle-delay/ipv4.pcap", "healthy/graceful-close.pcap", "time-wait/client-closes-first.pcap");
    mkdirSync(join(d, "sub"));
    copyFileSync(
      expectFileOf(join(FIXTURES, "healthy/graceful-close.pcap")),
      join(d, "healthy_graceful-close.expect.json"),
    );
    // Named by "capture", in another directory.
    writeFileSync(
      join(d, "sub", "budget.expect.json"),
      JSON.stringify({
        schema: "sockscope.expect/1",
        capture: "../nagle-delay_ipv4.pcap",
        expect: [{ kind: "nagle-delay", measure: { stallMaxMs: { max: 5 } } }],
        allow: ["time-wait"],
      }),
    );
    const r = run(["check", d]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^PASS .*healthy_graceful-close\.pcap {2}\(4 checks\)$/);
    expect(lines[1]).toMatch(
      /^FAIL .*\/nagle-delay_ipv4\.pcap {2}\(1 of 2 checks failed; expectations .*sub\/budget\.expect\.json\)$/,
    );
    expect(r.stdout).toContain("measure stallMaxMs: expected ≤ 5, found 41.612");
    expect(r.stdout).not.toContain("✓");
    expect(r.stdout).toMatch(/not checked \(no expectations file\): 1 capture: .*time-wait_client-closes-first\.pcap/);
    expect(lines.at(-1)).toBe("2 captures checked: 1 passed, 1 failed");
    const j = JSON.parse(run(["check", d, "--format", "json"]).stdout);
    expect(j.summary).toEqual({ captures: 2, passed: 1, failed: 1, errors: 0, unchecked: 1 });
  });
});

describe("a mistyped capture path, and counts that agree with the lines below them", () => {
  it("check of a capture that does not exist says so, not that its expectations file is missing", () => {
    const r = run(["check", "ci/nonexist.pcap"], { cwd: tmp });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sockscope: ci/nonexist.pcap: no such capture file\n");
    const u = run(["check", "ci/nonexist.pcap", "--update"], { cwd: tmp });
    expect(u.code).toBe(2);
    expect(u.stdout).toBe("ERROR ci/nonexist.pcap\n  ci/nonexist.pcap: no such capture file\n");
    expect(existsSync(join(tmp, "ci"))).toBe(false);
  });

  it("one ✗ line per failed check: unexpected findings are one check, listed under it", () => {
    const d = workdir("healthy/many-short-connections.pcap");
    writeFileSync(
      join(d, "healthy_many-short-connections.expect.json"),
      JSON.stringify({ schema: "sockscope.expect/1", expect: ["zero-window"] }),
    );
    const r = run(["check", join(d, "healthy_many-short-connections.pcap")]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL .* {2}\(2 of 2 checks failed\)$/m);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("  ✗"))).toEqual([
      "  ✗ expect[0]  zero-window",
      "  ✗ unexpected  5 findings that no entry expects or allows:",
    ]);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("    - time-wait info, client side"))).toHaveLength(5);
  });
});

describe("captures named by an expectations file stay inside the tree being checked", () => {
  const S = "sockscope.expect/1";
  const tree = (): string => {
    const d = workdir("healthy/many-short-connections.pcap");
    mkdirSync(join(d, "sub"));
    return d;
  };
  const write = (file: string, capture: string) =>
    writeFileSync(file, JSON.stringify({ schema: S, capture, allow: ["time-wait"] }));
  /** No line of output may carry anything read from /etc/passwd, or a raw control character from the file. */
  const expectNothingEchoed = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout + r.stderr).not.toMatch(/root:|magic|0x726f6f74|looks like text/);
    expect(r.stdout + r.stderr).not.toMatch(/[\u0000\u001b]/);
  };

  it("../ out of the tree, an absolute path and control characters are refused, exit 2", () => {
    const d = tree();
    write(join(d, "sub", "dotdot.expect.json"), "../../../../../../../../etc/passwd");
    write(join(d, "absolute.expect.json"), "/etc/passwd");
    write(join(d, "nul.expect.json"), "x\u0000y\u001b[31m.pcap");
    const r = run(["check", d]);
    expect(r.code).toBe(2);
    expectNothingEchoed(r);
    expect(r.stdout).toContain(
      `${join(d, "sub", "dotdot.expect.json")}: its capture is outside ${d}, the directory tree being checked (--root DIR allows a wider one); refused`,
    );
    expect(r.stdout).toContain(
      `${join(d, "absolute.expect.json")}: $.capture: is an absolute path; name the capture relative to the expectations file, inside ${d}; refused`,
    );
    expect(r.stdout).toContain(`${join(d, "nul.expect.json")}: $.capture: contains a control character; refused`);
    expect(r.stdout).toMatch(/3 captures checked: 0 passed, 0 failed, 3 errors/);
  });

  it('a symbolic link out of the tree is refused, named by "capture" or paired by name', () => {
    const d = tree();
    symlinkSync("/etc/passwd", join(d, "link.pcap"));
    write(join(d, "named.expect.json"), "link.pcap");
    writeFileSync(join(d, "link.expect.json"), JSON.stringify({ schema: S }));
    const r = run(["check", d]);
    expect(r.code).toBe(2);
    expectNothingEchoed(r);
    expect(r.stdout.match(/its capture is outside .*; refused/g)).toHaveLength(2);
  });

  it("../ inside the tree is followed; --root widens the tree, and must be a directory", () => {
    const d = tree();
    write(join(d, "sub", "up.expect.json"), "../healthy_many-short-connections.pcap");
    expect(run(["check", d]).code).toBe(0);
    const sub = run(["check", join(d, "sub")]);
    expect(sub.code).toBe(2);
    expect(sub.stdout).toContain(`its capture is outside ${join(d, "sub")}`);
    const wider = run(["check", join(d, "sub"), "--root", d]);
    expect(wider.code).toBe(0);
    expect(wider.stdout).toMatch(/^PASS .*healthy_many-short-connections\.pcap/m);
    expect(run(["check", d, "--root", join(d, "nope")]).stderr).toMatch(/--root .*nope: not a directory/);
  });

  it("an unknown measure name is an invalid expectations file (exit 2), not a failed check", () => {
    const d = workdir("healthy/many-short-connections.pcap");
    writeFileSync(
      join(d, "healthy_many-short-connections.expect.json"),
      JSON.stringify({ schema: S, expect: [{ kind: "time-wait", measure: { timeWait: { max: 1 } } }] }),
    );
    const r = run(["check", join(d, "healthy_many-short-connections.pcap")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /\$\.expect\[0\]\.measure\.timeWait: unknown measure for time-wait \(did you mean "timeWaitMs"\?\)/,
    );
  });
});
