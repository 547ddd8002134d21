/**
 * udp-fixed-retry's bounds, pinned from datagrams (values written out, not imported): a
 * run needs 4 sends (MIN_SENDS) and at most 100 (MAX_SENDS), gaps of at most 30 s
 * (MAX_RETRY_INTERVAL_SEC), every gap within 25 % of their mean
 * (CONSTANT_INTERVAL_TOLERANCE); any reply ends the run.
 */
import { describe, expect, it } from "vitest";
import udpFixedRetry from "../src/analyze/analyzers/udp-fixed-retry.js";
import { findingsOf } from "./helpers/tcp-script.js";
import { UdpScript } from "./helpers/udp-script.js";

/**
 * A DNS query (RFC 1035 §4.1: id, flags RD, one question "a.test" type A class IN), 24
 * bytes: its header says it wants an answer, so its repeats count as retries.
 */
const DNS_QUERY = Uint8Array.from([
  0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1,
]);

/** The client's same request at each of `times`. */
function requests(times: readonly number[], payload: string | Uint8Array = DNS_QUERY, serverAddr?: number): UdpScript {
  const s = new UdpScript(serverAddr);
  for (const t of times) s.send(t, "client", payload);
  return s;
}

const every = (n: number, gap: number, from = 1): number[] => Array.from({ length: n }, (_, i) => from + i * gap);

describe("udp-fixed-retry", () => {
  it("4 sends 1 s apart: a fixed timer", async () => {
    const [f, ...rest] = await findingsOf(udpFixedRetry, requests([1, 2, 3, 4]));
    expect(rest).toEqual([]);
    expect(f!.side).toBe("client");
    expect(f!.frames).toEqual([1, 2, 3, 4]);
    expect(f!.measure).toEqual({
      runs: 1,
      sends: 4,
      meanIntervalMs: 1000,
      minIntervalMs: 1000,
      maxIntervalMs: 1000,
      icmpErrors: 0,
      icmpPortUnreachable: 0,
    });
    expect(f!.summary).toBe("the client sent the same 24-byte DNS query 4 times every 1000 ms (±25%) with no reply");
  });

  // Discovery repeats on a timer by design and wants no one answer (issue 16): SSDP's
  // M-SEARCH to 239.255.255.250, SLP to 239.255.255.253 (zeek--conn-size-port-unreach), a
  // limited broadcast. 224.0.0.0/4 is multicast; 223.255.255.255 and 240.0.0.0 are not.
  it("the same sends to a multicast group or the broadcast address: none", async () => {
    for (const group of [0xeffffffa, 0xeffffffd, 0xe00000fb, 0xffffffff])
      expect(await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], DNS_QUERY, group))).toEqual([]);
    for (const unicast of [0xdfffffff, 0xf0000000])
      expect(await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], DNS_QUERY, unicast))).toHaveLength(1);
  });

  it("3 sends: none", async () => {
    expect(await findingsOf(udpFixedRetry, requests([1, 2, 3]))).toEqual([]);
  });

  it("100 sends: a fixed timer; 101: a periodic stream, none", async () => {
    const [f] = await findingsOf(udpFixedRetry, requests(every(100, 0.5)));
    expect(f!.measure).toMatchObject({ sends: 100, meanIntervalMs: 500 });
    expect(await findingsOf(udpFixedRetry, requests(every(101, 0.5)))).toEqual([]);
  });

  it("gaps of exactly 30 s are retries; 30.000001 s are separate uses of the flow", async () => {
    const [f] = await findingsOf(udpFixedRetry, requests(every(4, 30)));
    expect(f!.measure).toMatchObject({ sends: 4, meanIntervalMs: 30000 });
    expect(await findingsOf(udpFixedRetry, requests(every(4, 30.000001)))).toEqual([]);
  });

  it("gaps 25 % off their mean are still constant; 26 % off are not", async () => {
    // Gaps 0.75, 1.25, 1 s: mean 1 s, both extremes exactly 25 % away.
    const [f] = await findingsOf(udpFixedRetry, requests([1, 1.75, 3, 4]));
    expect(f!.measure).toMatchObject({ sends: 4, meanIntervalMs: 1000, minIntervalMs: 750, maxIntervalMs: 1250 });
    // Gaps 0.75, 1.26, 0.99 s: mean 1 s, the longest 26 % above it.
    expect(await findingsOf(udpFixedRetry, requests([1, 1.75, 3.01, 4]))).toEqual([]);
    // A doubling backoff is far outside.
    expect(await findingsOf(udpFixedRetry, requests([1, 2, 4, 8]))).toEqual([]);
  });

  it("a reply ends the run; another request starts a new one", async () => {
    const answered = requests([1, 2, 3]).send(3.5, "server", "answer");
    for (const t of [4, 5, 6]) answered.send(t, "client", DNS_QUERY);
    expect(await findingsOf(udpFixedRetry, answered)).toEqual([]);
    const other = requests([1, 2]);
    const query43 = DNS_QUERY.slice();
    query43[1] = 43;
    for (const t of [3, 4]) other.send(t, "client", query43);
    expect(await findingsOf(udpFixedRetry, other)).toEqual([]);
  });
});

