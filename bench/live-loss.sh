#!/usr/bin/env bash
# Live capture loss at fixed packet rates, against tcpdump on the same traffic.
# In a private network namespace (root) joined by a veth pair to a second one, for each
# RATE: a plain `tcpdump -w` (the reference) and `sockscope live --via BACKEND -w` capture
# veth0 at the same time while test/helpers/send-udp.py sends COUNT datagrams at RATE/s
# to the peer (veth, not lo: on lo the kernel counts every packet twice, going out and
# coming in, and libpcap's counters with it); prints, per backend and rate,
# what was sent, what each saved, and what sockscope reported dropped.
#   sudo bash bench/live-loss.sh [BACKENDS=cap,tcpdump] [RATES=10000,50000,100000] [COUNT=100000] [extra live args...]
set -u
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--in-ns" ]; then exec unshare -n bash "$0" --in-ns "$@"; fi
shift
BACKENDS=${1:-cap,tcpdump}; RATES=${2:-10000,50000,100000}; COUNT=${3:-100000}; shift 3 2>/dev/null || shift $#
ip link set lo up
unshare -n sleep 3600 & peer=$!
sleep 0.2
ip link add veth0 type veth peer name veth1 && ip link set veth1 netns $peer
ip addr add 10.213.0.1/24 dev veth0 && ip link set veth0 up
nsenter -t $peer -n sh -c 'ip addr add 10.213.0.2/24 dev veth1 && ip link set veth1 up && ip link set lo up'
T=$(mktemp -d); trap 'rm -rf "$T"; kill $peer' EXIT
count() { tcpdump -r "$1" 2>/dev/null | wc -l; }
printf '%-8s %8s %8s %9s %10s %10s %10s %s\n' backend rate sent achieved tcpdump saved dropped "sockscope's counters"
for b in ${BACKENDS//,/ }; do for r in ${RATES//,/ }; do
  tcpdump -i veth0 -w "$T/ref.pcap" udp port 9999 2>"$T/ref.err" & ref=$!
  node dist/cli/main.js live -i veth0 --via "$b" -w "$T/ss.pcap" -F jsonl "$@" udp port 9999 >"$T/ss.out" 2>"$T/ss.err" & ss=$!
  for _ in $(seq 100); do grep -q listening "$T/ref.err" 2>/dev/null && grep -q listening "$T/ss.err" 2>/dev/null && break; sleep 0.1; done
  read -r sent took achieved < <(python3 test/helpers/send-udp.py 10.213.0.2 9999 "$COUNT" "$r")
  sleep 2
  kill -INT $ref $ss; wait $ref $ss
  end=$(grep '"type":"end"' "$T/ss.out")
  dropped=$(node -e 'const e=JSON.parse(process.argv[1]);const c=e.live.counters;console.log((c.droppedByKernel??0)+(c.droppedByInterface??0)+(c.droppedBySockscope??0))' "$end" 2>/dev/null)
  counters=$(node -e 'const e=JSON.parse(process.argv[1]);console.log(JSON.stringify(e.live.counters))' "$end" 2>/dev/null)
  printf '%-8s %8s %8s %9s %10s %10s %10s %s\n' "$b" "$r" "$sent" "$achieved" "$(count "$T/ref.pcap")" "$(count "$T/ss.pcap")" "$dropped" "$counters"
done; done
