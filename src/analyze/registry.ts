/**
 * Every analyzer, in catalogue order. Adding a kind: one module in `analyzers/`, one line
 * here, fixtures under `fixtures/<kind>/`; test/registry.test.ts checks all three exist.
 */
import type { AnalyzerDescriptor } from "./analyzer.js";
import connectionRefused from "./analyzers/connection-refused.js";
import zeroWindow from "./analyzers/zero-window.js";
import rstAfterFin from "./analyzers/rst-after-fin.js";
// imports: opening/closing (keep one line per analyzer)
import connectTimeout from "./analyzers/connect-timeout.js";
import synRetransmit from "./analyzers/syn-retransmit.js";
import timeWaitReuse from "./analyzers/time-wait-reuse.js";
import abortiveClose from "./analyzers/abortive-close.js";
import halfClose from "./analyzers/half-close.js";
import closeWait from "./analyzers/close-wait.js";
import timeWait from "./analyzers/time-wait.js";
import resetByPeerReboot from "./analyzers/reset-by-peer-reboot.js";
// imports: transfer (keep one line per analyzer)
import nagleDelay from "./analyzers/nagle-delay.js";
import smallSegments from "./analyzers/small-segments.js";
import windowFull from "./analyzers/window-full.js";
import retransmission from "./analyzers/retransmission.js";
import peerUnresponsive from "./analyzers/peer-unresponsive.js";
import keepalive from "./analyzers/keepalive.js";
import urgentData from "./analyzers/urgent-data.js";
import ipFragmentation from "./analyzers/ip-fragmentation.js";
import fragmentLoss from "./analyzers/fragment-loss.js";
import icmpUnreachable from "./analyzers/icmp-unreachable.js";
import hopLimitExceeded from "./analyzers/hop-limit-exceeded.js";
import udpFixedRetry from "./analyzers/udp-fixed-retry.js";
import unacceptableReset from "./analyzers/unacceptable-reset.js";
import craftedSyn from "./analyzers/crafted-syn.js";
import traceroute from "./analyzers/traceroute.js";
import portScan from "./analyzers/port-scan.js";
import pathMtu from "./analyzers/path-mtu.js";

export const ANALYZERS: AnalyzerDescriptor<any>[] = [
  // TCP: opening
  connectionRefused,
  portScan,
  // entries: opening
  connectTimeout,
  synRetransmit,
  timeWaitReuse,
  // TCP: data transfer
  zeroWindow,
  // entries: transfer
  nagleDelay,
  smallSegments,
  windowFull,
  retransmission,
  peerUnresponsive,
  keepalive,
  urgentData,
  // TCP: closing
  rstAfterFin,
  // entries: closing
  abortiveClose,
  halfClose,
  closeWait,
  timeWait,
  resetByPeerReboot,
  // UDP, IP and ICMP
  ipFragmentation,
  fragmentLoss,
  icmpUnreachable,
  hopLimitExceeded,
  udpFixedRetry,
  unacceptableReset,
  craftedSyn,
  traceroute,
  pathMtu,
];
