#!/usr/bin/env node
// node bench/sequential.mjs OUT.pcap CONNECTIONS
//
// Writes a long capture of short connections, one after another, 1 ms apart (a busy
// request/response server): each does SYN, SYN-ACK, ACK, a 100-byte request, a 200-byte
// answer, FIN, FIN, ACK. Few are open at once, so memory should follow the connections
// in progress, not the capture's length. Classic pcap, little endian, µs, Ethernet/IPv4;
// clients 10.0.0.1 and up (50 000 ports each), server 10.0.0.2:80.
import { openSync, writeSync, closeSync } from "node:fs";
const [out, nArg] = process.argv.slice(2);
const N = Number(nArg);
if (!out || !Number.isInteger(N) || N < 1) {
  console.error("usage: node bench/sequential.mjs OUT.pcap CONNECTIONS");
  process.exit(2);
}
const fd = openSync(out, "w");
const hdr = Buffer.alloc(24);
hdr.writeUInt32LE(0xa1b2c3d4, 0);
hdr.writeUInt16LE(2, 4);
hdr.writeUInt16LE(4, 6);
hdr.writeUInt32LE(65535, 16);
hdr.writeUInt32LE(1, 20);
writeSync(fd, hdr);
function pkt(buf, at, t, src, dst, sp, dp, seq, ack, flags, len) {
  const cap = 14 + 20 + 20 + len;
  const us = Math.round(t * 1e6);
  buf.writeUInt32LE(Math.floor(us / 1e6), at);
  buf.writeUInt32LE(us % 1e6, at + 4);
  buf.writeUInt32LE(cap, at + 8);
  buf.writeUInt32LE(cap, at + 12);
  let o = at + 16;
  buf.fill(0, o, o + cap);
  buf.writeUInt16BE(0x0800, o + 12);
  o += 14;
  buf[o] = 0x45;
  buf.writeUInt16BE(20 + 20 + len, o + 2);
  buf[o + 8] = 64;
  buf[o + 9] = 6;
  buf.writeUInt32BE(src, o + 12);
  buf.writeUInt32BE(dst, o + 16);
  o += 20;
  buf.writeUInt16BE(sp, o);
  buf.writeUInt16BE(dp, o + 2);
  buf.writeUInt32BE(seq >>> 0, o + 4);
  buf.writeUInt32BE(ack >>> 0, o + 8);
  buf[o + 12] = 0x50;
  buf[o + 13] = flags;
  buf.writeUInt16BE(65535, o + 14);
  return at + 16 + cap;
}
const C = 0x0a000001,
  S = 0x0a000002;
const buf = Buffer.alloc(1 << 24);
let at = 0;
for (let i = 0; i < N; i++) {
  const t = 1e9 + i * 0.001,
    cip = (C + Math.floor(i / 50000)) >>> 0,
    sp = 10000 + (i % 50000);
  at = pkt(buf, at, t, cip, S, sp, 80, 100, 0, 0x02, 0);
  at = pkt(buf, at, t + 0.0001, S, cip, 80, sp, 500, 101, 0x12, 0);
  at = pkt(buf, at, t + 0.0002, cip, S, sp, 80, 101, 501, 0x10, 0);
  at = pkt(buf, at, t + 0.0003, cip, S, sp, 80, 101, 501, 0x18, 100);
  at = pkt(buf, at, t + 0.0004, S, cip, 80, sp, 501, 201, 0x18, 200);
  at = pkt(buf, at, t + 0.0005, cip, S, sp, 80, 201, 701, 0x11, 0);
  at = pkt(buf, at, t + 0.0006, S, cip, 80, sp, 701, 202, 0x11, 0);
  at = pkt(buf, at, t + 0.0007, cip, S, sp, 80, 202, 702, 0x10, 0);
  if (at > buf.length - 4096) {
    writeSync(fd, buf, 0, at);
    at = 0;
  }
}
writeSync(fd, buf, 0, at);
closeSync(fd);
