/**
 * connection-refused: the client's SYN is answered by RST (+ACK) and no SYN-ACK ever came
 * from that side: nothing was listening on the port (RFC 9293 §3.10.7.1, a SYN to a
 * CLOSED port draws a reset).
 */
import { defineAnalyzer } from "../analyzer.js";
import { ms } from "../lib/measure.js";
import { DIR_CLIENT, DIR_SERVER } from "../../decode/flow/record.js";
import { TH_RST } from "../../decode/wire/packet.js";

const analyzer = defineAnalyzer<null>({
  id: "connection-refused",
  title: "connect() refused: the SYN was answered by a reset",
  severity: "error",
  family: "tcp-opening",
  wire: "The client's SYN is answered by RST+ACK from the server's address; no SYN-ACK is ever sent.",
  explanation:
    "The client called connect() to a port where no socket was listening: the server process was not running, " +
    "had not yet called listen(), listened on another address or port (127.0.0.1 versus ::1 or 0.0.0.0), " +
    "or its listening socket had just been closed. The server's kernel answered the SYN with a reset, so " +
    "connect() failed at once with ECONNREFUSED (a non-blocking connect reports it through SO_ERROR after " +
    "select()/poll() says the socket is writable). Check that the server is up and bound to the address " +
    "and port the client uses (ss -ltn); a client that starts before its server should retry with a delay.",
  references: ["000 §3.7", "003 connect()"],
  // Only a RST can refuse.
  wakeOn: TH_RST,
  onTcpSegment(_s, flow, seg, _p, out) {
    if (!(seg.flags & TH_RST) || seg.dir !== DIR_SERVER) return;
    const client = flow.ep[DIR_CLIENT],
      server = flow.ep[DIR_SERVER];
    if (!client.synSeen || server.synSeen || server.rstFrame !== seg.frame) return;
    out.report(analyzer, {
      flow,
      dir: DIR_CLIENT,
      frames: [client.synFrame, seg.frame],
      time: client.synTime,
      summary:
        `connect() to ${flow.endpointName("server")} refused: SYN (frame ${client.synFrame}) answered by RST ` +
        `after ${ms(seg.time - client.synTime)} ms`,
      measure: { rstAfterMs: ms(seg.time - client.synTime), synCount: client.synCount },
    });
  },
});
export default analyzer;
