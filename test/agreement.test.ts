/**
 * Agreement with Wireshark: for every kind with a tcp.analysis (or IP/ICMP) counterpart,
 * the frames sockscope tags are compared with the frames tshark flags in the
 * corpus oracle (test/corpus/oracle), pooled over every capture tshark could read.
 * Prints precision and recall per kind and fails below the floors, which are raised as
 * the analyzers improve (aim: 0.98). Where recall is below that, the misses are known:
 * keepalive: probes within 0.5 s of activity are not keep-alives.
 *
 * Judged disagreements (test/helpers/agreement-judgements.ts, docs/agreement.md): every
 * frame where we differed on retransmission, time-wait-reuse or icmp-unreachable was
 * looked at. Those where tshark is wrong or we differ on purpose (a SYN recorded twice,
 * one connection on several VLANs, an 802.11 retry, a crafted probe, a SYN-ACK after an
 * injected RST) are left out of tshark's side, frame by frame, while their packet premise
 * holds (test/agreement-judgements.test.ts); the rest were sockscope's misses, now fixed.
 *
 * Deliberate differences (README "Agreement with Wireshark"):
 * - A Linux zero-window probe (zero length, seq one below the next byte, sent while the
 *   peer's window is zero) is tagged zero-window; tshark calls it a keep-alive. Frames
 *   tshark calls keep-alive that we call zero-window count as agreement for both kinds.
 * - tshark flags retransmitted SYNs as retransmissions; we tag them syn-retransmit or
 *   connect-timeout, or icmp-unreachable when they were re-sent through ICMP errors: those
 *   count as retransmission tags here (icmp-unreachable only on TCP frames).
 * - icmp-unreachable also covers time exceeded (tshark's icmp_unreach column is
 *   destination unreachable only): only our tags on destination-unreachable messages are
 *   compared. A traceroute's answers are the traceroute kind's, the target's final port
 *   unreachable included, and fragmentation needed is path-mtu's: those tags count for
 *   icmp-unreachable here.
 * - IPv6 atomic fragments (a Fragment header with offset 0 and no more fragments, RFC
 *   6946) are whole datagrams to us, fragments to tshark: ip-fragmentation's recall
 *   floor leaves room for the corpus's one capture of them (zeek ipv6-http-atomic-frag).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCapture } from "../src/run/pipeline.js";
import { ANALYZERS } from "../src/analyze/registry.js";
import { corpusEntries, oracleFrames } from "./helpers/corpus.js";
import { CORPUS } from "./helpers/paths.js";
import { L4_ICMP, L4_ICMPV6, L4_TCP } from "../src/decode/wire/packet.js";
import { COMPARED, excludedFrames, type ComparedKind } from "./helpers/agreement-judgements.js";

interface Comparison {
  kind: string;
  /** oracle columns whose union is tshark's verdict */
  columns: string[];
  /** our kinds whose union is our verdict */
  ours: string[];
  /** floors for precision and recall */
  floor: { precision: number; recall: number };
}

const COMPARISONS: Comparison[] = [
  {
    kind: "zero-window",
    columns: ["zero_window", "zero_window_probe"],
    ours: ["zero-window"],
    floor: { precision: 0.98, recall: 0.98 },
  },
  { kind: "window-full", columns: ["window_full"], ours: ["window-full"], floor: { precision: 0.98, recall: 0.98 } },
  { kind: "keepalive", columns: ["keep_alive"], ours: ["keepalive"], floor: { precision: 0.98, recall: 0.95 } },
  { kind: "retransmission", ...COMPARED.retransmission, floor: { precision: 0.98, recall: 0.98 } },
  { kind: "time-wait-reuse", ...COMPARED["time-wait-reuse"], floor: { precision: 0.98, recall: 0.98 } },
  { kind: "urgent-data", columns: ["urg"], ours: ["urgent-data"], floor: { precision: 0.98, recall: 0.98 } },
  {
    kind: "ip-fragmentation",
    columns: ["ip_fragment"],
    ours: ["ip-fragmentation", "fragment-loss"],
    floor: { precision: 0.98, recall: 0.95 },
  },
  { kind: "icmp-unreachable", ...COMPARED["icmp-unreachable"], floor: { precision: 0.98, recall: 0.98 } },
];

const registered = new Set(ANALYZERS.map((a) => a.id));
const readable = corpusEntries().filter((e) => !existsSync(join(CORPUS, "oracle", `${e.file}.error`)));

