// A capture's records held in memory for the in-process benches (decode.mjs,
// flow-lookup.mjs): every record's bytes back to back in one buffer, as in a reader's chunk,
// with their lengths, link types and times in typed arrays, so the timed loops do no I/O;
// `load(i, rec)` points one reused PacketRecord at record i, as the readers hand them out.
import { join } from "node:path";

export async function recordsInMemory(root, capture) {
  const { readCapture } = await import(join(root, "dist", "capture", "reader.js"));
  const copies = [];
  let total = 0;
  await readCapture(capture, (rec) => {
    copies.push({
      bytes: rec.buf.slice(rec.start, rec.end),
      capLen: rec.capLen,
      origLen: rec.origLen,
      linkType: rec.linkType,
      time: rec.tsSec + rec.tsNsec / 1e9,
    });
    total += rec.end - rec.start;
  });
  const n = copies.length;
  const buf = new Uint8Array(total);
  const start = new Int32Array(n + 1);
  const origLen = new Int32Array(n);
  const capLen = new Int32Array(n);
  const linkType = new Int32Array(n);
  const time = new Float64Array(n);
  copies.forEach((s, i) => {
    buf.set(s.bytes, start[i]);
    start[i + 1] = start[i] + s.bytes.length;
    origLen[i] = s.origLen;
    capLen[i] = s.capLen;
    linkType[i] = s.linkType;
    time[i] = s.time;
  });
  return {
    n,
    time,
    load(i, r) {
      r.setSpan(buf, start[i], start[i + 1]);
      r.capLen = capLen[i];
      r.origLen = origLen[i];
      r.linkType = linkType[i];
    },
  };
}
