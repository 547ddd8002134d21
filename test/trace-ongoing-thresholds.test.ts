/**
 * When a live capture starts calling a condition ongoing (AnalyzerDescriptor.ongoing,
 * polled through Engine.forEachOngoing), pinned from packets at the threshold and one
 * microsecond under it (values written out, not imported): a zero window held 1 s
 * (ZERO_WINDOW_ONGOING_SEC), data re-sent unacknowledged for 3 s
 * (PEER_UNRESPONSIVE_ONGOING_SEC), CLOSE_WAIT for 1 s (a client: 10 s, LAZY_CLOSE_SEC), or 10 s
 * after data sent into a half-closed connection (HALF_CLOSE_ONGOING_SEC); and when re-sends or SYNs count as
 * stopped: past twice the last interval plus 0.5 s (retriesStopped).
 */
import { describe, expect, it } from "vitest";
import type { AnalyzerDescriptor } from "../src/analyze/analyzer.js";
import closeWait from "../src/analyze/analyzers/close-wait.js";
import connectTimeout from "../src/analyze/analyzers/connect-timeout.js";
import peerUnresponsive from "../src/analyze/analyzers/peer-unresponsive.js";
import zeroWindow from "../src/analyze/analyzers/zero-window.js";
import { runScript, SYN, TcpScript } from "./helpers/tcp-script.js";

interface Ongoing {
  kind: string;
  dir: number;
  since: number;
  frame: number;
}

/** What one analyzer reports as ongoing at each of the capture times `polls`, after the whole script. */
async function ongoingAt(
  analyzer: AnalyzerDescriptor<unknown>,
  script: TcpScript,
  polls: readonly number[],
): Promise<Ongoing[][]> {
  const seen: Ongoing[][] = [];
  await runScript(script, {
    analyzers: [analyzer],
    watchOngoing: true,
    retireClosedAfterSec: Infinity,
    beforeFinish(engine) {
      for (const now of polls) {
        const at: Ongoing[] = [];
        engine.forEachOngoing(now, (kind, _flow, dir, c) =>
          at.push({ kind: kind.id, dir, since: c.since, frame: c.frame }),
        );
        seen.push(at);
      }
    },
  });
  return seen;
}

describe("ongoing conditions in a live capture", () => {
  it("zero-window: from 1 s after the window shut", async () => {
    const s = new TcpScript().handshake(1).data(1.01, "client", 1000).ack(1.5, "server", { win: 0 });
    const [before, at] = await ongoingAt(zeroWindow, s, [2.499999, 2.5]);
    expect(before).toEqual([]);
    expect(at).toEqual([{ kind: "zero-window", dir: 1, since: 1.5, frame: 5 }]);
  });

  it("peer-unresponsive: from 3 s after the data first left, until the re-sends stop (twice the last gap, at least 1 s, plus 0.5 s)", async () => {
    const s = new TcpScript().handshake(1);
    const seq = s.next.client;
    s.data(2, "client", 100);
    for (const t of [2.25, 2.75, 3.5]) s.resend(t, "client", seq, 100);
    // The last gap is 0.75 s, so the re-sends have stopped only after 3.5 + 2·1 + 0.5 = 6 s.
    const polls = await ongoingAt(peerUnresponsive, s, [4.999999, 5, 6, 6.000001]);
    const c = { kind: "peer-unresponsive", dir: 0, since: 2, frame: 4 };
    expect(polls).toEqual([[], [c], [c], []]);
  });

  it("close-wait: from 1 s after the peer's FIN, or 10 s after the last data sent after it", async () => {
    const closed = new TcpScript().handshake(1).fin(2, "client").ack(2, "server");
    const c = { kind: "close-wait", dir: 1, since: 2, frame: 4 };
    expect(await ongoingAt(closeWait, closed, [2.999999, 3])).toEqual([[], [c]]);
    const halfClosed = new TcpScript().handshake(1).fin(2, "client").ack(2, "server").data(2.5, "server", 10);
    const h = { kind: "close-wait", dir: 1, since: 2.5, frame: 4 };
    expect(await ongoingAt(closeWait, halfClosed, [3.5, 12.499999, 12.5])).toEqual([[], [], [h]]);
    // A client the server closed on is a lazy close for 10 s (LAZY_CLOSE_SEC): pools sweep on a timer.
    const pooled = new TcpScript().handshake(1).fin(2, "server").ack(2, "client");
    const p = { kind: "close-wait", dir: 0, since: 2, frame: 4 };
    expect(await ongoingAt(closeWait, pooled, [3, 11.999999, 12])).toEqual([[], [], [p]]);
  });

  it("connect-timeout: from the first re-sent SYN until twice the last interval plus 0.5 s have passed", async () => {
    const s = new TcpScript();
    for (const t of [1, 2]) s.segment(t, "client", { seq: 1000, ack: 0, flags: SYN });
    const c = { kind: "connect-timeout", dir: 0, since: 1, frame: 1 };
    expect(await ongoingAt(connectTimeout, s, [2, 4.5, 4.500001])).toEqual([[c], [c], []]);
  });
});
