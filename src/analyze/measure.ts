/** Units for measured quantities in findings: milliseconds with microsecond resolution. */
export function ms(seconds: number): number {
  return Math.round(seconds * 1e6) / 1e3;
}

/** Seconds rounded to milliseconds, for long spans. */
export function sec(seconds: number): number {
  return Math.round(seconds * 1e3) / 1e3;
}

/** Which role a direction's sender has, for summaries. */
export function roleOf(dir: number): "client" | "server" {
  return dir === 0 ? "client" : "server";
}
