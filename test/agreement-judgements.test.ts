/**
 * The judged disagreements with tshark (test/helpers/agreement-judgements.ts) as regression
 * tests, one per capture and verdict:
 * - the oracle still flags every judged frame (the disagreement named is a real one);
 * - "fixed": sockscope tags every frame with the kind named;
 * - excluded ("tshark-wrong", "deliberate"): sockscope does not tag it, and the packet
 *   premise the exclusion rests on holds, read off the capture by tshark;
 * - docs/agreement.md lists the judgement with the same reason.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCapture } from "../src/run/pipeline.js";
import { MIN_RETRANSMIT_INTERVAL_SEC } from "../src/analyze/lib/syn-retries.js";
import { COMPARED, JUDGEMENTS, type Judgement, type Premise } from "./helpers/agreement-judgements.js";
import { oracleFrames } from "./helpers/corpus.js";
import { CORPUS, ROOT } from "./helpers/paths.js";
import { tsharkAvailable } from "./helpers/tshark.js";

const hasCorpus = existsSync(join(CORPUS, "captures"));
const hasTshark = tsharkAvailable();
if (!hasTshark)
  console.warn("agreement-judgements.test.ts: tshark is not on PATH; the packet premises are not checked");

const SYN = 0x002,
  FIN = 0x001,
  RST = 0x004,
  ACK = 0x010;

/** One frame as tshark dissects it (innermost IP/TCP; the whole VLAN stack). */
interface Row {
  frame: number;
  time: number;
  vlan: string;
  src: string;
  dst: string;
  sport: string;
  dport: string;
  flags: number;
  seq: string;
  ack: string;
  len: string;
  ipId: string;
  wlanRetry: boolean;
  wlanSeq: string;
  wlanTa: string;
  /** The segment carries SACK blocks. */
  sack: boolean;
}

const FIELDS = [
  "frame.number",
  "frame.time_relative",
  "vlan.id",
  "ip.src",
  "ip.dst",
  "ipv6.src",
  "ipv6.dst",
  "tcp.srcport",
  "tcp.dstport",
  "tcp.flags",
  "tcp.seq_raw",
  "tcp.ack_raw",
  "tcp.len",
  "ip.id",
  "wlan.fc.retry",
  "wlan.seq",
  "wlan.ta",
  "tcp.options.sack_le",
];

