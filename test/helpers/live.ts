/**
 * Running `sockscope live` for real in tests: preconditions (root, unshare/nsenter, ip,
 * python3, tcpdump, a loadable cap) that skip with the reason printed, or fail in CI; the
 * built CLI started in a private network namespace (`unshare -n`), its output lines
 * stamped with their arrival time; commands and the scenario scripts of
 * fixtures/scenarios run in the same namespace (`nsenter -n`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Finding } from "../../src/analyze/finding.js";
import { CLI, ROOT } from "./paths.js";
import { describeIfReady } from "./preconditions.js";

const SCENARIOS = join(ROOT, "fixtures", "scenarios");

// ------------------------------------------------------------------ preconditions

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
}
const isRoot = process.getuid?.() === 0;
export const capError = (() => {
  try {
    createRequire(import.meta.url)("cap");
    return null;
  } catch (e) {
    return String((e as Error).message).split("\n")[0];
  }
})();
const missingTools = ["unshare", "nsenter", "ip", "python3", "tcpdump"].filter((c) => !has(c));
export const built = existsSync(CLI);

export function precondition(needCap: boolean): string | null {
  if (!built) return `${CLI} is missing: npm run build first`;
  if (!isRoot) return "live capture tests need root (unshare -n, packet sockets)";
  if (missingTools.length > 0) return `missing ${missingTools.join(", ")}`;
  if (needCap && capError !== null)
    return `the cap package does not load (${capError}): apt-get install libpcap-dev, npm rebuild cap`;
  return null;
}

/** describe() that skips with a printed reason, or fails in CI, when the preconditions are missing. */
export function liveDescribe(name: string, needCap: boolean, body: () => void): void {
  describeIfReady(name, precondition(needCap), body);
}

// ------------------------------------------------------------------ a live capture in a namespace

/** Captures still running: a failed test must not leave one behind. */
const running = new Set<number>();
/** For afterEach: kills the captures (and their process groups) a failed test left running. */
export function killRunning(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  running.clear();
}

export interface Line {
  at: number;
  text: string;
}
export interface LiveRun {
  pid: number;
  lines: Line[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Runs a command in the capture's network namespace. */
  inNs(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }>;
  json(): Array<Record<string, unknown> & { at: number }>;
}

/** Starts `sockscope live ARGS` in a fresh network namespace with lo up; resolves once it listens. */
export async function startLive(args: string[], setup = "ip link set lo up"): Promise<LiveRun> {
  // In its own process group, as a shell runs a command: ctrlC() signals the whole group.
  const child: ChildProcess = spawn(
    "unshare",
    ["-n", "bash", "-c", `${setup} && exec "$0" "$@"`, process.execPath, CLI, "live", ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
      detached: true,
    },
  );
  running.add(child.pid!);
  const lines: Line[] = [];
  let err = "",
    partial = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    const at = Date.now() / 1000;
    const parts = (partial + d).split("\n");
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at, text });
  });
  child.stderr!.setEncoding("utf8");
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("close", (code, signal) => {
      if (partial !== "") lines.push({ at: Date.now() / 1000, text: partial });
      running.delete(child.pid!);
      res({ code, signal });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`live did not start: ${err}`)), 20_000);
    child.stderr!.on("data", (d: string) => {
      err += d;
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((x) => {
      clearTimeout(timer);
      reject(new Error(`live exited (${x.code ?? x.signal}) before listening: ${err}`));
    });
  });
  const pid = child.pid!;
  return {
    pid,
    lines,
    exited,
    stderr: () => err,
    inNs: (cmd, a) =>
      new Promise((res) => {
        const p = spawn("nsenter", ["-t", String(pid), "-n", cmd, ...a], {
          stdio: ["ignore", "ignore", "pipe"],
          cwd: ROOT,
        });
        let e = "";
        p.stderr!.on("data", (d) => {
          e += d;
        });
        p.on("close", (code) => res({ code, stderr: e }));
      }),
    json: () => lines.filter((l) => l.text.startsWith("{")).map((l) => ({ ...JSON.parse(l.text), at: l.at })),
  };
}

/** Ctrl-C on a terminal: SIGINT to the foreground process group (sockscope and its capture process). */
export const ctrlC = (run: LiveRun) => process.kill(-run.pid, "SIGINT");
export const scenario = (run: LiveRun, script: string, kase: string) =>
  run.inNs("python3", [join(SCENARIOS, script), kase]);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, f: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export type JsonFinding = Finding & { type: string; at: number; client: string; server: string };
export const findingsOf = (run: LiveRun) => run.json().filter((j) => j.type === "finding") as unknown as JsonFinding[];
