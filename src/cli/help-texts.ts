/**
 * Help texts of the commands whose code loads on demand (live, interfaces, check): kept
 * apart so `sockscope --help` and `analyze` don't load libpcap bindings or the checker.
 */
import { LIVE_IDLE_SEC, LIVE_LINGER_SEC, LIVE_MAX_FLOWS, LIVE_UDP_IDLE_SEC } from "../capture/live/defaults.js";
import { LIVE_SINK_HELP } from "../sink/help.js";

export const LIVE_HELP = `Usage: sockscope live [options] [-i IF] [-f FILTER | FILTER...]

Captures on a network interface and prints each finding as soon as its evidence is
complete, with its explanation; Ctrl-C (or SIGTERM, -c, --duration) ends the capture and
prints the summary report, as analyze does. Needs root or the capture capabilities.

Capture:
  -i, --interface IF       interface to capture on (sockscope interfaces lists them;
                           default: the first up non-loopback one with an address, as tcpdump)
  -f, --filter EXPR        capture filter, BPF syntax as tcpdump's ("tcp port 8080"); also
                           taken from the words after the options
  -s, --snaplen N          bytes kept per packet (default and most: 65535 with cap, 262144 with
                           tcpdump or dumpcap)
  -c, --count N            stop after N packets
  -n                       accepted as tcpdump's -n; sockscope never resolves names
      --duration S         stop after S seconds
  -w, --write FILE         also save the packets to FILE (the frame numbers of the
                           findings), complete when sockscope exits: pcapng with each
                           packet's sending process where known (epb_processid_threadid
                           and a "PID: … Cmd: …" comment); classic pcap when FILE ends
                           in .pcap
      --no-process         do not look up which program owns each socket (/proc, root)
      --via cap|tcpdump|dumpcap
                           capture backend (default tcpdump when installed, else cap):
                           tcpdump or dumpcap runs that program (kernel timestamps,
                           libpcap's drop counters; findings up to ~1 s after their
                           packets); cap is libpcap through the cap package (packets
                           stamped on delivery, at once; loses more under load and cannot
                           count the kernel's drops: README, Live capture)
  -B, --buffer-size KIB    kernel capture buffer (default 8192 KiB with tcpdump/dumpcap,
                           131072 KiB with cap, whose ring takes 64 KiB per packet)

Analysis and output:
  -F, --format text|jsonl  text (default), or one JSON object per line: each finding
                           ({"type":"finding",...}), each ongoing condition
                           ({"type":"ongoing","ongoing":true|false,...}), each ended flow
                           ({"type":"flow",...}), each second that dropped packets
                           ({"type":"drops",...}) and at the end {"type":"end",...}
                           with the capture summary
      --flow ID, --host ADDR, --port N   show only these flows (all packets are analysed and saved)
      --brief              findings without explanations
      --idle-timeout S     end a TCP flow quiet for S seconds (default ${LIVE_IDLE_SEC})
      --udp-timeout S      end a UDP flow quiet for S seconds (default ${LIVE_UDP_IDLE_SEC})
      --linger S           end a closed TCP flow quiet for S seconds (default ${LIVE_LINGER_SEC})
      --max-flows N        flows tracked at once, idle ones evicted beyond (default ${LIVE_MAX_FLOWS})
      --msl, --frag-timeout, --max-frag-datagrams, --max-frag-bytes   as for analyze
${LIVE_SINK_HELP}
  -q, --quiet              no status lines on stderr, no ended-flow or "[over]" lines
      --no-color           no colours (also: NO_COLOR=1)

Findings reported while a flow is open (rst-after-fin, abortive-close, time-wait, ...)
print at once; the others when their flow ends: closed and quiet for
--linger, or idle for --idle-timeout, or at the end of the capture (those in time order).
A connection stuck meanwhile is shown while it is stuck, marked "[ongoing 1.2s]": a zero
window held 1 s, connect() unanswered after a SYN retransmission, data re-sent and
unacknowledged for 3 s, CLOSE_WAIT for 1 s; "[over]" if it ends while the flow goes on.`;

export const INTERFACES_HELP = `Usage: sockscope interfaces [--format text|json]

Lists the interfaces a live capture can open (libpcap's list through cap, with pseudo-devices
such as any), with their addresses, whether they are up, and which is the loopback.`;

export const CHECK_HELP = `Usage: sockscope check [options] <capture|directory>...

Checks that a capture shows the findings its expectations file says it must (and no
others), for regression tests in CI. The expectations of x.pcap are in x.expect.json
beside it (schema sockscope.expect/1, see schema/expect.schema.json and the README).
A directory is searched for *.expect.json files; each is checked with its capture. A glob
(quoted or not) names captures as files do; those without expectations are not checked.
Several captures are analysed at once, one per worker thread (--jobs).

  sockscope check run.pcap --update      write run.expect.json from what is found now (a baseline)
  sockscope check run.pcap               check it: exit 0 pass, 1 fail, 2 unusable input
  sockscope check fixtures/              check every capture with expectations, and summarise

Options:
  -e, --expect FILE        expectations file (one capture only; default <capture>.expect.json)
      --root DIR           where captures named by an expectations file's "capture" key may
                           be (default: the directory being checked; nothing outside it is read)
  -u, --update             write or refresh the expectations instead of checking: entries that
                           still hold are kept, failing ones replaced, new findings added
  -F, --format text|json|junit   report format (default text; json: schema sockscope.check/1;
                           junit: JUnit XML for CI test reports)
  -o, --output FILE        write the report to FILE instead of stdout (with json or junit,
                           the text report still goes to stdout: CI logs and test reports at once)
  -j, --jobs N             several captures: analysed at once, one thread each (default: one per core)
  -q, --quiet              no progress on stderr
      --progress           several captures: progress lines on stderr even when it is not a terminal
      --no-color           no colours (also: NO_COLOR=1)

Exit codes: 0 all expectations met, 1 a check failed, 2 usage error, unreadable capture
or invalid expectations file.`;
