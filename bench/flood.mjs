#!/usr/bin/env node
// node bench/flood.mjs OUT.pcap CONNECTIONS [DATA_SEGMENTS] [PAYLOAD_BYTES]
//
// Writes a flow flood: a classic pcap (little endian, µs, Ethernet) with CONNECTIONS TCP
// connections that are all open at once. Phases, each running over every connection in turn:
//   1. handshake: SYN, SYN-ACK, ACK (the three back to back for each connection)
//   2. DATA_SEGMENTS rounds (default 4): even rounds client -> server, odd rounds
//      server -> client, PSH|ACK with PAYLOAD_BYTES (default 64) bytes, each acknowledging
//      everything the peer sent before; one round per connection before the next round starts
//   3. close: client FIN|ACK round, server FIN|ACK round, client ACK round
// So a connection's segments are spread over the whole capture and every connection is
// open from the end of phase 1 until phase 3. Headers are valid: IPv4 and TCP checksums,
// consistent sequence/ack numbers, one packet per microsecond.
// Clients: 10.a.b.c (50 000 ports per address, from port 10000); server: 10.255.255.1:80.
import { openSync, writeSync, closeSync } from "node:fs";

const [outPath, connArg, segArg, payloadArg] = process.argv.slice(2);
if (!outPath || !connArg) {
  console.error("usage: node bench/flood.mjs OUT.pcap CONNECTIONS [DATA_SEGMENTS=4] [PAYLOAD_BYTES=64]");
  process.exit(2);
}
const N = Number(connArg);
const D = segArg === undefined ? 4 : Number(segArg);
const P = payloadArg === undefined ? 64 : Number(payloadArg);
if (!Number.isInteger(N) || N < 1 || N > 50000 * 0xfeff) throw new Error(`bad connection count ${connArg}`);
if (!Number.isInteger(D) || D < 0) throw new Error(`bad data segment count ${segArg}`);
if (!Number.isInteger(P) || P < 1 || P > 1460) throw new Error(`bad payload size ${payloadArg}`);

const PORTS_PER_IP = 50000;
const SERVER_IP = ((10 << 24) | (255 << 16) | (255 << 8) | 1) >>> 0;
const SERVER_PORT = 80;
const SYN = 0x02,
  ACK = 0x10,
  PSH = 0x08,
  FIN = 0x01;
const HDR = 14 + 20 + 20; // Ethernet + IPv4 + TCP, no options
const clientIp = (i) => ((10 << 24) | (1 + Math.floor(i / PORTS_PER_IP))) >>> 0;
const clientPort = (i) => 10000 + (i % PORTS_PER_IP);
// Deterministic, spread-out initial sequence numbers.
const clientIsn = (i) => Math.imul(i + 1, 0x9e3779b1) >>> 0;
const serverIsn = (i) => Math.imul(i + 7, 0x85ebca6b) >>> 0;

const payload = Buffer.alloc(P);
for (let k = 0; k < P; k++) payload[k] = 0x61 + (k % 26); // "abc…"
let payloadSum = 0;
for (let k = 0; k + 1 < P; k += 2) payloadSum += (payload[k] << 8) | payload[k + 1];
if (P & 1) payloadSum += payload[P - 1] << 8;

const BUF = 32 << 20;
const buf = Buffer.allocUnsafe(BUF);
let pos = 0;
const fd = openSync(outPath, "w");
// Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen 262144, DLT_EN10MB.
buf.writeUInt32LE(0xa1b2c3d4, 0);
buf.writeUInt16LE(2, 4);
buf.writeUInt16LE(4, 6);
buf.writeInt32LE(0, 8);
buf.writeUInt32LE(0, 12);
buf.writeUInt32LE(262144, 16);
buf.writeUInt32LE(1, 20);
pos = 24;

