import type { Flow } from "../../decode/flow/record.js";
import { MAX_EVIDENCE_FRAMES } from "../finding.js";
import type { FindingSink } from "../analyzer.js";

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
 * Frames an analyzer hands to the sink per finding. The sink tags every one of them
 * (per-frame output, agreement with tshark) and keeps the first MAX_EVIDENCE_FRAMES in
 * the finding; the bound only stops a hostile capture from growing the lists without
 * limit (100 000 frames are under a megabyte), the finding's count goes on.
 */
export const MAX_TAGGED_FRAMES = Math.max(100_000, MAX_EVIDENCE_FRAMES);

/**
 * Appends a tagged frame (once, in order) unless the list already holds `cap`; returns the
 * list to keep, a new array in place of the shared NO_FRAMES.
 */
export function keepFrame(frames: readonly number[], frame: number, cap = MAX_TAGGED_FRAMES): readonly number[] {
  if (frames.length >= cap || frames[frames.length - 1] === frame) return frames;
  if (frames === NO_FRAMES) return [frame];
  (frames as number[]).push(frame);
  return frames;
}

/**
 * The evidence list of a flow side that has none yet: shared, so the many flows where an
 * analyzer never fires cost no array (keepFrame makes one on the first frame).
 */
export const NO_FRAMES: readonly number[] = Object.freeze([]);

/** "frame 12" or "frames 12–40", for summaries. */
export function frameSpan(first: number, last: number): string {
  return first === last || last === 0 ? `frame ${first}` : `frames ${first}–${last}`;
}

/**
 * Slack on top of twice the last retry interval before a sender counts as having stopped
 * retrying: a retransmission timer at most doubles, give or take timer and scheduling
 * delay (tens of ms), so half a second past twice the interval is decisive.
 */
export const NEXT_RETRY_SLACK_SEC = 0.5;

/** Whether retries `lastIntervalSec` apart, the last at `lastTime`, had stopped by `now` (see NEXT_RETRY_SLACK_SEC). */
export function retriesStopped(lastTime: number, lastIntervalSec: number, now: number): boolean {
  return now - lastTime > 2 * lastIntervalSec + NEXT_RETRY_SLACK_SEC;
}

/** The current capture time (the end of the capture when flows end with it), never before the flow's last packet. */
export function captureNow(out: FindingSink, flow: Flow): number {
  return Math.max(out.time, flow.lastTime);
}
