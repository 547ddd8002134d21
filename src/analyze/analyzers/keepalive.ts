/**
 * keepalive: after the connection has been idle, one side's kernel sends a probe — a
 * segment of 0 or 1 byte whose sequence number is one below the next byte, so the peer
 * must answer with an ACK (RFC 1122 §4.2.3.6). Answered probes are invisible to both
 * programs (info); unanswered probes repeat and then the prober resets the connection and
 * its program gets ETIMEDOUT (error). Measured: idle time before the first probe, the
 * interval between probes, probes answered and unanswered.
 *
 * Frames tagged: every probe, as tshark's `keep_alive`, and the RST that ends a run of
 * unanswered probes (evidence of the timeout; tshark has no flag for it). Deliberate
 * differences from tshark:
 * - a probe while the peer's last advertised window is 0 is a zero-window probe (Linux
 *   sends both with the same shape; the persist timer, not SO_KEEPALIVE, sent it): the
 *   zero-window analyzer tags it (see decode/flow/segment-facts.ts);
 * - a segment shaped like a probe from a side that has already sent its FIN is not a
 *   keep-alive (keepalive stops once a socket is closed): some stacks acknowledge with the
 *   FIN's own sequence number, which tshark calls a keep-alive;
 * - nor is one sent less than KEEPALIVE_MIN_IDLE_SEC after the connection's last
 *   activity, or as the very first segment seen of a flow (no idle time to measure).
 */
import { sideNotCaptured } from "../lib/capture-view.js";
import { defineAnalyzer, type FindingSink } from "../analyzer.js";
import { keepFrame, NO_FRAMES, ms, roleOf, sec } from "../lib/measure.js";
import type { Flow } from "../../decode/flow/record.js";
import { TH_RST } from "../../decode/wire/packet.js";

/**
 * Unanswered probes still outstanding when the capture ends that count as a dead peer:
 * two in a row (one could be the capture stopping before the answer). Linux gives up after
 * TCP_KEEPCNT (default 9) unanswered probes; seeing two unanswered already means the
 * peer missed a whole probe interval.
 */
export const KEEPALIVE_UNANSWERED_DEAD = 2;
/**
 * Keepalive timers count whole seconds (Linux's smallest TCP_KEEPIDLE and TCP_KEEPINTVL
 * are 1 s; the defaults are 2 h and 75 s), so a probe needs the connection to have been
 * idle for a while. A probe-shaped segment after less than half a second of silence is
 * something else — a capture duplicate of a one-byte segment, a middlebox's ACK probe —
 * and is not tagged (tshark tags it as a keep-alive).
 */
export const KEEPALIVE_MIN_IDLE_SEC = 0.5;

class Prober {
  probes = 0;
  answered = 0;
  unanswered = 0;
  /** Consecutive unanswered probes (the current run). */
  run = 0;
  frames: readonly number[] = NO_FRAMES;
  firstTime = 0;
  /** Probe waiting for an answer (frame), 0 if none. */
  pendingFrame = 0;
  lastProbeTime = -1;
  lastProbeAnswered = false;
  idleFirst = -1;
  idleMax = 0;
  /** Intervals after an answered probe (≈ TCP_KEEPIDLE) and between unanswered ones (≈ TCP_KEEPINTVL). */
  afterAnswerSum = 0;
  afterAnswerN = 0;
  retrySum = 0;
  retryN = 0;
  /** The prober's RST after unanswered probes, and how many probes went unanswered before it. */
  rstFrame = 0;
  rstRun = 0;
  rstTime = 0;
  /** The peer answered a probe with RST: it no longer knew the connection. */
  peerRstFrame = 0;
}

class State {
  readonly probers: [Prober | null, Prober | null] = [null, null];
  /** Time of the last segment in either direction that was neither a probe nor its answer; -1 none yet. */
  lastActivity = -1;
}