function dissect(file: string): Row[] {
  const out = execFileSync(
    "tshark",
    [
      "-r",
      join(CORPUS, "captures", file),
      "-n",
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=,",
      "-E",
      "separator=|",
      ...FIELDS.flatMap((f) => ["-e", f]),
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  );
  const last = (c: string) => c.split(",").at(-1)!;
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((line) => {
      const c = line.split("|");
      return {
        frame: Number(c[0]),
        time: Number(c[1]),
        vlan: c[2]!,
        src: last(c[3]!) || last(c[5]!),
        dst: last(c[4]!) || last(c[6]!),
        sport: last(c[7]!),
        dport: last(c[8]!),
        flags: Number(last(c[9]!) || "0"),
        seq: last(c[10]!),
        ack: last(c[11]!),
        len: last(c[12]!),
        ipId: last(c[13]!),
        wlanRetry: /^(1|True)$/i.test(c[14]!),
        wlanSeq: c[15]!,
        wlanTa: c[16]!,
        sack: (c[17] ?? "") !== "",
      };
    });
}

const sameDirection = (a: Row, b: Row) =>
  a.src === b.src && a.dst === b.dst && a.sport === b.sport && a.dport === b.dport;
const sameSegment = (a: Row, b: Row) =>
  sameDirection(a, b) && a.flags === b.flags && a.seq === b.seq && a.len === b.len;
const isPureSyn = (r: Row) => (r.flags & (SYN | ACK)) === SYN;

/** Each premise as a test on the capture's rows; returns what failed, or "" when it holds. */
const PREMISES: Record<Premise, (rows: Row[], r: Row) => string> = {
  "syn-copy"(rows, r) {
    if ((r.flags & SYN) === 0) return "not a SYN";
    const before = rows.filter((e) => e.frame < r.frame && e.vlan === r.vlan && sameSegment(e, r));
    const prev = before.at(-1);
    if (prev === undefined) return "no earlier copy";
    if (r.time - prev.time >= MIN_RETRANSMIT_INTERVAL_SEC) return `previous copy ${r.time - prev.time} s earlier`;
    if (r.ipId !== "" && r.ipId !== "0x0000" && prev.ipId !== r.ipId) return "another IP ID";
    if (r.flags & ACK) {
      // A SYN-ACK repeated in answer to a re-sent SYN (one 200 ms or more after the one before it) is no copy.
      const peerSyns = rows.filter(
        (e) =>
          e.frame < r.frame &&
          isPureSyn(e) &&
          e.vlan === r.vlan &&
          e.src === r.dst &&
          e.dst === r.src &&
          e.sport === r.dport &&
          e.dport === r.sport,
      );
      for (let i = 1; i < peerSyns.length; i++) {
        if (
          peerSyns[i]!.frame > prev.frame &&
          peerSyns[i]!.time - peerSyns[i - 1]!.time >= MIN_RETRANSMIT_INTERVAL_SEC
        ) {
          return `answers the re-sent SYN ${peerSyns[i]!.frame}`;
        }
      }
    }
    return "";
  },
  "vlan-copy"(rows, r) {
    const earlier = rows.filter((e) => e.frame < r.frame && sameSegment(e, r) && e.ack === r.ack);
    if (earlier.some((e) => e.vlan === r.vlan)) return "sent before on its own VLAN";
    const other = earlier.find((e) => e.vlan !== r.vlan);
    if (other === undefined) return "no copy on another VLAN";
    if (other.ipId !== r.ipId) return `IP ID ${other.ipId} on frame ${other.frame}`;
    return "";
  },
  "wifi-retry"(rows, r) {
    if (!r.wlanRetry) return "Retry bit clear";
    return rows.some((e) => e.frame < r.frame && e.wlanSeq === r.wlanSeq && e.wlanTa === r.wlanTa)
      ? ""
      : "no earlier frame with its sequence number";
  },
  "syn-fin-probe"(_rows, r) {
    return (r.flags & (SYN | FIN)) === (SYN | FIN) ? "" : "not SYN+FIN";
  },
  "synack-of-first-syn"(rows, r) {
    if ((r.flags & (SYN | ACK)) !== (SYN | ACK)) return "not a SYN-ACK";
    const syns = rows.filter(
      (e) =>
        e.frame < r.frame &&
        isPureSyn(e) &&
        e.src === r.dst &&
        e.dst === r.src &&
        e.sport === r.dport &&
        e.dport === r.sport,
    );
    if (syns.length === 0) return "no SYN before it";
    const isns = new Set(syns.map((e) => e.seq));
    if (isns.size > 1) return "several ISNs: a new connection";
    return (Number(syns[0]!.seq) + 1) >>> 0 === Number(r.ack) ? "" : "does not acknowledge that SYN";
  },
  "crafted-syn"(_rows, r) {
    if (!isPureSyn(r)) return "not a SYN";
    return r.sack || r.ack !== "0" ? "" : "no SACK blocks and ack 0: a stack could have written it";
  },
  "syn-among-crafted"(rows, r) {
    if (!isPureSyn(r)) return "not a SYN";
    const tuple = rows.filter((e) => e.frame < r.frame && (sameDirection(e, r) || sameDirection(e, reversed(r))));
    const ended = tuple.find((e) => e.flags & (FIN | RST) || (e.flags & (SYN | ACK)) === (SYN | ACK));
    if (ended !== undefined) return `frame ${ended.frame} answered or ended a connection before it`;
    const syns = tuple.filter((e) => isPureSyn(e) && sameDirection(e, r));
    const crafted = (e: Row) => e.ack !== "0";
    if (crafted(r)) return "";
    if (syns.at(-1) !== undefined && crafted(syns.at(-1)!)) return "";
    return syns.some((e) => e.seq === r.seq && !crafted(e))
      ? ""
      : "a stack's SYN with a new ISN after another stack's SYN";
  },
  "fin-repeat"(rows, r) {
    if ((r.flags & FIN) === 0 || r.len !== "0") return "not a bare FIN";
    const mine = rows.filter((e) => e.frame < r.frame && sameDirection(e, r));
    if (!mine.some((e) => (e.flags & FIN) !== 0 && e.seq === r.seq)) return "no earlier FIN with its sequence number";
    const prev = mine.at(-1)!;
    return ((Number(r.ack) - Number(prev.ack)) | 0) > 0 ? "" : `acknowledges nothing new since frame ${prev.frame}`;
  },
  "fin-without-ack"(_rows, r) {
    if ((r.flags & FIN) === 0) return "no FIN";
    return (r.flags & ACK) === 0 ? "" : "it carries ACK";
  },
  "acked-before-captured"(rows, r) {
    const len = Number(r.len);
    if (len === 0) return "carries no data";
    const start = Number(r.seq),
      end = (start + len) >>> 0;
    const before = rows.filter((e) => e.frame < r.frame);
    // Sequence arithmetic mod 2^32, as in RFC 9293 §3.4.
    const after = (a: number, b: number) => ((a - b) | 0) > 0;
    const sentBefore = before.filter((e) => sameDirection(e, r) && Number(e.len) > 0);
    if (sentBefore.some((e) => after((Number(e.seq) + Number(e.len)) >>> 0, start)))
      return "an earlier segment of its side already carried some of these bytes";
    const acks = before.filter(
      (e) => sameDirection(e, reversed(r)) && (e.flags & ACK) !== 0 && !after(end, Number(e.ack)),
    );
    const ack = acks.at(-1);
    if (ack === undefined) return "no earlier ACK covers it";
    return r.time - ack.time < 0.001 ? "" : `the ACK (frame ${ack.frame}) came ${r.time - ack.time} s before`;
  },
};

/** The row as the other direction would carry it: addresses and ports swapped. */
function reversed(r: Row): Row {
  return { ...r, src: r.dst, dst: r.src, sport: r.dport, dport: r.sport };
}

function title(j: Judgement): string {
  return (
    `${j.file} frame${j.frames.length > 1 ? "s" : ""} ${j.frames.join(", ")}: ${j.kind} ${j.verdict}` +
    (j.premise ? ` (${j.premise})` : "")
  );
}

const tagsOf = new Map<string, Promise<Map<number, string[]>>>();
function tags(file: string): Promise<Map<number, string[]>> {
  let t = tagsOf.get(file);
  if (t === undefined)
    tagsOf.set(
      file,
      (t = runCapture(join(CORPUS, "captures", file), { collectTags: true }).then((r) => r.engine.tags!)),
    );
  return t;
}

describe.skipIf(!hasCorpus)("judged disagreements with tshark", () => {
  const doc = readFileSync(join(ROOT, "docs", "agreement.md"), "utf8");
  for (const j of JUDGEMENTS) {
    it(title(j), async () => {
      const oracle = oracleFrames(j.file);
      for (const f of j.frames)
        expect(
          COMPARED[j.kind].columns.some((c) => oracle.rows.get(f)?.[c] === 1),
          `tshark flags frame ${f}`,
        ).toBe(true);
      const t = await tags(j.file);
      for (const f of j.frames) {
        const mine = t.get(f) ?? [];
        if (j.verdict === "fixed") expect(mine, `frame ${f}`).toContain(j.tag);
        else
          expect(
            mine.filter((k) => COMPARED[j.kind].ours.includes(k)),
            `frame ${f}`,
          ).toEqual([]);
      }
      expect(doc, "docs/agreement.md lists it").toContain(`| ${j.file} | ${j.frames.join(", ")} |`);
      expect(doc, "docs/agreement.md gives its reason").toContain(`| ${j.reason} |`);
    });
    if (j.premise !== undefined) {
      it.skipIf(!hasTshark)(`${title(j)}: the premise holds on the packets`, () => {
        const rows = dissect(j.file);
        for (const f of j.frames) {
          const r = rows.find((x) => x.frame === f)!;
          expect(PREMISES[j.premise!](rows, r), `frame ${f}`).toBe("");
        }
      });
    }
  }
});
