/**
 * The typed columns open connections keep their endpoints' numbers in (issue 17:
 * decode/flow/columns.ts, read through TcpEndpoint): what is written through a view
 * reads back the same, whichever chunk holds it, and a new slot starts where a plain
 * object's fields did.
 */
import { describe, expect, it } from "vitest";
import { EndpointStore } from "../src/decode/flow/columns.js";
import { TcpEndpoint } from "../src/decode/flow/record.js";

describe("TcpEndpoint over EndpointColumns", () => {
  it("starts at the plain fields' values and keeps every write, across chunks", () => {
    const store = new EndpointStore();
    const eps = Array.from({ length: 1000 }, () => {
      const chunk = store.withRoom(1);
      return new TcpEndpoint(chunk, chunk.take());
    });
    const first = eps[0]!;
    expect([first.seen, first.wscale, first.mss, first.synWindow, first.winMultiplier, first.lastDataTime]).toEqual([
      false,
      -1,
      -1,
      -1,
      1,
      -1,
    ]);
    expect(first.synOptionLayout).toBe("");
    eps.forEach((ep, i) => {
      ep.isn = 0xfffffff0 + (i % 16); // raw 32-bit sequence numbers above 2^31
      ep.finTime = 1700000000.123456 + i;
      ep.synCount++;
      ep.ackSeen = i % 2 === 0;
      ep.timestamps = true;
      ep.synOptionLayout = `L${i}`;
    });
    // Spread over chunks of 16, 32, ... 512 slots, each written while the next was made.
    for (let i = 0; i < 1000; i += 111) {
      const ep = eps[i]!;
      expect([ep.isn, ep.finTime, ep.synCount, ep.ackSeen, ep.timestamps, ep.seen]).toEqual([
        0xfffffff0 + (i % 16),
        1700000000.123456 + i,
        1,
        i % 2 === 0,
        true,
        false,
      ]);
      expect(ep.synOptionLayout).toBe(`L${i}`);
    }
  });
});
