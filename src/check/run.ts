/**
 * `sockscope check` without the command line: which capture goes with which expectations
 * file, reading both, and the verdict per capture. The CLI (src/cli/check.ts) parses
 * arguments and prints; everything it decides is here, so tests and library users get
 * the same answers.
 *
 * Pairing: `x.pcap` (or .pcapng, .cap) goes with `x.expect.json` beside it; an
 * expectations file may instead name its capture with "capture" (relative to itself).
 * In a directory, every expectations file is checked; captures without one are listed as
 * not checked.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { CaptureError } from "../capture/errors.js";
import { runCapture, type RunOptions } from "../run/pipeline.js";
import { buildReport, type Report } from "../report/model.js";
import { ExpectError, parseExpectations, type Expectations } from "./expect.js";
import { matchReport, type MatchResult } from "./match.js";
import { updateExpectations, type UpdateResult } from "./baseline.js";

export const CAPTURE_EXT = /\.(pcapng|pcap|cap)$/i;
export const EXPECT_SUFFIX = ".expect.json";

/** fixtures/x/ipv4.pcap → fixtures/x/ipv4.expect.json */
export function expectPathFor(capture: string): string {
  const dir = dirname(capture),
    name = basename(capture);
  const stem = CAPTURE_EXT.test(name) ? name.replace(CAPTURE_EXT, "") : name;
  return join(dir, stem + EXPECT_SUFFIX);
}

export interface Target {
  capture: string;
  /** null: a capture found in a directory that has no expectations file. */
  expect: string | null;
  /** Set when pairing already failed (the expectations file names no capture that exists). */
  error?: string;
}

export interface CaptureCheck {
  capture: string;
  expectations: string | null;
  status: "pass" | "fail" | "error" | "unchecked";
  /** One line, for status "error": names the file (and the JSON path for expectation errors). */
  error: string | null;
  /** Capture problems (damage after good packets): reported, not failed. */
  warnings: string[];
  result: MatchResult | null;
}

export interface UpdateOutcome {
  capture: string;
  expectations: string;
  status: "written" | "unchanged" | "error";
  created: boolean;
  error: string | null;
  warnings: string[];
  update: UpdateResult | null;
}

/** Directories skipped when walking: version control, dependencies. */
const SKIP_DIRS = new Set(["node_modules", ".git", ".hg", ".svn"]);

function walk(dir: string, out: string[]): void {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) walk(p, out);
    } else if (e.isFile()) {
      out.push(p);
    }
  }
}

/** Whether `p` is `root` or under it (both absolute). */
function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The capture an expectations file names with "capture", confined to `root` (the
 * directory being checked, or --root): expectations files may come from a repository a
 * CI job does not trust, and must not make it open /etc/passwd and print its first bytes.
 * The errors echo nothing of the name (it may hold control characters).
 */
export function namedCapture(expectFile: string, named: string, root: string): { capture: string } | { error: string } {
  const refuse = (why: string) => ({ error: `${expectFile}: $.capture: ${why}; refused` });
  if (/[\u0000-\u001f\u007f]/.test(named)) return refuse("contains a control character");
  if (isAbsolute(named))
    return refuse(`is an absolute path; name the capture relative to the expectations file, inside ${root}`);
  return confined(expectFile, join(dirname(expectFile), named), root);
}

/** `capture` if it is under `root`, also once symbolic links are followed. */
function confined(expectFile: string, capture: string, root: string): { capture: string } | { error: string } {
  const out = {
    error: `${expectFile}: its capture is outside ${root}, the directory tree being checked (--root DIR allows a wider one); refused`,
  };
  if (!inside(resolve(root), resolve(capture))) return out;
  let real: string;
  try {
    real = realpathSync(capture);
  } catch {
    return { capture }; // does not exist: the check says so
  }
  return inside(realpathSync(root), real) ? { capture } : out;
}

/** The capture an expectations file found in a directory goes with. */
function captureFor(expectFile: string, files: Set<string>, root: string): { capture: string } | { error: string } {
  let named: string | undefined;
  try {
    const doc = JSON.parse(readFileSync(expectFile, "utf8")) as { capture?: unknown };
    if (doc !== null && typeof doc === "object" && typeof doc.capture === "string") named = doc.capture;
  } catch {
    // Unreadable or invalid: the check itself reports it with its path; pair by name.
  }
  if (named !== undefined) return namedCapture(expectFile, named, root);
  const stem = expectFile.slice(0, -EXPECT_SUFFIX.length);
  for (const ext of [".pcap", ".pcapng", ".cap"]) {
    if (files.has(stem + ext) || existsSync(stem + ext)) return confined(expectFile, stem + ext, root);
  }
  return {
    error: `${expectFile}: no capture ${basename(stem)}.pcap (or .pcapng, .cap) beside it, and no "capture" key naming one`,
  };
}

/**
 * Every expectations file under a directory with its capture, and the captures without
 * one. Captures named by "capture" must be under `root` (default: `dir`).
 */
