#!/usr/bin/env node
/**
 * The `sockscope` executable: starts the CLI (cli.ts) as fast as it can. Start-up is part
 * of every run, and most of it is compiling sockscope's code, so the build bundles the CLI
 * into one file (scripts/bundle.mjs) and this loader compiles it with V8's code cache.
 *
 * The cache holds V8's compiled code for the bundle, in a file named by the bundle's
 * SHA-256, the Node version and the V8 flags, so a rebuilt bundle or another Node never
 * reuses an old one (and V8 checks again and rejects what does not fit). It is written
 * once, when the first run ends (so it holds what that run compiled), beside the bundle,
 * or in the user's cache directory when the install directory is read-only, or nowhere:
 * every failure to read or write it only costs the start-up it would have saved. Never in
 * a shared temporary directory: compiled code from there would run as this user's code.
 *
 * Without the bundle (a plain `tsc` build) the CLI's modules are imported as they are.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { mapBundleFrames } from "./bundle-stack-traces.js";

const here = dirname(fileURLToPath(import.meta.url));
const BUNDLE = join(here, "cli.bundle.cjs");

let bundle: Buffer | null = null;
try {
  bundle = readFileSync(BUNDLE);
} catch {
  // No bundle: run the modules tsc built.
}
if (bundle === null) await import("./cli.js");
else runBundle(bundle);

function runBundle(bytes: Buffer): void {
  const key = `${createHash("sha256").update(bytes).digest("hex").slice(0, 32)}-${process.version}-${process.arch}-${flagsTag()}`;
  const dirs = cacheDirs();
  const cached = readCache(dirs, key);
  // Wrapped as Node wraps a CommonJS module, on the bundle's first line so that line
  // numbers stay those of the source map.
  const wrapper = "(function (exports, require, module, __filename, __dirname) {";
  const source = `${wrapper}${bytes.toString("utf8")}\n})`;
  // Stack traces of an internal error point into src/ through the bundle's source map.
  mapBundleFrames(BUNDLE, wrapper.length);
  const script = new Script(source, { filename: BUNDLE, cachedData: cached ?? undefined });
  if (cached === null || script.cachedDataRejected === true)
    // At exit, so the cache holds every function this run compiled, not only the top level.
    process.once("exit", () => writeCache(dirs, key, script));
  const module = { exports: {} };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(BUNDLE), module, BUNDLE, here);
}

/** V8 rejects a cache made under other flags (given on the command line or in NODE_OPTIONS): one per set. */
function flagsTag(): string {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ").trim();
  return flags === "" ? "0" : createHash("sha256").update(flags).digest("hex").slice(0, 8);
}

/** Beside the bundle first, then the user's own cache directory. */
function cacheDirs(): string[] {
  const dirs = [join(here, ".code-cache")];
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), ".cache") : "");
  if (base !== "") dirs.push(join(base, "sockscope", "code-cache"));
  return dirs;
}

function readCache(dirs: string[], key: string): Buffer | null {
  for (const dir of dirs) {
    try {
      return readFileSync(join(dir, key));
    } catch {
      // Not there: the next place, or compile without.
    }
  }
  return null;
}

/**
 * Beside the bundle, a cache of another key is of an older build or another Node: not
 * used again. (The user's directory may serve several installs at once: left alone.)
 */
function dropOthers(dir: string, key: string): void {
  for (const old of readdirSync(dir)) if (old !== key && !old.endsWith(".tmp")) rmSync(join(dir, old), { force: true });
}

function writeCache(dirs: string[], key: string, script: Script): void {
  let data: Buffer;
  try {
    data = script.createCachedData();
  } catch {
    return;
  }
  for (const dir of dirs) {
    try {
      mkdirSync(dir, { recursive: true });
      // Written aside and renamed: runs that start meanwhile read a whole file or none.
      const tmp = join(dir, `${key}.${process.pid}.tmp`);
      writeFileSync(tmp, data);
      renameSync(tmp, join(dir, key));
      if (dir === dirs[0]) dropOthers(dir, key);
      return;
    } catch {
      // Read-only or full: the next place, or no cache.
    }
  }
}
