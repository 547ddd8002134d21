/**
 * A capture file's identity by content: the SHA-256 of its bytes, hex. Two runs over the
 * same capture (renamed, copied to another host, rotated into another directory) get the
 * same id, so a combined report can name a capture and a store can refuse to count it twice.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

export async function fileContentHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