const analyzer = defineAnalyzer<State>({
  id: "keepalive",
  title: "TCP keepalive probes on an idle connection",
  severity: "info",
  family: "tcp-transfer",
  wire: "After an idle period, a segment with sequence number one below the next byte (0 or 1 byte), answered by an ACK; unanswered probes repeat, then RST.",
  explanation:
    "The probing side's program enabled SO_KEEPALIVE (often with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT on Linux; " +
    "the defaults are 2 hours idle, then 9 probes 75 s apart). When the connection has been idle that long, its kernel " +
    "sends a probe the peer must acknowledge. While the peer answers, neither program notices anything. When the peer " +
    "has crashed, lost power or is cut off, the probes go unanswered and the kernel gives up: it resets the connection " +
    "and the program's blocked read() (or next call) fails with ETIMEDOUT — that is how an idle connection learns its " +
    "peer is gone at all, since otherwise a read() on a dead peer blocks forever. If the peer answers a probe with RST " +
    "(it rebooted and forgot the connection), the call fails with ECONNRESET. Keepalive is the right tool for idle " +
    "connections that must notice a dead peer; pick the idle time to beat NAT and firewall idle timeouts, and prefer " +
    "an application-level heartbeat when the program must also know the peer's process is responsive, not just its kernel.",
  references: ["000 §2.8", "000 §4.7"],
  createState: () => new State(),
  onTcpSegment(s, flow, seg, _p, out) {
    const dir = seg.dir;
    if (
      seg.keepAliveProbe &&
      flow.ep[dir]!.finFrame === 0 &&
      s.lastActivity >= 0 &&
      seg.time - s.lastActivity >= KEEPALIVE_MIN_IDLE_SEC
    ) {
      let pr = s.probers[dir] ?? null;
      if (pr === null) pr = s.probers[dir] = new Prober();
      if (pr.pendingFrame !== 0) {
        pr.unanswered++;
        pr.run++;
      }
      if (pr.lastProbeTime >= 0 && s.lastActivity <= pr.lastProbeTime) {
        const gap = seg.time - pr.lastProbeTime;
        if (pr.lastProbeAnswered) {
          pr.afterAnswerSum += gap;
          pr.afterAnswerN++;
        } else {
          pr.retrySum += gap;
          pr.retryN++;
        }
      } else {
        const idle = seg.time - s.lastActivity;
        if (pr.idleFirst < 0) pr.idleFirst = idle;
        if (idle > pr.idleMax) pr.idleMax = idle;
      }
      if (pr.probes === 0) pr.firstTime = seg.time;
      pr.probes++;
      pr.frames = keepFrame(pr.frames, seg.frame, out.frameCap);
      pr.pendingFrame = seg.frame;
      pr.lastProbeTime = seg.time;
      pr.lastProbeAnswered = false;
      return;
    }
    // An answer from the peer to a pending probe.
    const probed = s.probers[1 - dir] ?? null;
    if (probed !== null && probed.pendingFrame !== 0) {
      probed.pendingFrame = 0;
      if (seg.flags & TH_RST) {
        probed.peerRstFrame = seg.frame;
        probed.frames = keepFrame(probed.frames, seg.frame, out.frameCap);
      } else {
        probed.answered++;
        probed.run = 0;
        probed.lastProbeAnswered = true;
        if (seg.len === 0) return; // the bare ACK answering a probe is not activity
      }
    }
    // The prober gives up: its RST after unanswered probes.
    const mine = s.probers[dir] ?? null;
    if (
      mine !== null &&
      (seg.flags & TH_RST) !== 0 &&
      (mine.pendingFrame !== 0 || mine.run > 0) &&
      mine.rstFrame === 0
    ) {
      if (mine.pendingFrame !== 0) {
        mine.unanswered++;
        mine.run++;
        mine.pendingFrame = 0;
      }
      mine.rstFrame = seg.frame;
      mine.rstRun = mine.run;
      mine.rstTime = seg.time;
      mine.frames = keepFrame(mine.frames, seg.frame, out.frameCap);
    }
    s.lastActivity = seg.time;
  },
  onFlowEnd(s, flow, out) {
    for (let dir = 0; dir < 2; dir++) {
      const pr = s.probers[dir] ?? null;
      if (pr !== null) reportProber(flow, dir, pr, out);
    }
  },
});

