/**
 * A datagram under IP reassembly: its fragments' frames, sizes and bytes so far, and what
 * analyzers learn of it when it completes or fails. Its own module so that a decoded packet
 * can name the datagram it completed without the packet and the reassembler importing each
 * other.
 */
export class Piece {
  constructor(
    readonly offset: number,
    readonly data: Uint8Array,
  ) {}
}

/** A datagram under reassembly, and what analyzers learn of it when it completes or fails. */
export class FragmentedDatagram {
  readonly frames: number[] = [];
  /** IP packet size of each fragment as it arrived: the largest reveals the path MTU. */
  readonly fragmentSizes: number[] = [];
  readonly pieces: Piece[] = [];
  firstTime = 0;
  lastTime = 0;
  /** Datagram payload length once the last fragment has been seen, else -1. */
  totalLen = -1;
  /** Furthest byte any fragment so far reaches. */
  maxEnd = 0;
  bufferedBytes = 0;
  overlapConflict = false;
  /**
   * Opened by fragments that came after a datagram with the same key was discarded for a
   * conflicting overlap: most likely that datagram's rest (the receiver drops the whole
   * datagram at the first conflict, and its later fragments start a queue that can only
   * time out).
   */
  afterDiscard = false;
  /** Fragments that repeated bytes already held (capture copies): in `frames`, but not fragments of their own. */
  duplicates = 0;
  /** From the first fragment (offset 0), when seen: the transport protocol and ports. */
  proto = -1;
  srcPort = -1;
  dstPort = -1;
  constructor(
    readonly key: string,
    readonly ipVersion: number,
    readonly vlan: number,
    readonly src: readonly number[],
    readonly dst: readonly number[],
    readonly id: number,
  ) {}

  /** The fragments the datagram travelled in, capture copies left out. */
  get fragmentCount(): number {
    return this.frames.length - this.duplicates;
  }
}