export function directoryTargets(dir: string, root = dir): Target[] {
  const files: string[] = [];
  walk(dir, files);
  const set = new Set(files);
  const targets: Target[] = [];
  const paired = new Set<string>();
  for (const f of files) {
    if (!f.endsWith(EXPECT_SUFFIX)) continue;
    const c = captureFor(f, set, root);
    if ("error" in c) {
      targets.push({ capture: f.slice(0, -EXPECT_SUFFIX.length), expect: f, error: c.error });
    } else {
      targets.push({ capture: c.capture, expect: f });
      paired.add(resolve(c.capture));
    }
  }
  for (const f of files) {
    if (CAPTURE_EXT.test(f) && !paired.has(resolve(f))) targets.push({ capture: f, expect: null });
  }
  return targets.sort((a, b) => (a.capture < b.capture ? -1 : a.capture > b.capture ? 1 : 0));
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Reads an expectations file; ExpectError (with no JSON path) when it cannot be read. */
export function loadExpectations(file: string): Expectations {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ExpectError(
      file,
      "",
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message,
    );
  }
  return parseExpectations(text, file);
}

/** A capture that gave no packets at all (its first record is already damaged). */
export class UnreadableCapture extends Error {}

/** Analyses a capture as `analyze` would. Throws CaptureError or UnreadableCapture when nothing could be read. */
export async function reportFor(capture: string, opts: RunOptions = {}): Promise<Report> {
  const { info, engine } = await runCapture(capture, opts);
  if (info.error !== null && info.packets === 0) throw new UnreadableCapture(info.error);
  return buildReport(info, engine);
}

function captureProblem(e: unknown): string | null {
  if (e instanceof CaptureError || e instanceof UnreadableCapture) return e.message;
  return null;
}

/** "x.pcap: no such capture file" when the capture named on the command line (or by "capture") is not there. */
function missingCapture(capture: string): string | null {
  if (capture === "-" || existsSync(capture)) return null;
  return `${capture}: no such capture file`;
}

/** How a check gets a capture's report: reportFor by default; a many-capture run hands in the ones its workers made. */
export type ReportSource = (capture: string) => Promise<Report>;

export async function checkTarget(
  t: Target,
  opts: RunOptions = {},
  source: ReportSource = (c) => reportFor(c, opts),
): Promise<CaptureCheck> {
  const base: CaptureCheck = {
    capture: t.capture,
    expectations: t.expect,
    status: "error",
    error: null,
    warnings: [],
    result: null,
  };
  if (t.error !== undefined) return { ...base, error: t.error };
  if (t.expect === null) return { ...base, status: "unchecked" };
  // A mistyped capture path is the capture's problem, not a missing expectations file's.
  const missing = missingCapture(t.capture);
  if (missing !== null) return { ...base, error: missing };
  let x: Expectations;
  try {
    x = loadExpectations(t.expect);
  } catch (e) {
    if (e instanceof ExpectError) {
      const hint = e.problem === "no such file" ? `; write one with: sockscope check ${t.capture} --update` : "";
      return { ...base, error: e.message + hint };
    }
    throw e;
  }
  let report: Report;
  try {
    report = await source(t.capture);
  } catch (e) {
    const m = captureProblem(e);
    if (m === null) throw e;
    return { ...base, error: m };
  }
  const result = matchReport(report, x);
  return { ...base, status: result.ok ? "pass" : "fail", warnings: report.warnings, result };
}

export async function updateTarget(t: Target, opts: RunOptions = {}): Promise<UpdateOutcome> {
  const file = t.expect ?? expectPathFor(t.capture);
  const base: UpdateOutcome = {
    capture: t.capture,
    expectations: file,
    status: "error",
    created: false,
    error: null,
    warnings: [],
    update: null,
  };
  if (t.error !== undefined) return { ...base, error: t.error };
  const missing = missingCapture(t.capture);
  if (missing !== null) return { ...base, error: missing };
  let existing: Expectations | null = null;
  let oldText: string | null = null;
  if (existsSync(file)) {
    try {
      oldText = readFileSync(file, "utf8");
      existing = parseExpectations(oldText, file);
    } catch (e) {
      if (e instanceof ExpectError)
        return { ...base, error: `${e.message} (not overwritten: fix it, or delete it to start afresh)` };
      return { ...base, error: `${file}: ${(e as Error).message}` };
    }
  }
  let report: Report;
  try {
    report = await reportFor(t.capture, opts);
  } catch (e) {
    const m = captureProblem(e);
    if (m === null) throw e;
    return { ...base, error: m };
  }
  const update = updateExpectations(report, existing, file);
  if (update.text === oldText) return { ...base, status: "unchanged", warnings: report.warnings, update };
  writeFileSync(file, update.text);
  return { ...base, status: "written", created: oldText === null, warnings: report.warnings, update };
}

export interface Summary {
  captures: number;
  passed: number;
  failed: number;
  errors: number;
  unchecked: number;
}

export function summarize(results: CaptureCheck[]): Summary {
  const n = (s: CaptureCheck["status"]) => results.filter((r) => r.status === s).length;
  return {
    captures: results.length - n("unchecked"),
    passed: n("pass"),
    failed: n("fail"),
    errors: n("error"),
    unchecked: n("unchecked"),
  };
}
