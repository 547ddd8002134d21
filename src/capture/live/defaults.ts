/** Live capture defaults (their own module: the help text quotes them without loading the capture code). */

/** Defaults, in seconds. */
export const LIVE_LINGER_SEC = 1;
/** Above Linux's largest retransmission backoff (TCP_RTO_MAX, 120 s) and keep-alive probe gaps as commonly set. */
export const LIVE_IDLE_SEC = 300;
/** As Zeek's udp_inactivity_timeout; Linux conntrack forgets an unanswered UDP flow after 30 s. */
export const LIVE_UDP_IDLE_SEC = 60;
/** Flows tracked at once in a live capture (each costs several KB with its analyzers' state: docs/PERFORMANCE.md). */
export const LIVE_MAX_FLOWS = 100_000;
