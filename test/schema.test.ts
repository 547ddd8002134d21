/**
 * Every JSON report validates against schema/report.schema.json: the report of every
 * phenomenon fixture, every corpus capture, and a few hundred mutants of them (seeded, so
 * a failure names a mutant that can be made again). In-process (buildReport +
 * reportJsonLines, byte for byte what `analyze -F json` prints) to keep it fast;
 * test/cli.test.ts checks the CLI's own output for a few.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { Engine } from "../src/run/packet-loop.js";
import { readSource } from "../src/capture/reader.js";
import type { CaptureInfo } from "../src/capture/record.js";
import { CaptureError } from "../src/capture/errors.js";
import { buildReport } from "../src/report/model.js";
import { reportJsonLines } from "../src/report/json.js";
import { concat, ETH_IPV4, ethernet, ipv4, MemorySource, pcapFile, udp } from "./helpers/build.js";
import { corpusEntries } from "./helpers/corpus.js";
import { phenomenonFixtures } from "./helpers/fixtures.js";
import { ROOT } from "./helpers/paths.js";
import { seededRandom } from "../scripts/seeded-random.mjs";

const schema = JSON.parse(readFileSync(join(ROOT, "schema", "report.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

/** The JSON text `analyze -F json` would print for these bytes, parsed back; null if not a capture at all. */
async function jsonReport(bytes: Uint8Array, name: string): Promise<unknown | null> {
  const engine = new Engine();
  let info: CaptureInfo | undefined;
  try {
    info = await readSource(new MemorySource(bytes), engine.onPacket, {});
  } catch (e) {
    if (e instanceof CaptureError) return null; // exit 2 with one line: no report
    throw e;
  }
  engine.finish();
  info.file = name;
  if (info.error !== null && info.packets === 0) return null;
  return JSON.parse([...reportJsonLines(buildReport(info, engine))].join("\n"));
}

function expectValid(report: unknown): void {
  const ok = validate(report);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
}

const fixtures = phenomenonFixtures().map((f) => ({
  name: `${f.group}/${f.name}`,
  bytes: new Uint8Array(readFileSync(f.path)),
}));
const corpus = corpusEntries().map((c) => ({ name: c.file, bytes: new Uint8Array(readFileSync(c.path)) }));

describe("JSON reports of fixtures and corpus validate against the schema", () => {
  it(`all ${fixtures.length} phenomenon fixtures`, async () => {
    expect(fixtures.length).toBeGreaterThan(50);
    for (const f of fixtures) {
      const r = await jsonReport(f.bytes, f.name);
      expect(r, f.name).not.toBeNull();
      expectValid(r);
    }
  });

  it(`all ${corpus.length} corpus captures`, async () => {
    expect(corpus.length).toBeGreaterThan(200);
    let reports = 0;
    for (const c of corpus) {
      const r = await jsonReport(c.bytes, c.name);
      if (r === null) continue; // unreadable from its first byte: a one-line error, no report
      reports++;
      try {
        expectValid(r);
      } catch (e) {
        throw new Error(`${c.name}: ${(e as Error).message}`);
      }
    }
    expect(reports).toBeGreaterThan(corpus.length * 0.9);
  }, 120_000);
});

describe("reports that once broke the schema", () => {
  it("a capture holding only an ICMP port unreachable that quotes an unseen UDP datagram", async () => {
    // The flow is made from the quote: 0 packets, but its first and last frame are the
    // ICMP's and its duration 0 (was lastFrame 0 and durationSec -1 700 000 000).
    const quoted = ipv4({ src: 0x0a000001, dst: 0x0a000002, proto: 17, payload: udp(40000, 53, new Uint8Array(20)) });
    const icmp = concat([new Uint8Array([3, 3, 0, 0, 0, 0, 0, 0]), quoted.subarray(0, 28)]);
    const frame = ethernet(ETH_IPV4, ipv4({ src: 0x0a000002, dst: 0x0a000001, proto: 1, payload: icmp }));
    const r = (await jsonReport(pcapFile([{ tsSec: 1_700_000_000, tsFrac: 0, data: frame }]), "icmp-only.pcap")) as {
      flows: { firstFrame: number; lastFrame: number; durationSec: number; packets: unknown }[];
    };
    expectValid(r);
    expect(r.flows).toHaveLength(1);
    expect(r.flows[0]).toMatchObject({
      firstFrame: 1,
      lastFrame: 1,
      durationSec: 0,
      packets: { client: 0, server: 0 },
    });
  });
});

/** Offsets of the timestamp-seconds field of each record of a little-endian µs/ns classic pcap; [] for anything else. */
function pcapTimestampOffsets(b: Uint8Array): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 24) return [];
  const magic = dv.getUint32(0, true);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) return [];
  const out: number[] = [];
  for (let at = 24; at + 16 <= b.length; at += 16 + dv.getUint32(at + 8, true)) out.push(at);
  return out;
}

/**
 * One mutant of a seed capture: byte flips anywhere, a timestamp set to any 32-bit value
 * (clock jumps back and forward, the first packet years away), a cut, or several of them.
 */
function mutate(seed: Uint8Array, random: () => number): Uint8Array {
  let b = seed.slice();
  const pick = (n: number) => Math.floor(random() * n);
  const kinds = 1 + pick(3);
  for (let k = 0; k < kinds; k++) {
    switch (pick(3)) {
      case 0:
        for (let i = 1 + pick(8); i > 0; i--) b[pick(b.length)] = pick(256);
        break;
      case 1: {
        const ts = pcapTimestampOffsets(b);
        if (ts.length === 0) {
          b[pick(b.length)] = pick(256);
          break;
        }
        const at = ts[pick(ts.length)]!;
        new DataView(b.buffer).setUint32(
          at,
          random() < 0.5 ? pick(2 ** 32) : new DataView(b.buffer).getUint32(at, true) - pick(100_000),
          true,
        );
        break;
      }
      default:
        b = b.subarray(0, Math.max(24, b.length - pick(Math.min(b.length, 2000))));
    }
  }
  return b;
}

describe("JSON reports of mutated captures validate against the schema", () => {
  // Seeds small enough that a few hundred mutants run in seconds: every fixture, and the corpus captures under 64 KB.
  const seeds = [...fixtures, ...corpus.filter((c) => c.bytes.length < 64 << 10)];
  // SCHEMA_MUTANTS=5000 npx vitest run test/schema.test.ts for a longer hunt.
  const MUTANTS = Number(process.env.SCHEMA_MUTANTS ?? 400);
  it(
    `${MUTANTS} seeded mutants of ${seeds.length} captures`,
    async () => {
      let reports = 0;
      for (let m = 0; m < MUTANTS; m++) {
        const random = seededRandom(0x5eed + m);
        const seed = seeds[Math.floor(random() * seeds.length)]!;
        const bytes = mutate(seed.bytes, random);
        const name = `mutant ${m} of ${seed.name}`;
        const r = await jsonReport(bytes, name);
        if (r === null) continue;
        reports++;
        try {
          expectValid(r);
        } catch (e) {
          throw new Error(`${name}: ${(e as Error).message}`);
        }
      }
      expect(reports).toBeGreaterThan(MUTANTS / 2);
    },
    Math.max(120_000, MUTANTS * 300),
  );
});
