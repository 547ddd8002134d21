/**
 * The clock live packets are stamped with when the capture library gives no timestamp
 * (the cap backend): a monotonic clock (performance.now, CLOCK_MONOTONIC) mapped to wall
 * time once, at start. Monotonic, so stamps never go backwards when NTP steps the wall
 * clock; NTP's slewing moves both clocks alike, so the mapping holds for hours. Stamps
 * are taken when a packet is delivered to us, later than the kernel's own timestamp by
 * the delivery latency (measured in test/live.test.ts; docs/PERFORMANCE.md "Live capture").
 */
export class LiveClock {
  private readonly wallMs: number;
  private readonly monoMs: number;

  constructor() {
    [this.wallMs, this.monoMs] = anchor();
  }

  /** Milliseconds since the epoch, monotonic, sub-millisecond. */
  nowMs(): number {
    return this.wallMs + (performance.now() - this.monoMs);
  }

  /** Seconds since the epoch. */
  now(): number {
    return this.nowMs() / 1000;
  }

  /**
   * How far the wall clock has moved away from this mapping since the start (ms; + : wall
   * ahead), to a few µs: anchored again the same way (Date.now() alone is whole ms).
   */
  wallOffsetMs(): number {
    const [wallMs, monoMs] = anchor();
    return wallMs - (this.wallMs + (monoMs - this.monoMs));
  }
}

/**
 * A wall-clock millisecond edge and the monotonic time it happened at: [wallMs, monoMs].
 * The edge lies between the last read that returned the old millisecond and the first
 * that returned the new one, so the pair is exact to a few microseconds rather than to
 * the millisecond. Five edges (~5 ms), keeping the narrowest bracket: a preemption inside
 * one bracket would otherwise put everything mapped with it off by as much.
 */
function anchor(): [number, number] {
  let bestWidth = Infinity,
    wallMs = 0,
    monoMs = 0;
  for (let i = 0; i < 5; i++) {
    const first = Date.now();
    let prev = performance.now(),
      before = prev,
      wall = first,
      after = prev;
    while (wall === first) {
      prev = before;
      before = performance.now();
      wall = Date.now();
      after = performance.now();
    }
    if (after - prev < bestWidth) {
      bestWidth = after - prev;
      wallMs = wall;
      monoMs = (prev + after) / 2;
    }
  }
  return [wallMs, monoMs];
}

/** Splits milliseconds since the epoch into whole seconds and nanoseconds. */
export function splitMs(ms: number): [sec: number, nsec: number] {
  let sec = Math.floor(ms / 1000);
  let nsec = Math.round((ms - sec * 1000) * 1e6);
  if (nsec >= 1e9) {
    sec++;
    nsec -= 1e9;
  }
  return [sec, nsec];
}