const T0 = 1_700_000_000;
let packets = 0;
let ipId = 0;

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
function fold(s) {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** One Ethernet/IPv4/TCP packet; `fromClient` picks the direction. */
function packet(i, fromClient, flags, seq, ack, withPayload) {
  const len = withPayload ? P : 0;
  const frame = HDR + len;
  if (pos + 16 + frame > BUF) flush();
  const usTotal = packets++;
  buf.writeUInt32LE(T0 + Math.floor(usTotal / 1e6), pos);
  buf.writeUInt32LE(usTotal % 1e6, pos + 4);
  buf.writeUInt32LE(frame, pos + 8);
  buf.writeUInt32LE(frame, pos + 12);
  const e = pos + 16;
  // Ethernet: dst, src (locally administered), type IPv4.
  const cMac = 0x02,
    sMac = 0x04;
  buf[e] = fromClient ? sMac : cMac;
  buf[e + 1] = 0;
  be32(e + 2, fromClient ? 1 : i + 2);
  buf[e + 6] = fromClient ? cMac : sMac;
  buf[e + 7] = 0;
  be32(e + 8, fromClient ? i + 2 : 1);
  be16(e + 12, 0x0800);
  // IPv4
  const ip = e + 14;
  const src = fromClient ? clientIp(i) : SERVER_IP;
  const dst = fromClient ? SERVER_IP : clientIp(i);
  const totalLen = 40 + len;
  const id = (ipId = (ipId + 1) & 0xffff);
  buf[ip] = 0x45;
  buf[ip + 1] = 0;
  be16(ip + 2, totalLen);
  be16(ip + 4, id);
  be16(ip + 6, 0x4000); // DF
  buf[ip + 8] = 64;
  buf[ip + 9] = 6;
  be32(ip + 12, src);
  be32(ip + 16, dst);
  const srcHi = src >>> 16,
    srcLo = src & 0xffff,
    dstHi = dst >>> 16,
    dstLo = dst & 0xffff;
  const ipSum = 0x4500 + totalLen + id + 0x4000 + 0x4006 + srcHi + srcLo + dstHi + dstLo;
  be16(ip + 10, ~fold(ipSum) & 0xffff);
  // TCP
  const t = ip + 20;
  const sport = fromClient ? clientPort(i) : SERVER_PORT;
  const dport = fromClient ? SERVER_PORT : clientPort(i);
  be16(t, sport);
  be16(t + 2, dport);
  be32(t + 4, seq);
  be32(t + 8, ack);
  const offFlags = (5 << 12) | flags;
  be16(t + 12, offFlags);
  be16(t + 14, 65535);
  be16(t + 18, 0);
  let sum =
    srcHi +
    srcLo +
    dstHi +
    dstLo +
    6 +
    20 +
    len + // pseudo header
    sport +
    dport +
    (seq >>> 16) +
    (seq & 0xffff) +
    (ack >>> 16) +
    (ack & 0xffff) +
    offFlags +
    65535;
  if (withPayload) {
    payload.copy(buf, t + 20);
    sum += payloadSum;
  }
  be16(t + 16, ~fold(sum) & 0xffff);
  pos = e + frame;
}

const cSeq = new Uint32Array(N); // next client sequence number
const sSeq = new Uint32Array(N); // next server sequence number

// 1. handshakes
for (let i = 0; i < N; i++) {
  const c = clientIsn(i),
    s = serverIsn(i);
  packet(i, true, SYN, c, 0, false);
  packet(i, false, SYN | ACK, s, (c + 1) >>> 0, false);
  packet(i, true, ACK, (c + 1) >>> 0, (s + 1) >>> 0, false);
  cSeq[i] = (c + 1) >>> 0;
  sSeq[i] = (s + 1) >>> 0;
}
// 2. data rounds
for (let r = 0; r < D; r++) {
  const fromClient = (r & 1) === 0;
  for (let i = 0; i < N; i++) {
    if (fromClient) {
      packet(i, true, PSH | ACK, cSeq[i], sSeq[i], true);
      cSeq[i] = (cSeq[i] + P) >>> 0;
    } else {
      packet(i, false, PSH | ACK, sSeq[i], cSeq[i], true);
      sSeq[i] = (sSeq[i] + P) >>> 0;
    }
  }
}
// 3. closes
for (let i = 0; i < N; i++) {
  packet(i, true, FIN | ACK, cSeq[i], sSeq[i], false);
  cSeq[i] = (cSeq[i] + 1) >>> 0;
}
for (let i = 0; i < N; i++) {
  packet(i, false, FIN | ACK, sSeq[i], cSeq[i], false);
  sSeq[i] = (sSeq[i] + 1) >>> 0;
}
for (let i = 0; i < N; i++) packet(i, true, ACK, cSeq[i], sSeq[i], false);

flush();
closeSync(fd);
console.log(`${packets} packets, ${N} connections, ${D} data segments of ${P} bytes each`);
