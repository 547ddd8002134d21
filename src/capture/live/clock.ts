/**
 * The clock live packets are stamped with when the capture library gives no timestamp
 * (the cap backend): a monotonic clock (performance.now, CLOCK_MONOTONIC) mapped to wall
 * time once, at start. Monotonic, so stamps never go backwards when NTP steps the wall
 * clock; NTP's slewing moves both clocks alike, so the mapping holds for hours. Stamps
 * are taken when a packet is delivered to us, later than the kernel's own timestamp by
 * the delivery latency (measured in test/live.test.ts; README "Live capture").
 */
export class LiveClock {
  private readonly wallMs: number;
  private readonly monoMs: number;

  constructor() {
    // Anchor on the edge of a Date.now() millisecond, so the mapping is exact to a few
    // microseconds rather than to the millisecond. Spins for at most ~1 ms, once.
    const first = Date.now();
    const limit = performance.now() + 2;
    let wall = first, mono = performance.now();
    while (wall === first && mono < limit) {
      mono = performance.now();
      wall = Date.now();
    }
    this.wallMs = wall;
    this.monoMs = mono;
  }

  /** Milliseconds since the epoch, monotonic, sub-millisecond. */
  nowMs(): number {
    return this.wallMs + (performance.now() - this.monoMs);
  }

  /** Seconds since the epoch. */
  now(): number {
    return this.nowMs() / 1000;
  }

  /** How far the wall clock has moved away from this mapping since the start (ms; + : wall ahead). */
  wallOffsetMs(): number {
    return Date.now() - this.nowMs();
  }
}

/** Splits milliseconds since the epoch into whole seconds and nanoseconds. */
export function splitMs(ms: number): [sec: number, nsec: number] {
  let sec = Math.floor(ms / 1000);
  let nsec = Math.round((ms - sec * 1000) * 1e6);
  if (nsec >= 1e9) { sec++; nsec -= 1e9; }
  return [sec, nsec];
}