describe("agreement with tshark over the corpus", async () => {
  const counts = new Map(COMPARISONS.map((c) => [c.kind, { tp: 0, fp: 0, fn: 0, files: new Set<string>() }]));
  /** Every frame still disagreeing, for judging (docs/agreement.md): "kind file frame: who flags it". */
  const open: string[] = [];
  for (const entry of readable) {
    const destUnreachable = new Set<number>(),
      tcpFrames = new Set<number>();
    const { engine } = await runCapture(entry.path, {
      collectTags: true,
      observer: (rec, p) => {
        if ((p.l4 === L4_ICMP && p.icmpType === 3) || (p.l4 === L4_ICMPV6 && p.icmpType === 1))
          destUnreachable.add(rec.frame);
        else if (p.l4 === L4_TCP) tcpFrames.add(rec.frame);
      },
    });
    const tags = engine.tags!;
    const oracle = oracleFrames(entry.file);
    const tagged = (kinds: string[]) => {
      const s = new Set<number>();
      for (const [frame, ks] of tags) if (ks.some((k) => kinds.includes(k))) s.add(frame);
      return s;
    };
    const ourZeroWindow = tagged(["zero-window"]);
    for (const c of COMPARISONS) {
      const ours = tagged(c.ours);
      if (c.kind === "icmp-unreachable") for (const f of ours) if (!destUnreachable.has(f)) ours.delete(f);
      // SYNs re-sent through ICMP errors: icmp-unreachable names them (see the top).
      if (c.kind === "retransmission") for (const f of tagged(["icmp-unreachable"])) if (tcpFrames.has(f)) ours.add(f);
      const judged = excludedFrames(entry.file, c.kind as ComparedKind);
      const theirs = new Set<number>();
      for (const [frame, row] of oracle.rows) {
        if (!c.columns.some((col) => row[col] === 1)) continue;
        if (judged.has(frame)) continue;
        // Linux zero-window probes: tshark's keep-alive, our zero-window (see the top).
        if (c.kind === "keepalive" && ourZeroWindow.has(frame)) continue;
        theirs.add(frame);
      }
      if (c.kind === "zero-window") {
        for (const [frame, row] of oracle.rows) if (row.keep_alive === 1 && ours.has(frame)) theirs.add(frame);
      }
      const n = counts.get(c.kind)!;
      for (const f of ours) {
        if (theirs.has(f)) n.tp++;
        else {
          n.fp++;
          n.files.add(entry.file);
          open.push(`${c.kind} ${entry.file} ${f}: sockscope only (${tags.get(f)!.join(", ")})`);
        }
      }
      for (const f of theirs)
        if (!ours.has(f)) {
          n.fn++;
          n.files.add(entry.file);
          open.push(`${c.kind} ${entry.file} ${f}: tshark only`);
        }
    }
  }

  const rows = COMPARISONS.map((c) => {
    const n = counts.get(c.kind)!;
    const precision = n.tp + n.fp === 0 ? 1 : n.tp / (n.tp + n.fp);
    const recall = n.tp + n.fn === 0 ? 1 : n.tp / (n.tp + n.fn);
    return { ...c, ...n, precision, recall, active: c.ours.some((k) => registered.has(k)) };
  });
  const table = [
    "kind               tshark  ours   tp     fp     fn     precision recall  floor(p/r)",
    ...rows.map(
      (r) =>
        `${r.kind.padEnd(18)} ${String(r.tp + r.fn).padStart(6)} ${String(r.tp + r.fp).padStart(5)} ${String(r.tp).padStart(6)} ${String(r.fp).padStart(6)} ${String(r.fn).padStart(6)}   ${r.precision.toFixed(3)}    ${r.recall.toFixed(3)}   ${r.active ? `${r.floor.precision}/${r.floor.recall}` : "no analyzer yet"}` +
        (r.files.size > 0
          ? `  differs in: ${[...r.files].slice(0, 3).join(", ")}${r.files.size > 3 ? ", …" : ""}`
          : ""),
    ),
  ].join("\n");
  console.log(
    `\nAgreement with tshark (${readable.length} corpus captures)\n${table}\n` +
      `\nDisagreements not judged yet (docs/agreement.md has the judged ones):\n${open.join("\n") || "none"}\n`,
  );

  for (const r of rows.filter((x) => x.active)) {
    it(`${r.kind}: precision ${r.precision.toFixed(3)} ≥ ${r.floor.precision}, recall ${r.recall.toFixed(3)} ≥ ${r.floor.recall}`, () => {
      expect(r.precision).toBeGreaterThanOrEqual(r.floor.precision);
      expect(r.recall).toBeGreaterThanOrEqual(r.floor.recall);
    });
  }
  it("compared every readable corpus capture", () => {
    expect(readable.length).toBeGreaterThan(100);
  });
});
