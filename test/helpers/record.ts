/** Packet records for decoder tests, built as the capture readers build them. */
import { PacketRecord } from "../../src/capture/record.js";

/**
 * A record as the framers hand it over: a span of a larger read buffer, here with bytes
 * that look like headers (0x45, 0x60: IPv4, IPv6) before and after it, so a decoder that
 * reads outside its span decodes them instead of failing quietly on undefined.
 */
export function record(
  bytes: Uint8Array,
  linkType: number,
  origLen = bytes.length,
  frame = 1,
  time = 1000,
  alone = false,
): PacketRecord {
  const r = new PacketRecord();
  r.bytes = bytes;
  if (!alone) {
    const before = 3 + (frame % 7),
      after = 40;
    const chunk = new Uint8Array(before + bytes.length + after).fill(frame % 2 === 0 ? 0x45 : 0x60);
    chunk.set(bytes, before);
    r.setSpan(chunk, before, before + bytes.length);
  }
  r.capLen = bytes.length;
  r.origLen = origLen;
  r.linkType = linkType;
  r.frame = frame;
  r.tsSec = Math.floor(time);
  r.tsNsec = Math.round((time - Math.floor(time)) * 1e9);
  return r;
}
