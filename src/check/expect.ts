/**
 * The expectations file (schema "sockscope.expect/1"): what `sockscope check` holds a
 * capture's findings to. Read by a hand-written validator rather than a schema library,
 * so that the CLI needs no runtime dependency for it and every message names the JSON
 * path it is about (`$.expect[2].measure.stallMaxMs.max: must be a number`).
 * schema/expect.schema.json describes the same format for editors and other tools; the
 * tests hold the two to the same verdicts.
 *
 *   {
 *     "schema": "sockscope.expect/1",
 *     "expect": [ { "kind": "nagle-delay", "flow": { "serverPort": 5110 }, "measure": { "stallMaxMs": { "max": 5 } } } ],
 *     "absent": [ { "severity": "error" } ],
 *     "allow":  [ "time-wait" ]
 *   }
 *
 * In `expect`, kind, severity, side and flow choose the findings an entry is about;
 * findings, count, measure and frames are then checked on them. In `absent` and `allow`
 * every field chooses. See README "Regression checks in CI" for the rules in full.
 */
import { isIP } from "node:net";
import { ANALYZERS } from "../analyze/registry.js";
import type { Severity } from "../analyze/finding.js";
import { measuresOf } from "./measures.js";

export const EXPECT_SCHEMA = "sockscope.expect/1";

/** Inclusive bounds; a bare number in the file means min = max = that number. */
export interface Range {
  min?: number;
  max?: number;
}

export interface FlowSelector {
  id?: number;
  proto?: "tcp" | "udp";
  serverPort?: number;
  clientPort?: number;
  serverHost?: string;
  clientHost?: string;
  /** Either end, like the --port and --host filters. */
  port?: number;
  host?: string;
}

/** What allow and absent entries are (and what chooses findings in an expect entry). */
export interface Selector {
  kind?: string;
  severity?: Severity;
  side?: "client" | "server" | null;
  /** undefined: any flow; null: capture-wide findings only. */
  flow?: FlowSelector | null;
  count?: Range;
  measure?: Record<string, Range>;
}

export interface Expectation {
  kind: string;
  severity?: Severity;
  side?: "client" | "server" | null;
  flow?: FlowSelector | null;
  /** How many findings the entry chooses; default at least one. */
  findings?: Range;
  /** Bounds on each chosen finding's own count (occurrences within its flow). */
  count?: Range;
  /** Bounds on each chosen finding's measured quantities. */
  measure?: Record<string, Range>;
  /** Frames that must be among the chosen findings' evidence frames. */
  frames?: number[];
  note?: string;
}

/** An entry as parsed, with the JSON it was read from (kept as written by --update). */
export interface Entry<T> {
  value: T;
  raw: unknown;
  /** "$.expect[0]" */
  path: string;
}

export interface Expectations {
  schemaRef?: string;
  description?: string;
  /** Capture file, relative to the expectations file (when not named <capture>.expect.json). */
  capture?: string;
  /** Default true: a finding that no expect or allow entry accounts for fails the check. */
  strict: boolean;
  expect: Entry<Expectation>[];
  absent: Entry<Selector>[];
  allow: Entry<Selector>[];
  /** Whether the file spelled out these top-level keys (so --update keeps their shape). */
  has: { strict: boolean; absent: boolean; allow: boolean };
}

/** An expectations file that cannot be used: `file: $.path: problem` (no path for file-level problems). */
export class ExpectError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly problem: string,
  ) {
    super(path === "" ? `${file}: ${problem}` : `${file}: ${path}: ${problem}`);
    this.name = "ExpectError";
  }
}

/** The finding kinds a file may name: the registry's, read when a file is read (not a list kept here). */
export function knownKinds(): string[] {
  return ANALYZERS.map((a) => a.id);
}
const SEVERITIES = ["info", "warning", "error"] as const;
const TOP_KEYS = ["$schema", "schema", "description", "capture", "strict", "expect", "absent", "allow"];
const EXPECT_KEYS = ["kind", "severity", "side", "flow", "findings", "count", "measure", "frames", "note"];
const SELECTOR_KEYS = ["kind", "severity", "side", "flow", "count", "measure", "note"];
const FLOW_KEYS = ["id", "proto", "serverPort", "clientPort", "serverHost", "clientHost", "port", "host"];

