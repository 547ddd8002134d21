/**
 * The shards of a `--jobs` analysis. The main thread reads the capture once, routes
 * every record with the ShardRouter, writes it to the ring every worker reads
 * (record-ring.ts) and analyses shard 0 itself (`readAndAnalyse`); each worker replays the
 * ring on an engine of its own (`analyseRing`): the packets of its shard, and every other
 * record as a clock tick, so that its clock moves with every record of the capture, as
 * one engine's does.
 */
import type { ReadOptions } from "../../capture/reader.js";
import { newCaptureInfo, readCapture, StopReading } from "../../capture/reader.js";
import { PacketRecord, type CaptureInfo, type InterfaceInfo, type SectionInfo } from "../../capture/record.js";
import { Engine } from "../packet-loop.js";
import { ANALYZERS } from "../../analyze/registry.js";
import { shardResult } from "../../analyze/result.js";
import type { ShardEnd, WorkerInit } from "./protocol.js";
import { FileWindow } from "./file-window.js";
import { RingReader, type RingWriter } from "./record-ring.js";
import { ShardRouter, UNSPLITTABLE } from "./router.js";
import { StopLine } from "./stop-line.js";

/** Thrown out of the reader to stop at once: this capture goes on one thread. */
export class Unsplittable extends Error {}

/**
 * A worker failed: carries its error out of the reader, which would take a CaptureError
 * thrown from inside it for damage at the current offset and read on.
 */
export class Stopped extends Error {
  constructor(readonly reason: Error) {
    super(reason.message);
  }
}

/** What the analyzers read of the file (CaptureFacts), as it crosses to the workers. */
interface Facts {
  sections: SectionInfo[];
  interfaces: InterfaceInfo[];
}

function shardEngine(init: Pick<WorkerInit, "analyzerIds" | "engine">): Engine {
  const ids = new Set(init.analyzerIds);
  return new Engine({ ...init.engine, analyzers: ANALYZERS.filter((a) => ids.has(a.id)), sharded: true });
}

function shardEnd(engine: Engine): ShardEnd {
  const captureStates: Record<string, unknown> = {};
  for (const [id, st] of engine.captureStates) captureStates[id] = st;
  return { result: shardResult(engine), captureStates };
}

/**
 * The main thread's part: reads `init.path` once, analyses shard 0 and writes every record
 * to `ring` for the workers (null: none). `stopped` is asked at every record and while
 * waiting for room: an error it returns (a worker failed) ends the reading with that error.
 * Every record is taken on the stop line first: past it (Ctrl-C) the reading ends,
 * `interruptedBy` naming why in the capture's account. The reading also ends, with the
 * workers told so, at damage the reader cannot read past: every shard has then seen the
 * same records.
 */
export async function readAndAnalyse(
  init: WorkerInit,
  ring: RingWriter,
  onProgress?: ReadOptions["onProgress"],
  stopped: () => Error | null = () => null,
  interruptedBy: () => string = () => "interrupted",
): Promise<{ shard: ShardEnd; info: CaptureInfo }> {
  const engine = shardEngine(init);
  const router = new ShardRouter(init.workers);
  const line = new StopLine(init.stopLine, 0);
  let lastPacketTime = Number.NaN;
  const info = newCaptureInfo(init.path);
  engine.sink.capture = info; // as runCapture does
  let sections = 0,
    interfaces = 0;
  // The chunk records point into, and its file offset: where a worker finds their bytes.
  let chunk: Uint8Array | null = null,
    chunkAt = 0;
  const stopping = (): Error | null => {
    const e = stopped();
    return e === null ? null : new Stopped(e);
  };
  await readCapture(
    init.path,
    (rec) => {
      const failed = stopped();
      if (failed !== null) throw new Stopped(failed);
      if (!line.take(rec.frame)) throw new StopReading(interruptedBy());
      if (info.sections.length !== sections || info.interfaces.length !== interfaces) {
        // Before the packets that follow them, as the reader learnt them.
        sections = info.sections.length;
        interfaces = info.interfaces.length;
        ring.facts({ sections: info.sections, interfaces: info.interfaces } satisfies Facts);
      }
      const time = rec.tsSec + rec.tsNsec / 1e9;
      lastPacketTime = time;
      const owner = router.route(rec);
      if (owner === UNSPLITTABLE) throw new Unsplittable(router.unsplittable);
      if (owner === 0) {
        ring.record(rec, 0, 0); // a clock tick for every worker
        engine.onPacket(rec);
        return;
      }
      if (rec.buf !== chunk) throw new Error(`--jobs: frame ${rec.frame}'s bytes are not in the chunk read`);
      ring.record(rec, owner, chunkAt + rec.start);
      engine.advanceClock(time, rec.frame); // every shard retires flows at the same records
    },
    {
      chunkSize: init.chunkSize,
      onProgress,
      info,
      onChunk: (buf, at) => {
        chunk = buf;
        chunkAt = at;
      },
      afterChunk: async () => {
        ring.publish();
        await ring.drain(stopping);
      },
    },
  );
  ring.end(lastPacketTime);
  await ring.drain(stopping, 0);
  // "The end of the capture" is its last packet, whichever shard that fell in.
  engine.finish(Number.isNaN(lastPacketTime) ? undefined : lastPacketTime);
  return { shard: shardEnd(engine), info };
}

/** A worker's part: replays its ring (`init.ring`) on its own engine up to the end the reader wrote. */
export function analyseRing(init: WorkerInit): ShardEnd {
  const engine = shardEngine(init);
  const info = newCaptureInfo(init.path);
  engine.sink.capture = info;
  let lastPacketTime = Number.NaN;
  const file = new FileWindow(init.path);
  const rec = new PacketRecord();
  new RingReader(init.ring!, init.workers - 1, init.index - 1, init.index).replay(
    {
      packet: (_, dataAt, len) => {
        const start = file.locate(dataAt, len);
        rec.setSpan(file.u8, start, start + len);
        engine.onPacket(rec);
      },
      tick: (frame, time) => engine.advanceClock(time, frame),
      facts: (facts) => {
        info.sections = (facts as Facts).sections;
        info.interfaces = (facts as Facts).interfaces;
      },
      end: (time) => {
        lastPacketTime = time;
      },
    },
    rec,
  );
  file.close();
  engine.finish(Number.isNaN(lastPacketTime) ? undefined : lastPacketTime);
  return shardEnd(engine);
}
