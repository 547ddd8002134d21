/**
 * Capture timestamps as people read them. A capture can hold any 64-bit count of ticks
 * (pcapng: 2^64−1 µs is 584 542 years; with if_tsresol 2^0 and if_tsoffset far more),
 * while a JavaScript Date holds ±8.64e15 ms around 1970: such a time is printed as the
 * number of seconds it is, never thrown on.
 */

/** The largest |seconds since the epoch| a Date can hold (ECMA-262 §21.4.1.22: 8.64e15 ms). */
export const MAX_CALENDAR_SEC = 8.64e12;

/** "2023-11-14 22:13:20.000 UTC", or "18446744073709.55 s since the epoch (beyond the calendar)"; "-" for none. */
export function isoTime(t: number | null): string {
  if (t === null) return "-";
  if (!Number.isFinite(t) || Math.abs(t) > MAX_CALENDAR_SEC) return `${t} s since the epoch (beyond the calendar)`;
  return new Date(t * 1000).toISOString().replace("T", " ").replace("Z", " UTC");
}
