/**
 * Findings never contradict each other, nor the connection they are about (issue 15).
 * Over every fixture and corpus capture, each invariant below is checked on every flow
 * against the per-side facts the flow table kept (when each side sent SYN, FIN, RST and
 * had its FIN acknowledged). A violation is a finding whose claim the packets it rests on
 * refute. Known violations, judged and not yet fixed, are listed in KNOWN with the issue
 * that owns them; one that stops happening must be taken off the list. Every duration a
 * finding measures lies within the capture (durationViolations).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Finding } from "../src/analyze/finding.js";
import { analyzeFile } from "../src/run/pipeline.js";
import type { Report } from "../src/report/model.js";
import { CORPUS, FIXTURES } from "./helpers/paths.js";

/** What the flow table knew of each side at the flow's end; frames, 0 when never. */
interface Side {
  syn: number;
  fin: number;
  finAcked: number;
  rst: number;
}
interface FlowFacts {
  sides: [Side, Side];
}
const CLIENT = 0 as const,
  SERVER = 1 as const;
const dirOf = (f: Finding): 0 | 1 => (f.side === "server" ? SERVER : CLIENT);
const lastFrame = (f: Finding): number => f.frames[f.frames.length - 1] ?? 0;

/**
 * The invariants: a name, and a check of one finding against its flow's facts (and the
 * flow's other findings) that returns what is contradicted, or null.
 */
const INVARIANTS: {
  name: string;
  kind: string;
  check: (f: Finding, facts: FlowFacts, others: Finding[]) => string | null;
}[] = [
  {
    name: "TIME_WAIT is held only by a side whose FIN was acknowledged and that had not sent RST",
    kind: "time-wait",
    check: (f, { sides }) => {
      const me = sides[dirOf(f)];
      if (me.fin === 0 || me.finAcked === 0) return `the ${f.side}'s FIN was never acknowledged`;
      if (me.rst !== 0) return `the ${f.side} sent RST (frame ${me.rst})`;
      return null;
    },
  },
  {
    // A side in TIME_WAIT answers with ACKs, never RST, and a RST it receives ends TIME_WAIT.
    name: "no TIME_WAIT on a connection that either side reset",
    kind: "time-wait",
    check: (_f, { sides }) => {
      const r = sides.find((x) => x.rst !== 0);
      return r !== undefined ? `a RST was sent (frame ${r.rst})` : null;
    },
  },
  {
    // A refusal whose re-sent SYN was then accepted (issue 21) did not end the connection.
    name: "no flow both closes gracefully into TIME_WAIT and is refused",
    kind: "time-wait",
    check: (_f, _facts, others) =>
      others.some((o) => o.kind === "connection-refused" && o.measure.accepted !== 1)
        ? "connection-refused on the same flow"
        : null,
  },
  {
    name: "a peer that stopped responding is not claimed for a writer that had already closed",
    kind: "peer-unresponsive",
    check: (f, { sides }) => {
      const me = sides[dirOf(f)];
      if (me.fin === 0 || me.fin > lastFrame(f)) return null;
      return f.measure.senderClosed === 1 && !/writes still succeed/.test(f.summary)
        ? null
        : `the ${f.side} had sent FIN (frame ${me.fin}) by the last re-send, yet it is spoken to as a writer`;
    },
  },
  {
    name: "EPIPE is promised only to a writer that had not closed",
    kind: "rst-after-fin",
    check: (f, { sides }) => {
      const writer = sides[1 - dirOf(f)]!;
      if (writer.fin === 0) return null;
      return f.severity === "error" || /gets EPIPE/.test(f.summary)
        ? `the writer had sent its own FIN (frame ${writer.fin})`
        : null;
    },
  },
  {
    // A client that sent a request and then FIN (shutdown(SHUT_WR)) may still await the reply.
    name: "an abort is an error only for a peer that had not closed, or a client whose request got no answer",
    kind: "abortive-close",
    check: (f, { sides }) => {
      const me = sides[dirOf(f)]!,
        peer = sides[1 - dirOf(f)]!;
      const awaitingReply = f.side === "server" && (f.measure.peerDataUnansweredBytes ?? 0) > 0;
      return f.severity === "error" && peer.fin !== 0 && peer.fin < me.rst && !awaitingReply
        ? `the reset's receiver had sent FIN (frame ${peer.fin}) before it`
        : null;
    },
  },
  {
    // Unless the finding says so: a refused SYN re-sent by the client's stack and then accepted (issue 21).
    name: "a refused connect() never had its SYN answered with SYN-ACK, unless it says it was accepted",
    kind: "connection-refused",
    check: (f, { sides }) =>
      sides[SERVER].syn !== 0 && !(f.measure.accepted === 1 && f.frames.includes(sides[SERVER].syn))
        ? `the server sent SYN-ACK (frame ${sides[SERVER].syn})`
        : null,
  },
  {
    name: "CLOSE_WAIT is the side that received the first FIN",
    kind: "close-wait",
    check: (f, { sides }) => {
      const me = sides[dirOf(f)],
        peer = sides[1 - dirOf(f)]!;
      if (peer.fin === 0) return `the ${f.side}'s peer never sent FIN`;
      if (me.fin !== 0 && me.fin < peer.fin) return `the ${f.side} sent its FIN first (frame ${me.fin})`;
      return null;
    },
  },
  {
    name: "an abortive close is a RST the named side sent",
    kind: "abortive-close",
    check: (f, { sides }) => (sides[dirOf(f)].rst === 0 ? `the ${f.side} sent no RST` : null),
  },
  {
    name: "RST after FIN: the named side sent its FIN before its RST",
    kind: "rst-after-fin",
    check: (f, { sides }) => {
      const me = sides[dirOf(f)];
      if (me.fin === 0 || me.rst === 0) return `the ${f.side} sent ${me.fin === 0 ? "no FIN" : "no RST"}`;
      return me.fin > me.rst ? `the ${f.side}'s RST (frame ${me.rst}) came before its FIN` : null;
    },
  },
  {
    name: "a half-close is a FIN the named side sent while the peer kept sending",
    kind: "half-close",
    check: (f, { sides }) => (sides[dirOf(f)].fin === 0 ? `the ${f.side} sent no FIN` : null),
  },
];

