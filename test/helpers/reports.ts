/** Made-up report parts for tests of the renderers: a FlowReport with plain defaults. */
import type { FlowReport } from "../../src/analyze/result.js";

/** Flow `id` from `client` to `server` (ip:port), frames id*10 to id*10+9, closed by the client's FIN; `extra` overrides. */
export function flowReport(id: number, client: string, server: string, extra: Partial<FlowReport> = {}): FlowReport {
  return {
    id,
    proto: "tcp",
    client,
    server,
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
    ...extra,
  };
}
