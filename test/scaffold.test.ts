/**
 * `npm run new-analyzer`: adding a kind is one module plus its fixtures, everything else
 * follows from the registry. Shown on a copy of the tree (src, scripts, schema, the
 * scenario manifests; node_modules linked): the scaffold adds a TCP and a UDP kind, and
 * the copy then compiles, lints, registers both after the kinds already there, lists them
 * under their families in `explain`, and `check` accepts expectation files naming them
 * (the schema's kind list regenerated). Refusals leave the tree as it was.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANALYZERS } from "../src/analyze/registry.js";
import { schemaKinds } from "../src/check/expect-schema.js";
import { FIXTURES, ROOT } from "./helpers/paths.js";

const TCP_KIND = "scaffolded-stall";
const UDP_KIND = "scaffolded-udp";
const tree = mkdtempSync(join(tmpdir(), "sockscope-scaffold-"));
afterAll(() => rmSync(tree, { recursive: true, force: true }));

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: tree, env: { ...process.env, NO_COLOR: "1" }, encoding: "utf8" });
  return { code: r.status, out: r.stdout + r.stderr, stdout: r.stdout };
}
const scaffold = (...args: string[]) => run(process.execPath, ["scripts/new-analyzer.mjs", ...args]);
const cli = (...args: string[]) => run(process.execPath, ["dist/cli/main.js", ...args]);
const inTree = (p: string) => join(tree, p);

let first: ReturnType<typeof run>;
let second: ReturnType<typeof run>;
beforeAll(() => {
  for (const p of ["src", "scripts", "schema", "package.json", "tsconfig.json", "biome.json", ".gitignore"])
    cpSync(join(ROOT, p), inTree(p), { recursive: true });
  cpSync(join(FIXTURES, "scenarios"), inTree("fixtures/scenarios"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), inTree("node_modules"));
  first = scaffold(TCP_KIND, "tcp-transfer", "--no-build");
  // The second run builds the copy (tsc) and regenerates the schema's kinds.
  second = scaffold(UDP_KIND, "udp-ip-icmp", "--case", "lost-reply", "--severity", "error");
}, 240_000);

describe("npm run new-analyzer", () => {
  it("writes the module, scenario and expectation stub, and builds", () => {
    expect(first.code, first.out).toBe(0);
    expect(second.code, second.out).toBe(0);
    for (const p of [
      `src/analyze/analyzers/${TCP_KIND}.ts`,
      `fixtures/scenarios/${TCP_KIND}.py`,
      `fixtures/${TCP_KIND}/basic.expect.json`,
      `src/analyze/analyzers/${UDP_KIND}.ts`,
      `fixtures/scenarios/${UDP_KIND}.py`,
      `fixtures/${UDP_KIND}/lost-reply.expect.json`,
      `dist/analyze/analyzers/${UDP_KIND}.js`,
      `dist/analyze/analyzers/${TCP_KIND}.js`,
    ])
      expect(existsSync(inTree(p)), p).toBe(true);
    expect(readFileSync(inTree("fixtures/scenarios/tcp-transfer.tsv"), "utf8")).toContain(
      `fixtures/scenarios/${TCP_KIND}.py\tbasic\tfixtures/${TCP_KIND}/basic.pcap\t0\n`,
    );
    expect(readFileSync(inTree("fixtures/scenarios/udp-ip-icmp.tsv"), "utf8")).toContain(
      `fixtures/scenarios/${UDP_KIND}.py\tlost-reply\tfixtures/${UDP_KIND}/lost-reply.pcap\t0\n`,
    );
  });

  it("leaves a tree that typechecks and passes Biome (format and lint errors)", () => {
    const tsc = run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json", "--noEmit"]);
    expect(tsc.code, tsc.out).toBe(0);
    const biome = run(inTree("node_modules/.bin/biome"), [
      "ci",
      `src/analyze/analyzers/${TCP_KIND}.ts`,
      `src/analyze/analyzers/${UDP_KIND}.ts`,
      "src/analyze/registry.ts",
      "src/check/measures.ts",
    ]);
    expect(biome.code, biome.out).toBe(0);
  }, 120_000);

  it("registers the kinds after the ones already there, with the family and severity asked for", () => {
    const r = run(process.execPath, [
      "--input-type=module",
      "-e",
      `const { ANALYZERS } = await import(${JSON.stringify(inTree("dist/analyze/registry.js"))});
       console.log(JSON.stringify(ANALYZERS.map((a) => [a.id, a.family, a.severity])));`,
    ]);
    expect(r.code, r.out).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      ...ANALYZERS.map((a) => [a.id, a.family, a.severity]),
      [TCP_KIND, "tcp-transfer", "warning"],
      [UDP_KIND, "udp-ip-icmp", "error"],
    ]);
    const measures = readFileSync(inTree("src/check/measures.ts"), "utf8");
    expect(measures).toContain(`  "${TCP_KIND}": [],\n`);
  });

  it("explain knows them: in full, and listed under their family's one header", () => {
    const one = cli("explain", UDP_KIND);
    expect(one.code, one.out).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`^${UDP_KIND} \\(error\\): TODO`));
    const listing = cli("explain");
    expect(listing.code).toBe(0);
    const headers = listing.stdout.split("\n").filter((l) => /^[a-z]/.test(l));
    expect(headers).toEqual(["tcp-opening", "tcp-transfer", "tcp-closing", "udp-ip-icmp"]);
    const section = (h: string) => listing.stdout.split(`\n${h}\n`)[1]!.split("\n\n")[0]!;
    expect(section("tcp-transfer")).toContain(`  ${TCP_KIND} `);
    expect(section("udp-ip-icmp")).toContain(`  ${UDP_KIND} `);
    expect(listing.stdout).toContain(`${ANALYZERS.length + 2} kinds.`);
  });

  it("check takes expectations naming them (schema kinds regenerated) and still refuses unknown ones", () => {
    const schemaText = readFileSync(inTree("schema/expect.schema.json"), "utf8");
    expect(schemaKinds(schemaText)).toEqual([...ANALYZERS.map((a) => a.id), TCP_KIND, UDP_KIND]);
    const validate = new Ajv({ allErrors: true }).compile(JSON.parse(schemaText));
    const stub = JSON.parse(readFileSync(inTree(`fixtures/${UDP_KIND}/lost-reply.expect.json`), "utf8"));
    expect(validate(stub), JSON.stringify(validate.errors)).toBe(true);
    // A capture without the kind: the file is valid (exit 1, the expectation not met), not refused (exit 2).
    const capture = join(FIXTURES, "healthy", "udp-request-response.pcap");
    const met = cli("check", capture, "--expect", inTree(`fixtures/${UDP_KIND}/lost-reply.expect.json`));
    expect(met.code, met.out).toBe(1);
    expect(met.out).toContain(UDP_KIND);
    const unknown = inTree("unknown.expect.json");
    writeFileSync(unknown, JSON.stringify({ schema: "sockscope.expect/1", expect: ["scaffolded-nothing"] }));
    const refused = cli("check", capture, "--expect", unknown);
    expect(refused.code, refused.out).toBe(2);
    expect(refused.out).toContain('unknown finding kind "scaffolded-nothing"');
  });

  it("gives each scenario stub a port no other scenario script uses", () => {
    const portOf = (kind: string) =>
      /^ADDR, PORT = "127\.0\.0\.1", (\d+)$/m.exec(readFileSync(inTree(`fixtures/scenarios/${kind}.py`), "utf8"))?.[1];
    const ports = [portOf(TCP_KIND), portOf(UDP_KIND)];
    expect(ports[0]).toMatch(/^\d{4}$/);
    expect(ports[1]).not.toBe(ports[0]);
    for (const f of readdirSync(join(FIXTURES, "scenarios")).filter((f) => f.endsWith(".py")))
      expect(readFileSync(join(FIXTURES, "scenarios", f), "utf8"), f).not.toMatch(
        new RegExp(`\\b(${ports.join("|")})\\b`),
      );
  });

  it("writes scenario stubs that python can compile", () => {
    const py = spawnSync("python3", ["--version"]);
    if (py.status !== 0) {
      if (process.env.CI) throw new Error("python3 is needed (the scenario scripts are python)");
      console.warn("skipped: no python3 to compile the scenario stubs");
      return;
    }
    const r = run("python3", [
      "-m",
      "py_compile",
      `fixtures/scenarios/${TCP_KIND}.py`,
      `fixtures/scenarios/${UDP_KIND}.py`,
    ]);
    expect(r.code, r.out).toBe(0);
  });

  it("refuses, changing nothing, an existing kind, a bad id or an unknown family", () => {
    const registry = readFileSync(inTree("src/analyze/registry.ts"), "utf8");
    const cases: [string[], RegExp][] = [
      [[TCP_KIND, "tcp-transfer", "--no-build"], /exists already/],
      [["half-close", "tcp-closing", "--no-build"], /exists already/],
      [["Bad_Kind", "tcp-closing", "--no-build"], /not a kind id/],
      [["fine-kind", "tcp-middle", "--no-build"], /no family "tcp-middle": one of tcp-opening, tcp-transfer/],
      [["fine-kind"], /give the family/],
    ];
    for (const [args, message] of cases) {
      const r = scaffold(...args);
      expect(r.code, r.out).toBe(2);
      expect(r.out).toMatch(message);
    }
    expect(readFileSync(inTree("src/analyze/registry.ts"), "utf8")).toBe(registry);
    expect(existsSync(inTree("src/analyze/analyzers/fine-kind.ts"))).toBe(false);
  });
});
