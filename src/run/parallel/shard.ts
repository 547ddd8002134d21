/**
 * One shard of a `--jobs` analysis, on whichever thread runs it (the main thread takes
 * shard 0, workers the others): the whole capture is read and every record routed with
 * the same ShardRouter, so all threads agree on who owns what without talking; only this
 * shard's records are analysed, the others only move the engine's clock.
 */
import type { ReadOptions } from "../../capture/reader.js";
import { newCaptureInfo, readCapture, StopReading } from "../../capture/reader.js";
import type { CaptureInfo } from "../../capture/record.js";
import { Engine } from "../packet-loop.js";
import { ANALYZERS } from "../../analyze/registry.js";
import { shardResult } from "../../analyze/result.js";
import type { ShardEnd, WorkerInit } from "./protocol.js";
import { ShardRouter, UNSPLITTABLE } from "./router.js";
import { StopLine } from "./stop-line.js";

/** Thrown out of the reader to stop at once: this capture goes on one thread. */
export class Unsplittable extends Error {}

/**
 * Another shard failed: carries its error out of the reader, which would take a
 * CaptureError thrown from inside it for damage at the current offset and read on.
 */
export class Stopped extends Error {
  constructor(readonly reason: Error) {
    super(reason.message);
  }
}

/**
 * Analyses shard `init.index` of `init.workers`. `stopped` is asked at every record: an
 * error it returns (another shard failed) ends the reading with that error. Every record
 * is taken on the stop line first: past the line (an interrupted run) the reading ends,
 * `interruptedBy` naming why in the capture's account.
 */
export async function analyseShard(
  init: WorkerInit,
  onProgress?: ReadOptions["onProgress"],
  stopped: () => Error | null = () => null,
  interruptedBy: () => string = () => "interrupted",
): Promise<{ shard: ShardEnd; info: CaptureInfo }> {
  const ids = new Set(init.analyzerIds);
  const engine = new Engine({ ...init.engine, analyzers: ANALYZERS.filter((a) => ids.has(a.id)), sharded: true });
  const router = new ShardRouter(init.workers);
  const me = init.index;
  const line = new StopLine(init.stopLine, me);
  let lastPacketTime: number | undefined;
  const info = newCaptureInfo(init.path);
  engine.sink.capture = info; // as runCapture does
  await readCapture(
    init.path,
    (rec) => {
      const stop = stopped();
      if (stop !== null) throw new Stopped(stop);
      if (!line.take(rec.frame)) throw new StopReading(interruptedBy());
      lastPacketTime = rec.tsSec + rec.tsNsec / 1e9;
      const owner = router.route(rec);
      if (owner === me) engine.onPacket(rec);
      else if (owner === UNSPLITTABLE) throw new Unsplittable(router.unsplittable);
      else engine.advanceClock(lastPacketTime, rec.frame); // every shard retires flows at the same records
    },
    { chunkSize: init.chunkSize, onProgress, info },
  );
  // "The end of the capture" is its last packet, whichever shard that fell in.
  engine.finish(lastPacketTime);
  const captureStates: Record<string, unknown> = {};
  for (const [id, st] of engine.captureStates) captureStates[id] = st;
  return { shard: { result: shardResult(engine), captureStates }, info };
}
