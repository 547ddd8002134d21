/**
 * `analyze --sink`: a finished capture's report into ClickHouse, one capture per call
 * (`writeCapture`), so a run over many captures calls it once each.
 *
 * Once per capture, and all of it or nothing that counts: a capture already in `captures`
 * is not written again; otherwise its flows and findings go in, one INSERT a table, then its
 * `captures` row, last. A write cut short (the server gone mid-way) leaves rows without that
 * row, which the stored_* views leave out, and the next run writes the capture again
 * (ReplacingMergeTree folds the rows written twice). See schema/clickhouse.sql.
 */
import { createHash } from "node:crypto";
import type { Report } from "../report/model.js";
import { ClickHouseConnection } from "./clickhouse-connection.js";
import { captureRow, reportFindingRows, reportFlowRows, type CaptureIdentity } from "./clickhouse-rows.js";
import type { ClickHouseTarget } from "./clickhouse-target.js";

export interface CaptureWriteResult {
  /** False when the capture was stored before (nothing written this time). */
  written: boolean;
  flows: number;
  findings: number;
}

/**
 * A capture's id: its content hash, or, when only some of its packets were analysed (a
 * capture filter, -c), the hash of that and the selection: another selection is another
 * set of rows, not a copy.
 */
export function captureIdOf(
  contentHash: string,
  selection: { filter: string | null; count: number | null } | null,
): string {
  if (selection === null || (selection.filter === null && selection.count === null)) return contentHash;
  return createHash("sha256")
    .update(`${contentHash}\n${selection.filter ?? ""}\n${selection.count ?? ""}`)
    .digest("hex");
}

export class CaptureSink {
  private constructor(
    private readonly conn: ClickHouseConnection,
    private readonly version: string,
  ) {}

  /** Connects and makes sure of the tables; throws SinkError when the server is away. */
  static async open(target: ClickHouseTarget, version: string): Promise<CaptureSink> {
    const conn = new ClickHouseConnection(target);
    try {
      await conn.ensureSchema();
    } catch (e) {
      await conn.close();
      throw e;
    }
    return new CaptureSink(conn, version);
  }

  async writeCapture(id: CaptureIdentity, report: Report): Promise<CaptureWriteResult> {
    if (!/^[0-9a-f]{64}$/.test(id.captureId)) throw new Error(`capture id must be a SHA-256 in hex: ${id.captureId}`);
    const counted = await this.conn.scalar(`SELECT count() FROM captures WHERE capture_id = '${id.captureId}'`);
    if (Number(counted) > 0) return { written: false, flows: report.flows.length, findings: report.findings.length };
    // One INSERT per table, its rows made as they are sent (the server cuts it into blocks).
    if (report.flows.length > 0) await this.conn.insertStream("flows", reportFlowRows(id, report));
    if (report.findings.length > 0) await this.conn.insertStream("findings", reportFindingRows(id, report));
    const c = report.capture;
    await this.conn.insert("captures", [
      captureRow(id, "file", {
        start: c.start,
        end: c.end,
        packets: c.packets,
        flows: report.flows.length,
        findings: report.findings.length,
        version: this.version,
      }),
    ]);
    return { written: true, flows: report.flows.length, findings: report.findings.length };
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
