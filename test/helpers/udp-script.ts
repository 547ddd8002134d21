/**
 * Hand-written UDP exchanges for trace tests: one datagram per call at an exact time,
 * between the same two endpoints as tcp-script.ts, built as real packets
 * (Ethernet/IPv4/UDP in a classic pcap). Run them with runScript / findingsOf.
 */
import { ETH_IPV4, ethernet, ipv4, pcapFile, udp, type PcapRecord } from "./build.js";
import type { Side } from "./tcp-script.js";

const CLIENT_ADDR = 0x0a000001,
  SERVER_ADDR = 0x0a000002,
  CLIENT_PORT = 40000,
  SERVER_PORT = 5353;

export class UdpScript {
  readonly records: PcapRecord[] = [];

  /** `serverAddr`: the server's IPv4 address as a number (10.0.0.2 unless given: a multicast group, say). */
  constructor(private readonly serverAddr = SERVER_ADDR) {}

  /**
   * A datagram carrying `payload` (text or bytes) from `from` at `t` seconds (kept to the
   * microsecond); `clientPort` names another client of the same server (another flow).
   */
  send(t: number, from: Side, payload: string | Uint8Array, clientPort = CLIENT_PORT): this {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    const fromClient = from === "client";
    const us = Math.round(t * 1e6);
    const datagram = fromClient ? udp(clientPort, SERVER_PORT, bytes) : udp(SERVER_PORT, clientPort, bytes);
    const [src, dst] = fromClient ? [CLIENT_ADDR, this.serverAddr] : [this.serverAddr, CLIENT_ADDR];
    this.records.push({
      tsSec: Math.floor(us / 1e6),
      tsFrac: us % 1e6,
      data: ethernet(ETH_IPV4, ipv4({ src, dst, proto: 17, payload: datagram })),
    });
    return this;
  }

  pcap(): Uint8Array {
    return pcapFile(this.records);
  }
}
