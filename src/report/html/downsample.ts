/**
 * Which collected packets each flow's graphs draw, so that a report stays a few MB and
 * opens quickly whatever the capture's size.
 *
 * The rule (also in the README, "HTML report"):
 * - the report draws at most POINT_BUDGET packets in all; flows with findings share up to
 *   FINDING_SHARE of it first, at most FLOW_POINTS_MAX each, then the other flows share
 *   what is left, at most OTHER_FLOW_POINTS_MAX each (max-min fair: small flows get all
 *   their packets, big ones equal shares);
 * - a flow over its share keeps, in this order: its first and last packet, the frames its
 *   findings cite (up to a quarter of the share), the notable packets (SYN, FIN, RST, old
 *   data, zero windows and the window reopening; together up to half the share), then,
 *   per direction, for each of at least share/8 equal time slices (doubled while the
 *   picks still fit), the slice's first and last packet, the one with the lowest window
 *   and the one with the most bytes in flight (the M4 rule: the drawn lines keep their
 *   envelope at screen resolution).
 */
import type { FlowSeriesSet } from "./series-set.js";
import { META_DIR, META_NOTABLE } from "./series-set.js";

export const POINT_BUDGET = 150_000;
export const FINDING_SHARE = 0.75;
export const FLOW_POINTS_MAX = 4_000;
export const OTHER_FLOW_POINTS_MAX = 1_000;

/** Max-min fair shares of `budget` for flows of the given sizes, each at most `cap`. */
export function fairShares(sizes: readonly number[], budget: number, cap: number): number[] {
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[a]! - sizes[b]!);
  const out = new Array<number>(sizes.length).fill(0);
  let left = Math.max(0, Math.floor(budget));
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const fair = Math.floor(left / (order.length - k));
    const give = Math.min(sizes[i]!, cap, fair);
    out[i] = give;
    left -= give;
  }
  return out;
}

/** Share of the budget per flow id (flows with findings first). */
export function allocate(
  flowIds: readonly number[],
  withFindings: ReadonlySet<number>,
  sizeOf: (id: number) => number,
  budget = POINT_BUDGET,
): Map<number, number> {
  const hot = flowIds.filter((id) => withFindings.has(id));
  const cold = flowIds.filter((id) => !withFindings.has(id));
  const hotShares = fairShares(hot.map(sizeOf), budget * FINDING_SHARE, FLOW_POINTS_MAX);
  let used = 0;
  const out = new Map<number, number>();
  hot.forEach((id, i) => {
    out.set(id, hotShares[i]!);
    used += hotShares[i]!;
  });
  const coldShares = fairShares(cold.map(sizeOf), budget - used, OTHER_FLOW_POINTS_MAX);
  cold.forEach((id, i) => {
    out.set(id, coldShares[i]!);
  });
  return out;
}

/** Keeps about every (n / k)-th of `idx` (k of them, first included). */
function spread(idx: number[], k: number): number[] {
  if (idx.length <= k) return idx;
  if (k <= 0) return [];
  const out: number[] = [];
  const step = idx.length / k;
  for (let j = 0; j < k; j++) out.push(idx[Math.floor(j * step)]!);
  return out;
}

/**
 * Picks at most `share` of a flow's rows (positions into `rows`, which is sorted by time),
 * by the rule above. Returns ascending positions.
 */
export function selectRows(
  s: FlowSeriesSet,
  rows: Uint32Array,
  share: number,
  evidence: ReadonlySet<number>,
): number[] {
  const n = rows.length;
  if (n <= share) return Array.from({ length: n }, (_, i) => i);
  if (share <= 0) return [];
  const keep = new Uint8Array(n);
  let kept = 0;
  const take = (pos: number): void => {
    if (keep[pos] === 0) {
      keep[pos] = 1;
      kept++;
    }
  };
  take(0);
  if (share > 1) take(n - 1);
  const ev: number[] = [],
    notable: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    if (evidence.has(s.frame[r]!)) ev.push(k);
    else if (s.meta[r]! & META_NOTABLE) notable.push(k);
  }
  for (const k of spread(ev, Math.floor(share / 4))) take(k);
  for (const k of spread(notable, Math.max(0, Math.floor(share / 2) - kept))) take(k);
  // Time slices: start at (share left) / 8 per direction; slices whose four picks coincide
  // (e.g. UDP, where window and bytes in flight are constant) leave budget unused, so
  // double the slices while the picks still fit.
  const base = keep.slice();
  let best: Uint8Array | null = null;
  for (let slices = Math.max(1, Math.floor((share - kept) / 8)); slices <= n; slices *= 2) {
    const trial = base.slice();
    const count = m4(s, rows, slices, trial, kept);
    if (count > share) break;
    best = trial;
    if (count >= share * 0.9) break;
  }
  if (best !== null) keep.set(best);
  const out: number[] = [];
  for (let k = 0; k < n; k++) if (keep[k]) out.push(k);
  return out;
}

/** Marks, per direction and time slice, the first, last, lowest-window and most-in-flight row; returns the marked count. */
function m4(s: FlowSeriesSet, rows: Uint32Array, slices: number, keep: Uint8Array, kept: number): number {
  const n = rows.length;
  const t0 = s.time[rows[0]!]!,
    span = s.time[rows[n - 1]!]! - t0 || 1;
  const first = new Int32Array(slices),
    last = new Int32Array(slices),
    minWin = new Int32Array(slices),
    maxFl = new Int32Array(slices);
  for (let dir = 0; dir < 2; dir++) {
    first.fill(-1);
    last.fill(-1);
    minWin.fill(-1);
    maxFl.fill(-1);
    for (let k = 0; k < n; k++) {
      const r = rows[k]!;
      if ((s.meta[r]! & META_DIR) !== dir) continue;
      const b = Math.min(slices - 1, Math.floor(((s.time[r]! - t0) / span) * slices));
      if (first[b] === -1) first[b] = k;
      last[b] = k;
      if (minWin[b] === -1 || s.win[r]! < s.win[rows[minWin[b]!]!]!) minWin[b] = k;
      if (maxFl[b] === -1 || s.inFlight[r]! > s.inFlight[rows[maxFl[b]!]!]!) maxFl[b] = k;
    }
    for (let b = 0; b < slices; b++) {
      for (const k of [first[b]!, last[b]!, minWin[b]!, maxFl[b]!])
        if (k >= 0 && keep[k] === 0) {
          keep[k] = 1;
          kept++;
        }
    }
  }
  return kept;
}
