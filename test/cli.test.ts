/**
 * The command line as a user meets it: exit codes, one-line errors on bad input (never a
 * stack trace), stdin, filters, every command's output, and the JSON report validating
 * against the documented schema. Runs the built CLI (npm run build first).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ajv } from "ajv";
import { CLI, CORPUS, ROOT } from "./helpers/paths.js";
import { phenomenonFixtures } from "./helpers/fixtures.js";
import { findTcpdump } from "../src/capture/programs.js";

const schema = JSON.parse(readFileSync(join(ROOT, "schema", "report.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true }).compile(schema);

function run(args: string[], input?: Buffer) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 64 << 20,
  });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const tmp = mkdtempSync(join(tmpdir(), "sockscope-cli-"));
const refused = join(ROOT, "fixtures", "connection-refused", "ipv4.pcap");

/** The captured length of each record of a little-endian classic pcap file, read here independently of sockscope. */
function recordLengths(path: string): number[] {
  const d = readFileSync(path);
  const out: number[] = [];
  for (let o = 24; o + 16 <= d.length; o += 16 + d.readUInt32LE(o + 8)) out.push(d.readUInt32LE(o + 8));
  return out;
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const corpus = (f: string) => join(CORPUS, "captures", f);

/**
 * Asserts one line on stderr that names the file, and no stack trace; a byte offset when
 * the bytes are at fault, none when the file could not be opened.
 */
function expectOneLineError(stderr: string, file: string, withOffset: boolean) {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(file);
  if (withOffset) expect(lines[0]).toMatch(/offset \d+/);
  else expect(lines[0]).not.toMatch(/offset/);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe("bad input gets one line and exit 2", () => {
  const cases: [string, () => string][] = [
    ["missing file", () => join(tmp, "nope.pcap")],
    [
      "directory",
      () => {
        const d = join(tmp, "dir.pcap");
        mkdirSync(d, { recursive: true });
        return d;
      },
    ],
    [
      "empty file",
      () => {
        const f = join(tmp, "empty.pcap");
        writeFileSync(f, "");
        return f;
      },
    ],
    [
      "text file",
      () => {
        const f = join(tmp, "notes.txt");
        writeFileSync(f, "hello, this is not a capture\n");
        return f;
      },
    ],
    [
      "gzip file",
      () => {
        const f = join(tmp, "x.pcap.gz");
        writeFileSync(f, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
        return f;
      },
    ],
    [
      "short header",
      () => {
        const f = join(tmp, "short.pcap");
        writeFileSync(f, Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0]));
        return f;
      },
    ],
    ["absurd first record", () => corpus("suricata--bug-6875-01-fuzz.pcap").replace("6875-01", "6875-01")],
  ];
  // Nothing to point at in a file that could not be opened: "offset 0" would mislead.
  const unopened = new Set(["missing file", "directory"]);
  for (const [name, make] of cases.slice(0, 6)) {
    it(name, () => {
      const file = make();
      const r = run(["analyze", file]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expectOneLineError(r.stderr, file, !unopened.has(name));
    });
  }
  it("a missing file says so, with no offset", () => {
    expect(run(["analyze", join(tmp, "nope.pcap")]).stderr).toBe(
      `sockscope: ${join(tmp, "nope.pcap")}: no such file\n`,
    );
  });
  it("gzip input is named as such", () => {
    const r = run(["analyze", join(tmp, "x.pcap.gz")]);
    expect(r.stderr).toMatch(/gzip/);
  });
  it("unknown command and bad options are usage errors", () => {
    expect(run(["frobnicate"]).code).toBe(2);
    expect(run(["analyze"]).code).toBe(2);
    expect(run(["analyze", refused, "--format", "xml"]).code).toBe(2);
    expect(run(["analyze", refused, "--port", "http"]).code).toBe(2);
    expect(run(["analyze", refused, "--bogus"]).code).toBe(2);
  });
});

describe("damage after good packets: report those, warn, exit 0", () => {
  it("absurd record length after 18 good records", () => {
    const file = corpus("suricata--smtp-to-comma-garbage-tail.pcap");
    const r = run(["analyze", "--format", "json", file]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.capture.packets).toBe(18);
    expect(report.capture.partial).toBe(true);
    expect(report.warnings.join("\n")).toMatch(/offset 3695: record 19 claims 3925868813 captured bytes/);
    expect(r.stderr).toMatch(/offset 3695/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it("absurd second record (fuzzed file) still reports the first", () => {
    const r = run(["analyze", "--format", "json", corpus("suricata--bug-6875-01-fuzz.pcap")]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).capture.packets).toBe(1);
  });
  it("truncated final record is a warning, the rest is analysed", () => {
    const good = readFileSync(refused);
    const cut = join(tmp, "cut.pcap");
    writeFileSync(cut, good.subarray(0, good.length - 5));
    const r = run(["analyze", "--format", "json", cut]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const full = JSON.parse(run(["analyze", "--format", "json", refused]).stdout);
    expect(report.capture.packets).toBe(full.capture.packets - 1);
    expect(report.warnings.join("\n")).toMatch(/truncated final record: it needs \d+ bytes, the file has \d+/);
  });
});

describe("commands", () => {
  it("--version and --help", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(run(["--version"]).stdout.trim()).toBe(`sockscope ${pkg.version}`);
    for (const cmd of ["analyze", "flows", "packets", "explain"]) {
      const r = run([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: sockscope ${cmd}`));
    }
  });
  it("--help's exit codes are the README's table's", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const rows = readme.split("| exit code | meaning |")[1]!.split("\n\n")[0]!;
    const table = [...rows.matchAll(/^\| ([\d, ]+) \|/gm)].flatMap((m) => m[1]!.split(/, */).map(Number));
    const text = run(["--help"]).stdout.split("Exit codes:")[1]!;
    const help = [...text.matchAll(/(?<![\w-])(\d+) (?=[a-z])/g)].map((m) => Number(m[1]));
    expect(table).toEqual([0, 1, 2, 70, 130, 143]);
    expect(help).toEqual(table);
  });
  it("analyze prints summary, flow table and findings", () => {
    const r = run(["analyze", refused]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Capture .*ipv4\.pcap {2}\(pcap-us-le, EN10MB\)/);
    expect(r.stdout).toContain("Flows");
    expect(r.stdout).toMatch(/ERROR connection-refused: connect\(\) to 127\.0\.0\.1:\d+ refused/);
    expect(r.stdout).toContain("see 000 §3.7");
    expect(run(["analyze", "--brief", refused]).stdout).not.toContain("see 000 §3.7");
  });
  it("reads standard input like a file", () => {
    const fromFile = JSON.parse(run(["analyze", "--format", "json", refused]).stdout);
    const fromStdin = JSON.parse(run(["analyze", "--format", "json", "-"], readFileSync(refused)).stdout);
    expect(fromStdin.capture.file).toBe("(stdin)");
    expect({ ...fromStdin, capture: { ...fromStdin.capture, file: "" } }).toEqual({
      ...fromFile,
      capture: { ...fromFile.capture, file: "" },
    });
  });
  it("flows filters by port, host and flow id", () => {
    const file = corpus("pcpp--example2-mixed.pcap");
    const all = JSON.parse(run(["flows", "--format", "json", file]).stdout).flows;
    const dns = JSON.parse(run(["flows", "--format", "json", "--port", "53", file]).stdout).flows;
    expect(dns.length).toBeGreaterThan(0);
    expect(dns.length).toBeLessThan(all.length);
    for (const f of dns) expect([f.client, f.server].some((e: string) => e.endsWith(":53"))).toBe(true);
    const one = JSON.parse(run(["flows", "--format", "json", "--flow", "5", file]).stdout).flows;
    expect(one.map((f: { id: number }) => f.id)).toEqual([5]);
    const host = JSON.parse(run(["flows", "--format", "json", "--host", "10.0.0.138", file]).stdout).flows;
    expect(host.length).toBeGreaterThan(0);
    for (const f of host) expect(`${f.client} ${f.server}`).toContain("10.0.0.138:");
  });
  it("packets: text lines and jsonl with tags from findings", () => {
    const text = run(["packets", refused]).stdout.split("\n");
    expect(text[0]).toMatch(
      /^\s+1\s+0\.000000\s+1 c→s TCP 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ \[S\] seq=0 win=\d+ len=0 \[connection-refused\]$/,
    );
    const lines = run(["packets", "--format", "jsonl", refused])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[1]).toMatchObject({
      frame: 2,
      flow: 1,
      dir: "s2c",
      flags: "R.",
      seq: 1,
      ack: 1,
      len: 0,
      tags: ["connection-refused"],
    });
    for (const l of lines)
      expect(Object.keys(l)).toEqual(
        expect.arrayContaining(["frame", "time", "flow", "dir", "flags", "seq", "ack", "win", "len", "tags"]),
      );
  });
  it("packets from stdin equals packets from the file", () => {
    const a = run(["packets", "--format", "jsonl", refused]).stdout;
    const b = run(["packets", "--format", "jsonl", "-"], readFileSync(refused)).stdout;
    expect(b).toBe(a);
  });
  it("explain lists every kind and prints one", () => {
    const list = run(["explain"]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("connection-refused");
    const one = run(["explain", "zero-window"]);
    expect(one.stdout).toMatch(/^zero-window \(warning\)/);
    expect(one.stdout).toContain("000 §2.11");
    expect(run(["explain", "no-such-kind"]).code).toBe(2);
  });
  it("explain names the closest kinds for an unknown one", () => {
    const r = run(["explain", "nagle"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sockscope: no kind "nagle"; closest: nagle-delay; 'sockscope explain' lists them\n`);
    expect(run(["explain", "zerowindow"]).stderr).toContain("closest: zero-window;");
    expect(run(["explain", "qwertyuiop"]).stderr).not.toContain("closest");
  });
  it("--flow with no such flow says so and how many there are", () => {
    for (const cmd of ["flows", "analyze", "packets"]) {
      const r = run([cmd, "--flow", "9", refused]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^sockscope: no flow 9: .*has 2 flows \(ids 1-2\)\n$/);
    }
    expect(run(["flows", "--flow", "2", refused]).code).toBe(0);
  });
});

describe("unknown options: sockscope's own one line, with a --help hint", () => {
  it("names the option and the command's help, not Node's parser advice", () => {
    const r = run(["analyze", "-x", refused]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sockscope: analyze: unknown option -x (see sockscope analyze --help)\n");
  });
  it("suggests the long option meant", () => {
    expect(run(["flows", "--flwo", "3", refused]).stderr).toBe(
      "sockscope: flows: unknown option --flwo; did you mean --flow? (see sockscope flows --help)\n",
    );
  });
  it("a missing value is named", () => {
    expect(run(["packets", refused, "-c"]).stderr).toBe(
      "sockscope: packets: -c, --count needs a value (see sockscope packets --help)\n",
    );
  });
  it("every command answers the same way", () => {
    for (const cmd of ["analyze", "flows", "packets", "explain", "check", "live", "interfaces"]) {
      const r = run([cmd, "--bogus"]);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toMatch(
        new RegExp(`^sockscope: (${cmd}: )?unknown option --bogus \\(see sockscope ${cmd} --help\\)\n$`),
      );
    }
  });
});

describe("tcpdump habits: -r FILE, -c N, -n, a capture filter after the file", () => {
  const hasTcpdump = findTcpdump() !== null;
  const jsonl = (r: { stdout: string }) =>
    r.stdout
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
  it("-r FILE reads the file, -n changes nothing", () => {
    const plain = run(["analyze", "--format", "json", refused]).stdout;
    expect(run(["analyze", "--format", "json", "-r", refused]).stdout).toBe(plain);
    expect(run(["analyze", "-n", "--format", "json", refused]).stdout).toBe(plain);
    expect(run(["analyze", "-nr", refused, "--format", "json"]).stdout).toBe(plain);
  });
  it("-c N analyses the first N packets only", () => {
    const lines = jsonl(run(["packets", "-c", "3", "--format", "jsonl", refused]));
    expect(lines.map((l) => l.frame)).toEqual([1, 2, 3]);
    const report = JSON.parse(run(["analyze", "-c", "2", "--format", "json", refused]).stdout);
    expect(report.capture.packets).toBe(2);
    // The file stays a path and bytes those of the file read; the selection says what was kept.
    expect(report.capture.file).toBe(refused);
    expect(report.capture.bytes).toBe(statSync(refused).size);
    expect(report.capture.selection).toEqual({
      filter: null,
      count: 2,
      packetsKept: 2,
      bytesKept: sum(recordLengths(refused).slice(0, 2)),
      packetsRead: 2,
    });
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(run(["flows", "-c", "2", refused]).stdout).toContain(`Capture ${refused} (first 2 packets)`);
    expect(run(["flows", "-c", "2", refused]).stdout).toContain(
      `2 packets, 128 bytes captured (of ${statSync(refused).size} bytes read)`,
    );
    expect(report.flows).toHaveLength(1);
    expect(run(["packets", "-c", "0", refused]).code).toBe(2);
  });
  it.skipIf(!hasTcpdump)("a filter after the file keeps the frames it matches, with their numbers in the file", () => {
    const resets = jsonl(run(["packets", "--format", "jsonl", refused, "tcp[tcpflags] & tcp-rst != 0"]));
    expect(resets.map((l) => l.frame)).toEqual([2, 4]);
    // Words after the file are joined, as tcpdump joins them; -r takes the file.
    const words = jsonl(
      run(["packets", "--format", "jsonl", "-r", refused, "tcp[tcpflags]", "&", "tcp-rst", "!=", "0"]),
    );
    expect(words).toEqual(resets);
    // -f EXPR, as live takes it; not both.
    expect(jsonl(run(["packets", "--format", "jsonl", "-f", "tcp[tcpflags] & tcp-rst != 0", refused]))).toEqual(resets);
    expect(run(["packets", "-f", "tcp", refused, "udp"]).stderr).toMatch(
      /^sockscope: packets: give the capture filter once: -f EXPR or words after the capture, not both/,
    );
    // With -c the count is of matching packets.
    expect(
      jsonl(run(["packets", "--format", "jsonl", "-c", "1", refused, "tcp[tcpflags] & tcp-rst != 0"])).map(
        (l) => l.frame,
      ),
    ).toEqual([2]);
  });
  it.skipIf(!hasTcpdump)("the analyzers see only the packets kept", () => {
    const all = JSON.parse(run(["analyze", "--format", "json", refused]).stdout);
    expect(all.findings.map((f: { kind: string }) => f.kind)).toContain("connection-refused");
    const synsOnly = JSON.parse(run(["analyze", "--format", "json", refused, "tcp[tcpflags] & tcp-rst == 0"]).stdout);
    expect(synsOnly.capture.packets).toBe(2);
    expect(synsOnly.capture.file).toBe(refused);
    const lengths = recordLengths(refused); // SYN, RST, SYN, RST
    expect(synsOnly.capture.selection).toEqual({
      filter: "tcp[tcpflags] & tcp-rst == 0",
      count: null,
      packetsKept: 2,
      bytesKept: lengths[0]! + lengths[2]!,
      packetsRead: 4,
    });
    expect(validate(synsOnly), JSON.stringify(validate.errors)).toBe(true);
    expect(run(["analyze", refused, "tcp[tcpflags] & tcp-rst == 0"]).stdout).toContain(
      `Capture ${refused} (filter "tcp[tcpflags] & tcp-rst == 0": 2 of 4 packets)`,
    );
    expect(run(["analyze", "--format", "json", refused]).stdout).toContain(`"selection": null`);
    expect(synsOnly.findings.map((f: { kind: string }) => f.kind)).not.toContain("connection-refused");
  });
  it.skipIf(!hasTcpdump)("works on standard input and with --jobs (a filter runs on one thread)", () => {
    const file = corpus("pcpp--example2-mixed.pcap");
    const one = JSON.parse(run(["analyze", "--format", "json", "-j", "1", file, "udp port 53"]).stdout);
    const two = JSON.parse(run(["analyze", "--format", "json", "-j", "2", file, "udp port 53"]).stdout);
    expect(two).toEqual(one);
    expect(one.flows.length).toBeGreaterThan(0);
    for (const f of one.flows) expect(`${f.client} ${f.server}`).toMatch(/:53\b/);
    const stdin = JSON.parse(run(["analyze", "--format", "json", "-", "udp port 53"], readFileSync(file)).stdout);
    expect({ ...stdin, capture: { ...stdin.capture, file: "" } }).toEqual({
      ...one,
      capture: { ...one.capture, file: "" },
    });
    const packets = jsonl(run(["packets", "--format", "jsonl", "-c", "4", "-", "tcp"], readFileSync(file)));
    expect(packets).toHaveLength(4);
    expect(packets.every((p) => p.proto === "TCP")).toBe(true);
  });
  it.skipIf(!hasTcpdump)("an expression libpcap refuses is its message, one line, exit 2", () => {
    const r = run(["flows", refused, "tcp port"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`sockscope: capture filter "tcp port": can't parse filter expression: syntax error\n`);
  });
  it.skipIf(!hasTcpdump)("two captures are not taken for a filter", () => {
    // flows and packets read one capture; analyze reads several (test/many-captures.test.ts), each once.
    const r = run(["flows", refused, refused]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/one capture at a time: ".*ipv4\.pcap" is a file/);
    const many = run(["analyze", "-F", "json", refused, refused]);
    expect(many.code).toBe(0);
    expect(JSON.parse(many.stdout).captures.map((c: { file: string }) => c.file)).toEqual([refused]);
  });
  it("with no compiler, says what is missing", () => {
    const r = spawnSync(process.execPath, [CLI, "analyze", refused, "tcp"], {
      env: { ...process.env, SOCKSCOPE_TCPDUMP: join(tmp, "none") },
    });
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toMatch(
      /^sockscope: a capture filter needs libpcap's compiler, which sockscope runs through tcpdump: tcpdump was not found .*\n$/,
    );
  });
});

describe("JSON report validates against schema/report.schema.json", () => {
  const files = [
    ...phenomenonFixtures().map((f) => f.path),
    ...[
      "pcpp--example2-mixed.pcap",
      "pcpp--many_interfaces-1.pcapng",
      "pcpp--ip6_fragments-udp.pcap",
      "suricata--smtp-to-comma-garbage-tail.pcap",
    ].map(corpus),
  ];
  for (const file of files) {
    it(file.replace(/^.*\/(fixtures|captures)\//, ""), () => {
      const out = execFileSync(process.execPath, [CLI, "analyze", "--format", "json", "--quiet", file], {
        maxBuffer: 64 << 20,
      }).toString();
      const report = JSON.parse(out);
      const ok = validate(report);
      expect(validate.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
    });
  }
});
