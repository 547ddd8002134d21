/**
 * Mutation fuzzing of the capture readers, decoders, reassembly and analyzers, driven from
 * real captures (the fixtures and the corpus): fast-check draws mutations of a seed
 * capture (bit flips, byte sets, truncations, splices from another capture, repeated
 * ranges, and edits of the length and timestamp fields the formats and protocols carry),
 * the whole pipeline analyses the mutant, and `checkCapture` holds it to the invariants:
 *
 * - nothing throws but a CaptureError (a capture that cannot be read at all), and no
 *   analyzer throws either (the engine catches that and warns of an internal error);
 * - the JSON report validates against schema/report.schema.json;
 * - the text and HTML reports render;
 * - analysis and reports end within a time bound that grows with the input's size.
 *
 * "Coverage-guided-ish": a mutant whose report shows something no earlier input showed
 * (a new warning, finding kind, error, flow state) joins the pool that later mutations
 * start from, so the search goes deeper into what the readers and analyzers treat
 * differently. Runs on the built code (dist/): `npm run build` first.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import fc from "fast-check";
import { analyzeFile } from "../dist/run/pipeline.js";
import { CaptureError } from "../dist/capture/errors.js";
import { reportJsonLines } from "../dist/report/json.js";
import { renderText } from "../dist/report/text.js";
import { PLAIN } from "../dist/report/style.js";
import { renderHtml } from "../dist/report/html/index.js";
import { SeriesCollector } from "../dist/run/series.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const validateReport = new Ajv({ allErrors: true }).compile(
  JSON.parse(readFileSync(join(ROOT, "schema", "report.schema.json"), "utf8")),
);

/** Time one input may take: generous for a shared 2-core machine, yet far below a hang. */
export function timeLimitMs(size) {
  return 3000 + size / 1000; // + 1 ms per KB
}

// ------------------------------------------------------------------ the fields mutations aim at

/**
 * Offsets of the length and timestamp fields of a capture: pcap record headers, pcapng
 * block lengths, and in Ethernet/IPv4 packets the IP header length, total length and
 * fragment fields, the TCP data offset and the UDP length. Edits there reach the code
 * that trusts them, where random flips rarely land.
 */
export function fieldsOf(b) {
  const fields = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 24) return fields;
  const magic = dv.getUint32(0, false);
  if (magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1 || magic === 0xa1b23c4d || magic === 0x4d3cb2a1) {
    const le = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
    const link = dv.getUint32(20, le) & 0xffff;
    fields.push({ off: 16, size: 4, le, what: "snaplen" }, { off: 20, size: 4, le, what: "linktype" });
    for (let pos = 24, n = 0; pos + 16 <= b.length && n < 2000; n++) {
      const incl = dv.getUint32(pos + 8, le);
      fields.push(
        { off: pos, size: 4, le, what: "ts" },
        { off: pos + 8, size: 4, le, what: "incl_len" },
        { off: pos + 12, size: 4, le, what: "orig_len" },
      );
      if (link === 1) packetFields(b, pos + 16, Math.min(incl, b.length - pos - 16), fields);
      if (incl > b.length) break;
      pos += 16 + incl;
    }
  } else if (magic === 0x0a0d0d0a && b.length >= 12) {
    const le = dv.getUint32(8, true) === 0x1a2b3c4d;
    for (let pos = 0, n = 0; pos + 12 <= b.length && n < 2000; n++) {
      const type = dv.getUint32(pos, le),
        len = dv.getUint32(pos + 4, le);
      fields.push({ off: pos + 4, size: 4, le, what: "block_len" });
      if (type === 6 && pos + 28 <= b.length) {
        fields.push(
          { off: pos + 12, size: 4, le, what: "ts" },
          { off: pos + 20, size: 4, le, what: "caplen" },
          { off: pos + 24, size: 4, le, what: "origlen" },
        );
        packetFields(b, pos + 28, Math.min(dv.getUint32(pos + 20, le), b.length - pos - 28), fields);
      }
      if (len < 12 || len % 4 !== 0) break;
      pos += len;
    }
  }
  return fields;
}

/** Length-like fields of an Ethernet frame carrying IPv4 and TCP or UDP. */
function packetFields(b, at, len, fields) {
  if (len < 34 || b[at + 12] !== 0x08 || b[at + 13] !== 0x00) return;
  const ip = at + 14,
    ihl = (b[ip] & 0x0f) * 4;
  fields.push(
    { off: ip, size: 1, le: false, what: "ip_ver_ihl" },
    { off: ip + 2, size: 2, le: false, what: "ip_total_len" },
    { off: ip + 6, size: 2, le: false, what: "ip_frag" },
    { off: ip + 9, size: 1, le: false, what: "ip_proto" },
  );
  const l4 = ip + ihl;
  if (l4 + 20 > at + len) return;
  if (b[ip + 9] === 6)
    fields.push(
      { off: l4 + 12, size: 1, le: false, what: "tcp_doff" },
      { off: l4 + 13, size: 1, le: false, what: "tcp_flags" },
      { off: l4 + 4, size: 4, le: false, what: "tcp_seq" },
    );
  if (b[ip + 9] === 17) fields.push({ off: l4 + 4, size: 2, le: false, what: "udp_len" });
}

