/**
 * Findings: what the analyzers conclude, one per flow per phenomenon (not per packet).
 * Every variant has the same keys, so reports and tests treat them alike.
 */
export type Severity = "info" | "warning" | "error";
export const SEVERITY_RANK: Record<Severity, number> = { error: 3, warning: 2, info: 1 };

/** Evidence frames kept per finding; the count says how many there were in all. */
export const MAX_EVIDENCE_FRAMES = 50;

export interface Finding {
  /** Kind id from the catalogue (PHENOMENA.md), e.g. "rst-after-fin". Never renamed. */
  kind: string;
  severity: Severity;
  /** Flow id (1-based, as in the flow table), or null for capture-wide findings. */
  flow: number | null;
  /** Frames that show it, 1-based as Wireshark numbers them, ascending, capped. */
  frames: number[];
  /** How many times it happened in this flow (frames may be capped below this). */
  count: number;
  /** Capture time (seconds since the epoch) of the first frame that shows it. */
  time: number;
  /** The side whose socket did it, and that side's address:port. */
  side: "client" | "server" | null;
  endpoint: string | null;
  summary: string;
  explanation: string;
  /** Seed sections, `000 §2.7` style. */
  references: string[];
  /** Measured quantities (durations in ms, counts, bytes), keyed by name with units. */
  measure: Record<string, number>;
  /**
   * What else the words were written from, for kinds that write them at report time
   * (AnalyzerDescriptor.describe): which side held what, which frames answered, as plain
   * values. Absent for kinds that write their words when they report.
   */
  facts?: FindingFacts;
}

/** A plain value a finding's words are written from. */
export type FactValue = string | number | boolean | null;
export type FindingFacts = Record<string, FactValue>;

/** A finding's words, written from its facts (AnalyzerDescriptor.describe). */
export interface FindingWords {
  summary: string;
  /** Extra sentences for this case, put before the catalogue explanation. */
  detail?: string;
}

/**
 * Report order: by flow id, then first frame, then kind; the summary breaks the last
 * ties, so the order never depends on which analyzer (or `--jobs` worker) spoke first.
 */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    (a.flow ?? 0) - (b.flow ?? 0) ||
    (a.frames[0] ?? 0) - (b.frames[0] ?? 0) ||
    (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
    (a.summary < b.summary ? -1 : a.summary > b.summary ? 1 : 0)
  );
}