// Issue: periodic announcements and keep-alives are not retries. The same datagram on a
// fixed timer counts only with evidence it asked for an answer (the ICMP case is the
// real captures' fixtures/udp-fixed-retry/refused*.pcap, test/analyzers-udp.test.ts).
describe("udp-fixed-retry needs a request that wanted an answer", () => {
  const HEARTBEAT = "HEARTBEAT node-7\n";

  it("a payload no header names, to a peer that never answers anyone: none", async () => {
    expect(await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], HEARTBEAT))).toEqual([]);
  });

  it("the peer answered on this flow, before the run or after it: a request", async () => {
    const before = new UdpScript().send(0.5, "client", "hello").send(0.6, "server", "welcome");
    for (const t of [1, 2, 3, 4]) before.send(t, "client", HEARTBEAT);
    const [f, ...rest] = await findingsOf(udpFixedRetry, before);
    expect(rest).toEqual([]);
    expect(f!.frames).toEqual([3, 4, 5, 6]);
    expect(f!.summary).toMatch(/; the server sent 1 datagram on this flow outside these runs: a peer that answers/);
    const after = requests([1, 2, 3, 4], HEARTBEAT).send(4.5, "server", "sorry, late");
    expect(await findingsOf(udpFixedRetry, after)).toHaveLength(1);
  });

  it("the peer's address and port answered another flow: a request; another port of it: none", async () => {
    const others = requests([1, 2, 3, 4], HEARTBEAT).send(2.5, "client", "status?", 40001);
    others.send(2.6, "server", "fine", 40001);
    const [f, ...rest] = await findingsOf(udpFixedRetry, others);
    expect(rest).toEqual([]);
    expect(f!.endpoint).toBe("10.0.0.1:40000");
    expect(f!.summary).toMatch(/; 10\.0\.0\.2:5353 answered other flows in this capture: a server up on that port/);
    // The other client only sent: the server answered nobody.
    const unanswered = requests([1, 2, 3, 4], HEARTBEAT).send(2.5, "client", "status?", 40001);
    expect(await findingsOf(udpFixedRetry, unanswered)).toEqual([]);
  });

  it("the other flow's client answering the server is no evidence about the server", async () => {
    // The server spoke first on the other flow, its client answered: the server answered nothing.
    const s = requests([1, 2, 3, 4], HEARTBEAT).send(2.5, "server", "ping", 40001);
    s.send(2.6, "client", "pong", 40001);
    expect(await findingsOf(udpFixedRetry, s)).toEqual([]);
  });

  it("one run's header is evidence for the direction's other runs; each is named by its own payload", async () => {
    const s = requests([1, 2, 3, 4], HEARTBEAT);
    for (const t of [5.5, 6.5, 7.5, 8.5]) s.send(t, "client", DNS_QUERY);
    const [f, ...rest] = await findingsOf(udpFixedRetry, s);
    expect(rest).toEqual([]);
    expect(f!.measure).toMatchObject({ runs: 2, sends: 8 });
    expect(f!.summary).toMatch(/^the client sent the same 17-byte request 4 times .*; 2 such runs, 8 sends in all$/);
  });

  it("a keep-alive of 4 bytes or fewer is none even to a peer that answers; a CoAP ping of 4 is a request", async () => {
    for (const k of ["\r\n\r\n", "\r\n", "\xff", "\0"]) {
      const s = new UdpScript().send(0.5, "client", "REGISTER").send(0.6, "server", "200 OK");
      for (const t of [1, 2, 3, 4]) s.send(t, "client", k);
      expect(await findingsOf(udpFixedRetry, s), JSON.stringify(k)).toEqual([]);
    }
    // Five bytes from a peer that answers: a request.
    const five = new UdpScript().send(0.5, "client", "hello").send(0.6, "server", "welcome");
    for (const t of [1, 2, 3, 4]) five.send(t, "client", "ping?");
    expect(await findingsOf(udpFixedRetry, five)).toHaveLength(1);
    // RFC 7252 §4.3: an empty Confirmable message (version 1, CON, no token, code 0.00).
    const [f] = await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], Uint8Array.from([0x40, 0, 0x12, 0x34])));
    expect(f!.summary).toMatch(/the same 4-byte CoAP ping 4 times/);
  });
});
