/**
 * Is a UDP payload a request of a request/response protocol, one that wants an answer?
 * udp-fixed-retry's evidence that a datagram sent again and again was asking something
 * (not announcing, not keeping a NAT binding open). Each protocol is recognised by its own
 * header, never by the port alone, and only on the bytes the capture holds: a header cut
 * short by the snap length is not recognised. Responses, indications and other one-way
 * messages of the same protocols are not requests. None of these ever throws: every read
 * is bounds-checked (test/udp-requests.test.ts feeds them arbitrary bytes).
 *
 * `d` is the captured payload, `len` its length on the wire (>= d.length).
 */

/** The protocol's name for a request payload ("DNS query"), or null when it is none of these. */
export function requestProtocol(d: Uint8Array, len: number): string | null {
  return (
    dnsQuery(d, len) ??
    ntpClientRequest(d, len) ??
    coapRequest(d, len) ??
    snmpRequest(d, len) ??
    tftpRequest(d, len) ??
    stunRequest(d, len) ??
    radiusRequest(d, len) ??
    sipRequest(d)
  );
}

function u16(d: Uint8Array, at: number): number {
  return (d[at]! << 8) | d[at + 1]!;
}

/**
 * DNS (RFC 1035 §4.1.1 header, §4.1.2 question): QR = 0 (a query), opcode QUERY, STATUS,
 * NOTIFY (RFC 1996) or UPDATE (RFC 2136), Z and RCODE 0, one question whose name is
 * uncompressed labels of at most 63 bytes (255 in all), a known QCLASS (the top bit is
 * mDNS's unicast-response flag, RFC 6762 §5.4). A plain query carries no answers and at
 * most an OPT and a TSIG record, and ends where its records do.
 */
function dnsQuery(d: Uint8Array, len: number): string | null {
  if (d.length < 17) return null;
  const flags = u16(d, 2),
    opcode = (flags >> 11) & 0xf;
  if ((flags & 0x8000) !== 0 || (flags & 0x004f) !== 0) return null;
  if (opcode !== 0 && opcode !== 2 && opcode !== 4 && opcode !== 5) return null;
  const qd = u16(d, 4),
    an = u16(d, 6),
    ns = u16(d, 8),
    ar = u16(d, 10);
  if (qd !== 1) return null;
  if (opcode <= 2 ? an !== 0 || ns !== 0 || ar > 2 : an > 64 || ns > 64 || ar > 64) return null;
  let i = 12;
  for (;;) {
    if (i >= d.length) return null;
    const label = d[i]!;
    if (label === 0) break;
    if (label > 63) return null; // a compression pointer (nothing before it to point at) or a reserved label type
    i += 1 + label;
    if (i - 12 > 254) return null;
  }
  i++;
  if (i + 4 > d.length) return null;
  const qtype = u16(d, i),
    qclass = u16(d, i + 2) & 0x7fff;
  if (qtype === 0 || (qclass !== 1 && qclass !== 3 && qclass !== 4 && qclass !== 254 && qclass !== 255)) return null;
  const end = i + 4;
  // With no records after the question the message ends there; a record takes 11 bytes at least.
  if (an + ns + ar === 0 ? end !== len : len < end + 11) return null;
  if (isNetbiosName(d)) return opcode === 5 ? "NetBIOS name registration" : "NetBIOS name query";
  return opcode === 4 ? "DNS NOTIFY" : opcode === 5 ? "DNS UPDATE" : "DNS query";
}

/**
 * NetBIOS name service (RFC 1002 §4.2) is DNS's message format with its own opcodes (5 is
 * a registration) and one 32-byte label: the NetBIOS name, each half-byte as 'A'-'P'
 * (RFC 1001 §14.1).
 */
function isNetbiosName(d: Uint8Array): boolean {
  if (d[12] !== 32) return false;
  for (let i = 13; i < 45; i++) if (d[i]! < 0x41 || d[i]! > 0x50) return false;
  return true;
}

/**
 * NTP (RFC 5905 §7.3): the first byte's low three bits are the mode, 3 = client; version
 * 1-4; stratum at most 16; a 48-byte header, then extension fields and a MAC in 32-bit
 * words.
 */
function ntpClientRequest(d: Uint8Array, len: number): string | null {
  if (d.length < 2 || len < 48 || (len - 48) % 4 !== 0) return null;
  const mode = d[0]! & 7,
    version = (d[0]! >> 3) & 7;
  if (mode !== 3 || version < 1 || version > 4 || d[1]! > 16) return null;
  return "NTP client request";
}

/**
 * CoAP (RFC 7252 §3): version 1, type 0 (Confirmable: the sender wants an ACK or a
 * reset), a token of at most 8 bytes, code 0.01-0.07 (GET, POST, PUT, DELETE; FETCH,
 * PATCH, iPATCH of RFC 8132), or 0.00 with no token and nothing after the header (an empty
 * Confirmable message: a CoAP ping, answered by a reset, §4.3). The options must parse
 * (§3.1: nibble 15 only as the payload marker, which a payload must follow).
 */
