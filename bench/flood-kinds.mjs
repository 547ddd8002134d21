#!/usr/bin/env node
// node bench/flood-kinds.mjs KIND OUT.pcap COUNT
//
// Writes the attack floods the flow table and the fragment reassembler are bounded
// against (bench/flood.mjs writes whole connections). A classic pcap (little endian, µs,
// Ethernet), one packet per microsecond, valid IPv4/TCP checksums:
//   syn   COUNT SYNs to 10.255.255.1:80, each from its own client address and port, never
//         answered: COUNT half-open connections, none ever idle long enough to evict
//   frags COUNT first fragments (MF set, offset 0, 1 000 bytes of UDP) of COUNT datagrams
//         whose other fragments never come: every one waits in the reassembler
// Measure with: /usr/bin/time -v node dist/cli/main.js analyze -F json -q -o /dev/null OUT.pcap
import { openSync, writeSync, closeSync } from "node:fs";

const [kind, outPath, countArg] = process.argv.slice(2);
const N = Number(countArg);
if ((kind !== "syn" && kind !== "frags") || !outPath || !Number.isInteger(N) || N < 1 || N > 50000 * 0xfeff) {
  console.error("usage: node bench/flood-kinds.mjs syn|frags OUT.pcap COUNT");
  process.exit(2);
}
const PORTS_PER_IP = 50000;
const SERVER_IP = ((10 << 24) | (255 << 16) | (255 << 8) | 1) >>> 0;
const FRAG_PAYLOAD = 1000;
const BUF = 32 << 20;
const buf = Buffer.alloc(BUF);
const fd = openSync(outPath, "w");
let pos = 0;
buf.writeUInt32LE(0xa1b2c3d4, 0);
buf.writeUInt16LE(2, 4);
buf.writeUInt16LE(4, 6);
buf.writeInt32LE(0, 8);
buf.writeUInt32LE(0, 12);
buf.writeUInt32LE(262144, 16);
buf.writeUInt32LE(1, 20);
pos = 24;
const T0 = 1_700_000_000;

function flush() {
  let off = 0;
  while (off < pos) off += writeSync(fd, buf, off, pos - off);
  pos = 0;
}
function be16(o, v) {
  buf[o] = v >>> 8;
  buf[o + 1] = v & 0xff;
}
function be32(o, v) {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}
function checksum(from, to) {
  let s = 0;
  for (let k = from; k < to; k += 2) s += (buf[k] << 8) | (k + 1 < to ? buf[k + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

for (let i = 0; i < N; i++) {
  const l4Len = kind === "syn" ? 20 : 8 + FRAG_PAYLOAD;
  const frame = 14 + 20 + l4Len;
  if (pos + 16 + frame > BUF) flush();
  buf.writeUInt32LE(T0 + Math.floor(i / 1e6), pos);
  buf.writeUInt32LE(i % 1e6, pos + 4);
  buf.writeUInt32LE(frame, pos + 8);
  buf.writeUInt32LE(frame, pos + 12);
  const e = pos + 16;
  buf.fill(0, e, e + frame);
  buf[e] = 0x02;
  buf[e + 6] = 0x04;
  be16(e + 12, 0x0800);
  const ip = e + 14;
  const src = ((10 << 24) | (1 + Math.floor(i / PORTS_PER_IP))) >>> 0;
  const sport = 10000 + (i % PORTS_PER_IP);
  buf[ip] = 0x45;
  be16(ip + 2, 20 + l4Len);
  be16(ip + 4, i & 0xffff);
  // frags: MF, offset 0 (the id and the source address keep every datagram distinct)
  be16(ip + 6, kind === "syn" ? 0x4000 : 0x2000);
  buf[ip + 8] = 64;
  buf[ip + 9] = kind === "syn" ? 6 : 17;
  be32(ip + 12, src);
  be32(ip + 16, SERVER_IP);
  be16(ip + 10, checksum(ip, ip + 20));
  const l4 = ip + 20;
  be16(l4, sport);
  be16(l4 + 2, kind === "syn" ? 80 : 53);
  if (kind === "syn") {
    be32(l4 + 4, Math.imul(i + 1, 0x9e3779b1) >>> 0);
    be16(l4 + 12, (5 << 12) | 0x02);
    be16(l4 + 14, 65535);
    // TCP checksum over the pseudo header + segment
    const sum = pseudo(src, 6, 20) + raw(l4, l4 + 20);
    be16(l4 + 16, ~fold(sum) & 0xffff);
  } else {
    be16(l4 + 4, 8 + FRAG_PAYLOAD * 2); // the whole datagram's UDP length: the rest never comes
  }
  pos = e + frame;
}
flush();
closeSync(fd);
console.log(`${N} ${kind === "syn" ? "unanswered SYNs" : "first fragments never completed"}`);

function fold(s) {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
function raw(from, to) {
  let s = 0;
  for (let k = from; k < to; k += 2) s += (buf[k] << 8) | buf[k + 1];
  return s;
}
function pseudo(src, proto, len) {
  return (src >>> 16) + (src & 0xffff) + (SERVER_IP >>> 16) + (SERVER_IP & 0xffff) + proto + len;
}