// ------------------------------------------------------------------ mutations

const INTERESTING = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];

/** A mutation as plain numbers, resolved against the input when applied (so fast-check can shrink it). */
const arbMutation = fc.oneof(
  fc.record({ op: fc.constant("flip"), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant("set"), at: fc.nat(), value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x01) }),
  fc.record({ op: fc.constant("truncate"), at: fc.nat() }),
  fc.record({ op: fc.constant("splice"), from: fc.nat(), src: fc.nat(), len: fc.nat(4096), at: fc.nat() }),
  fc.record({ op: fc.constant("repeat"), at: fc.nat(), len: fc.nat(2048), times: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    op: fc.constant("field"),
    field: fc.nat(),
    how: fc.nat(INTERESTING.length + 3),
    delta: fc.integer({ min: -64, max: 64 }),
  }),
);

/** An input: which pool entry to start from and what to do to it. */
export const arbMutant = fc.record({
  base: fc.nat(),
  mutations: fc.array(arbMutation, { minLength: 1, maxLength: 5 }),
});

function setField(b, f, value) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.off + f.size > b.length) return;
  if (f.size === 1) b[f.off] = value & 0xff;
  else if (f.size === 2) dv.setUint16(f.off, value & 0xffff, f.le);
  else dv.setUint32(f.off, value >>> 0, f.le);
}

function getField(b, f) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.off + f.size > b.length) return 0;
  return f.size === 1 ? b[f.off] : f.size === 2 ? dv.getUint16(f.off, f.le) : dv.getUint32(f.off, f.le);
}

