/**
 * The capture's content hash (capture/content-hash.ts) on a worker thread: hashing a big
 * file takes a fifth of a second per 100 MB, which on the analysis's thread would slow
 * `analyze --sink` by as much; on its own thread it runs beside the analysis.
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { fileContentHash } from "../capture/content-hash.js";

/** The SHA-256 of `path`, hex, computed on a worker thread. */
export function contentHashOffThread(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: path });
    w.once("message", (m: { hash?: string; error?: string }) =>
      m.hash !== undefined ? resolve(m.hash) : reject(new Error(m.error)),
    );
    w.once("error", reject);
  });
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  fileContentHash(workerData as string).then(
    (hash) => port.postMessage({ hash }),
    (e: Error) => port.postMessage({ error: e.message }),
  );
}
