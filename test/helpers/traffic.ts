/** Synthetic packets for the streaming analysis (LiveSession) without a capture. */
import { PacketRecord } from "../../src/capture/record.js";
import { TH_ACK, TH_FIN, TH_PSH, TH_SYN } from "../../src/decode/wire/packet.js";
import { ETH_IPV4, ethernet, ipv4, tcp, udp } from "./build.js";

const CLIENT = 0x0a000001,
  SERVER = 0x0a000002;

/** Synthetic TCP/UDP traffic between 10.0.0.1 (client) and 10.0.0.2 (server), fed record by record to `sink`. */
export class Traffic {
  frame = 0;
  readonly rec = new PacketRecord();
  constructor(private readonly sink: (r: PacketRecord) => void) {}
  send(t: number, frame: Uint8Array): void {
    const r = this.rec;
    r.frame = ++this.frame;
    r.tsSec = Math.floor(t);
    r.tsNsec = Math.round((t - r.tsSec) * 1e9);
    r.bytes = frame;
    r.capLen = r.origLen = frame.length;
    r.linkType = 1;
    this.sink(r);
  }
  tcp(
    t: number,
    fromClient: boolean,
    cport: number,
    sport: number,
    seq: number,
    ack: number,
    flags: number,
    payload = 0,
    win = 65535,
  ): void {
    const seg = tcp({
      srcPort: fromClient ? cport : sport,
      dstPort: fromClient ? sport : cport,
      seq,
      ack,
      flags,
      win,
      options: flags & TH_SYN ? { mss: 65495, wscale: 7, sackPermitted: true } : {},
      payload: new Uint8Array(payload),
    });
    this.send(
      t,
      ethernet(
        ETH_IPV4,
        ipv4({ src: fromClient ? CLIENT : SERVER, dst: fromClient ? SERVER : CLIENT, proto: 6, payload: seg }),
      ),
    );
  }
  /** A whole connection: handshake, request, response, client closes first. Returns the time it ends. */
  connection(t: number, cport: number, sport: number, isn: number, close = true): number {
    const c = isn,
      s = 0x10000000 + isn;
    this.tcp(t, true, cport, sport, c, 0, TH_SYN);
    this.tcp(t + 0.0001, false, cport, sport, s, c + 1, TH_SYN | TH_ACK);
    this.tcp(t + 0.0002, true, cport, sport, c + 1, s + 1, TH_ACK);
    this.tcp(t + 0.0003, true, cport, sport, c + 1, s + 1, TH_ACK | TH_PSH, 100);
    this.tcp(t + 0.0004, false, cport, sport, s + 1, c + 101, TH_ACK | TH_PSH, 200);
    if (!close) return t + 0.0004;
    this.tcp(t + 0.0005, true, cport, sport, c + 101, s + 201, TH_ACK | TH_FIN);
    this.tcp(t + 0.0006, false, cport, sport, s + 201, c + 102, TH_ACK | TH_FIN);
    this.tcp(t + 0.0007, true, cport, sport, c + 102, s + 202, TH_ACK);
    return t + 0.0007;
  }
  udp(t: number, fromClient: boolean, cport: number, sport: number, n: number): void {
    const d = udp(fromClient ? cport : sport, fromClient ? sport : cport, new Uint8Array(n));
    this.send(
      t,
      ethernet(
        ETH_IPV4,
        ipv4({ src: fromClient ? CLIENT : SERVER, dst: fromClient ? SERVER : CLIENT, proto: 17, payload: d }),
      ),
    );
  }
}
