/**
 * The measured quantities each finding kind reports (the `measure` object of its findings
 * in the JSON report), so that an expectations file naming one that does not exist
 * (`stallMax` for `stallMaxMs`) is an invalid file, exit 2, rather than a check that fails
 * on every run. Some are reported only when they apply (keep-alive intervals, a path MTU).
 *
 * Analyzers build their measures in code; test/check-measures.test.ts holds this table to
 * every finding of every fixture and corpus capture, so a measure added to an analyzer
 * without being listed here fails the tests.
 */
export const MEASURES: Readonly<Record<string, readonly string[]>> = {
  "abortive-close": [
    "peerDataUnansweredBytes",
    "sinceLastSegmentMs",
    "unackedFromResetterBytes",
    "unackedToResetterBytes",
    "unreadDataEvidence",
  ],
  "close-wait": ["closeWaitMs", "stillOpenAtEnd"],
  "connect-timeout": [
    "firstRetryMs",
    "fixedIntervalRetries",
    "lastIntervalMs",
    "queueAccepted",
    "queueDropped",
    "queueIgnoredAcks",
    "retries",
    "spanMs",
    "straySegments",
    "synCount",
  ],
  "connection-refused": [
    "accepted",
    "connectMs",
    "fallbackGapMs",
    "listenerAcceptedAfterMs",
    "listenerAcceptedBeforeMs",
    "programConnected",
    "refusals",
    "rstAfterMs",
    "synCount",
  ],
  "crafted-syn": ["craftedSyns", "distinctIsns", "spanMs"],
  // Besides the count, lost datagrams by why they were lost (decode/reassembly.ts FragmentFailure).
  "fragment-loss": [
    "capture-end",
    "evicted",
    "fragmentsSeen",
    "lostDatagrams",
    "overlap-conflict",
    "reassemblyTimeExceeded",
    "timeout",
    "too-long",
    "too-many-fragments",
  ],
  "half-close": ["bytesAfterFin", "dataAfterFinMs", "peerFinAfterMs", "segmentsAfterFin"],
  "icmp-unreachable": ["icmpCode", "icmpErrors", "icmpType", "resentSyns"],
  "hop-limit-exceeded": ["routers", "timeExceeded"],
  "port-scan": ["closed", "filtered", "foldedFindings", "open", "ports", "spanMs"],
  "ip-fragmentation": [
    "datagrams",
    "largestFragmentBytes",
    "maxFragmentsPerDatagram",
    "maxPayloadBytes",
    "minPayloadBytes",
    "safePayloadBytes",
  ],
  keepalive: ["answered", "idleMs", "intervalMs", "maxIdleMs", "probes", "retryIntervalMs", "timeoutMs", "unanswered"],
  "nagle-delay": ["events", "stallAvgMs", "stallMaxMs", "stallTotalMs"],
  "path-mtu": ["icmpErrors", "pathMtu"],
  "peer-unresponsive": [
    "endedByRst",
    "firstGapMs",
    "lastGapMs",
    "maxGapMs",
    "peerSegmentsDuring",
    "peerSilentMs",
    "retries",
    "senderClosed",
    "unackedDataBytes",
    "unresponsiveMs",
  ],
  "reset-by-peer-reboot": [
    "hostConnectionsReset",
    "idleBeforeMs",
    "retransmissionsDuringSilence",
    "silenceMs",
    "unackedBytes",
  ],
  retransmission: [
    "bytes",
    "duplicates",
    "fast",
    "needless",
    "other",
    "refusedSynRetries",
    "retransmissions",
    "rto",
    "rtoMaxWaitMs",
    "segmentsSent",
    "spurious",
  ],
  "rst-after-fin": ["bytesAfterFin", "writerClosed"],
  "small-segments": [
    "avgPayloadBytes",
    "backToBack",
    "dataSegments",
    "headerOverheadPct",
    "smallBytes",
    "smallSegments",
  ],
  "syn-retransmit": [
    "completed",
    "connectMs",
    "queueAccepted",
    "queueDropped",
    "queueIgnoredAcks",
    "synAckAnswers",
    "synAckRetries",
    "synRetries",
  ],
  "time-wait-reuse": ["accepted", "bareAckThenRst", "previousFlow", "refused", "sinceCloseMs", "timeWaitMs"],
  "time-wait": ["bothHold", "closeMs", "timeWaitMs"],
  traceroute: ["routers", "targetAnswers", "timeExceeded"],
  "udp-fixed-retry": [
    "icmpErrors",
    "icmpPortUnreachable",
    "maxIntervalMs",
    "meanIntervalMs",
    "minIntervalMs",
    "runs",
    "sends",
  ],
  "unacceptable-reset": ["ignoredResets", "resetTtl", "senderTtl"],
  "urgent-data": ["urgentByteRelSeq", "urgentMarks", "urgentPointer", "urgentSegments"],
  "window-full": [
    "dataSegments",
    "maxWindowBytes",
    "minWindowBytes",
    "stallMaxMs",
    "stallTotalMs",
    "stalledPct",
    "windowFullPct",
    "windowFullSegments",
  ],
  "zero-window": [
    "episodes",
    "longestMs",
    "probes",
    "stallTotalMs",
    "stalls",
    "stillZeroAtEnd",
    "totalMs",
    "zeroWindowFrames",
  ],
};

/** The measures a finding of `kind` can have; every kind's when no kind is given. */
export function measuresOf(kind: string | undefined): readonly string[] {
  if (kind !== undefined) return MEASURES[kind] ?? [];
  return [...new Set(Object.values(MEASURES).flat())].sort();
}
