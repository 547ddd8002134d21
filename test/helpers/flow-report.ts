/** A FlowReport for tests that build results by hand: a closed TCP flow, fields overridable. */
import type { FlowReport } from "../../src/analyze/result.js";

export function flowReport(id: number, over: Partial<FlowReport> = {}): FlowReport {
  return {
    id,
    proto: "tcp",
    client: `10.0.0.1:${40000 + id}`,
    server: "10.0.0.2:80",
    rolesGuessed: false,
    vlan: null,
    firstFrame: id * 10,
    lastFrame: id * 10 + 9,
    start: 1_700_000_000 + id,
    durationSec: 1,
    packets: { client: 5, server: 5 },
    bytes: { client: 100, server: 200 },
    close: { first: "client", how: "FIN", frame: id * 10 + 7 },
    state: { client: "TIME_WAIT", server: "CLOSED" },
    previous: null,
    isn: { client: 1000 + id, server: 2000 + id },
    copyOf: null,
    notCaptured: null,
    ...over,
  };
}