function coapRequest(d: Uint8Array, len: number): string | null {
  if (d.length < 4) return null;
  const b0 = d[0]!,
    code = d[1]!,
    tkl = b0 & 0xf;
  if (b0 >> 6 !== 1 || ((b0 >> 4) & 3) !== 0 || tkl > 8) return null;
  if (code === 0) return tkl === 0 && len === 4 ? "CoAP ping" : null;
  if (code > 7) return null;
  let i = 4 + tkl;
  while (i < len) {
    if (i >= d.length) return null;
    const b = d[i]!;
    if (b === 0xff) return i + 1 < len ? "CoAP confirmable request" : null;
    const delta = b >> 4,
      optLen = b & 0xf;
    if (delta === 15 || optLen === 15) return null;
    i += 1 + (delta === 13 ? 1 : delta === 14 ? 2 : 0);
    let n = optLen;
    if (optLen === 13) {
      if (i >= d.length) return null;
      n = d[i]! + 13;
      i += 1;
    } else if (optLen === 14) {
      if (i + 2 > d.length) return null;
      n = u16(d, i) + 269;
      i += 2;
    }
    i += n;
  }
  return i === len ? "CoAP confirmable request" : null;
}

/** A BER element: tag, where its contents start and end. Definite lengths only (as SNMP requires). */
interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(d: Uint8Array, at: number, limit: number): Tlv | null {
  if (at + 2 > d.length) return null;
  const tag = d[at]!;
  let n = d[at + 1]!,
    start = at + 2;
  if (n >= 0x80) {
    const bytes = n & 0x7f;
    if (bytes === 0 || bytes > 3 || start + bytes > d.length) return null;
    n = 0;
    for (let k = 0; k < bytes; k++) n = n * 256 + d[start + k]!;
    start += bytes;
  }
  const end = start + n;
  return end > limit ? null : { tag, start, end };
}

/** The value of a one-byte INTEGER (the SNMP version), -1 when `t` is none. */
function smallInt(d: Uint8Array, t: Tlv | null): number {
  if (t === null || t.tag !== 0x02 || t.end - t.start !== 1 || t.start >= d.length) return -1;
  return d[t.start]!;
}

/** Request PDU tags (context-specific, constructed: 0xa0 GetRequest … 0xa6 InformRequest). */
const SNMP_REQUEST_PDUS: Record<number, string> = {
  160: "SNMP GetRequest",
  161: "SNMP GetNextRequest",
  163: "SNMP SetRequest",
  165: "SNMP GetBulkRequest",
  166: "SNMP InformRequest",
};

/**
 * SNMP (RFC 1157 §4.1, RFC 3416 §3): a SEQUENCE filling the datagram; version 0 or 1
 * (v1, v2c), a community OCTET STRING, then a Get, GetNext, Set, GetBulk or Inform PDU
 * beginning with its request-id INTEGER. Version 3 (RFC 3412 §6): the PDU may be
 * encrypted, but msgGlobalData's msgFlags has the reportable flag (0x04) set on exactly
 * the messages that are requests.
 */
function snmpRequest(d: Uint8Array, len: number): string | null {
  const msg = tlv(d, 0, len);
  if (msg === null || msg.tag !== 0x30 || msg.end !== len) return null;
  const ver = tlv(d, msg.start, msg.end);
  const version = smallInt(d, ver);
  if (ver === null || (version !== 0 && version !== 1 && version !== 3)) return null;
  if (version === 3) {
    const global = tlv(d, ver.end, msg.end);
    if (global === null || global.tag !== 0x30) return null;
    const id = tlv(d, global.start, global.end);
    const maxSize = id === null || id.tag !== 0x02 ? null : tlv(d, id.end, global.end);
    const flags = maxSize === null || maxSize.tag !== 0x02 ? null : tlv(d, maxSize.end, global.end);
    if (flags === null || flags.tag !== 0x04 || flags.end - flags.start !== 1 || flags.start >= d.length) return null;
    return (d[flags.start]! & 0x04) !== 0 ? "SNMPv3 request" : null;
  }
  const community = tlv(d, ver.end, msg.end);
  if (community === null || community.tag !== 0x04) return null;
  const pdu = tlv(d, community.end, msg.end);
  const name = pdu === null ? undefined : SNMP_REQUEST_PDUS[pdu.tag];
  if (pdu === null || name === undefined || (pdu.tag === 0xa5 && version === 0)) return null;
  const requestId = tlv(d, pdu.start, pdu.end);
  return requestId !== null && requestId.tag === 0x02 ? name : null;
}

