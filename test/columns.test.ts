/**
 * The typed columns open connections keep their numbers in (issue 17): the endpoints'
 * (decode/flow/columns.ts, read through TcpEndpoint) and the analyzers' per-side records
 * (analyze/lib/side-columns.ts). What is written through a view reads back the same
 * after the columns grew, a freed slot comes back at its initial values, and a field
 * declared 32-bit must start as one.
 */
import { describe, expect, it } from "vitest";
import { EndpointColumns } from "../src/decode/flow/columns.js";
import { TcpEndpoint } from "../src/decode/flow/record.js";
import { SideColumns } from "../src/analyze/lib/side-columns.js";

describe("TcpEndpoint over EndpointColumns", () => {
  it("starts at the plain fields' values and keeps every write across growth", () => {
    const columns = new EndpointColumns();
    const eps = Array.from({ length: 1000 }, () => new TcpEndpoint(columns, columns.take()));
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
    // The columns grew from 16 slots to 1024 while the loop above was already writing.
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

describe("SideColumns", () => {
  const RECORD = { count: 0, since: -1, frame: 0, seen: false, frames: [] as readonly number[] };

  it("reads back what was written, side by side, after growing; a freed slot is reused at its initial values", () => {
    const c = new SideColumns(RECORD, { uint32: ["count", "frame"] });
    const slots = Array.from({ length: 100 }, () => c.take());
    for (const slot of slots) {
      const [client, server] = c.pair(slot);
      client!.count = slot + 1;
      server!.since = slot + 0.5;
      server!.frame = 0xffffffff;
      client!.seen = true;
      server!.frames = [slot];
    }
    const [client, server] = c.pair(42);
    expect([client!.count, client!.since, client!.seen, client!.frames]).toEqual([43, -1, true, []]);
    expect([server!.count, server!.since, server!.frame, server!.seen, server!.frames]).toEqual([
      0,
      42.5,
      0xffffffff,
      false,
      [42],
    ]);
    c.free(42);
    expect(c.take()).toBe(42);
    const [again] = c.pair(42);
    expect([again!.count, again!.since, again!.seen, again!.frames]).toEqual([0, -1, false, []]);
    // Its neighbours kept theirs.
    expect(c.pair(43)[0]!.count).toBe(44);
  });

  it("a field declared 32-bit must start at an integer from 0 to 2^32 − 1", () => {
    expect(() => new SideColumns(RECORD, { uint32: ["since"] })).toThrow(/since/);
  });
});
