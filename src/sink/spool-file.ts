/**
 * Rows waiting on disk for a server that is away (`live --sink`): one JSON line per row,
 * `{"t":table,"r":row}`, appended as they come and read back, in order, when the server
 * returns. Bounded: past `maxBytes` new rows are dropped (the oldest kept, as a capture's
 * ring buffer is not: these are results already reported) and counted, so the loss is said.
 * The file outlives the process: the next run with the same spool replays what is left.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Row } from "./clickhouse-rows.js";

export interface SpooledRow {
  t: string;
  r: Row;
}

export class SpoolFile {
  /** Bytes in the file. */
  bytes: number;
  /** Rows in the file (counted from it at start). */
  rows: number;
  /** Rows dropped because the file was full, since the start. */
  dropped = 0;

  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.bytes = existsSync(path) ? statSync(path).size : 0;
    this.rows =
      this.bytes === 0
        ? 0
        : readFileSync(path, "utf8")
            .split("\n")
            .filter((l) => l !== "").length;
  }

  /** Appends what fits; returns how many rows did not (dropped). */
  append(rows: readonly SpooledRow[]): number {
    const lines: string[] = [];
    let size = 0,
      dropped = 0;
    for (const r of rows) {
      const line = JSON.stringify(r) + "\n";
      if (this.bytes + size + line.length > this.maxBytes) {
        dropped++;
        continue;
      }
      lines.push(line);
      size += line.length;
    }
    if (lines.length > 0) appendFileSync(this.path, lines.join(""));
    this.bytes += size;
    this.rows += lines.length;
    this.dropped += dropped;
    return dropped;
  }

  /** Every row in the file, in order (a line cut short by a crash is skipped). */
  read(): SpooledRow[] {
    if (this.bytes === 0) return [];
    const out: SpooledRow[] = [];
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        out.push(JSON.parse(line) as SpooledRow);
      } catch {
        /* the last line of a process killed mid-write */
      }
    }
    return out;
  }

  /** The rows are stored: the file goes. */
  clear(): void {
    if (existsSync(this.path)) unlinkSync(this.path);
    this.bytes = 0;
    this.rows = 0;
  }
}
