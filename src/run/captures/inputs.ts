/**
 * Which captures a command line names: files, directories (their pcap and pcapng files,
 * not their subdirectories) and globs the shell left unexpanded (quoted, or matching
 * nothing there), expanded here the way the shell would. A word that is none of these is
 * not a capture: for one capture it starts the capture filter (tcpdump's habit).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** The file names taken as captures in a directory or a glob. */
export const CAPTURE_FILE = /\.(pcapng|pcap|cap)(\.\d+)?$/i;

export interface CaptureInputs {
  captures: string[];
  /** What a directory held that is not read, and why (one line each, for stderr). */
  skipped: string[];
}

/** Whether a word holds glob characters (*, ?, [...]). */
export function isGlob(word: string): boolean {
  return /[*?[]/.test(word);
}

function statOf(p: string): "file" | "dir" | null {
  try {
    const s = statSync(p);
    return s.isDirectory() ? "dir" : "file";
  } catch {
    return null;
  }
}

/** Whether a word names captures: an existing file or directory, or a glob that matches a capture file. */
export function namesCaptures(word: string): boolean {
  if (word === "-") return false;
  if (statOf(word) !== null) return true;
  return isGlob(word) && expandGlob(word).some((p) => CAPTURE_FILE.test(p));
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The captures of a directory, in name order. Subdirectories are not entered (a rotation
 * directory is flat; `dir/*` or several directories name more); files that are not
 * captures by name are skipped, and both are counted in `skipped`.
 */
export function directoryCaptures(dir: string): CaptureInputs {
  const captures: string[] = [];
  const dirs: string[] = [];
  const others: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => byName(a.name, b.name))) {
    if (e.isDirectory()) dirs.push(e.name);
    else if (CAPTURE_FILE.test(e.name) && (e.isFile() || statOf(join(dir, e.name)) === "file"))
      captures.push(join(dir, e.name));
    else others.push(e.name);
  }
  const skipped: string[] = [];
  if (dirs.length > 0)
    skipped.push(
      `${dir}: ${dirs.length} subdirector${dirs.length === 1 ? "y" : "ies"} not entered (${list(dirs)}); name them to read them`,
    );
  if (others.length > 0)
    skipped.push(
      `${dir}: ${others.length} file${others.length === 1 ? "" : "s"} not named .pcap, .pcapng or .cap skipped (${list(others)})`,
    );
  return { captures, skipped };
}

function list(names: string[]): string {
  return names.length <= 3 ? names.join(", ") : `${names.slice(0, 3).join(", ")}, …`;
}

/** A glob segment as a regular expression: * and ? within a name, [...] a class; a leading dot only matched by a dot. */
function segmentRegex(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = seg
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** The paths a glob matches, in name order, as bash expands it (wildcards within each path segment, no `**`). */
export function expandGlob(pattern: string): string[] {
  const absolute = pattern.startsWith("/");
  const segments = pattern.split("/").filter((s) => s !== "");
  let paths = [absolute ? "/" : ""];
  for (const seg of segments) {
    const next: string[] = [];
    for (const base of paths) {
      if (!isGlob(seg)) {
        const p = base === "" ? seg : join(base, seg);
        if (statOf(p) !== null) next.push(p);
        continue;
      }
      const re = segmentRegex(seg);
      let names: string[];
      try {
        names = readdirSync(base === "" ? "." : base);
      } catch {
        continue;
      }
      for (const n of names.sort(byName))
        if (re.test(n) && (n[0] !== "." || seg[0] === ".")) next.push(base === "" ? n : join(base, n));
    }
    paths = next;
  }
  return paths;
}

/**
 * The captures the words name, in the order given (a directory's and a glob's in name
 * order), each once. A word naming nothing is returned as a path all the same: the reader
 * then says it does not exist, as for one capture.
 */
export function expandCaptureInputs(words: readonly string[]): CaptureInputs {
  const captures: string[] = [];
  const skipped: string[] = [];
  const add = (p: string) => {
    if (!captures.includes(p)) captures.push(p);
  };
  for (const w of words) {
    const kind = statOf(w);
    if (kind === "dir") {
      const d = directoryCaptures(w);
      d.captures.forEach(add);
      skipped.push(...d.skipped);
    } else if (kind === null && isGlob(w)) {
      const matched = expandGlob(w);
      const files = matched.filter((p) => statOf(p) === "file" && CAPTURE_FILE.test(p));
      if (files.length === 0) skipped.push(`${w}: matches no .pcap, .pcapng or .cap file`);
      else if (files.length < matched.length)
        skipped.push(`${w}: ${matched.length - files.length} match(es) that are not capture files skipped`);
      files.forEach(add);
    } else add(w);
  }
  return { captures, skipped };
}
