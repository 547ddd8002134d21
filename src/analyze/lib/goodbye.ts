/**
 * A protocol's goodbye at the start of a segment's payload: the last message a program
 * writes as it closes, answering the peer's close or announcing its own. A reset that
 * discards it, or that follows it, costs the program nothing it still wanted (rst-after-fin,
 * abortive-close). Recognised by their first bytes only:
 * - a TLS alert record (RFC 8446 §6, RFC 5246 §7.2: content type 21): sent at close, its
 *   close_notify (encrypted in TLS 1.3, but the record type is in the clear);
 * - a WebSocket close frame (RFC 6455 §5.5.1: FIN bit and opcode 8, unmasked or masked);
 * - a QUIT command (SMTP RFC 5321 §4.1.1.10, FTP RFC 959, POP3 RFC 1939), which waits for
 *   its reply; also as the last line of a segment, where SMTP pipelining (RFC 2920) puts it
 *   after the message's end.
 */
import type { DecodedPacket } from "../../decode/wire/packet.js";

export const QUIT = "a QUIT command";

/** The goodbye the payload of `p` begins with, named, else "". */
export function goodbyeIn(p: DecodedPacket): string {
  const b = p.bytes,
    o = p.payloadOffset,
    n = Math.min(p.payloadLen, b.length - o);
  if (o < 0 || n < 2) return "";
  if (n >= 5 && b[o] === 0x15 && b[o + 1] === 0x03 && b[o + 2]! <= 0x04) return "a TLS alert record (close_notify)";
  if (b[o] === 0x88) return "a WebSocket close frame";
  if (n >= 4 && isQuit(b, o)) return QUIT;
  // The last line: "…\r\nQUIT\r\n", when the payload was captured whole.
  const end = o + n;
  if (
    n >= 8 &&
    n === p.payloadLen &&
    b[end - 2] === 0x0d &&
    b[end - 1] === 0x0a &&
    b[end - 7] === 0x0a &&
    isQuit(b, end - 6)
  )
    return QUIT;
  return "";
}

/** "QUIT" in any case, byte by byte (it is tested on every data segment: no string made). */
function isQuit(b: Uint8Array, at: number): boolean {
  return (
    (b[at]! | 0x20) === 0x71 &&
    (b[at + 1]! | 0x20) === 0x75 &&
    (b[at + 2]! | 0x20) === 0x69 &&
    (b[at + 3]! | 0x20) === 0x74
  );
}
