import { MAX_EVIDENCE_FRAMES } from "./finding.js";

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

/**
 * Appends an evidence frame unless the list already holds as many as a finding keeps
 * (MAX_EVIDENCE_FRAMES): findings keep the first frames and report the full count.
 */
export function keepFrame(frames: number[], frame: number, cap = MAX_EVIDENCE_FRAMES): void {
  if (frames.length < cap && frames[frames.length - 1] !== frame) frames.push(frame);
}

/** "frame 12" or "frames 12–40", for summaries. */
export function frameSpan(first: number, last: number): string {
  return first === last || last === 0 ? `frame ${first}` : `frames ${first}–${last}`;
}
