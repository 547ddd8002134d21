#!/usr/bin/env python3
"""Sends COUNT UDP datagrams of SIZE payload bytes to HOST:PORT at RATE per second
(paced in 1 ms slices, so the rate holds on average over every millisecond), then prints
how many were sent and the achieved rate. Used by test/live-drops.test.ts and
bench/live-loss.sh to offer a capture a known number of packets at a known rate."""
import socket, sys, time

host, port, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
size = int(sys.argv[5]) if len(sys.argv) > 5 else 64
# A bound sink, never read: the kernel queues then drops the datagrams at the socket
# (after the capture saw them) instead of answering each with an ICMP port unreachable.
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sink.bind((host, port))
except OSError:
    pass  # not a local address: the peer answers (or not) as it will
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b"x" * size
start = time.perf_counter()
sent = 0
while sent < count:
    # Packets due by now; a late slice catches up at once (the kernel then sees a burst).
    due = min(count, int((time.perf_counter() - start) * rate) + 1)
    while sent < due:
        s.sendto(payload, (host, port))
        sent += 1
    if sent < count:
        time.sleep(max(0.0, min(0.001, (sent + 1) / rate - (time.perf_counter() - start))))
took = time.perf_counter() - start
print(f"{sent} {took:.3f} {sent / took if took > 0 else 0:.0f}")
