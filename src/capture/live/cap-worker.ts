/**
 * The cap backend's capture process, started by CapBackend (cap-backend.ts) with an IPC
 * channel. It opens the interface through cap (libpcap), stamps every packet on arrival
 * (LiveClock: cap gives no kernel timestamp), and writes the packets to standard output
 * as a nanosecond pcap stream that the main process reads with the ordinary file reader.
 *
 * Why a separate process: libpcap failures inside cap are fatal to the process that
 * holds the handle (when the interface goes away, cap's poll callback asserts and the
 * process aborts); here they end this process and the main one reports them in a line,
 * with the summary of what was captured. And stamps are taken without waiting for the
 * analysis of earlier packets.
 *
 * Messages to the parent: {type:"ready", linkType}, {type:"error", kind, message},
 * {type:"stats", delivered, dropped} every statsEveryMs, {type:"end", delivered, dropped,
 * wallOffsetMs}. Stops on {type:"stop"}, SIGINT,
 * SIGTERM, or when the parent goes away.
 */
import { createWriteStream } from "node:fs";
import { LiveClock, splitMs } from "./clock.js";
import { describeOpenError, loadCap } from "./cap.js";
import { LiveError } from "./errors.js";
import { interfaceGone } from "./interfaces.js";
import { wireLength } from "./wire-length.js";

export interface CapWorkerConfig {
  iface: string;
  filter: string;
  snapLen: number;
  /** libpcap's kernel buffer, bytes. */
  bufferBytes: number;
  /** How often to send the counters so far, ms. */
  statsEveryMs: number;
}

/**
 * Every Cap object this process made, referenced for its whole life: cap never uv_close()s
 * its poll handle, which stays linked in the event loop after close(); a collected Cap
 * frees it under the loop's feet (a segfault, seen when the probe below was collected).
 */
const keep: unknown[] = [];

/** Bytes of packets waiting for the main process before new packets are dropped (and counted). */
const MAX_PENDING = 64 << 20;
const CHUNK = 1 << 20;

const LINK_TYPES: Record<string, number> = {
  ETHERNET: 1,
  NULL: 0,
  RAW: 101,
  LINKTYPE_LINUX_SLL: 113,
  IEEE802_11_RADIO: 127,
};

function linkTypeOf(name: string): number {
  if (name in LINK_TYPES) return LINK_TYPES[name]!;
  const m = /(\d+)/.exec(name);
  return m ? Number(m[1]) : -1;
}

function send(msg: object, then?: () => void): void {
  if (process.send && process.connected) process.send(msg, undefined, {}, () => then?.());
  else then?.();
}

/** Reports a startup failure to the main process, then exits. */
function startFailed(e: unknown): void {
  const err = e instanceof LiveError ? e : new LiveError(String((e as Error)?.message ?? e));
  send({ type: "error", kind: err.kind, message: err.message }, () => process.exit(3));
}

function main(): void {
  const cfg = JSON.parse(process.argv[2] ?? "{}") as CapWorkerConfig;
  const clock = new LiveClock();
  let Cap: ReturnType<typeof loadCap>["Cap"];
  try {
    Cap = loadCap().Cap;
  } catch (e) {
    startFailed(e);
    return;
  }
  // Open once without the filter so that a refusal (permission, no such interface) is
  // told apart from a filter libpcap cannot compile.
  if (cfg.filter !== "") {
    const probe = new Cap();
    keep.push(probe);
    try {
      probe.open(cfg.iface, "", Math.min(cfg.bufferBytes, 1 << 20), Buffer.alloc(cfg.snapLen));
    } catch (e) {
      startFailed(describeOpenError(cfg.iface, (e as Error).message, "node"));
      return;
    }
    probe.close();
  }
  const cap = new Cap();
  keep.push(cap);
  const buf = Buffer.alloc(cfg.snapLen);
  let linkName: string;
  try {
    linkName = cap.open(cfg.iface, cfg.filter, cfg.bufferBytes, buf);
  } catch (e) {
    const m = (e as Error).message;
    startFailed(
      cfg.filter !== ""
        ? new LiveError(`bad capture filter "${cfg.filter}": libpcap says: ${m}`, "filter")
        : describeOpenError(cfg.iface, m, "node"),
    );
    return;
  }
  const linkType = linkTypeOf(linkName);

  const out = createWriteStream("", { fd: 1, highWaterMark: CHUNK });
  out.on("error", () => process.exit(0)); // the main process is gone
  let chunk = Buffer.allocUnsafe(CHUNK);
  let len = 0;
  let delivered = 0,
    dropped = 0;
  let flushQueued = false;
  let stopping = false;

  const flush = (): void => {
    flushQueued = false;
    if (len === 0) return;
    out.write(Buffer.from(chunk.subarray(0, len)));
    len = 0;
  };

  // Nanosecond pcap header, little endian.
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b23c4d, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(cfg.snapLen, 16);
  h.writeUInt32LE(linkType < 0 ? 1 : linkType, 20);
  out.write(h);

  cap.on("packet", (nbytes: number, truncated: boolean) => {
    const ms = clock.nowMs();
    if (stopping) return;
    if (out.writableLength + len + 16 + nbytes > MAX_PENDING) {
      dropped++;
      return;
    }
    if (len + 16 + nbytes > chunk.length) {
      flush();
      if (16 + nbytes > chunk.length) chunk = Buffer.allocUnsafe(16 + nbytes);
    }
    const view = buf.subarray(0, nbytes);
    // cap copies at most snapLen bytes and always asks libpcap for 65535: when either
    // may have cut the packet, its length on the wire comes from its IP header.
    const origLen = truncated || nbytes >= 65535 ? wireLength(view, linkType) : nbytes;
    const [sec, nsec] = splitMs(ms);
    chunk.writeUInt32LE(sec >>> 0, len);
    chunk.writeUInt32LE(nsec, len + 4);
    chunk.writeUInt32LE(nbytes, len + 8);
    chunk.writeUInt32LE(origLen, len + 12);
    chunk.set(view, len + 16);
    len += 16 + nbytes;
    delivered++;
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  });

  const statsTimer = setInterval(() => {
    send({ type: "stats", delivered, dropped });
    // libpcap does not always report an interface removed under it (a poll on the packet
    // socket can block on): the interface leaving the namespace's list ends the capture.
    if (!stopping && interfaceGone(cfg.iface)) {
      const message = `capture on ${cfg.iface} stopped: the interface went away (it is no longer in /proc/net/dev)`;
      send({ type: "error", kind: "interface", message }, stop);
    }
  }, cfg.statsEveryMs);
  statsTimer.unref();

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    cap.close();
    flush();
    out.end(() => {
      send({ type: "end", delivered, dropped, wallOffsetMs: clock.wallOffsetMs() }, () => {
        if (process.connected) process.disconnect();
        // Nothing else holds the event loop: the process exits here.
      });
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("disconnect", stop);
  process.on("message", (m: { type?: string }) => {
    if (m?.type === "stop") stop();
  });
  send({ type: "ready", linkType, linkName });
}

main();
