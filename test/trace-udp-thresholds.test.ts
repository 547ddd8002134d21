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

/** The client's same request at each of `times`. */
function requests(times: readonly number[], payload = "query 42", serverAddr?: number): UdpScript {
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
    expect(f!.summary).toContain("sent the same 8-byte request 4 times every 1000 ms (±25%) with no reply");
  });

  // Discovery repeats on a timer by design and wants no one answer (issue 16): SSDP's
  // M-SEARCH to 239.255.255.250, SLP to 239.255.255.253 (zeek--conn-size-port-unreach), a
  // limited broadcast. 224.0.0.0/4 is multicast; 223.255.255.255 and 240.0.0.0 are not.
  it("the same sends to a multicast group or the broadcast address: none", async () => {
    for (const group of [0xeffffffa, 0xeffffffd, 0xe00000fb, 0xffffffff])
      expect(await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], "M-SEARCH", group))).toEqual([]);
    for (const unicast of [0xdfffffff, 0xf0000000])
      expect(await findingsOf(udpFixedRetry, requests([1, 2, 3, 4], "M-SEARCH", unicast))).toHaveLength(1);
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
    for (const t of [4, 5, 6]) answered.send(t, "client", "query 42");
    expect(await findingsOf(udpFixedRetry, answered)).toEqual([]);
    const other = requests([1, 2]);
    for (const t of [3, 4]) other.send(t, "client", "query 43");
    expect(await findingsOf(udpFixedRetry, other)).toEqual([]);
  });
});
