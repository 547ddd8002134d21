/**
 * port-scan: one host probing many ports of another with a SYN each, and never using a
 * connection: a SYN scan (`nmap -sS`, masscan, or a hand-written one). No program called
 * connect() on these flows, so none of them is a refused, slow or timed-out connect, a
 * loss on the path or a full accept queue. Recognised across flows, after the analysis
 * (analyze/port-scans.ts, which folds the probes' own findings into this one); this module
 * carries the catalogue entry only.
 */
import { defineAnalyzer } from "../analyzer.js";

const analyzer = defineAnalyzer<null>({
  id: "port-scan",
  title: "A port scan: one SYN to each of many ports, no connection used",
  severity: "info",
  family: "tcp-opening",
  wire:
    "From one source, SYNs to ten or more ports of one target, each flow no more than the SYN (and a RST after a " +
    "SYN-ACK), no data either way.",
  explanation:
    "A program writing raw packets (a scanner such as nmap -sS or masscan) sent one SYN to each port and read the " +
    "answers itself: a SYN-ACK means something listens there (open), a RST that nothing does (closed), silence that a " +
    "firewall drops the probes (filtered). The scanner's own kernel, which has no socket for those SYNs, answers each " +
    "SYN-ACK with a RST, so no connection is ever completed: a half-open scan. No connect() was called, so nothing " +
    "here was refused, slow or lost for any program; on the target, the listening programs never see the probes " +
    "(accept() does not return). If the scan is unexpected, it is a security matter: who runs it, and from where.",
  references: ["000 §3.7"],
});
export default analyzer;