/** Judged violations not fixed yet: "capture file|flow|kind" → the issue that owns them. */
const KNOWN: Record<string, string> = {};

function captures(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(join(CORPUS, "captures")).sort()) out.push(join(CORPUS, "captures", f));
  for (const d of readdirSync(FIXTURES, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name === "scenarios") continue;
    for (const f of readdirSync(join(FIXTURES, d.name)).sort())
      if (/\.pcap(ng)?$/.test(f)) out.push(join(FIXTURES, d.name, f));
  }
  return out;
}

async function violations(path: string): Promise<string[]> {
  const facts = new Map<number, FlowFacts>();
  let report: Report;
  try {
    report = await analyzeFile(path, {
      onFlowEnd: (flow) => {
        const side = (i: number): Side => {
          const e = flow.ep[i]!;
          return { syn: e.synFrame, fin: e.finFrame, finAcked: e.finAckedFrame, rst: e.rstFrame };
        };
        facts.set(flow.id, { sides: [side(0), side(1)] });
      },
    });
  } catch {
    return []; // unreadable captures are test/corpus.test.ts's business
  }
  const byFlow = new Map<number, Finding[]>();
  for (const f of report.findings) if (f.flow !== null) byFlow.set(f.flow, [...(byFlow.get(f.flow) ?? []), f]);
  const out: string[] = durationViolations(report);
  for (const [flow, findings] of byFlow) {
    const ff = facts.get(flow);
    if (ff === undefined) continue;
    for (const f of findings)
      for (const inv of INVARIANTS) {
        if (inv.kind !== f.kind) continue;
        const why = inv.check(f, ff, findings);
        if (why !== null) out.push(`flow ${flow} ${f.kind}: ${inv.name}, but ${why}`);
      }
  }
  return out;
}

/** Measures that are lengths a stack is assumed to keep, not spans of the capture. */
const ASSUMED_LENGTHS = new Set(["timeWaitMs"]);

/**
 * Issue 20: a duration is the difference of two timestamps of the capture, so it is never
 * negative (-1 says "none") and never longer than the capture (whose duration leaves out
 * clock jumps, as durations do): a finding once said a server was "silent for 979 489 090 s".
 */
function durationViolations(report: Report): string[] {
  const out: string[] = [];
  const longest = report.capture.durationSec + 1e-5;
  for (const f of report.findings)
    for (const [key, v] of Object.entries(f.measure)) {
      if (!/(Ms|Sec)$/.test(key) || ASSUMED_LENGTHS.has(key) || v === -1) continue;
      const sec = key.endsWith("Ms") ? v / 1000 : v;
      if (sec < 0 || sec > longest)
        out.push(
          `flow ${f.flow} ${f.kind}: a duration within the capture, but ${key} = ${v} (capture ${report.capture.durationSec} s)`,
        );
    }
  return out;
}

describe("findings agree with their connection and with each other", () => {
  const files = captures();
  it("reads the corpus and the fixtures", () => expect(files.length).toBeGreaterThan(300));
  for (const path of files) {
    const name = path.replace(/^.*\/(captures|fixtures)\//, "");
    it(name, async () => {
      const found = await violations(path);
      const key = (v: string) => `${name}|${v.split(":")[0]}`;
      expect(found.filter((v) => KNOWN[key(v)] === undefined)).toEqual([]);
      const knownHere = Object.keys(KNOWN).filter((k) => k.startsWith(`${name}|`));
      expect(
        knownHere.filter((k) => !found.some((v) => key(v) === k)),
        "fixed: take it off KNOWN",
      ).toEqual([]);
    });
  }
});