function reportProber(flow: Flow, dir: number, pr: Prober, out: FindingSink): void {
  if (pr.pendingFrame !== 0) {
    pr.unanswered++;
    pr.run++;
    pr.pendingFrame = 0;
  }
  const who = roleOf(dir),
    peer = roleOf(1 - dir);
  const idle = pr.idleFirst >= 0 ? `after ${sec(pr.idleFirst)} s idle` : "on the idle connection";
  const afterAnswer = pr.afterAnswerN > 0 ? pr.afterAnswerSum / pr.afterAnswerN : -1;
  const retry = pr.retryN > 0 ? pr.retrySum / pr.retryN : -1;
  const cadence = [
    afterAnswer >= 0 ? `every ${sec(afterAnswer)} s while answered` : "",
    retry >= 0 ? `${sec(retry)} s apart when unanswered` : "",
  ]
    .filter((x) => x !== "")
    .join(", ");
  const head = `the ${who}'s kernel sent ${pr.probes} keepalive probe(s) ${idle}` + (cadence ? ` (${cadence})` : "");
  let summary: string, severity: "info" | "error", detail: string | undefined;
  if (sideNotCaptured(flow, 1 - dir) && pr.rstFrame === 0) {
    // The answers would be the peer's packets, which this capture does not hold.
    severity = "info";
    summary =
      `${head}; the capture holds no packet from the ${peer} at all though the ${who} acknowledges it: that direction ` +
      "was not captured (a one-way mirror or a capture filter), so whether the probes were answered cannot be told";
  } else if (pr.rstFrame !== 0) {
    severity = "error";
    summary =
      `${head}; the last ${pr.rstRun} went unanswered and the ${who} reset the connection (frame ${pr.rstFrame}, ` +
      `${sec(pr.rstTime - pr.firstTime)} s after the first probe): the ${who}'s program got ETIMEDOUT`;
    detail = `The ${peer} stopped answering: its host is down or unreachable, or something between drops its packets.`;
  } else if (pr.peerRstFrame !== 0) {
    severity = "error";
    summary =
      `${head}; the ${peer} answered with RST (frame ${pr.peerRstFrame}): it no longer knew the connection ` +
      `(rebooted or restarted), and the ${who}'s program got ECONNRESET`;
  } else if (pr.run >= KEEPALIVE_UNANSWERED_DEAD) {
    severity = "error";
    summary =
      `${head}; the last ${pr.run} were still unanswered when the capture ended: the ${peer} is not responding, ` +
      `and the ${who}'s kernel will reset the connection (ETIMEDOUT) after TCP_KEEPCNT probes`;
  } else {
    severity = "info";
    summary =
      pr.unanswered === 0
        ? `${head}; the ${peer} answered every one: the connection is alive and both programs saw nothing`
        : `${head}; ${pr.answered} answered, ${pr.unanswered} unanswered (the capture ended before an answer could show)`;
  }
  const measure: Record<string, number> = { probes: pr.probes, answered: pr.answered, unanswered: pr.unanswered };
  if (pr.idleFirst >= 0) {
    measure.idleMs = ms(pr.idleFirst);
    measure.maxIdleMs = ms(pr.idleMax);
  }
  if (afterAnswer >= 0) measure.intervalMs = ms(afterAnswer);
  if (retry >= 0) measure.retryIntervalMs = ms(retry);
  if (pr.rstFrame !== 0) measure.timeoutMs = ms(pr.rstTime - pr.firstTime);
  out.report(analyzer, {
    flow,
    dir,
    frames: pr.frames,
    count: pr.probes,
    time: pr.firstTime,
    summary,
    severity,
    detail,
    measure,
  });
}
export default analyzer;
