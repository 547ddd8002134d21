// The practical floor for JavaScript: read a classic pcap in 4 MiB chunks and walk the
// record headers, touching nothing else. Prints "<packets> <seconds>".
import { openSync, readSync, closeSync } from "node:fs";

const path = process.argv[2];
const fd = openSync(path, "r");
const CHUNK = 4 << 20;
const buf = Buffer.allocUnsafeSlow(CHUNK);
const t0 = process.hrtime.bigint();
let end = readSync(fd, buf, 0, CHUNK, null);
const le = buf.readUInt32BE(0) === 0xd4c3b2a1 || buf.readUInt32BE(0) === 0x4d3cb2a1;
let pos = 24,
  packets = 0;
for (;;) {
  while (end - pos >= 16) {
    const capLen = le ? buf.readUInt32LE(pos + 8) : buf.readUInt32BE(pos + 8);
    if (end - pos < 16 + capLen) break;
    pos += 16 + capLen;
    packets++;
  }
  buf.copyWithin(0, pos, end);
  end -= pos;
  pos = 0;
  const n = readSync(fd, buf, end, CHUNK - end, null);
  if (n === 0) break;
  end += n;
}
closeSync(fd);
console.log(packets, Number(process.hrtime.bigint() - t0) / 1e9);
