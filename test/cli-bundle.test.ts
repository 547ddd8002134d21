/**
 * The bundled CLI and its code cache (src/cli/main.ts, scripts/bundle.mjs): the cache is
 * written once, kept while the bundle is the same, replaced when it changes, moved to the
 * user's cache directory when the install directory cannot take it, and never needed; stack
 * traces of the bundle point into the sources.
 */
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  appendFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "esbuild";
import { CLI, FIXTURES, ROOT } from "./helpers/paths.js";

const TINY = join(FIXTURES, "healthy", "graceful-close.pcap");
let tmp: string;

/** A copy of the built package (dist, package.json, node_modules linked) to change freely. */
function install(name: string): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  cpSync(join(ROOT, "dist"), join(dir, "dist"), { recursive: true });
  rmSync(join(dir, "dist", "cli", ".code-cache"), { recursive: true, force: true });
  cpSync(join(ROOT, "package.json"), join(dir, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}
function analyze(dir: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(dir, "dist", "cli", "main.js"), "analyze", "-F", "json", TINY], {
    encoding: "utf8",
    env: { ...process.env, XDG_CACHE_HOME: join(dir, "user-cache"), ...env },
  });
}
const cacheFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith(".tmp")) : []);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "sockscope-bundle-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("bundled CLI", () => {
  it("is what dist/cli/main.js runs, and reports as before", () => {
    expect(existsSync(join(ROOT, "dist", "cli", "cli.bundle.cjs"))).toBe(true);
    const bundled = spawnSync(process.execPath, [CLI, "analyze", "-F", "json", TINY], { encoding: "utf8" });
    // The modules tsc built, imported one by one: the same report.
    const plain = spawnSync(
      process.execPath,
      [
        "-e",
        `process.argv.splice(1, 0, "x"); import(${JSON.stringify(join(ROOT, "dist", "cli", "cli.js"))})`,
        "analyze",
        "-F",
        "json",
        TINY,
      ],
      {
        encoding: "utf8",
      },
    );
    expect(bundled.status).toBe(0);
    expect(plain.status).toBe(0);
    expect(bundled.stdout).toBe(plain.stdout);
  });

  it("writes the code cache once, keeps it, and replaces it when the bundle changes", () => {
    const dir = install("cache");
    const cacheDir = join(dir, "dist", "cli", ".code-cache");
    const first = analyze(dir);
    expect(first.status).toBe(0);
    const [written] = cacheFiles(cacheDir);
    expect(written).toBeDefined();
    expect(cacheFiles(cacheDir)).toHaveLength(1);
    const before = statSync(join(cacheDir, written!)).mtimeMs;
    const second = analyze(dir);
    expect(second.stdout).toBe(first.stdout);
    // Used, not rewritten.
    expect(statSync(join(cacheDir, written!)).mtimeMs).toBe(before);
    // A changed bundle (here one more comment): a new cache, the old one gone.
    appendFileSync(join(dir, "dist", "cli", "cli.bundle.cjs"), "\n// changed\n");
    const third = analyze(dir);
    expect(third.stdout).toBe(first.stdout);
    const now = cacheFiles(cacheDir);
    expect(now).toHaveLength(1);
    expect(now[0]).not.toBe(written);
    expect(cacheFiles(join(dir, "user-cache", "sockscope", "code-cache"))).toEqual([]);
  });

  it("keeps the caches of other V8 flags apart (V8 would reject them), NODE_OPTIONS included", () => {
    const dir = install("flags");
    const cacheDir = join(dir, "dist", "cli", ".code-cache");
    expect(analyze(dir).status).toBe(0);
    const [plain] = cacheFiles(cacheDir);
    expect(analyze(dir, { NODE_OPTIONS: "--max-semi-space-size=8" }).status).toBe(0);
    const [withFlags] = cacheFiles(cacheDir);
    expect(withFlags).toBeDefined();
    expect(withFlags).not.toBe(plain);
  });

  it("uses the user's cache directory when the install directory cannot take the cache, and runs without any", () => {
    const dir = install("readonly");
    // A file where the cache directory would be: no directory can be made there, even by root.
    writeFileSync(join(dir, "dist", "cli", ".code-cache"), "");
    const r = analyze(dir);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(cacheFiles(join(dir, "user-cache", "sockscope", "code-cache"))).toHaveLength(1);
    // Nowhere to write at all: the same report, nothing said.
    writeFileSync(join(dir, "blocked"), "");
    const none = analyze(dir, { XDG_CACHE_HOME: join(dir, "blocked") });
    expect(none.status).toBe(0);
    expect(none.stderr).toBe("");
    expect(none.stdout).toBe(r.stdout);
  });

  it("falls back to the modules tsc built when there is no bundle", () => {
    const dir = install("nobundle");
    rmSync(join(dir, "dist", "cli", "cli.bundle.cjs"));
    const r = analyze(dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(analyze(install("withbundle")).stdout);
  });

  it("maps the bundle's stack frames to the sources", async () => {
    const dir = join(tmp, "stack");
    mkdirSync(join(dir, "src"), { recursive: true });
    mkdirSync(join(dir, "dist", "cli"), { recursive: true });
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
    writeFileSync(
      join(dir, "src", "cli.ts"),
      '// a line before\nfunction explode(): never {\n  throw new Error("explode");\n}\nexplode();\n',
    );
    await build({
      entryPoints: [join(dir, "src", "cli.ts")],
      outfile: join(dir, "dist", "cli", "cli.bundle.cjs"),
      bundle: true,
      platform: "node",
      format: "cjs",
      sourcemap: "linked",
      sourcesContent: false,
      logLevel: "silent",
    });
    for (const f of ["main.js", "bundle-stack-traces.js"])
      cpSync(join(ROOT, "dist", "cli", f), join(dir, "dist", "cli", f));
    const r = spawnSync(process.execPath, [join(dir, "dist", "cli", "main.js")], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`at explode (${join(dir, "src", "cli.ts")}:3:9)`);
  });
});
