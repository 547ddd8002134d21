/**
 * A pool worker of a many-capture run (pool.ts): analyses the captures it is sent, one at
 * a time, whole (one.ts), posting progress while it reads and the outcome at the end.
 * "stop" (Ctrl-C) ends the reading of the current capture; its report covers what was read.
 */
import { parentPort, workerData } from "node:worker_threads";
import { analyseOneCapture, type OneCaptureOptions } from "./one.js";
import type { ToPool, ToWorker } from "./protocol.js";

const options = workerData as OneCaptureOptions;
let current: AbortController | null = null;
const post = (m: ToPool): void => parentPort!.postMessage(m);

parentPort!.on("message", (m: ToWorker) => {
  if (m.type === "stop") {
    current?.abort(m.reason);
    return;
  }
  const stop = new AbortController();
  current = stop;
  let last = 0;
  analyseOneCapture(
    m.file,
    options,
    (bytes, packets) => {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      post({ type: "progress", index: m.index, bytes, packets });
    },
    stop.signal,
  ).then(
    (outcome) => post({ type: "done", index: m.index, outcome }),
    (e: unknown) => post({ type: "failed", index: m.index, message: (e as Error)?.stack ?? String(e) }),
  );
});
