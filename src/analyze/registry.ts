/**
 * Every analyzer, in catalogue order. Adding a kind: one module in `analyzers/`, one line
 * here, fixtures under `fixtures/<kind>/`; test/registry.test.ts checks all three exist.
 */
import type { AnalyzerDescriptor } from "./analyzer.js";
import connectionRefused from "./analyzers/connection-refused.js";
import zeroWindow from "./analyzers/zero-window.js";
import rstAfterFin from "./analyzers/rst-after-fin.js";
// imports: opening/closing (keep one line per analyzer)
// imports: transfer (keep one line per analyzer)
import ipFragmentation from "./analyzers/ip-fragmentation.js";
import fragmentLoss from "./analyzers/fragment-loss.js";
import icmpUnreachable from "./analyzers/icmp-unreachable.js";
import udpFixedRetry from "./analyzers/udp-fixed-retry.js";

export const ANALYZERS: AnalyzerDescriptor<any>[] = [
  // TCP: opening
  connectionRefused,
  // entries: opening
  // TCP: data transfer
  zeroWindow,
  // entries: transfer
  // TCP: closing
  rstAfterFin,
  // entries: closing
  // UDP, IP and ICMP
  ipFragmentation,
  fragmentLoss,
  icmpUnreachable,
  udpFixedRetry,
];
