/**
 * Big captures for tests that must catch the CLI in the middle of reading a file (Ctrl-C
 * under --jobs): copies of a small real capture (classic pcap, little-endian, Ethernet/IPv4
 * TCP to one server port), each copy moved to other client ports and later in time, so
 * the result has many distinct connections spread over the shards.
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";

const PCAP_HEADER = 24;
const RECORD_HEADER = 16;
/** Ethernet (14) + IPv4 without options (20): where the TCP ports start. */
const TCP_AT = 34;

/** The records of a little-endian classic pcap, as [start, end) spans of the file bytes. */
export function pcapRecords(file: Uint8Array): [number, number][] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const spans: [number, number][] = [];
  for (let at = PCAP_HEADER; at + RECORD_HEADER <= file.length; ) {
    const end = at + RECORD_HEADER + dv.getUint32(at + 8, true);
    spans.push([at, end]);
    at = end;
  }
  return spans;
}

/**
 * Writes `copies` copies of `source`'s records to `dest`: copy k is shifted by k·`stepSec`
 * seconds and its client port (the one that is not `serverPort`) moved by k.
 */
export function writeBigCapture(source: string, dest: string, copies: number, serverPort: number, stepSec = 1): number {
  const src = readFileSync(source);
  const spans = pcapRecords(src);
  const fd = openSync(dest, "w");
  let packets = 0;
  try {
    writeSync(fd, src.subarray(0, PCAP_HEADER));
    const block = Buffer.from(src.subarray(PCAP_HEADER, spans[spans.length - 1]![1]));
    const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
    for (let k = 0; k < copies; k++) {
      const out = Buffer.from(block);
      const ov = new DataView(out.buffer, out.byteOffset, out.byteLength);
      for (const [s, e] of spans) {
        const at = s - PCAP_HEADER,
          tcp = at + RECORD_HEADER + TCP_AT;
        ov.setUint32(at, dv.getUint32(at, true) + k * stepSec, true);
        if (e - s < RECORD_HEADER + TCP_AT + 4) continue;
        const clientAt = dv.getUint16(tcp, false) === serverPort ? tcp + 2 : tcp;
        ov.setUint16(clientAt, 1024 + ((dv.getUint16(clientAt, false) - 1024 + k) % 64000), false);
      }
      writeSync(fd, out);
      packets += spans.length;
    }
  } finally {
    closeSync(fd);
  }
  return packets;
}

/** Writes the first `n` records of a little-endian classic pcap to `dest`. */
export function writeFirstRecords(source: string, dest: string, n: number): void {
  const src = readFileSync(source);
  const spans = pcapRecords(src);
  const end = n === 0 ? PCAP_HEADER : spans[n - 1]![1];
  const fd = openSync(dest, "w");
  try {
    writeSync(fd, src.subarray(0, end));
  } finally {
    closeSync(fd);
  }
}
