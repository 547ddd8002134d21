#!/usr/bin/env bash
# Records the loopback traffic of a command with tcpdump, for `sockscope check`.
#
#   examples/record.sh CAPTURE.pcap 'FILTER' -- COMMAND [ARGS...]
#   examples/record.sh captures/integration.pcap 'tcp port 8080 or tcp port 5432' -- npm run test:integration
#
# tcpdump needs root (or CAP_NET_RAW): as a normal user the script runs it with sudo;
# COMMAND itself runs as you. Exits with COMMAND's status; the capture is complete
# (tcpdump stopped with SIGINT, packets flushed) either way, so a failing test can still
# be checked and its capture kept as a CI artifact.
set -euo pipefail

if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: $0 CAPTURE.pcap 'FILTER' -- COMMAND [ARGS...]" >&2
  exit 2
fi
capture=$1 filter=$2
shift 3

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
mkdir -p "$(dirname "$capture")"
log=$(mktemp)

# -U: write each packet as it comes; -Z: the file belongs to you, not root.
"${sudo[@]}" tcpdump -i lo -U -n -Z "$(id -un)" -w "$capture" "$filter" 2>"$log" &
tcpdump_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$log" && break
  kill -0 "$tcpdump_pid" 2>/dev/null || { cat "$log" >&2; exit 2; }
  sleep 0.1
done

status=0
"$@" || status=$?

sleep 1   # the last FIN/ACKs of connections the command closed on its way out
"${sudo[@]}" kill -INT "$tcpdump_pid" 2>/dev/null || true
wait "$tcpdump_pid" 2>/dev/null || true
grep -E "packets? captured" "$log" >&2 || true
rm -f "$log"
exit "$status"