/** A NUL-terminated string of printable bytes starting at `at`: the index after its NUL, or -1. */
function cString(d: Uint8Array, at: number, minLen: number): number {
  let i = at;
  while (i < d.length && d[i] !== 0) {
    if (d[i]! < 0x20 || d[i]! > 0x7e) return -1;
    i++;
  }
  return i < d.length && i - at >= minLen ? i + 1 : -1;
}

const TFTP_MODES = new Set(["netascii", "octet", "mail"]);

/**
 * TFTP (RFC 1350 §5): opcode 1 (RRQ) or 2 (WRQ), a file name and a mode ("netascii",
 * "octet" or "mail", any case), each NUL-terminated, then option/value pairs (RFC 2347)
 * to the end of the datagram.
 */
function tftpRequest(d: Uint8Array, len: number): string | null {
  if (d.length !== len || d.length < 4 || d[0] !== 0 || (d[1] !== 1 && d[1] !== 2)) return null;
  const afterName = cString(d, 2, 1);
  const afterMode = afterName < 0 ? -1 : cString(d, afterName, 1);
  if (afterMode < 0) return null;
  const mode = String.fromCharCode(...d.subarray(afterName, afterMode - 1)).toLowerCase();
  if (!TFTP_MODES.has(mode)) return null;
  let i = afterMode;
  while (i < len) {
    const afterOption = cString(d, i, 1);
    i = afterOption < 0 ? -1 : cString(d, afterOption, 0);
    if (i < 0) return null;
  }
  return d[1] === 1 ? "TFTP read request" : "TFTP write request";
}

/**
 * STUN (RFC 8489 §5, formerly RFC 5389 §6): the two top bits 0, the magic cookie
 * 0x2112A442, a message length that is the rest of the datagram, and the class bits
 * (0x0110 of the type) 00, a request. The length should be in 32-bit words, but some TURN
 * servers' clients leave the last attribute unpadded (arkime--stun.pcap's Allocate, 113). An indication (01, e.g. ICE's Binding
 * Indication keep-alive, RFC 8445 §11) wants no answer.
 */
function stunRequest(d: Uint8Array, len: number): string | null {
  if (d.length < 8 || len < 20) return null;
  const type = u16(d, 0);
  if ((type & 0xc000) !== 0 || (type & 0x0110) !== 0) return null;
  if (u16(d, 2) !== len - 20) return null;
  if (u16(d, 4) !== 0x2112 || u16(d, 6) !== 0xa442) return null;
  return type === 0x0001 ? "STUN Binding request" : "STUN request";
}

const RADIUS_REQUESTS: Record<number, string> = {
  1: "RADIUS Access-Request",
  4: "RADIUS Accounting-Request",
  12: "RADIUS Status-Server",
  40: "RADIUS Disconnect-Request",
  43: "RADIUS CoA-Request",
};

/**
 * RADIUS (RFC 2865 §3): code 1 Access-Request (4 Accounting-Request, RFC 2866; 12
 * Status-Server, RFC 5997; 40 Disconnect- and 43 CoA-Request, RFC 5176), a Length of 20
 * to 4096 within the datagram (bytes past it are padding), a 16-byte authenticator, then
 * attributes (type, length >= 2) that end exactly at Length; at least one.
 */
function radiusRequest(d: Uint8Array, len: number): string | null {
  if (d.length < 4) return null;
  const name = RADIUS_REQUESTS[d[0]!];
  const length = u16(d, 2);
  if (name === undefined || length < 22 || length > 4096 || length > len || length > d.length) return null;
  let i = 20;
  while (i < length) {
    if (i + 2 > length || d[i] === 0 || d[i + 1]! < 2) return null;
    i += d[i + 1]!;
  }
  return i === length ? name : null;
}

/** RFC 3261 §7.1's Request-Line: Method SP Request-URI SP SIP-Version CRLF. ACK is answered by nothing (§17.1.1.3). */
const SIP_REQUEST_LINE =
  /^(INVITE|OPTIONS|BYE|CANCEL|REGISTER|SUBSCRIBE|NOTIFY|PUBLISH|INFO|REFER|MESSAGE|UPDATE|PRACK) ([a-zA-Z][a-zA-Z0-9+.-]*:[^ \r\n]+) SIP\/2\.0\r?\n/;
/** A Request-Line longer than this is no SIP (a URI of a few hundred bytes at most). */
const MAX_SIP_LINE = 1024;

function sipRequest(d: Uint8Array): string | null {
  if (d.length < 16 || d[0]! < 0x41 || d[0]! > 0x5a) return null;
  const line = String.fromCharCode(...d.subarray(0, Math.min(d.length, MAX_SIP_LINE)));
  const m = SIP_REQUEST_LINE.exec(line);
  return m === null ? null : `SIP ${m[1]} request`;
}
