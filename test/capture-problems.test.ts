/**
 * The capture's problems and the analysis's warnings on stderr (src/cli/capture-problems.ts,
 * main.ts reportProblems): past five capture problems the rest are counted, and said to be
 * "listed in the report's warnings" only where a report lists them (analyze); `flows` and
 * `packets`, which have no warnings list, still print the analysis's warnings (here a clock
 * jump), and no warning is printed twice or left out of analyze's JSON.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FORWARD_JUMP_SEC } from "../src/analyze/clock.js";
import { ETH_IPV4, ethernet, ipv4, pcapngFile, tcp } from "./helpers/build.js";
import { CLI } from "./helpers/paths.js";

const tmp = mkdtempSync(join(tmpdir(), "sockscope-problems-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/**
 * Eight segments of one connection in a pcapng file whose packet blocks each end with a
 * wrong copy of their length (eight capture problems, one per block: the reader warns and
 * reads on), the last stamped more than a day later (a clock jump).
 */
function problemCapture(): string {
  const T0 = 1_700_000_000n * 1_000_000n; // µs
  const blocks = Array.from({ length: 8 }, (_, i) => {
    const fromClient = i % 2 === 0;
    const t = tcp({
      srcPort: fromClient ? 40000 : 80,
      dstPort: fromClient ? 80 : 40000,
      seq: 1000 + i,
      ack: 2000 + i,
      flags: 0x10,
      win: 65535,
      payload: new Uint8Array(10),
    });
    const data = ethernet(
      ETH_IPV4,
      ipv4({
        src: fromClient ? 0x0a000001 : 0x0a000002,
        dst: fromClient ? 0x0a000002 : 0x0a000001,
        proto: 6,
        payload: t,
      }),
    );
    return {
      kind: "epb" as const,
      iface: 0,
      ts: T0 + BigInt(i * 1000) + (i === 7 ? BigInt(FORWARD_JUMP_SEC + 100) * 1_000_000n : 0n),
      data,
    };
  });
  const bytes = pcapngFile([{ le: true, interfaces: [{ linkType: 1 }], blocks }]).bytes;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let pos = 0; pos < bytes.length; pos += dv.getUint32(pos + 4, true)) {
    const len = dv.getUint32(pos + 4, true);
    if (dv.getUint32(pos, true) === 6) dv.setUint32(pos + len - 4, len + 4, true); // EPB: a wrong trailing length
  }
  const file = join(tmp, "problems.pcapng");
  writeFileSync(file, bytes);
  return file;
}

describe("capture problems and analysis warnings on stderr", () => {
  const file = problemCapture();
  const snapLines = (stderr: string) =>
    stderr.split("\n").filter((l) => /^sockscope: .*pcapng block of type 0x6 ends with length/.test(l));
  const jump = /^sockscope: warning: the capture's clock jumps forward .* at frame 8/m;

  it("analyze --format json: five problems, the rest counted as listed in the report, which lists all and the jump", () => {
    const r = run(["analyze", "-F", "json", file]);
    expect(r.code).toBe(0);
    expect(snapLines(r.stderr)).toHaveLength(5);
    expect(r.stderr).toContain("sockscope: … and 3 more capture problems (listed in the report's warnings)\n");
    expect(r.stderr).toMatch(jump);
    const warnings: string[] = JSON.parse(r.stdout).warnings;
    expect(warnings.filter((w) => w.includes("ends with length"))).toHaveLength(8);
    expect(warnings.some((w) => w.includes("clock jumps forward"))).toBe(true);
    expect(r.stderr).not.toMatch(/^sockscope: warning: .*ends with length/m); // a problem is not printed twice
  });

  it("flows: the rest only counted (its output lists no warnings), the analysis's warnings printed", () => {
    const r = run(["flows", file]);
    expect(r.code).toBe(0);
    expect(snapLines(r.stderr)).toHaveLength(5);
    expect(r.stderr).toContain("sockscope: … and 3 more capture problems\n");
    expect(r.stderr).toMatch(jump);
    expect(run(["flows", "-F", "json", file]).stderr).toBe(r.stderr);
  });

  it("packets: the same, with the analysis's warnings too", () => {
    const r = run(["packets", file]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(8);
    expect(snapLines(r.stderr)).toHaveLength(5);
    expect(r.stderr).toContain("sockscope: … and 3 more capture problems\n");
    expect(r.stderr).toMatch(jump);
  });
});