/** Applies the mutations to a copy of pool[base]; `pool` also supplies splice sources. */
export function applyMutant(pool, m) {
  let b = Uint8Array.from(pool[m.base % pool.length]);
  for (const x of m.mutations) {
    if (b.length === 0) break;
    switch (x.op) {
      case "flip":
        b[x.at % b.length] ^= 1 << x.bit;
        break;
      case "set":
        b[x.at % b.length] = x.value;
        break;
      case "truncate":
        b = b.slice(0, x.at % b.length);
        break;
      case "splice": {
        const src = pool[x.from % pool.length];
        if (src.length === 0) break;
        const s = x.src % src.length,
          piece = src.subarray(s, s + x.len),
          at = x.at % (b.length + 1);
        const out = new Uint8Array(b.length + piece.length);
        out.set(b.subarray(0, at));
        out.set(piece, at);
        out.set(b.subarray(at), at + piece.length);
        b = out;
        break;
      }
      case "repeat": {
        const at = x.at % b.length,
          piece = b.slice(at, at + x.len),
          parts = [b.subarray(0, at + piece.length)];
        for (let i = 0; i < x.times; i++) parts.push(piece);
        parts.push(b.subarray(at + piece.length));
        b = concat(parts);
        break;
      }
      case "field": {
        const fields = fieldsOf(b);
        if (fields.length === 0) break;
        const f = fields[x.field % fields.length],
          old = getField(b, f);
        const value =
          x.how < INTERESTING.length
            ? INTERESTING[x.how]
            : x.how === INTERESTING.length
              ? old + x.delta
              : x.how === INTERESTING.length + 1
                ? old * 2
                : x.how === INTERESTING.length + 2
                  ? b.length + x.delta
                  : old - 1_000_000_000; // far back in time
        setField(b, f, value);
        break;
      }
    }
  }
  return b;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ------------------------------------------------------------------ the invariants

/**
 * Analyses one capture's bytes and checks the invariants. Returns { problem, features,
 * ms }: problem is null when all hold, else one line saying which failed; features are
 * strings naming what the report showed, for the pool's novelty test.
 */
export async function checkCapture(bytes, dir) {
  const path = join(dir, "input.cap");
  writeFileSync(path, bytes);
  const t0 = performance.now();
  let report;
  // The HTML report's per-packet series are collected as the CLI does for --format html.
  const series = new SeriesCollector();
  try {
    report = await analyzeFile(path, { jobs: 1, observer: series.observe });
  } catch (e) {
    const ms = performance.now() - t0;
    if (e instanceof CaptureError)
      return { problem: slow(ms, bytes.length), features: [`error:${shape(e.problem)}`], ms };
    return { problem: `threw ${e?.name ?? typeof e}: ${String(e?.message ?? e).split("\n")[0]}`, features: [], ms };
  }
  const ms = performance.now() - t0;
  const features = [
    ...report.warnings.map((w) => `warning:${shape(w)}`),
    ...report.findings.map((f) => `finding:${f.kind}:${f.severity}`),
    ...report.flows.map((f) => `flow:${f.proto}:${f.state?.client}:${f.state?.server}:${f.close?.how}`),
    `format:${report.capture.format}`,
  ];
  const internal = report.warnings.find((w) => w.startsWith("internal error"));
  if (internal !== undefined) return { problem: internal.slice(0, 300), features, ms };
  let json;
  try {
    json = JSON.parse([...reportJsonLines(report)].join("\n"));
  } catch (e) {
    return { problem: `JSON report does not parse: ${e.message}`, features, ms };
  }
  if (!validateReport(json)) {
    const err = validateReport.errors[0];
    return { problem: `JSON report breaks the schema: ${err.instancePath} ${err.message}`, features, ms };
  }
  try {
    renderText(report, { style: PLAIN, all: true });
  } catch (e) {
    return { problem: `text report threw ${e?.name}: ${String(e?.message).split("\n")[0]}`, features, ms };
  }
  try {
    renderHtml(report, series);
  } catch (e) {
    return { problem: `HTML report threw ${e?.name}: ${String(e?.message).split("\n")[0]}`, features, ms };
  }
  const total = performance.now() - t0; // analysis and the three reports
  return { problem: slow(total, bytes.length), features, ms: total };
}

function slow(ms, size) {
  return ms > timeLimitMs(size)
    ? `took ${Math.round(ms)} ms for ${size} bytes (limit ${Math.round(timeLimitMs(size))} ms)`
    : null;
}

/** A message with its numbers blanked: "offset 1234: ..." and "offset 99: ..." are one feature. */
export function shape(s) {
  return s.replace(/\d+(\.\d+)?/g, "#").slice(0, 120);
}

export function sha1(bytes) {
  return createHash("sha1").update(bytes).digest("hex");
}

// ------------------------------------------------------------------ a run

/**
 * Mutates and checks inputs for `seconds` (after a first pass over the seeds) or until
 * `maxRuns` inputs (a fixed number makes a run the same on any machine), drawing mutants from fast-check with `seed`,
 * growing the pool with every mutant that shows a new feature. Calls onFailure(bytes,
 * problem) for each input that breaks an invariant (once per distinct problem shape),
 * except problems known(problem) accepts (open defects already kept as regressions).
 */
export async function fuzz({
  seeds,
  seconds,
  seed,
  onFailure,
  onProgress = () => {},
  maxPool = 400,
  known = () => false,
  maxRuns = Infinity,
}) {
  const pool = seeds.slice();
  const seen = new Set();
  const failed = new Set();
  const dir = mkdtempSync(join(tmpdir(), "sockscope-fuzz-"));
  const stats = { runs: 0, failures: 0, knownHits: 0, poolAdded: 0, features: 0, slowestMs: 0 };
  let deadline = 0;
  try {
    // The seeds' own features first (their failures are the tests' business, not the fuzzer's).
    for (const b of seeds) for (const f of (await checkCapture(b, dir)).features) seen.add(f);
    deadline = Date.now() + seconds * 1000;
    for (let batch = 0; Date.now() < deadline && stats.runs < maxRuns; batch++) {
      for (const m of fc.sample(arbMutant, { seed: seed + batch, numRuns: 50 })) {
        if (Date.now() >= deadline || stats.runs >= maxRuns) break;
        const bytes = applyMutant(pool, m);
        const r = await checkCapture(bytes, dir);
        stats.runs++;
        if (r.ms > stats.slowestMs) stats.slowestMs = r.ms;
        if (r.problem !== null) {
          const key = shape(r.problem);
          if (known(r.problem)) stats.knownHits++;
          else if (!failed.has(key)) {
            failed.add(key);
            stats.failures++;
            await onFailure?.(bytes, r.problem);
          }
          continue;
        }
        const fresh = r.features.filter((f) => !seen.has(f));
        if (fresh.length > 0) {
          for (const f of fresh) seen.add(f);
          if (pool.length < maxPool) {
            pool.push(bytes);
            stats.poolAdded++;
          }
        }
      }
      onProgress?.(stats);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  stats.features = seen.size;
  return stats;
}

// ------------------------------------------------------------------ the regression files

/** The entries of test/fuzz-regressions/INDEX.tsv: { file, status, problem, by }. */
export function readRegressionIndex(dir) {
  const path = join(dir, "INDEX.tsv");
  let text;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => {
      const [file = "", status, problem, by] = l.split("\t");
      return { file, status: status ?? "new", problem: problem ?? "", by: by ?? "" };
    });
}

/** Accepts the problems of entries still marked open: known defects, kept but not re-reported. */
export function knownOpen(entries) {
  const shapes = new Set(entries.filter((e) => e.status.startsWith("open")).map((e) => shape(e.problem)));
  return (problem) => shapes.has(shape(problem));
}