/** `$.expect[0].measure["capture-end"]` */
export function pathJoin(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  return String(v);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** ' (did you mean "x"?)' when one of the options is close to the word, else "". */
export function suggest(word: string, options: readonly string[]): string {
  let best = "",
    bestD = Infinity;
  for (const o of options) {
    const dist = o.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word.toLowerCase(), o.toLowerCase());
    if (dist < bestD) {
      best = o;
      bestD = dist;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : "";
}

class Reader {
  constructor(readonly file: string) {}

  fail(path: string, problem: string): never {
    throw new ExpectError(this.file, path, problem);
  }

  object(v: unknown, path: string, allowed: readonly string[], what: string): Record<string, unknown> {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      this.fail(path, `${what} must be an object, got ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k))
        this.fail(pathJoin(path, k), `unknown key${suggest(k, allowed)}; allowed here: ${allowed.join(", ")}`);
    }
    return o;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== "string") this.fail(path, `must be a string, got ${describe(v)}`);
    return v;
  }

  number(v: unknown, path: string): number {
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, `must be a number, got ${describe(v)}`);
    return v;
  }

  integer(v: unknown, path: string, min: number, max: number, what: string): number {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      this.fail(path, `must be ${what}, got ${describe(v)}`);
    return v;
  }

  kind(v: unknown, path: string): string {
    const k = this.string(v, path);
    const kinds = knownKinds();
    if (!kinds.includes(k))
      this.fail(path, `unknown finding kind ${JSON.stringify(k)}${suggest(k, kinds)}; 'sockscope explain' lists them`);
    return k;
  }

  severity(v: unknown, path: string): Severity {
    if (typeof v !== "string" || !(SEVERITIES as readonly string[]).includes(v))
      this.fail(path, `must be one of ${SEVERITIES.join(", ")}, got ${describe(v)}`);
    return v as Severity;
  }

  side(v: unknown, path: string): "client" | "server" | null {
    if (v !== null && v !== "client" && v !== "server")
      this.fail(path, `must be "client", "server" or null, got ${describe(v)}`);
    return v;
  }

  /** A number (exact) or { "min": a, "max": b } with at least one bound. */
  range(v: unknown, path: string, integer: boolean): Range {
    const num = (x: unknown, p: string) =>
      integer ? this.integer(x, p, 0, Number.MAX_SAFE_INTEGER, "a whole number ≥ 0") : this.number(x, p);
    if (typeof v === "number") {
      const n = num(v, path);
      return { min: n, max: n };
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      this.fail(path, `must be a number or {"min": …, "max": …}, got ${describe(v)}`);
    }
    const o = this.object(v, path, ["min", "max"], "a range");
    const r: Range = {};
    if (o.min !== undefined) r.min = num(o.min, pathJoin(path, "min"));
    if (o.max !== undefined) r.max = num(o.max, pathJoin(path, "max"));
    if (r.min === undefined && r.max === undefined) this.fail(path, `a range needs "min", "max" or both`);
    if (r.min !== undefined && r.max !== undefined && r.min > r.max)
      this.fail(path, `min (${r.min}) is above max (${r.max})`);
    return r;
  }

  /** Bounds per measure; the names must be measures of `kind` (of any kind when it is not given). */
  measure(v: unknown, path: string, kind: string | undefined): Record<string, Range> {
    if (v === null || typeof v !== "object" || Array.isArray(v))
      this.fail(path, `must be an object of measure names to ranges, got ${describe(v)}`);
    const out: Record<string, Range> = {};
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 0) this.fail(path, "names no measure");
    const known = measuresOf(kind);
    for (const [k, r] of Object.entries(o)) {
      if (!known.includes(k)) {
        this.fail(
          pathJoin(path, k),
          kind === undefined
            ? `unknown measure${suggest(k, known)}: no finding kind has it`
            : `unknown measure for ${kind}${suggest(k, known)}; its measures: ${known.join(", ")}`,
        );
      }
      out[k] = this.range(r, pathJoin(path, k), false);
    }
    return out;
  }

  host(v: unknown, path: string): string {
    const h = this.string(v, path);
    const bare = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
    if (isIP(bare) === 0) this.fail(path, `must be an IPv4 or IPv6 address (no port, no name), got ${describe(v)}`);
    return bare;
  }

  flow(v: unknown, path: string): FlowSelector | null {
    if (v === null) return null;
    const o = this.object(v, path, FLOW_KEYS, "a flow selector");
    const f: FlowSelector = {};
    const port = (x: unknown, k: string) => this.integer(x, pathJoin(path, k), 0, 65535, "a port number 0-65535");
    if (o.id !== undefined)
      f.id = this.integer(
        o.id,
        pathJoin(path, "id"),
        1,
        Number.MAX_SAFE_INTEGER,
        "a flow id (1, 2, … as in the flow table)",
      );
    if (o.proto !== undefined) {
      if (o.proto !== "tcp" && o.proto !== "udp")
        this.fail(pathJoin(path, "proto"), `must be "tcp" or "udp", got ${describe(o.proto)}`);
      f.proto = o.proto;
    }
    if (o.serverPort !== undefined) f.serverPort = port(o.serverPort, "serverPort");
    if (o.clientPort !== undefined) f.clientPort = port(o.clientPort, "clientPort");
    if (o.port !== undefined) f.port = port(o.port, "port");
    if (o.serverHost !== undefined) f.serverHost = this.host(o.serverHost, pathJoin(path, "serverHost"));
    if (o.clientHost !== undefined) f.clientHost = this.host(o.clientHost, pathJoin(path, "clientHost"));
    if (o.host !== undefined) f.host = this.host(o.host, pathJoin(path, "host"));
    if (Object.keys(f).length === 0)
      this.fail(
        path,
        `an empty flow selector matches every flow: leave "flow" out, or use null for capture-wide findings`,
      );
    return f;
  }

  expectation(v: unknown, path: string): Expectation {
    if (typeof v === "string") return { kind: this.kind(v, path) };
    const o = this.object(v, path, EXPECT_KEYS, "an expect entry");
    if (o.kind === undefined) this.fail(path, `an expect entry needs "kind"`);
    const e: Expectation = { kind: this.kind(o.kind, pathJoin(path, "kind")) };
    if (o.severity !== undefined) e.severity = this.severity(o.severity, pathJoin(path, "severity"));
    if (o.side !== undefined) e.side = this.side(o.side, pathJoin(path, "side"));
    if (o.flow !== undefined) e.flow = this.flow(o.flow, pathJoin(path, "flow"));
    if (o.findings !== undefined) e.findings = this.range(o.findings, pathJoin(path, "findings"), true);
    if (o.count !== undefined) e.count = this.range(o.count, pathJoin(path, "count"), true);
    if (o.measure !== undefined) e.measure = this.measure(o.measure, pathJoin(path, "measure"), e.kind);
    if (o.frames !== undefined) {
      const p = pathJoin(path, "frames");
      if (!Array.isArray(o.frames)) this.fail(p, `must be an array of frame numbers, got ${describe(o.frames)}`);
      e.frames = o.frames.map((x, i) =>
        this.integer(x, pathJoin(p, i), 1, Number.MAX_SAFE_INTEGER, "a frame number (1-based)"),
      );
    }
    if (o.note !== undefined) e.note = this.string(o.note, pathJoin(path, "note"));
    return e;
  }

  selector(v: unknown, path: string): Selector {
    if (typeof v === "string") return { kind: this.kind(v, path) };
    const o = this.object(v, path, SELECTOR_KEYS, "a selector");
    const s: Selector = {};
    if (o.kind !== undefined) s.kind = this.kind(o.kind, pathJoin(path, "kind"));
    if (o.severity !== undefined) s.severity = this.severity(o.severity, pathJoin(path, "severity"));
    if (o.side !== undefined) s.side = this.side(o.side, pathJoin(path, "side"));
    if (o.flow !== undefined) s.flow = this.flow(o.flow, pathJoin(path, "flow"));
    if (o.count !== undefined) s.count = this.range(o.count, pathJoin(path, "count"), true);
    if (o.measure !== undefined) s.measure = this.measure(o.measure, pathJoin(path, "measure"), s.kind);
    if (Object.keys(s).length === 0) {
      this.fail(
        path,
        `says nothing, so it would match every finding: give kind, severity, side, flow, count or measure`,
      );
    }
    return s;
  }

  list<T>(v: unknown, path: string, item: (x: unknown, p: string) => T): Entry<T>[] {
    if (!Array.isArray(v)) this.fail(path, `must be an array, got ${describe(v)}`);
    return v.map((x, i) => ({ value: item(x, pathJoin(path, i)), raw: x, path: pathJoin(path, i) }));
  }
}

/**
 * Where JSON.parse gave up: V8 names a position for some errors only, so a small
 * recursive-descent scan finds the offset of the first syntax error itself.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (w: string) => {
    if (text.startsWith(w, i)) i += w.length;
    else fail();
  };
  const str = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text[i]!;
      if (c === '"') {
        i++;
        return;
      }
      if (c < " ") fail();
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
        else fail();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        str();
        ws();
        if (text[i] !== ":") fail();
        i++;
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return;
        }
        fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return;
        }
        fail();
      }
    } else if (c === '"') str();
    else if (c === "t") lit("true");
    else if (c === "f") lit("false");
    else if (c === "n") lit("null");
    else {
      const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
      if (m === null) fail();
      i += m![0].length;
    }
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (at) {
    return at as number;
  }
}

/** "at line 3 column 5: unexpected ","" for text that JSON.parse rejected. */
function jsonProblem(text: string): string {
  const pos = jsonErrorOffset(text);
  if (pos < 0) return "";
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return pos >= text.length
    ? `: the file ends too early (line ${line})`
    : ` at line ${line} column ${col}: unexpected ${JSON.stringify(text[pos])}`;
}

/** Parses and validates an expectations file's text. Throws ExpectError. */
export function parseExpectations(text: string, file: string): Expectations {
  let doc: unknown;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ExpectError(file, "", `not valid JSON${jsonProblem(text) || `: ${(e as Error).message}`}`);
  }
  return readExpectations(doc, file);
}

/** Validates an already-parsed document. Throws ExpectError. */
export function readExpectations(doc: unknown, file: string): Expectations {
  const r: Reader = new Reader(file);
  const o = r.object(doc, "$", TOP_KEYS, "the expectations file");
  if (o.schema === undefined)
    r.fail("$", `no "schema" key: an expectations file starts with "schema": "${EXPECT_SCHEMA}"`);
  if (o.schema !== EXPECT_SCHEMA) {
    r.fail("$.schema", `must be "${EXPECT_SCHEMA}" (the version this sockscope reads), got ${describe(o.schema)}`);
  }
  const x: Expectations = {
    strict: true,
    expect: [],
    absent: [],
    allow: [],
    has: { strict: o.strict !== undefined, absent: o.absent !== undefined, allow: o.allow !== undefined },
  };
  if (o.$schema !== undefined) x.schemaRef = r.string(o.$schema, "$.$schema");
  if (o.description !== undefined) x.description = r.string(o.description, "$.description");
  if (o.capture !== undefined) {
    x.capture = r.string(o.capture, "$.capture");
    if (x.capture === "") r.fail("$.capture", "is empty");
  }
  if (o.strict !== undefined) {
    if (typeof o.strict !== "boolean") r.fail("$.strict", `must be true or false, got ${describe(o.strict)}`);
    x.strict = o.strict;
  }
  if (o.expect !== undefined) x.expect = r.list(o.expect, "$.expect", (v, p) => r.expectation(v, p));
  if (o.absent !== undefined) x.absent = r.list(o.absent, "$.absent", (v, p) => r.selector(v, p));
  if (o.allow !== undefined) x.allow = r.list(o.allow, "$.allow", (v, p) => r.selector(v, p));
  return x;
}
