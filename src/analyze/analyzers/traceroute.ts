/**
 * traceroute: probes from one host to one target answered by Time Exceeded from two or
 * more routers (the hop limit rising past each), and often port unreachable from the
 * target at the end: a path being traced (lib/trace-paths.ts says how it is recognised).
 * Reported once per source and target, at info: these ICMP messages are the answers the
 * tool asked for, not failures, so icmp-unreachable leaves them out.
 */
import { defineAnalyzer } from "../analyzer.js";
import type { Finding } from "../finding.js";
import { MAX_NAMED_HOPS, TracePaths, type TracePath } from "../lib/trace-paths.js";
import { L4_TCP } from "../../decode/wire/packet.js";

/** The capture's paths and the finding each traceroute got. */
class Traces {
  readonly paths = new TracePaths();
  readonly findings = new Map<TracePath, Finding>();
}

const analyzer = defineAnalyzer<null, Traces>({
  id: "traceroute",
  title: "A traceroute: probes with a rising hop limit, answered hop by hop",
  severity: "info",
  family: "udp-ip-icmp",
  wire: "Probes from one host to one target (UDP to ports 33434 and up, or TCP SYNs) answered by ICMP Time Exceeded from two or more routers, often ending with port unreachable from the target.",
  explanation:
    "A program (traceroute, tracepath, mtr, or one doing the same) sent probes with setsockopt(IP_TTL / " +
    "IPV6_UNICAST_HOPS) rising from 1: each router where the hop limit runs out drops the probe and answers ICMP Time " +
    "Exceeded, which names that router; once the limit reaches the target, the target answers (port unreachable for a " +
    "UDP probe to an unused port). The program reads these answers itself, from a raw ICMP socket or from its socket's " +
    "error queue (IP_RECVERR, recvmsg(MSG_ERRQUEUE): EHOSTUNREACH for Time Exceeded, ECONNREFUSED for the target's " +
    "port unreachable), so they are the results it asked for, not failures. Routers that answer nothing show up as " +
    "missing hops. A Time Exceeded outside such a pattern (every packet answered by the same router) is reported by " +
    "icmp-unreachable instead: a hop limit set too low or a routing loop.",
  references: ["000 §5.3"],
  capture: {
    create: () => new Traces(),
    // Time Exceeded keeps a capture on one thread (run/parallel/router.ts): shards never split a path.
    merge(into, from) {
      for (const [key, path] of from.paths.paths) if (!into.paths.paths.has(key)) into.paths.paths.set(key, path);
      for (const [path, f] of from.findings) into.findings.set(path, f);
    },
    resolve() {},
  },
  onIcmpError(_s, flow, _quotedDir, frame, time, p, out) {
    if (flow === null) return;
    const traces = out.captureState(analyzer);
    const path = traces.paths.note(p, frame, time);
    if (path === null || !path.isTraceroute) return;
    const f = traces.findings.get(path);
    if (f === undefined) {
      traces.findings.set(
        path,
        out.report(analyzer, {
          flow: null,
          dir: null,
          frames: path.frames,
          count: path.timeExceeded + path.targetRefusals,
          time: path.firstTime,
          summary: summaryOf(path),
          measure: measureOf(path),
        }),
      );
      return;
    }
    out.addEvidence(f, [frame]);
    f.count = path.timeExceeded + path.targetRefusals;
    f.summary = summaryOf(path);
    f.measure = measureOf(path);
  },
});

function measureOf(path: TracePath): Record<string, number> {
  return { routers: path.hops.size, timeExceeded: path.timeExceeded, targetAnswers: path.targetRefusals };
}

function summaryOf(path: TracePath): string {
  const hops = [...path.hops];
  const named = hops.slice(0, MAX_NAMED_HOPS).join(", ") + (hops.length > MAX_NAMED_HOPS ? ", …" : "");
  const ports = path.minPort === path.maxPort ? `port ${path.minPort}` : `ports ${path.minPort}-${path.maxPort}`;
  const end =
    path.targetRefusals > 0
      ? `, then ${path.targetRefusals} port unreachable from the target itself: it was reached`
      : ": the target never answered in the capture";
  return (
    `traceroute from ${path.source} to ${path.target}: ${path.timeExceeded} Time Exceeded from ${hops.length} ` +
    `router(s) (${named})${end}; ${path.proto === L4_TCP ? "TCP" : "UDP"} probes to ${ports}. ` +
    "These are the answers the tool asks for, not errors"
  );
}
export default analyzer;
