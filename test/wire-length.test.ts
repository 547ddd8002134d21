/**
 * The cap worker's wire-length rebuild (capture/live/wire-length.ts): a packet cut short
 * gets its length on the wire back from its IP header, through every link layer the
 * capture layer walks (VLAN tags, Linux cooked headers); what it cannot read keeps the
 * captured length.
 */
import { describe, expect, it } from "vitest";
import { wireLength } from "../src/capture/live/wire-length.js";
import { ETH_IPV4, ETH_IPV6, cookedVlanFrame, ethernet, ipv4, ipv6, udp } from "./helpers/build.js";

const datagram = udp(1000, 2000, new Uint8Array(1200));
const v4 = ipv4({ src: 0x0a000001, dst: 0x0a000002, proto: 17, payload: datagram });
const v6 = ipv6({ src: [0x20010db8, 0, 0, 1], dst: [0x20010db8, 0, 0, 2], nextHeader: 17, payload: datagram });

describe("wireLength", () => {
  it("rebuilds a cut packet's length from its IP header, past VLAN tags and cooked headers", () => {
    const frames: [string, Uint8Array, number][] = [
      ["Ethernet, IPv4", ethernet(ETH_IPV4, v4), 1],
      ["Ethernet, two VLAN tags, IPv6", ethernet(ETH_IPV6, v6, [10, 20]), 1],
      ["Linux SLL2, a VLAN tag, IPv4", cookedVlanFrame(276, v4, [30]), 276],
      ["Linux SLL, IPv6", cookedVlanFrame(113, v6, []), 113],
    ];
    for (const [what, frame, linkType] of frames) {
      expect(wireLength(frame.subarray(0, 100), linkType), what).toBe(frame.length);
      expect(wireLength(frame, linkType), what).toBe(frame.length);
    }
  });

  it("keeps the captured length when it cannot find the IP header", () => {
    expect(wireLength(ethernet(0x0806, new Uint8Array(28)), 1)).toBe(42); // ARP
    expect(wireLength(ethernet(ETH_IPV4, v4).subarray(0, 16), 1)).toBe(16); // cut inside the IP header
    expect(wireLength(new Uint8Array(10), 147)).toBe(10); // a link type sockscope does not read
  });
});
