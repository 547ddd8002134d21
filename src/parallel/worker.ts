/**
 * A `--jobs` worker thread: one Engine over the shard of the capture the router sends
 * it, batch by batch. Each batch handled is counted down in the shared `inFlight` slot
 * (the reader waits on it, so memory stays bounded when workers fall behind); at the end
 * the worker sends back its findings, flows and statistics as plain data.
 */
import { parentPort, workerData } from "node:worker_threads";
import { PacketRecord } from "../capture/record.js";
import { Engine, type EngineOptions } from "../analyze/engine.js";
import { ANALYZERS } from "../analyze/registry.js";
import { engineResult } from "../report/model.js";
import { readBatch } from "./batch.js";
import type { ShardEnd, WorkerInit, WorkerMessage } from "./protocol.js";

const init = workerData as WorkerInit;
const ids = new Set(init.analyzerIds);
const opts: EngineOptions = { ...init.engine, analyzers: ANALYZERS.filter((a) => ids.has(a.id)), sharded: true };
const engine = new Engine(opts);
const rec = new PacketRecord();
const inFlight = new Int32Array(init.inFlight);

const slot = 2 * init.index;

parentPort!.on("message", (m: WorkerMessage) => {
  if (m.type === "batch") {
    try {
      readBatch(m.buffer, rec, engine.onPacket);
    } catch (e) {
      // The reader may be blocked waiting for this worker: tell it through shared memory.
      Atomics.store(inFlight, slot + 1, 1);
      Atomics.notify(inFlight, slot);
      throw e;
    }
    Atomics.sub(inFlight, slot, 1);
    Atomics.notify(inFlight, slot);
    return;
  }
  engine.finish(m.lastPacketTime);
  const captureStates: Record<string, unknown> = {};
  for (const [id, st] of engine.captureStates) captureStates[id] = st;
  // One message: the capture states' references to findings stay references after cloning.
  const end: ShardEnd = { result: engineResult(engine), captureStates };
  parentPort!.postMessage(end);
  parentPort!.close();
});
